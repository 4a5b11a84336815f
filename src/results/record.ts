/**
 * The one builder of the record format (src/results/schema.ts, docs/result.schema.json):
 * `benchmark` records (one per load level, every network type, attach mode included) and
 * the `local-network` / `remote-network` record of one run, which shares the same parts.
 * Pure functions from what the sweep saw to plain data: nothing here measures or prints.
 * Which figures head a result, and what counts as failed: src/load/headline.ts.
 */
import { max, mean, min, sampleStandardDeviation } from 'simple-statistics';
import { headline } from '../load/headline.js';
import type { ConfirmMode, LatencySummary, LoadResult } from '../load/types.js';
import { sumOutcomes } from '../measure/figures.js';
import type { EtcdKeysSummary } from '../protocols/etcd-keys.js';
import type { LevelEnd } from '../bench/observer.js';
import type { BenchmarkPlan } from '../bench/plan.js';
import { sweepPlugins } from '../bench/registry.js';
import type {
  BenchmarkRecord,
  KeyPatternRecord,
  RecordParameters,
  RecordResults,
  RunDetail,
  Spread,
} from './schema.js';
import { RECORD_SCHEMA_VERSION } from './version.js';

export type {
  BenchmarkRecord,
  KeyPatternRecord,
  PerNodeRecord,
  RecordResults,
  RunDetail,
  Spread,
} from './schema.js';
export type {
  EnvironmentRecord,
  LevelRun,
  LevelTiming,
  RecordNetworkType,
  SettleOutcome,
} from '../bench/level.js';
export { RECORD_SCHEMA_VERSION } from './version.js';

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

/** Figures of one generator run in the record's vocabulary. */
export function resultsFromLoad(load: LoadResult, confirm: ConfirmMode): RecordResults {
  const head = headline(load, confirm);
  const latency = head.latency;
  const o = load.outcomes;
  return {
    throughput: head.throughput,
    avg_latency_ms: latency.mean,
    latency_std_dev_ms: latency.stddev,
    duration_secs: load.durationSecs,
    successful_transactions: head.successful,
    failed_transactions: head.failed,
    latency_stage: head.stage,
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
      ...(node.redirectedOut === undefined
        ? {}
        : {
            redirected_out: node.redirectedOut,
            redirected_in: node.redirectedIn ?? 0,
            dropped: node.faultDropped ?? 0,
          }),
      ack_latency_ms: node.ack,
      ...(node.commit ? { commit_latency_ms: node.commit } : {}),
    })),
    time_series: load.timeSeries,
    ...(load.faultLoad ? { fault_load: { ...load.faultLoad } } : {}),
    ...(load.kinds
      ? {
          kinds: load.kinds.map((kind) => ({
            name: kind.name,
            weight: kind.weight,
            share: kind.share,
            transaction_size: kind.transactionSizeBytes,
            fields: { ...kind.fields },
            scheduled_transactions: kind.scheduled,
            sent_transactions: kind.sent,
            input_rate: kind.inputRate,
            accepted_throughput: kind.acceptedThroughput,
            committed_throughput: kind.committedThroughput,
            efficiency: kind.efficiency,
            outcomes: kind.outcomes,
            ack_latency_ms: kind.latency.ack.corrected,
            ack_latency_uncorrected_ms: kind.latency.ack.uncorrected,
            ...(kind.latency.commit
              ? {
                  commit_latency_ms: kind.latency.commit.corrected,
                  commit_latency_uncorrected_ms: kind.latency.commit.uncorrected,
                }
              : {}),
          })),
        }
      : {}),
  };
}

/** A level as the sweep ended it (src/bench/observer.ts), and the plan it ran under. */
export interface RecordInput extends LevelEnd {
  readonly plan: BenchmarkPlan;
}

export function buildBenchmarkRecord(input: RecordInput): BenchmarkRecord {
  const { plan } = input;
  if (input.runs.length === 0) throw new Error('a benchmark record needs at least one run');
  const details: RunDetail[] = input.runs.map((run, index) => ({
    run: index + 1,
    ...runFields(run.load, plan.confirm),
    settle: run.settle,
    timing: run.timing,
    ...(run.blocks && Object.keys(run.blocks).length > 0 ? { blocks: run.blocks } : {}),
  }));
  const keys = input.runs[0]?.load.keys;
  const perRun = details.map((detail) => detail.results);
  const results = perRun.length === 1 ? (perRun[0] as RecordResults) : combineRuns(perRun);
  return {
    schema_version: RECORD_SCHEMA_VERSION,
    run_id: input.runId,
    network_type: input.network,
    benchmark_number: input.benchmarkNumber,
    parameters: {
      nodes: input.nodes,
      load: input.load,
      duration: plan.durationSecs,
      transaction_size: plan.transactionSizeBytes,
      // the plug-ins' own parameters (faults, crash_recovery, crash_interval: src/faults/plugin.ts)
      ...(pluginRecordFields(plan, 'parameters') as Pick<
        RecordParameters,
        'faults' | 'crash_recovery' | 'crash_interval'
      >),
      warmup: plan.warmupSecs,
      runs: plan.runs,
      protocol: plan.protocol.kind,
      confirm: plan.confirm,
      faults_applied: input.runs.some((run) => faultsApplied(run.blocks?.faults)),
      fault_load: plan.faultLoad,
      ...(input.endpoints ? { endpoints: input.endpoints } : {}),
      ...(keys ? { key_pattern: keyPatternRecord(keys) } : {}),
    },
    results,
    across_runs: acrossRuns(perRun),
    runs: details,
    environment: input.environment,
    plan: recordedPlan(input.plan),
    timestamp: input.timestamp,
    interrupted: details.some((detail) => detail.interrupted),
  };
}

