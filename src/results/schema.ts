/**
 * The result format, once: zod schemas from which both the TypeScript types of a record
 * and docs/result.schema.json (`resultJsonSchema`, draft-07) come. A unit test fails when
 * the committed file differs from what `resultJsonSchema` generates.
 *
 * Every command writes this format: `benchmark` one file per load level (every network
 * type, attach mode included), `local-network` and `remote-network` one file per run with
 * their own block (`local_network`, `remote_network`) as an extension. Field meanings:
 * docs/result-format.md. Objects accept fields they do not list (newer files still
 * validate against an older schema); the types list exactly what this version writes.
 */
import { z } from 'zod';
import type { LoadResult } from '../load/types.js';
import type { BenchmarkPlan } from '../bench/plan.js';

import { RECORD_SCHEMA_VERSION } from './version.js';
import { jsonSchemaOf } from '../common/json-schema.js';
import { latencySummarySchema } from '../measure/schema.js';
import { resourcesBlockSchema } from '../monitor/resources/schema.js';
import { sweepPlugins } from '../bench/registry.js';
import { influxBlockSchema, metricsBlockSchema } from '../monitor/metrics-block.js';

export { RECORD_SCHEMA_VERSION };

const count = z.int().min(0);
const nonNegative = z.number().min(0);
const timestamp = z.iso.datetime();

export { latencySummarySchema };

const counts = z.record(z.string(), count);

export const outcomesSchema = z.object({
  ok: count,
  rejected: counts.describe('protocol-level rejections by code (app:5, rpc:-32603, grpc:3, …)'),
  httpError: counts.describe('non-2xx HTTP statuses by status'),
  badResponse: count,
  timeout: count,
  connectionError: count,
  dropped: count.describe('could not be sent on time (in-flight bound or schedule lag)'),
  committed: count,
  commitTimeout: count,
  late: count
    .optional()
    .describe('sent later than the late threshold after the intended time (not a failure)'),
});

const secondSampleSchema = z.object({
  second: nonNegative,
  sent: count,
  ok: count,
  failed: count,
  committed: count,
  ackP50Ms: nonNegative,
  ackP99Ms: nonNegative,
  commitP50Ms: nonNegative.optional(),
  commitP99Ms: nonNegative.optional(),
  ackMaxMs: nonNegative.optional().describe('the slowest reply of the txs sent in this second'),
  commitMaxMs: nonNegative.optional().describe('the slowest commit of the txs sent in this second'),
  okArrived: count.optional().describe('ok replies that arrived in this second, whenever sent'),
  committedArrived: count
    .optional()
    .describe(
      'commits confirmed in this second, whenever sent (what availability and recovery are judged by)',
    ),
});

const perNodeSchema = z.object({
  node_id: z.string(),
  sent: count,
  ok: count,
  failed: count,
  committed: count,
  redirected_out: count
    .optional()
    .describe('sends due to this node while it was down that went to a live node (--fault-load redirect)'),
  redirected_in: count.optional().describe('sends due to another, down node that this node took instead'),
  dropped: count
    .optional()
    .describe('sends due to this node while it was down that were not made (--fault-load drop)'),
  ack_latency_ms: latencySummarySchema,
  commit_latency_ms: latencySummarySchema.optional(),
});

/** One kind of a workload mix (--mix): measured like the totals, its counts part of them. */
export const kindResultsSchema = z
  .object({
    name: z.string(),
    weight: z.int().min(1),
    share: nonNegative.describe('weight / sum of weights: its share of the scheduled rate'),
    transaction_size: z.int().min(1).describe('bytes'),
    fields: z
      .record(z.string(), z.string())
      .describe('the protocol fields the kind set (http: method, route; cometbft: mode)'),
    scheduled_transactions: count,
    sent_transactions: count,
    input_rate: nonNegative,
    accepted_throughput: nonNegative,
    committed_throughput: nonNegative,
    efficiency: nonNegative,
    outcomes: outcomesSchema,
    ack_latency_ms: latencySummarySchema,
    ack_latency_uncorrected_ms: latencySummarySchema,
    commit_latency_ms: latencySummarySchema.optional(),
    commit_latency_uncorrected_ms: latencySummarySchema.optional(),
  })
  .describe('one kind of the workload mix (docs/benchmark.md, "Workload mixes")');

