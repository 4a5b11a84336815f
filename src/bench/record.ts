/**
 * The per-benchmark record: the original tool's JSON (`network_type`,
 * `benchmark_number`, `parameters`, `results`, `timestamp`) extended with
 * percentiles, efficiency, input and achieved rate, outcomes, per-node figures,
 * the time series, settle and orchestration timings, the environment and the plan.
 *
 * Pure functions from LoadResults to plain data: nothing here measures or prints.
 * The one builder of `benchmark` result files, for every network type including
 * attach mode (`--endpoints`). `resultsFromLoad` is also what `local-network`'s
 * single-run record (src/report/result.ts) uses, so the `results` blocks agree.
 * The shapes follow the seed format in issue 6 and docs/result.schema.json.
 */
import { max, mean, min, sampleStandardDeviation } from 'simple-statistics';
import type { LatencySummary, LoadResult, OutcomeCounts } from '../load/types.js';
import type { EtcdKeyPatternKind, EtcdKeysSummary } from '../protocols/etcd-keys.js';
import type { BenchmarkPlan } from './plan.js';

export const RECORD_SCHEMA_VERSION = 1;

export type RecordNetworkType = 'local' | 'remote' | 'endpoints';

/**
 * How a level settled: `drain` polled every node's backlog until empty (or the timeout);
 * `pause` waited the fixed --settle-secs because no node can report a backlog;
 * `drain+pause` polled the nodes that can and paused for the others; `skipped` did not wait.
 */
export type SettleRule = 'drain' | 'pause' | 'drain+pause' | 'skipped';

export interface SettleOutcome {
  /** Which rule applied (records written before it existed lack it: drain, or skipped when not polled). */
  readonly rule: SettleRule;
  /** Whether the mempools were polled at all (only cometbft nodes have one). */
  readonly polled: boolean;
  /** Why not, when not polled. */
  readonly skippedReason?: string;
  /** True when every node reported an empty mempool within the bound. */
  readonly drained: boolean;
  readonly settleMs: number;
  readonly polls: number;
  /** Unconfirmed txs per node at the last poll. */
  readonly residualUnconfirmed: Readonly<Record<string, number>>;
  /** Nodes whose mempool could not be read at the last poll, with the error. */
  readonly errors: Readonly<Record<string, string>>;
  /** The fixed pause for nodes that cannot report a backlog (rules pause and drain+pause). */
  readonly pauseMs?: number;
  /** Nodes that cannot report a backlog, with why (rules pause and drain+pause). */
  readonly unreportable?: Readonly<Record<string, string>>;
}

export interface LevelTiming {
  /** Wall time of the whole level: load, settle, bookkeeping. */
  readonly levelMs: number;
  /** Wall time of the generator call. */
  readonly loadMs: number;
  readonly settleMs: number;
  /** loadMs − configured duration: the generator's start and its wait for the last commits. */
  readonly generatorTailMs: number;
  /** levelMs − configured duration − settle wait (− deploy): everything added to the load itself. */
  readonly overheadMs: number;
  /** overheadMs − generatorTailMs: the orchestrator's own share (records, files, polling, printing). */
  readonly orchestratorMs: number;
  /** Deploy time, with removing the previous network, charged to this level (only with --fresh-network). */
  readonly deployMs?: number;
}

export interface RunDetail {
  readonly run: number;
  readonly started_at: string;
  readonly ended_at: string;
  readonly interrupted: boolean;
  readonly results: RecordResults;
  readonly settle: SettleOutcome;
  readonly timing: LevelTiming;
  /** What the warm-up and cool-down windows saw (excluded from `results`). */
  readonly excluded: LoadResult['excluded'] | null;
  /** Generator settings that shape the figures (workers, connections, timeouts…). */
  readonly generator: LoadResult['generator'] | null;
  /** etcd, key pattern `unique`: every key this run wrote starts with this (`<prefix><run id>/`). */
  readonly key_prefix?: string;
}

/** Which keys a key-value protocol's writes went to (etcd; docs/result-format.md). */
export interface KeyPatternRecord {
  readonly pattern: EtcdKeyPatternKind;
  readonly prefix: string;
  /** sequential, uniform, zipfian: keys 0..key_space−1 … */
  readonly key_space?: number;
  /** … each zero-padded to this many bytes after the prefix. */
  readonly key_size_bytes?: number;
  /** zipfian: s in P(key k) ∝ (k+1)^−s. */
  readonly zipf_exponent?: number;
}

