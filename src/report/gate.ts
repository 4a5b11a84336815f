/**
 * The regression gate of `benchmark compare BASELINE CURRENT`, and thresholds on one run.
 * Pure: records in, checks and a verdict out.
 *
 * Levels are matched by network type, committee (nodes) and load. Their settings must
 * agree (duration, transaction size, protocol, …); a difference is refused naming the
 * field, except the system itself (protocol, node image) with `acrossSystems`.
 *
 * Per level and metric (throughput, efficiency, p50, p99, and the nodes' CPU and memory
 * when both sides have a `resources` block) the verdict is better, same or worse:
 *   - with ≥ 3 runs per side (`benchmark --runs`), Welch's two-sample t-test on the runs'
 *     values (@stdlib/stats-ttest2): a change counts only when p < alpha (0.05) and it is
 *     larger than the tolerance (`maxRegression`, 10 %), so noise is not flagged;
 *   - with fewer, the plain ratio against the tolerance, and the check says that no test
 *     was possible.
 * Mann-Whitney U (benchstat's test) was the other candidate: with 3 runs a side its
 * smallest two-sided p-value is 0.10, so it could never flag anything at the runs users
 * make; Welch's test can.
 */
import ttest2 from '@stdlib/stats-ttest2';
import { MeshbenchError } from '../common/errors.js';
import type { BenchmarkRecord } from '../results/record.js';
import { formatNumber } from './console.js';
import { GATED, METRIC_NAMES, METRICS, type MetricDef, type MetricName } from './gate-metrics.js';

export const GATE_SCHEMA_VERSION = 1;
/** Exit codes of `benchmark compare`: documented in the README. */
export const GATE_EXIT = { ok: 0, input: 1, regression: 3 } as const;
export const DEFAULT_MAX_REGRESSION = 0.1;
export const DEFAULT_ALPHA = 0.05;
/** Runs per side from which the statistical test is used. */
export const MIN_RUNS_FOR_TEST = 3;

export type Verdict = 'better' | 'same' | 'worse';

export interface SideValue {
  readonly mean: number;
  readonly values: readonly number[];
}

export interface GateCheck {
  /** e.g. "local n=4 100 tx/s". */
  readonly level: string;
  readonly network: string;
  readonly nodes: number;
  readonly load: number;
  readonly metric: MetricName;
  readonly unit: string;
  readonly baseline: SideValue;
  readonly current: SideValue;
  /** (current − baseline) / baseline; null when the baseline is 0. */
  readonly change: number | null;
  readonly test:
    | { readonly method: 'welch-t'; readonly p_value: number; readonly alpha: number }
    | { readonly method: 'ratio'; readonly note: string };
  readonly verdict: Verdict;
}

export interface ThresholdSpec {
  readonly text: string;
  readonly metric: MetricName;
  readonly op: '<' | '<=' | '>' | '>=' | '==';
  readonly value: number;
}

export interface ThresholdCheck {
  readonly threshold: string;
  readonly level: string;
  readonly value: number;
  readonly passed: boolean;
}

export interface GateResult {
  readonly schema_version: typeof GATE_SCHEMA_VERSION;
  readonly baseline_source: string | null;
  readonly current_source: string;
  readonly max_regression: number;
  readonly alpha: number;
  readonly across_systems: boolean;
  readonly checks: readonly GateCheck[];
  readonly thresholds: readonly ThresholdCheck[];
  /** Levels only one side ran (not compared). */
  readonly unmatched: readonly string[];
  readonly findings: readonly string[];
  readonly regressions: number;
  readonly failed_thresholds: number;
  readonly verdict: 'ok' | 'regression';
}

export function gateError(message: string, hint: string): MeshbenchError {
  return new MeshbenchError('BAD_RECORD', message, { hint, exitCode: GATE_EXIT.input });
}

/** Parses `p99_ms<500`, `efficiency>=0.99`; one line naming the known metrics otherwise. */
export function parseThreshold(text: string): ThresholdSpec {
  const match = /^\s*([a-z0-9_]+)\s*(<=|>=|==|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!match) {
    throw gateError(
      `--threshold ${JSON.stringify(text)} does not parse`,
      `write METRIC OP NUMBER, e.g. 'p99_ms<500' or 'efficiency>=0.99' (OP: < <= > >= ==)`,
    );
  }
  const [, metric, op, value] = match as unknown as [string, string, ThresholdSpec['op'], string];
  if (!(metric in METRICS)) {
    throw gateError(
      `--threshold ${JSON.stringify(text)}: no metric ${metric}`,
      `use one of ${METRIC_NAMES.join(', ')}`,
    );
  }
  return { text: text.trim(), metric: metric as MetricName, op, value: Number(value) };
}

