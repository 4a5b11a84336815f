/**
 * Comparison of two sets of benchmark records (local vs remote, or run A vs run B):
 * per common load, throughput, latency and efficiency of each side with the
 * candidate / baseline ratios, and a plain sentence per finding. Pure functions.
 */
import type { BenchmarkRecord } from '../results/record.js';
import { formatNumber, formatPercent } from './console.js';

export const COMPARISON_SCHEMA_VERSION = 1;

export interface SideFigures {
  readonly benchmark_number: number;
  readonly throughput: number;
  readonly avg_latency_ms: number;
  readonly p50_latency_ms: number;
  readonly p99_latency_ms: number;
  readonly efficiency: number;
  readonly latency_stage: 'commit' | 'ack';
  /** The network's node count (the record's `parameters.nodes`), when the file says it. */
  readonly nodes?: number;
}

export interface LoadComparison {
  readonly load: number;
  readonly baseline: SideFigures;
  readonly candidate: SideFigures;
  /** candidate / baseline; null when the baseline figure is 0. */
  readonly ratios: {
    readonly throughput: number | null;
    readonly avg_latency: number | null;
    readonly p50_latency: number | null;
    readonly p99_latency: number | null;
    readonly efficiency: number | null;
  };
}

export interface Comparison {
  readonly schema_version: typeof COMPARISON_SCHEMA_VERSION;
  readonly baseline_label: string;
  readonly candidate_label: string;
  readonly baseline_source: string;
  readonly candidate_source: string;
  readonly loads: readonly LoadComparison[];
  readonly only_in_baseline: readonly number[];
  readonly only_in_candidate: readonly number[];
  readonly findings: readonly string[];
  readonly timestamp: string;
}

export interface ComparisonSide {
  readonly label: string;
  readonly source: string;
  readonly records: readonly BenchmarkRecord[];
}

function figures(record: BenchmarkRecord): SideFigures {
  const r = record.results;
  return {
    benchmark_number: record.benchmark_number,
    throughput: r.throughput,
    avg_latency_ms: r.avg_latency_ms,
    p50_latency_ms: r.latency_percentiles_ms.p50,
    p99_latency_ms: r.latency_percentiles_ms.p99,
    efficiency: r.efficiency,
    latency_stage: r.latency_stage,
    ...(typeof record.parameters?.nodes === 'number' ? { nodes: record.parameters.nodes } : {}),
  };
}

function ratio(candidate: number, baseline: number): number | null {
  if (!Number.isFinite(candidate) || !Number.isFinite(baseline) || baseline === 0) return null;
  return candidate / baseline;
}

/** The last record per load (a later record at the same load supersedes an earlier one). */
function byLoad(records: readonly BenchmarkRecord[]): Map<number, BenchmarkRecord> {
  const map = new Map<number, BenchmarkRecord>();
  for (const record of records) map.set(record.parameters.load, record);
  return map;
}

export function formatRatio(value: number): string {
  if (value >= 10) return value.toFixed(0);
  if (value >= 1) return value.toFixed(1);
  return value.toFixed(2);
}

export function compareRecords(
  baseline: ComparisonSide,
  candidate: ComparisonSide,
  timestamp: string,
): Comparison {
  const base = byLoad(baseline.records);
  const cand = byLoad(candidate.records);
  const common = [...base.keys()].filter((load) => cand.has(load)).sort((a, b) => a - b);
  const loads: LoadComparison[] = common.map((load) => {
    const b = figures(base.get(load) as BenchmarkRecord);
    const c = figures(cand.get(load) as BenchmarkRecord);
    // a side that completed nothing has no latency (its 0 ms is no figure): no latency ratio
    const latency = (cValue: number, bValue: number) =>
      c.throughput === 0 || b.throughput === 0 ? null : ratio(cValue, bValue);
    return {
      load,
      baseline: b,
      candidate: c,
      ratios: {
        throughput: ratio(c.throughput, b.throughput),
        avg_latency: latency(c.avg_latency_ms, b.avg_latency_ms),
        p50_latency: latency(c.p50_latency_ms, b.p50_latency_ms),
        p99_latency: latency(c.p99_latency_ms, b.p99_latency_ms),
        efficiency: ratio(c.efficiency, b.efficiency),
      },
    };
  });
  const withoutFindings: Omit<Comparison, 'findings'> = {
    schema_version: COMPARISON_SCHEMA_VERSION,
    baseline_label: baseline.label,
    candidate_label: candidate.label,
    baseline_source: baseline.source,
    candidate_source: candidate.source,
    loads,
    only_in_baseline: [...base.keys()].filter((load) => !cand.has(load)).sort((a, b) => a - b),
    only_in_candidate: [...cand.keys()].filter((load) => !base.has(load)).sort((a, b) => a - b),
    timestamp,
  };
  return { ...withoutFindings, findings: findingsFor(withoutFindings) };
}