/**
 * The plan as a record carries it. The plug-ins' sections live in `plan.plugins`; what were core
 * plan fields before a plug-in owned them is also written where records had them (each plug-in's
 * `record.plan`: `faults`, `zones`, `delayMechanism`, `propagation` as a boolean, `ingest`,
 * `loadClients`, `monitoring`…), so a reader of the records finds every field where it was.
 */
function recordedPlan(plan: BenchmarkPlan): BenchmarkPlan {
  return { ...plan, ...pluginRecordFields(plan, 'plan') } as BenchmarkPlan;
}

/** Each registered plug-in's fields of a record's `parameters` or `plan`, from its section (or its defaults when off). */
function pluginRecordFields(plan: BenchmarkPlan, part: 'parameters' | 'plan'): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const plugin of sweepPlugins()) {
    const write = plugin.record?.[part];
    if (write) Object.assign(fields, write(plan.plugins?.[plugin.name]));
  }
  return fields;
}

/** Whether a run's faults block (src/faults/) has a scenario event that went through on its nodes. */
function faultsApplied(block: unknown): boolean {
  const events = (block as { events?: readonly { cause?: string; errors?: unknown }[] } | undefined)?.events;
  return events?.some((event) => event.cause === 'scenario' && event.errors === undefined) ?? false;
}

/** The fields of one generator run, in every record (a benchmark run detail, a network run's record). */
function runFields(load: LoadResult, confirm: ConfirmMode) {
  return {
    started_at: load.startedAt,
    ended_at: load.endedAt,
    interrupted: load.interrupted,
    results: resultsFromLoad(load, confirm),
    excluded: load.excluded ?? null,
    generator: load.generator ?? null,
    ...(load.keys?.runKeyPrefix === undefined ? {} : { key_prefix: load.keys.runKeyPrefix }),
  };
}

/** A network command's one level, with the endpoints it loaded and the command's own block. */
export interface NetworkRecordInput extends RecordInput {
  readonly network: 'local' | 'remote';
  /** The RPC URLs the load went to. */
  readonly endpointUrls: readonly string[];
  /** The command's own block: `{ local_network: … }` or `{ remote_network: … }`. */
  readonly extension: Readonly<Partial<Record<'local_network' | 'remote_network', unknown>>>;
}

/**
 * `local-network` / `remote-network`: the record of their one level, which went through
 * the same sweep as `benchmark`'s. The benchmark record, with the endpoints in its
 * parameters, its one run's own fields (started_at, ended_at, excluded, generator…) also
 * at the top level, and the command's block.
 */
export function buildNetworkRecord(input: NetworkRecordInput) {
  const record = buildBenchmarkRecord(input);
  const [run] = record.runs;
  const {
    run: _number,
    results: _results,
    settle: _settle,
    timing: _timing,
    blocks: _blocks,
    ...own
  } = run as RunDetail;
  return {
    ...record,
    parameters: { ...record.parameters, endpoints: input.endpointUrls },
    ...own,
    ...input.extension,
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

function acrossRuns(perRun: readonly RecordResults[]): BenchmarkRecord['across_runs'] {
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
    outcomes: sumOutcomes(perRun.map((r) => r.outcomes)),
    ack_latency_ms: avgLatency((r) => r.ack_latency_ms) as LatencySummary,
    ack_latency_uncorrected_ms: avgLatency((r) => r.ack_latency_uncorrected_ms) as LatencySummary,
    ...(commit ? { commit_latency_ms: commit } : {}),
    ...(commitUncorrected ? { commit_latency_uncorrected_ms: commitUncorrected } : {}),
    schedule_lag_ms: avgLatency((r) => r.schedule_lag_ms) as LatencySummary,
    warmup_secs: first.warmup_secs,
    cooldown_secs: first.cooldown_secs,
    ...(first.fault_load
      ? {
          fault_load: {
            mode: first.fault_load.mode,
            redirected: sum((r) => r.fault_load?.redirected ?? 0),
            dropped: sum((r) => r.fault_load?.dropped ?? 0),
          },
        }
      : {}),
  };
}