/** The record's view of LoadResult.keys (the run-specific prefix goes into each run's `key_prefix`). */
export function keyPatternRecord(keys: EtcdKeysSummary): KeyPatternRecord {
  return {
    pattern: keys.pattern,
    prefix: keys.prefix,
    ...(keys.keySpace === undefined ? {} : { key_space: keys.keySpace }),
    ...(keys.keySizeBytes === undefined ? {} : { key_size_bytes: keys.keySizeBytes }),
    ...(keys.zipfExponent === undefined ? {} : { zipf_exponent: keys.zipfExponent }),
  };
}

export interface RecordResults {
  // --- the original fields ---
  readonly throughput: number;
  readonly avg_latency_ms: number;
  readonly latency_std_dev_ms: number;
  readonly duration_secs: number;
  readonly successful_transactions: number;
  readonly failed_transactions: number;
  // --- extensions ---
  /** Which stage the seed latency fields describe. */
  readonly latency_stage: 'commit' | 'ack';
  readonly latency_percentiles_ms: {
    readonly min: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly p999: number;
    readonly max: number;
  };
  readonly efficiency: number;
  readonly input_rate: number;
  readonly achieved_rate: number;
  readonly accepted_throughput: number;
  readonly committed_throughput: number;
  readonly scheduled_transactions: number;
  readonly sent_transactions: number;
  readonly outcomes: OutcomeCounts;
  readonly ack_latency_ms: LatencySummary;
  readonly ack_latency_uncorrected_ms: LatencySummary;
  readonly commit_latency_ms?: LatencySummary;
  readonly commit_latency_uncorrected_ms?: LatencySummary;
  readonly schedule_lag_ms: LatencySummary;
  readonly warmup_secs: number;
  readonly cooldown_secs: number;
  readonly per_node?: readonly PerNodeRecord[];
  readonly time_series?: LoadResult['timeSeries'];
}

export interface PerNodeRecord {
  readonly node_id: string;
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  readonly committed: number;
  readonly ack_latency_ms: LatencySummary;
  readonly commit_latency_ms?: LatencySummary;
}

export interface Spread {
  readonly mean: number;
  readonly stddev: number;
  readonly min: number;
  readonly max: number;
  readonly values: readonly number[];
}

export interface AcrossRuns {
  readonly runs: number;
  readonly throughput: Spread;
  readonly avg_latency_ms: Spread;
  readonly p50_latency_ms: Spread;
  readonly p99_latency_ms: Spread;
  readonly efficiency: Spread;
}

export interface EnvironmentRecord {
  readonly tool: 'meshbench';
  readonly tool_version: string;
  readonly node_image_id: string | null;
  readonly host: Readonly<Record<string, unknown>>;
  readonly testbed: Readonly<Record<string, unknown>>;
  readonly deploy_ready_after_ms: number | null;
}

export interface BenchmarkRecord {
  readonly schema_version: typeof RECORD_SCHEMA_VERSION;
  readonly run_id: string;
  readonly network_type: RecordNetworkType;
  readonly benchmark_number: number;
  readonly parameters: {
    readonly nodes: number;
    readonly load: number;
    readonly duration: number;
    readonly transaction_size: number;
    readonly faults: number;
    readonly crash_recovery: boolean;
    readonly crash_interval: number;
    readonly warmup: number;
    readonly runs: number;
    readonly protocol: string;
    readonly confirm: string;
    /** Faults are recorded but not injected yet. */
    readonly faults_applied: boolean;
    /** Attach mode (`network_type: "endpoints"`): the RPC URLs the load went to. */
    readonly endpoints?: readonly string[];
    /** Key-value protocols (etcd): which keys the puts wrote; the value is the transaction. */
    readonly key_pattern?: KeyPatternRecord;
  };
  /** One run: its figures. Several: counts are totals, everything else the mean over runs. */
  readonly results: RecordResults;
  readonly across_runs: AcrossRuns;
  readonly runs: readonly RunDetail[];
  readonly environment: EnvironmentRecord;
  readonly plan: BenchmarkPlan;
  readonly timestamp: string;
  readonly interrupted: boolean;
}

export interface LevelRun {
  readonly load: LoadResult;
  readonly settle: SettleOutcome;
  readonly timing: LevelTiming;
}