/** How the gate names and matches a level: network type, committee, load. */
export function levelKey(record: BenchmarkRecord): string {
  return `${record.network_type} n=${record.parameters.nodes} ${record.parameters.load} tx/s`;
}

/** The last record per level (a later one at the same level supersedes an earlier one). */
function byLevel(records: readonly BenchmarkRecord[]): Map<string, BenchmarkRecord> {
  const map = new Map<string, BenchmarkRecord>();
  for (const record of records) map.set(levelKey(record), record);
  return map;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** The settings two compared levels must share; `system`: what --across-systems lets differ. */
const SETTINGS: readonly { readonly field: string; readonly system?: boolean }[] = [
  { field: 'duration' },
  { field: 'transaction_size' },
  { field: 'confirm' },
  { field: 'faults' },
  { field: 'crash_recovery' },
  { field: 'warmup' },
  { field: 'protocol', system: true },
];

function settingsProblem(
  baseline: BenchmarkRecord,
  current: BenchmarkRecord,
  acrossSystems: boolean,
): string | undefined {
  const b = baseline.parameters as unknown as Record<string, unknown>;
  const c = current.parameters as unknown as Record<string, unknown>;
  for (const { field, system } of SETTINGS) {
    if (system && acrossSystems) continue;
    if (JSON.stringify(b[field]) !== JSON.stringify(c[field])) {
      return `parameters.${field} differs at ${levelKey(current)}: ${JSON.stringify(b[field])} in the baseline, ${JSON.stringify(c[field])} now`;
    }
  }
  const scenario = (r: BenchmarkRecord) =>
    JSON.stringify((r.plan as { scenario?: { events?: unknown } } | undefined)?.scenario?.events ?? null);
  if (scenario(baseline) !== scenario(current)) {
    return `plan.scenario differs at ${levelKey(current)}: the two runs had different fault or condition events`;
  }
  return undefined;
}

function verdictOf(
  metric: MetricDef,
  baseline: readonly number[],
  current: readonly number[],
  maxRegression: number,
  alpha: number,
): Pick<GateCheck, 'change' | 'test' | 'verdict'> {
  const b = mean(baseline);
  const c = mean(current);
  const change = b === 0 ? null : (c - b) / Math.abs(b);
  const beyond = change !== null && Math.abs(change) > maxRegression;
  const direction: Verdict =
    change === null || change === 0
      ? 'same'
      : change > 0 === (metric.better === 'higher')
        ? 'better'
        : 'worse';
  if (baseline.length >= MIN_RUNS_FOR_TEST && current.length >= MIN_RUNS_FOR_TEST) {
    const spread = [...baseline, ...current].some((v) => v !== baseline[0]);
    // identical values on both sides have no variance to test: the same, or a plain change
    const pValue = spread ? ttest2([...current], [...baseline]).pValue : b === c ? 1 : 0;
    const p = Number.isFinite(pValue) ? pValue : 1;
    return {
      change,
      test: { method: 'welch-t', p_value: p, alpha },
      verdict: p < alpha && beyond ? direction : 'same',
    };
  }
  return {
    change,
    test: {
      method: 'ratio',
      note: `${Math.min(baseline.length, current.length)} run(s) a side: no statistical test possible (--runs ${MIN_RUNS_FOR_TEST} or more for one)`,
    },
    verdict: beyond ? direction : 'same',
  };
}

export interface GateInput {
  readonly baseline?: { readonly source: string; readonly records: readonly BenchmarkRecord[] };
  readonly current: { readonly source: string; readonly records: readonly BenchmarkRecord[] };
  readonly maxRegression?: number;
  readonly alpha?: number;
  readonly thresholds?: readonly ThresholdSpec[];
  readonly acrossSystems?: boolean;
  /** Labels of the two sides for --across-systems findings (default: baseline, current). */
  readonly labels?: readonly [string, string];
}

export function runGate(input: GateInput): GateResult {
  const maxRegression = input.maxRegression ?? DEFAULT_MAX_REGRESSION;
  const alpha = input.alpha ?? DEFAULT_ALPHA;
  const acrossSystems = input.acrossSystems === true;
  const current = byLevel(input.current.records);
  const checks: GateCheck[] = [];
  const unmatched: string[] = [];
  const findings: string[] = [];
  if (input.baseline) {
    const baseline = byLevel(input.baseline.records);
    for (const [key, record] of current) {
      const base = baseline.get(key);
      if (!base) {
        unmatched.push(`${key} (current only)`);
        continue;
      }
      const problem = settingsProblem(base, record, acrossSystems);
      if (problem) {
        throw gateError(
          `compare: ${problem}`,
          acrossSystems
            ? 'compare runs made with the same settings'
            : 'compare runs made with the same settings (--across-systems lets the system itself differ)',
        );
      }
      for (const metric of GATED) {
        const def: MetricDef = METRICS[metric];
        const b = def.samples(base);
        const c = def.samples(record);
        if (!b || !c) continue;
        checks.push({
          level: key,
          network: record.network_type,
          nodes: record.parameters.nodes,
          load: record.parameters.load,
          metric,
          unit: def.unit,
          baseline: { mean: mean(b), values: b },
          current: { mean: mean(c), values: c },
          ...verdictOf(def, b, c, maxRegression, alpha),
        });
      }
      if (acrossSystems)
        findings.push(...keptFindings(base, record, input.labels ?? ['baseline', 'current']));
    }
    for (const key of baseline.keys()) if (!current.has(key)) unmatched.push(`${key} (baseline only)`);
    if (checks.length === 0) {
      throw gateError(
        `compare: the two sides share no level (network type, committee and load): ${unmatched.join('; ')}`,
        'run both with the same --network-type, --committee and --loads',
      );
    }
  }
  const thresholds: ThresholdCheck[] = [];
  for (const spec of input.thresholds ?? []) {
    for (const [key, record] of current) {
      const values = (METRICS[spec.metric] as MetricDef).samples(record);
      if (!values) {
        throw gateError(
          `--threshold ${spec.text}: ${key} has no ${spec.metric} (its record has no resources block)`,
          'run with the resource monitor on, or drop that threshold',
        );
      }
      const value = mean(values);
      thresholds.push({ threshold: spec.text, level: key, value, passed: holds(value, spec) });
    }
  }
  const regressions = checks.filter((check) => check.verdict === 'worse').length;
  const failedThresholds = thresholds.filter((check) => !check.passed).length;
  return {
    schema_version: GATE_SCHEMA_VERSION,
    baseline_source: input.baseline?.source ?? null,
    current_source: input.current.source,
    max_regression: maxRegression,
    alpha,
    across_systems: acrossSystems,
    checks,
    thresholds,
    unmatched,
    findings,
    regressions,
    failed_thresholds: failedThresholds,
    verdict: regressions + failedThresholds > 0 ? 'regression' : 'ok',
  };
}

function holds(value: number, spec: ThresholdSpec): boolean {
  switch (spec.op) {
    case '<':
      return value < spec.value;
    case '<=':
      return value <= spec.value;
    case '>':
      return value > spec.value;
    case '>=':
      return value >= spec.value;
    case '==':
      return value === spec.value;
  }
}

interface PhasedWindow {
  readonly what?: string;
  readonly summary?: string;
  readonly before?: { readonly throughput?: number | null };
  readonly during?: { readonly throughput?: number | null };
}

/** Each fault or condition window of a level's first run: what it was, and the throughput kept under it. */
function windowsOf(record: BenchmarkRecord): { what: string; kept: number | null }[] {
  const blocks = record.runs?.[0]?.blocks ?? {};
  const faults = (
    blocks.faults as { faults?: readonly (PhasedWindow & { action?: string; nodes?: string[] })[] }
  )?.faults;
  const network = (blocks.network as { windows?: readonly PhasedWindow[] } | undefined)?.windows;
  const out: { what: string; kept: number | null }[] = [];
  for (const window of network ?? []) {
    out.push({ what: window.what ?? 'a condition', kept: keptShare(window) });
  }
  for (const fault of faults ?? []) {
    out.push({
      what: `${fault.action ?? 'fault'} ${(fault.nodes ?? []).join(', ')}`,
      kept: keptShare(fault),
    });
  }
  return out;
}

function keptShare(window: PhasedWindow): number | null {
  const before = window.before?.throughput;
  const during = window.during?.throughput;
  if (typeof before !== 'number' || typeof during !== 'number' || before <= 0) return null;
  return during / before;
}

/** "under loss 10% (events[0]), A kept 95% of its throughput before it, B kept 60%". */
function keptFindings(
  baseline: BenchmarkRecord,
  current: BenchmarkRecord,
  [bLabel, cLabel]: readonly [string, string],
): string[] {
  const b = windowsOf(baseline);
  const c = windowsOf(current);
  const out: string[] = [];
  const pct = (share: number | null) => (share === null ? 'n/a' : `${Math.round(share * 100)}%`);
  b.forEach((window, index) => {
    const other = c[index];
    if (!other) return;
    out.push(
      `at ${levelKey(current)}, under ${window.what}, ${bLabel} kept ${pct(window.kept)} of its throughput before it, ${cLabel} kept ${pct(other.kept)}`,
    );
  });
  if (b.length === 0 && c.length === 0) {
    const bt = baseline.results.throughput;
    const ct = current.results.throughput;
    out.push(
      `at ${levelKey(current)}, ${cLabel} committed ${formatNumber(ct)} tx/s against ${formatNumber(bt)} tx/s for ${bLabel}`,
    );
  }
  return out;
}