export const resultsSchema = z.object({
  // --- the original tool's fields ---
  throughput: nonNegative.describe('Committed (confirm=commit) or accepted tx/s'),
  avg_latency_ms: nonNegative,
  latency_std_dev_ms: nonNegative,
  duration_secs: nonNegative.describe('Measured window (warm-up excluded)'),
  successful_transactions: count,
  failed_transactions: count.describe(
    'every send that did not succeed: failedCount() in src/results/record.ts',
  ),
  // --- extensions ---
  latency_stage: z.enum(['commit', 'ack']).describe('which stage the seed latency fields describe'),
  latency_percentiles_ms: z.object({
    min: nonNegative,
    p50: nonNegative,
    p90: nonNegative,
    p99: nonNegative,
    p999: nonNegative,
    max: nonNegative,
  }),
  efficiency: nonNegative.describe('committed (or accepted) / input, 0..1 (may exceed 1 slightly)'),
  input_rate: nonNegative,
  achieved_rate: nonNegative,
  accepted_throughput: nonNegative,
  committed_throughput: nonNegative,
  scheduled_transactions: count,
  sent_transactions: count,
  outcomes: outcomesSchema,
  ack_latency_ms: latencySummarySchema,
  ack_latency_uncorrected_ms: latencySummarySchema,
  commit_latency_ms: latencySummarySchema.optional(),
  commit_latency_uncorrected_ms: latencySummarySchema.optional(),
  schedule_lag_ms: latencySummarySchema,
  warmup_secs: nonNegative,
  cooldown_secs: nonNegative,
  per_node: z.array(perNodeSchema).optional(),
  time_series: z.array(secondSampleSchema).optional(),
  fault_load: z
    .object({
      mode: z.enum(['redirect', 'drop', 'keep']),
      redirected: count.describe('sends due to a down node that went to the next live node'),
      dropped: count.describe(
        'sends due to a down node that were not made; efficiency is judged without them',
      ),
    })
    .optional()
    .describe('what --fault-load did with the sends due to down nodes (docs/faults.md)'),
  kinds: z
    .array(kindResultsSchema)
    .optional()
    .describe('with --mix: each kind of transaction, beside the totals above (one run: in its results)'),
});

export const keyPatternSchema = z
  .object({
    pattern: z.enum(['unique', 'sequential', 'uniform', 'zipfian']),
    prefix: z.string(),
    key_space: z.int().min(1).optional().describe('sequential, uniform, zipfian: keys 0..key_space-1'),
    key_size_bytes: z
      .int()
      .min(1)
      .optional()
      .describe('each key zero-padded to this many bytes after the prefix'),
    zipf_exponent: z.number().positive().optional().describe('zipfian: s in P(key k) ∝ (k+1)^-s'),
  })
  .describe('etcd: which keys the puts wrote (the value is the transaction); see docs/result-format.md');

export const spreadSchema = z.object({
  mean: z.number(),
  stddev: nonNegative,
  min: z.number(),
  max: z.number(),
  values: z.array(z.number()),
});

export const settleSchema = z.object({
  rule: z
    .enum(['drain', 'pause', 'drain+pause', 'skipped'])
    .describe(
      'drain: polled every backlog until empty (or the timeout); pause: the fixed --settle-secs; drain+pause: both; skipped: no wait',
    ),
  polled: z.boolean(),
  skippedReason: z.string().optional(),
  drained: z.boolean(),
  settleMs: nonNegative,
  polls: count,
  residualUnconfirmed: counts,
  errors: z.record(z.string(), z.string()),
  pauseMs: nonNegative.optional(),
  unreportable: z.record(z.string(), z.string()).optional(),
});