/** Figures of one generator run in the record's vocabulary. */
export function resultsFromLoad(load: LoadResult, confirm: BenchmarkPlan['confirm']): RecordResults {
  const commitStage = confirm === 'commit' ? load.latency.commit : undefined;
  const stage = commitStage ?? load.latency.ack;
  const latency = stage.corrected;
  const o = load.outcomes;
  const successful = commitStage ? o.committed : o.ok;
  const failed =
    sumValues(o.rejected) +
    sumValues(o.httpError) +
    o.badResponse +
    o.timeout +
    o.connectionError +
    o.dropped +
    (commitStage ? o.commitTimeout : 0);
  return {
    throughput: commitStage ? load.committedThroughput : load.acceptedThroughput,
    avg_latency_ms: latency.mean,
    latency_std_dev_ms: latency.stddev,
    duration_secs: load.durationSecs,
    successful_transactions: successful,
    failed_transactions: failed,
    latency_stage: commitStage ? 'commit' : 'ack',
    latency_percentiles_ms: {
      min: latency.min,
      p50: latency.p50,
      p90: latency.p90,
      p99: latency.p99,
      p999: latency.p999,
      max: latency.max,
    },
    efficiency: load.efficiency,
    input_rate: load.inputRate,
    achieved_rate: load.achievedRate,
    accepted_throughput: load.acceptedThroughput,
    committed_throughput: load.committedThroughput,
    scheduled_transactions: load.scheduled,
    sent_transactions: load.sent,
    outcomes: o,
    ack_latency_ms: load.latency.ack.corrected,
    ack_latency_uncorrected_ms: load.latency.ack.uncorrected,
    ...(load.latency.commit
      ? {
          commit_latency_ms: load.latency.commit.corrected,
          commit_latency_uncorrected_ms: load.latency.commit.uncorrected,
        }
      : {}),
    schedule_lag_ms: load.scheduleLag,
    warmup_secs: load.warmupSecs,
    cooldown_secs: load.cooldownSecs,
    per_node: load.perNode.map((node) => ({
      node_id: node.nodeId,
      sent: node.sent,
      ok: node.ok,
      failed: node.failed,
      committed: node.committed,
      ack_latency_ms: node.ack,
      ...(node.commit ? { commit_latency_ms: node.commit } : {}),
    })),
    time_series: load.timeSeries,
  };
}

export interface RecordInput {
  readonly plan: BenchmarkPlan;
  readonly runId: string;
  readonly networkType: RecordNetworkType;
  readonly benchmarkNumber: number;
  readonly load: number;
  readonly nodes: number;
  readonly runs: readonly LevelRun[];
  readonly environment: EnvironmentRecord;
  readonly timestamp: string;
  /** Attach mode: the endpoint URLs (recorded in `parameters.endpoints`). */
  readonly endpoints?: readonly string[];
}

export function buildBenchmarkRecord(input: RecordInput): BenchmarkRecord {
  const { plan } = input;
  if (input.runs.length === 0) throw new Error('a benchmark record needs at least one run');
  const details: RunDetail[] = input.runs.map((run, index) => ({
    run: index + 1,
    started_at: run.load.startedAt,
    ended_at: run.load.endedAt,
    interrupted: run.load.interrupted,
    results: resultsFromLoad(run.load, plan.confirm),
    settle: run.settle,
    timing: run.timing,
    excluded: run.load.excluded ?? null,
    generator: run.load.generator ?? null,
    ...(run.load.keys?.runKeyPrefix === undefined ? {} : { key_prefix: run.load.keys.runKeyPrefix }),
  }));
  const keys = input.runs[0]?.load.keys;
  const perRun = details.map((detail) => detail.results);
  const results = perRun.length === 1 ? (perRun[0] as RecordResults) : combineRuns(perRun);
  return {
    schema_version: RECORD_SCHEMA_VERSION,
    run_id: input.runId,
    network_type: input.networkType,
    benchmark_number: input.benchmarkNumber,
    parameters: {
      nodes: input.nodes,
      load: input.load,
      duration: plan.durationSecs,
      transaction_size: plan.transactionSizeBytes,
      faults: plan.faults,
      crash_recovery: plan.crashRecovery,
      crash_interval: plan.crashIntervalSecs,
      warmup: plan.warmupSecs,
      runs: plan.runs,
      protocol: plan.protocol.kind,
      confirm: plan.confirm,
      faults_applied: false,
      ...(input.endpoints ? { endpoints: input.endpoints } : {}),
      ...(keys ? { key_pattern: keyPatternRecord(keys) } : {}),
    },
    results,
    across_runs: acrossRuns(perRun),
    runs: details,
    environment: input.environment,
    plan: input.plan,
    timestamp: input.timestamp,
    interrupted: details.some((detail) => detail.interrupted),
  };
}

export function spread(values: readonly number[]): Spread {
  const list = [...values];
  if (list.length === 0) return { mean: 0, stddev: 0, min: 0, max: 0, values: [] };
  return {
    mean: mean(list),
    stddev: list.length > 1 ? sampleStandardDeviation(list) : 0,
    min: min(list),
    max: max(list),
    values: list,
  };
}