/** One plain sentence per finding, e.g. "at 100 tx/s remote p50 latency is 3.4× local (…)". */
export function findingsFor(comparison: Omit<Comparison, 'findings'>): string[] {
  const b = comparison.baseline_label;
  const c = comparison.candidate_label;
  const out: string[] = [...unlikeSides(comparison)];
  for (const entry of comparison.loads) {
    const at = `at ${entry.load} tx/s`;
    const latency = (name: string, value: number | null, cValue: number, bValue: number) => {
      if (value === null) {
        out.push(
          `${at} ${c} ${name} latency is ${formatNumber(cValue)} ms; ${b} has no ${name} latency to compare`,
        );
      } else {
        out.push(
          `${at} ${c} ${name} latency is ${formatRatio(value)}× ${b} (${formatNumber(cValue)} ms vs ${formatNumber(bValue)} ms)`,
        );
      }
    };
    const cNothing = entry.candidate.throughput === 0;
    const bNothing = entry.baseline.throughput === 0;
    if (cNothing && bNothing) {
      out.push(`${at} neither ${b} nor ${c} committed anything, so nothing is compared`);
      continue;
    }
    if (cNothing) {
      out.push(`${at} ${c} committed nothing, ${b} reached ${formatNumber(entry.baseline.throughput)} tx/s`);
      out.push(
        `${at} ${c} efficiency is ${formatPercent(entry.candidate.efficiency)} against ${formatPercent(entry.baseline.efficiency)} ${b}`,
      );
      continue;
    }
    latency('p50', entry.ratios.p50_latency, entry.candidate.p50_latency_ms, entry.baseline.p50_latency_ms);
    latency('p99', entry.ratios.p99_latency, entry.candidate.p99_latency_ms, entry.baseline.p99_latency_ms);
    if (entry.ratios.throughput === null) {
      out.push(`${at} ${b} committed nothing, ${c} reached ${formatNumber(entry.candidate.throughput)} tx/s`);
    } else {
      out.push(
        `${at} ${c} throughput is ${formatRatio(entry.ratios.throughput)}× ${b} ` +
          `(${formatNumber(entry.candidate.throughput)} vs ${formatNumber(entry.baseline.throughput)} tx/s)`,
      );
    }
    out.push(
      `${at} ${c} efficiency is ${formatPercent(entry.candidate.efficiency)} against ${formatPercent(entry.baseline.efficiency)} ${b}`,
    );
  }
  if (comparison.loads.length === 0) {
    out.push(`${b} and ${c} share no load level, so nothing is compared; run both with the same --loads`);
  }
  if (comparison.only_in_baseline.length > 0) {
    out.push(`only ${b} ran ${comparison.only_in_baseline.join(', ')} tx/s (not compared)`);
  }
  if (comparison.only_in_candidate.length > 0) {
    out.push(`only ${c} ran ${comparison.only_in_candidate.join(', ')} tx/s (not compared)`);
  }
  return out;
}

/**
 * What makes the two sides unlike, said before the ratios: networks of different sizes (a `both`
 * run's local committee against its hosts times --nodes-per-host), or latencies of different
 * stages (commit against ack). One sentence per mismatch, naming the loads when it is not all of
 * them.
 */
function unlikeSides(comparison: Omit<Comparison, 'findings'>): string[] {
  const b = comparison.baseline_label;
  const c = comparison.candidate_label;
  const groups = new Map<string, number[]>();
  const add = (sentence: string, load: number) =>
    groups.set(sentence, [...(groups.get(sentence) ?? []), load]);
  for (const entry of comparison.loads) {
    const [bNodes, cNodes] = [entry.baseline.nodes, entry.candidate.nodes];
    if (bNodes !== undefined && cNodes !== undefined && bNodes !== cNodes)
      add(
        `${b} ran ${bNodes} node${bNodes === 1 ? '' : 's'} and ${c} ${cNodes}: the figures compare networks of different sizes`,
        entry.load,
      );
    if (entry.baseline.latency_stage !== entry.candidate.latency_stage)
      add(
        `${b} latency is to ${entry.baseline.latency_stage}, ${c} latency to ${entry.candidate.latency_stage}: the latencies measure different stages`,
        entry.load,
      );
  }
  const every = comparison.loads.length;
  return [...groups].map(([sentence, loads]) =>
    loads.length === every ? sentence : `at ${loads.join(', ')} tx/s ${sentence}`,
  );
}

export function renderComparisonText(comparison: Comparison): string {
  const b = comparison.baseline_label;
  const c = comparison.candidate_label;
  const lines = [
    `meshbench comparison: ${c} vs ${b}`,
    `  ${b}: ${comparison.baseline_source}`,
    `  ${c}: ${comparison.candidate_source}`,
    '',
  ];
  for (const entry of comparison.loads) {
    const r = entry.ratios;
    const show = (value: number | null) => (value === null ? 'n/a' : `${formatRatio(value)}×`);
    lines.push(`load ${entry.load} tx/s`);
    lines.push(
      `  throughput   ${b} ${formatNumber(entry.baseline.throughput)} tx/s   ${c} ${formatNumber(entry.candidate.throughput)} tx/s   ratio ${show(r.throughput)}`,
    );
    lines.push(
      `  avg latency  ${b} ${formatNumber(entry.baseline.avg_latency_ms)} ms   ${c} ${formatNumber(entry.candidate.avg_latency_ms)} ms   ratio ${show(r.avg_latency)}`,
    );
    lines.push(
      `  p50 latency  ${b} ${formatNumber(entry.baseline.p50_latency_ms)} ms   ${c} ${formatNumber(entry.candidate.p50_latency_ms)} ms   ratio ${show(r.p50_latency)}`,
    );
    lines.push(
      `  p99 latency  ${b} ${formatNumber(entry.baseline.p99_latency_ms)} ms   ${c} ${formatNumber(entry.candidate.p99_latency_ms)} ms   ratio ${show(r.p99_latency)}`,
    );
    lines.push(
      `  efficiency   ${b} ${formatPercent(entry.baseline.efficiency)}   ${c} ${formatPercent(entry.candidate.efficiency)}   ratio ${show(r.efficiency)}`,
    );
    lines.push('');
  }
  lines.push('Findings:');
  for (const finding of comparison.findings) lines.push(`  - ${finding}`);
  return `${lines.join('\n')}\n`;
}