export const timingSchema = z.object({
  levelMs: nonNegative.describe('wall time of the whole level: load, settle, bookkeeping'),
  loadMs: nonNegative.describe('wall time of the generator call'),
  settleMs: nonNegative,
  generatorTailMs: z
    .number()
    .describe("loadMs − configured duration: the generator's start and its wait for the last commits"),
  overheadMs: z.number().describe('levelMs − configured duration − settle wait (− deploy)'),
  orchestratorMs: z.number().describe("overheadMs − generatorTailMs: the orchestrator's own share"),
  deployMs: nonNegative
    .optional()
    .describe('with --fresh-network: deploying (and removing the previous network)'),
});

/** What observers (faults, resources, …) add to a run or a level: one named block each. */
export const blocksSchema = z
  .record(z.string(), z.unknown())
  .describe("observers' blocks, by observer name (docs/result-format.md)");

/** A run's blocks: those with a documented shape here, any other by name. */
const runBlocksSchema = z
  .object({
    resources: resourcesBlockSchema.optional(),
    ...Object.fromEntries(
      sweepPlugins().flatMap((plugin) =>
        plugin.runBlock ? [[plugin.runBlock.name, plugin.runBlock.schema.optional()]] : [],
      ),
    ),
    metrics: metricsBlockSchema.optional(),
    influx: influxBlockSchema.optional(),
  })
  .catchall(z.unknown())
  .describe("observers' blocks for this run, by observer name (docs/result-format.md)");

const openObject = z.object({}).loose();

export const runDetailSchema = z.object({
  run: z.int().min(1),
  started_at: timestamp,
  ended_at: timestamp,
  interrupted: z.boolean(),
  results: resultsSchema,
  settle: settleSchema,
  timing: timingSchema,
  excluded: openObject
    .nullable()
    .describe('what the warm-up and cool-down windows saw (excluded from results)'),
  generator: openObject.nullable().describe('generator settings that shape the figures'),
  key_prefix: z.string().optional().describe('etcd, unique keys: the prefix of every key this run wrote'),
  blocks: runBlocksSchema.optional(),
});

export const environmentSchema = z.object({
  tool: z.literal('meshbench'),
  tool_version: z.string(),
  node_image_id: z.string().nullable(),
  host: openObject,
  testbed: openObject,
  deploy_ready_after_ms: z.number().nullable(),
});

export const parametersSchema = z.object({
  nodes: z.int().min(1),
  load: z.number().positive(),
  duration: z.number().positive(),
  transaction_size: z.int().min(1),
  faults: count,
  crash_recovery: z.boolean(),
  crash_interval: z.number().positive(),
  warmup: nonNegative.optional(),
  runs: z.int().min(1).optional(),
  protocol: z.string(),
  confirm: z.enum(['none', 'commit']),
  faults_applied: z.boolean(),
  fault_load: z
    .enum(['redirect', 'drop', 'keep'])
    .optional()
    .describe('--fault-load: what a send due to a down node did (absent in records before it existed)'),
  endpoints: z.array(z.string()).optional().describe('the RPC URLs the load went to'),
  key_pattern: keyPatternSchema.optional(),
});

const planSchema = z
  .object({
    planVersion: z.number(),
    networkType: z.string(),
    networks: z.array(z.unknown()),
    configSources: z
      .record(z.string(), z.string())
      .optional()
      .describe(
        'Where each setting that is not the default came from, by flag name: "--duration" (a flag), "MESHBENCH_DURATION" (the environment), "bench.yaml:duration" (the --config file) or "interactive"; absent when a script built the plan',
      ),
  })
  .loose();