function acrossRuns(perRun: readonly RecordResults[]): AcrossRuns {
  return {
    runs: perRun.length,
    throughput: spread(perRun.map((r) => r.throughput)),
    avg_latency_ms: spread(perRun.map((r) => r.avg_latency_ms)),
    p50_latency_ms: spread(perRun.map((r) => r.latency_percentiles_ms.p50)),
    p99_latency_ms: spread(perRun.map((r) => r.latency_percentiles_ms.p99)),
    efficiency: spread(perRun.map((r) => r.efficiency)),
  };
}

/** Several runs of one level: counts summed, rates and latencies averaged; detail stays in `runs`. */
function combineRuns(perRun: readonly RecordResults[]): RecordResults {
  const first = perRun[0] as RecordResults;
  const avg = (pick: (r: RecordResults) => number) => mean(perRun.map(pick));
  const sum = (pick: (r: RecordResults) => number) => perRun.reduce((total, r) => total + pick(r), 0);
  const avgLatency = (pick: (r: RecordResults) => LatencySummary | undefined): LatencySummary | undefined => {
    const list = perRun.map(pick).filter((value): value is LatencySummary => value !== undefined);
    if (list.length === 0) return undefined;
    return {
      count: list.reduce((total, s) => total + s.count, 0),
      mean: mean(list.map((s) => s.mean)),
      stddev: mean(list.map((s) => s.stddev)),
      min: min(list.map((s) => s.min)),
      p50: mean(list.map((s) => s.p50)),
      p90: mean(list.map((s) => s.p90)),
      p99: mean(list.map((s) => s.p99)),
      p999: mean(list.map((s) => s.p999)),
      max: max(list.map((s) => s.max)),
    };
  };
  const sumRecord = (pick: (r: RecordResults) => Readonly<Record<string, number>>) => {
    const total: Record<string, number> = {};
    for (const r of perRun)
      for (const [key, value] of Object.entries(pick(r))) total[key] = (total[key] ?? 0) + value;
    return total;
  };
  const commit = avgLatency((r) => r.commit_latency_ms);
  const commitUncorrected = avgLatency((r) => r.commit_latency_uncorrected_ms);
  return {
    throughput: avg((r) => r.throughput),
    avg_latency_ms: avg((r) => r.avg_latency_ms),
    latency_std_dev_ms: avg((r) => r.latency_std_dev_ms),
    duration_secs: avg((r) => r.duration_secs),
    successful_transactions: sum((r) => r.successful_transactions),
    failed_transactions: sum((r) => r.failed_transactions),
    latency_stage: first.latency_stage,
    latency_percentiles_ms: {
      min: min(perRun.map((r) => r.latency_percentiles_ms.min)),
      p50: avg((r) => r.latency_percentiles_ms.p50),
      p90: avg((r) => r.latency_percentiles_ms.p90),
      p99: avg((r) => r.latency_percentiles_ms.p99),
      p999: avg((r) => r.latency_percentiles_ms.p999),
      max: max(perRun.map((r) => r.latency_percentiles_ms.max)),
    },
    efficiency: avg((r) => r.efficiency),
    input_rate: avg((r) => r.input_rate),
    achieved_rate: avg((r) => r.achieved_rate),
    accepted_throughput: avg((r) => r.accepted_throughput),
    committed_throughput: avg((r) => r.committed_throughput),
    scheduled_transactions: sum((r) => r.scheduled_transactions),
    sent_transactions: sum((r) => r.sent_transactions),
    outcomes: {
      ok: sum((r) => r.outcomes.ok),
      rejected: sumRecord((r) => r.outcomes.rejected),
      httpError: sumRecord((r) => r.outcomes.httpError),
      badResponse: sum((r) => r.outcomes.badResponse),
      timeout: sum((r) => r.outcomes.timeout),
      connectionError: sum((r) => r.outcomes.connectionError),
      dropped: sum((r) => r.outcomes.dropped),
      committed: sum((r) => r.outcomes.committed),
      commitTimeout: sum((r) => r.outcomes.commitTimeout),
    },
    ack_latency_ms: avgLatency((r) => r.ack_latency_ms) as LatencySummary,
    ack_latency_uncorrected_ms: avgLatency((r) => r.ack_latency_uncorrected_ms) as LatencySummary,
    ...(commit ? { commit_latency_ms: commit } : {}),
    ...(commitUncorrected ? { commit_latency_uncorrected_ms: commitUncorrected } : {}),
    schedule_lag_ms: avgLatency((r) => r.schedule_lag_ms) as LatencySummary,
    warmup_secs: first.warmup_secs,
    cooldown_secs: first.cooldown_secs,
  };
}

function sumValues(record: Readonly<Record<string, number>>): number {
  return Object.values(record).reduce((total, value) => total + value, 0);
}
