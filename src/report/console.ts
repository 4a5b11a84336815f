/**
 * Console rendering of benchmark records: the original per-load block
 * (`BENCHMARK RESULT #n`) and the final cli-table3 table. Pure: returns strings.
 */
import Table from 'cli-table3';
import type { BenchmarkRecord, Spread } from '../results/record.js';
import type { FaultsBlock } from '../faults/recovery.js';
import { describeFailures } from './summary.js';

export function formatNumber(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function formatPercent(fraction: number, digits = 1): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)}%` : 'n/a';
}

function withSpread(value: number, across: Spread, runs: number, digits: number, unit: string): string {
  const base = `${formatNumber(value, digits)}${unit}`;
  return runs > 1
    ? `${formatNumber(across.mean, digits)} ± ${formatNumber(across.stddev, digits)}${unit}`
    : base;
}

/** The per-load block, as the original tool printed it, plus percentiles. */
export function renderResultBlock(record: BenchmarkRecord): string {
  const r = record.results;
  const runs = record.across_runs.runs;
  const efficiency =
    runs > 1
      ? `${formatPercent(record.across_runs.efficiency.mean)} ± ${formatPercent(record.across_runs.efficiency.stddev)}`
      : formatPercent(r.efficiency);
  const lines = [
    `BENCHMARK RESULT #${record.benchmark_number}`,
    `  Network type:        ${record.network_type} (${record.parameters.nodes} node${record.parameters.nodes === 1 ? '' : 's'})`,
    `  Load:                ${record.parameters.load} tx/s for ${record.parameters.duration} s` +
      (runs > 1 ? ` × ${runs} runs` : ''),
    `  Throughput:          ${withSpread(r.throughput, record.across_runs.throughput, runs, 2, ' tx/s')}`,
    `  Average latency:     ${withSpread(r.avg_latency_ms, record.across_runs.avg_latency_ms, runs, 2, ' ms')} (${r.latency_stage})`,
    `  Latency std dev:     ${formatNumber(r.latency_std_dev_ms)} ms`,
    `  Latency p50/p99:     ${formatNumber(r.latency_percentiles_ms.p50)} / ${formatNumber(r.latency_percentiles_ms.p99)} ms`,
    ...[sendLagNote(r)].filter((note) => note !== undefined).map((note) => `  Send lag:            ${note}`),
    `  Successful:          ${r.successful_transactions}`,
    `  Failed:              ${r.failed_transactions}`,
    `  Efficiency:          ${efficiency}`,
  ];
  const failures = describeFailures(r.outcomes, { commitTimeouts: r.latency_stage === 'commit' });
  if (failures) lines.splice(lines.length - 1, 0, `  Failed by kind:      ${failures}`);
  // --mix: a line per kind (src/load/mix.ts), at the stage the record's latency describes
  for (const kind of r.kinds ?? []) {
    const commit = r.latency_stage === 'commit';
    const latency = (commit ? kind.commit_latency_ms : undefined) ?? kind.ack_latency_ms;
    const throughput = commit ? kind.committed_throughput : kind.accepted_throughput;
    lines.push(
      `  Kind ${kind.name} (${formatPercent(kind.share)}): ${formatNumber(throughput)} tx/s, p50/p99 ${formatNumber(latency.p50)} / ${formatNumber(latency.p99)} ms, efficiency ${formatPercent(kind.efficiency)}`,
    );
  }
  const faultLines = faultSummaries(record);
  if (faultLines.length > 0) {
    lines.push('  Faults:');
    for (const line of faultLines) lines.push(`    ${line}`);
  }
  if (record.interrupted) lines.push('  (interrupted: figures cover what ran)');
  return lines.join('\n');
}

/** Below this the generator's send lag is not worth a word, whatever its share. */
const LAG_WORTH_SAYING_MS = 0.1;

/**
 * Said when most of the median latency is the generator's own send lag: latency runs from each
 * transaction's intended send time, and where replies come back faster than sends fall due, the
 * sends wait for the next ~1 ms timer tick. Against a service that answers in tens of µs (nginx
 * on loopback) the headline median is then the tool's, so the note names the system's own. The
 * result block prints it as a line, report.html under the level's title.
 */
export function sendLagNote(r: BenchmarkRecord['results']): string | undefined {
  const lag = r.schedule_lag_ms?.p50;
  const p50 = r.latency_percentiles_ms.p50;
  if (lag === undefined || !(lag >= LAG_WORTH_SAYING_MS) || !(lag >= p50 / 2)) return undefined;
  const uncorrected =
    r.latency_stage === 'commit' ? r.commit_latency_uncorrected_ms : r.ack_latency_uncorrected_ms;
  return `p50 ${formatNumber(lag)} ms of the ${formatNumber(p50)} ms is the generator's own send lag, not the system's${uncorrected ? `; from the actual send, p50 ${formatNumber(uncorrected.p50)} ms` : ''} (docs/benchmark.md, "the precision of its send times")`;
}

/** One plain line per fault of each run (src/faults/recovery.ts), and the availability. */
export function faultSummaries(record: BenchmarkRecord): string[] {
  const lines: string[] = [];
  record.runs.forEach((run, index) => {
    const block = run.blocks?.faults as FaultsBlock | undefined;
    if (!block) return;
    const prefix = record.runs.length > 1 ? `run ${index + 1}: ` : '';
    for (const fault of block.faults ?? []) if (fault.summary) lines.push(`${prefix}${fault.summary}`);
    if (block.tolerance?.expect_stall) {
      lines.push(
        `${prefix}${block.tolerance.max_down} node${block.tolerance.max_down === 1 ? '' : 's'} down at once, more than the ${block.tolerance.tolerated} tolerated: a stall was expected`,
      );
    }
    if (typeof block.availability === 'number') {
      lines.push(
        `${prefix}availability: ${formatPercent(block.availability)} of the measured seconds had ${block.judged_by === 'ok replies' ? 'an ok reply' : 'a commit'}`,
      );
    }
  });
  return lines;
}

export const TABLE_HEAD = [
  'network',
  '#',
  'load tx/s',
  'throughput tx/s',
  'avg ms',
  'stddev ms',
  'p50 ms',
  'p99 ms',
  'ok',
  'failed',
  'efficiency',
];

/** The summary table at the end of a sweep. */
export function renderResultsTable(records: readonly BenchmarkRecord[]): string {
  const table = new Table({ head: TABLE_HEAD, style: { head: [], border: [], compact: true } });
  for (const record of records) {
    const r = record.results;
    const runs = record.across_runs.runs;
    table.push([
      record.network_type,
      String(record.benchmark_number),
      String(record.parameters.load),
      runs > 1
        ? `${formatNumber(record.across_runs.throughput.mean)} ± ${formatNumber(record.across_runs.throughput.stddev)}`
        : formatNumber(r.throughput),
      formatNumber(r.avg_latency_ms),
      formatNumber(r.latency_std_dev_ms),
      formatNumber(r.latency_percentiles_ms.p50),
      formatNumber(r.latency_percentiles_ms.p99),
      String(r.successful_transactions),
      String(r.failed_transactions),
      formatPercent(r.efficiency),
    ]);
  }
  return table.toString();
}