/** The per-benchmark record of `benchmark` (one load level, one or more runs). */
export const benchmarkRecordSchema = z
  .object({
    schema_version: z.literal(RECORD_SCHEMA_VERSION),
    run_id: z.string(),
    network_type: z.enum(['local', 'remote', 'endpoints']),
    benchmark_number: z.int().min(1),
    parameters: parametersSchema,
    results: resultsSchema.describe(
      'one run: its figures; several: counts are totals, the rest means over runs',
    ),
    across_runs: z.object({
      runs: z.int().min(1),
      throughput: spreadSchema,
      avg_latency_ms: spreadSchema,
      p50_latency_ms: spreadSchema,
      p99_latency_ms: spreadSchema,
      efficiency: spreadSchema,
    }),
    runs: z.array(runDetailSchema).min(1),
    environment: environmentSchema,
    plan: planSchema,
    timestamp,
    interrupted: z.boolean(),
    blocks: blocksSchema.optional(),
  })
  .describe('the record benchmark writes for one load level');

/**
 * A result file, whichever command wrote it: `benchmark`'s record, or the record of
 * `local-network` / `remote-network`'s one level, where the run's own fields also sit at
 * the top and the command's block is added (their files from before the sweep ran them
 * lack across_runs, runs, environment and plan, so those stay optional here).
 * docs/result.schema.json describes this.
 */
export const resultFileSchema = benchmarkRecordSchema
  .partial({ across_runs: true, runs: true, environment: true, plan: true, interrupted: true })
  .extend({
    started_at: timestamp.optional(),
    ended_at: timestamp.optional(),
    excluded: runDetailSchema.shape.excluded.optional(),
    generator: runDetailSchema.shape.generator.optional(),
    key_prefix: z.string().optional(),
    local_network: openObject.optional().describe('local-network: the compose file, phases, endpoints'),
    remote_network: openObject.optional().describe('remote-network: the hosts, the image, endpoints'),
  })
  .meta({
    title: 'meshbench benchmark result',
    description:
      "One load level of one benchmark: the original tool's fields (network_type, benchmark_number, parameters, results, timestamp) extended with percentiles, efficiency, rates, outcomes, per-node figures, the time series, settle and orchestration timings, the environment and the plan. local-network and remote-network write the same format for their one run, with their own block (local_network or remote_network).",
  });

type Exact<T> = T extends readonly (infer U)[]
  ? readonly Exact<U>[]
  : T extends object
    ? { readonly [K in keyof T]: Exact<T[K]> }
    : T;

export type LatencySummaryRecord = Exact<z.infer<typeof latencySummarySchema>>;
export type RecordResults = Exact<z.infer<typeof resultsSchema>>;
export type PerNodeRecord = Exact<z.infer<typeof perNodeSchema>>;
export type KeyPatternRecord = Exact<z.infer<typeof keyPatternSchema>>;
export type Spread = Exact<z.infer<typeof spreadSchema>>;
export type SettleRecord = Exact<z.infer<typeof settleSchema>>;
export type LevelTiming = Exact<z.infer<typeof timingSchema>>;
export type EnvironmentRecord = Exact<z.infer<typeof environmentSchema>>;
export type RecordBlocks = Readonly<Record<string, unknown>>;
export type RunDetail = Omit<Exact<z.infer<typeof runDetailSchema>>, 'excluded' | 'generator' | 'blocks'> & {
  readonly excluded: LoadResult['excluded'] | null;
  readonly generator: LoadResult['generator'] | null;
  readonly blocks?: RecordBlocks;
};
export type RecordParameters = Exact<z.infer<typeof parametersSchema>>;
export type BenchmarkRecord = Omit<
  Exact<z.infer<typeof benchmarkRecordSchema>>,
  'runs' | 'plan' | 'blocks' | 'environment'
> & {
  readonly runs: readonly RunDetail[];
  readonly environment: EnvironmentRecord;
  readonly plan: BenchmarkPlan;
  readonly blocks?: RecordBlocks;
};
export type RecordNetworkType = BenchmarkRecord['network_type'];

/** docs/result.schema.json: a result file's schema as JSON Schema (draft-07), generated. */
export function resultJsonSchema(): Record<string, unknown> {
  return jsonSchemaOf(resultFileSchema, 'result.schema.json');
}
