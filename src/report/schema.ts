/**
 * JSON Schema (draft-07) of the per-benchmark JSON file. docs/result.schema.json
 * is this object, written out (a unit test keeps the two equal). `resultValidator()`
 * compiles it with ajv, formats (date-time) included.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { protocolKinds } from '../protocols/registry.js';

const latencySummary = {
  type: 'object',
  required: ['count', 'mean', 'stddev', 'min', 'p50', 'p90', 'p99', 'p999', 'max'],
  properties: {
    count: { type: 'integer', minimum: 0 },
    mean: { type: 'number', minimum: 0 },
    stddev: { type: 'number', minimum: 0 },
    min: { type: 'number', minimum: 0 },
    p50: { type: 'number', minimum: 0 },
    p90: { type: 'number', minimum: 0 },
    p99: { type: 'number', minimum: 0 },
    p999: { type: 'number', minimum: 0 },
    max: { type: 'number', minimum: 0 },
  },
} as const;

const counts = { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } } as const;

const outcomes = {
  type: 'object',
  required: [
    'ok',
    'rejected',
    'httpError',
    'badResponse',
    'timeout',
    'connectionError',
    'dropped',
    'committed',
    'commitTimeout',
  ],
  properties: {
    ok: { type: 'integer', minimum: 0 },
    rejected: counts,
    httpError: counts,
    badResponse: { type: 'integer', minimum: 0 },
    timeout: { type: 'integer', minimum: 0 },
    connectionError: { type: 'integer', minimum: 0 },
    dropped: { type: 'integer', minimum: 0 },
    committed: { type: 'integer', minimum: 0 },
    commitTimeout: { type: 'integer', minimum: 0 },
  },
} as const;

const results = {
  type: 'object',
  required: [
    'throughput',
    'avg_latency_ms',
    'latency_std_dev_ms',
    'duration_secs',
    'successful_transactions',
    'failed_transactions',
    'latency_stage',
    'latency_percentiles_ms',
    'efficiency',
    'input_rate',
    'achieved_rate',
    'accepted_throughput',
    'committed_throughput',
    'outcomes',
    'ack_latency_ms',
  ],
  properties: {
    throughput: { type: 'number', minimum: 0, description: 'Committed (confirm=commit) or accepted tx/s' },
    avg_latency_ms: { type: 'number', minimum: 0 },
    latency_std_dev_ms: { type: 'number', minimum: 0 },
    duration_secs: { type: 'number', minimum: 0, description: 'Measured window (warm-up excluded)' },
    successful_transactions: { type: 'integer', minimum: 0 },
    failed_transactions: { type: 'integer', minimum: 0 },
    latency_stage: { enum: ['commit', 'ack'] },
    latency_percentiles_ms: {
      type: 'object',
      required: ['min', 'p50', 'p90', 'p99', 'p999', 'max'],
      properties: {
        min: { type: 'number', minimum: 0 },
        p50: { type: 'number', minimum: 0 },
        p90: { type: 'number', minimum: 0 },
        p99: { type: 'number', minimum: 0 },
        p999: { type: 'number', minimum: 0 },
        max: { type: 'number', minimum: 0 },
      },
    },
    efficiency: {
      type: 'number',
      minimum: 0,
      description: 'committed (or accepted) / input, 0..1 (may exceed 1 slightly)',
    },
    input_rate: { type: 'number', minimum: 0 },
    achieved_rate: { type: 'number', minimum: 0 },
    accepted_throughput: { type: 'number', minimum: 0 },
    committed_throughput: { type: 'number', minimum: 0 },
    scheduled_transactions: { type: 'integer', minimum: 0 },
    sent_transactions: { type: 'integer', minimum: 0 },
    outcomes,
    ack_latency_ms: latencySummary,
    ack_latency_uncorrected_ms: latencySummary,
    commit_latency_ms: latencySummary,
    commit_latency_uncorrected_ms: latencySummary,
    schedule_lag_ms: latencySummary,
    warmup_secs: { type: 'number', minimum: 0 },
    cooldown_secs: { type: 'number', minimum: 0 },
    per_node: {
      type: 'array',
      items: {
        type: 'object',
        required: ['node_id', 'sent', 'ok', 'failed', 'committed', 'ack_latency_ms'],
        properties: {
          node_id: { type: 'string' },
          sent: { type: 'integer', minimum: 0 },
          ok: { type: 'integer', minimum: 0 },
          failed: { type: 'integer', minimum: 0 },
          committed: { type: 'integer', minimum: 0 },
          ack_latency_ms: latencySummary,
          commit_latency_ms: latencySummary,
        },
      },
    },
    time_series: {
      type: 'array',
      items: {
        type: 'object',
        required: ['second', 'sent', 'ok', 'failed', 'committed'],
        properties: {
          second: { type: 'number', minimum: 0 },
          sent: { type: 'integer', minimum: 0 },
          ok: { type: 'integer', minimum: 0 },
          failed: { type: 'integer', minimum: 0 },
          committed: { type: 'integer', minimum: 0 },
          ackP50Ms: { type: 'number', minimum: 0 },
          ackP99Ms: { type: 'number', minimum: 0 },
          commitP50Ms: { type: 'number', minimum: 0 },
          commitP99Ms: { type: 'number', minimum: 0 },
        },
      },
    },
  },
} as const;

const keyPattern = {
  type: 'object',
  description: 'etcd: which keys the puts wrote (the value is the transaction); see docs/result-format.md',
  required: ['pattern', 'prefix'],
  properties: {
    pattern: { enum: ['unique', 'sequential', 'uniform', 'zipfian'] },
    prefix: { type: 'string' },
    key_space: { type: 'integer', minimum: 1 },
    key_size_bytes: { type: 'integer', minimum: 1 },
    zipf_exponent: { type: 'number', exclusiveMinimum: 0 },
  },
} as const;

const spread = {
  type: 'object',
  required: ['mean', 'stddev', 'min', 'max', 'values'],
  properties: {
    mean: { type: 'number' },
    stddev: { type: 'number', minimum: 0 },
    min: { type: 'number' },
    max: { type: 'number' },
    values: { type: 'array', items: { type: 'number' } },
  },
} as const;

export const resultJsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://meshbench.dev/schemas/result.schema.json',
  title: 'meshbench benchmark result',
  description:
    "One load level of one benchmark: the original tool's fields (network_type, benchmark_number, parameters, results, timestamp) extended with percentiles, efficiency, rates, outcomes, per-node figures, the time series, settle and orchestration timings, the environment and the plan.",
  type: 'object',
  required: ['schema_version', 'network_type', 'benchmark_number', 'parameters', 'results', 'timestamp'],
  properties: {
    schema_version: { const: 1 },
    run_id: { type: 'string' },
    network_type: { enum: ['local', 'remote', 'endpoints'] },
    benchmark_number: { type: 'integer', minimum: 1 },
    parameters: {
      type: 'object',
      required: [
        'nodes',
        'load',
        'duration',
        'transaction_size',
        'faults',
        'crash_recovery',
        'crash_interval',
      ],
      properties: {
        nodes: { type: 'integer', minimum: 1 },
        load: { type: 'number', exclusiveMinimum: 0 },
        duration: { type: 'number', exclusiveMinimum: 0 },
        transaction_size: { type: 'integer', minimum: 1 },
        faults: { type: 'integer', minimum: 0 },
        crash_recovery: { type: 'boolean' },
        crash_interval: { type: 'number', exclusiveMinimum: 0 },
        warmup: { type: 'number', minimum: 0 },
        runs: { type: 'integer', minimum: 1 },
        protocol: { enum: [...protocolKinds()] },
        confirm: { enum: ['none', 'commit'] },
        faults_applied: { type: 'boolean' },
        endpoints: { type: 'array', items: { type: 'string' } },
        key_pattern: keyPattern,
      },
    },
    results,
    across_runs: {
      type: 'object',
      required: ['runs', 'throughput', 'avg_latency_ms', 'p50_latency_ms', 'p99_latency_ms', 'efficiency'],
      properties: {
        runs: { type: 'integer', minimum: 1 },
        throughput: spread,
        avg_latency_ms: spread,
        p50_latency_ms: spread,
        p99_latency_ms: spread,
        efficiency: spread,
      },
    },
    runs: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['run', 'started_at', 'ended_at', 'results', 'settle', 'timing'],
        properties: {
          run: { type: 'integer', minimum: 1 },
          started_at: { type: 'string', format: 'date-time' },
          ended_at: { type: 'string', format: 'date-time' },
          interrupted: { type: 'boolean' },
          excluded: { type: ['object', 'null'] },
          generator: { type: ['object', 'null'] },
          key_prefix: {
            type: 'string',
            description: 'etcd, unique keys: the prefix of every key this run wrote',
          },
          results,
          settle: {
            type: 'object',
            required: ['polled', 'drained', 'settleMs', 'polls', 'residualUnconfirmed', 'errors'],
            properties: {
              rule: { enum: ['drain', 'pause', 'drain+pause', 'skipped'] },
              polled: { type: 'boolean' },
              skippedReason: { type: 'string' },
              drained: { type: 'boolean' },
              settleMs: { type: 'number', minimum: 0 },
              polls: { type: 'integer', minimum: 0 },
              residualUnconfirmed: counts,
              errors: { type: 'object', additionalProperties: { type: 'string' } },
              pauseMs: { type: 'number', minimum: 0 },
              unreportable: { type: 'object', additionalProperties: { type: 'string' } },
            },
          },
          timing: {
            type: 'object',
            required: ['levelMs', 'loadMs', 'settleMs', 'generatorTailMs', 'overheadMs', 'orchestratorMs'],
            properties: {
              levelMs: { type: 'number', minimum: 0 },
              loadMs: { type: 'number', minimum: 0 },
              settleMs: { type: 'number', minimum: 0 },
              generatorTailMs: { type: 'number' },
              overheadMs: { type: 'number' },
              orchestratorMs: { type: 'number' },
              deployMs: { type: 'number', minimum: 0 },
            },
          },
        },
      },
    },
    environment: {
      type: 'object',
      required: ['tool', 'tool_version', 'node_image_id', 'host'],
      properties: {
        tool: { const: 'meshbench' },
        tool_version: { type: 'string' },
        node_image_id: { type: ['string', 'null'] },
        host: { type: 'object' },
        testbed: { type: 'object' },
        deploy_ready_after_ms: { type: ['number', 'null'] },
      },
    },
    plan: { type: 'object', required: ['planVersion', 'networkType', 'networks'] },
    timestamp: { type: 'string', format: 'date-time' },
    interrupted: { type: 'boolean' },
  },
} as const;

/** A validator for per-benchmark files: `validate(record)` is true or `validate.errors` says why. */
export function resultValidator(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv.compile(resultJsonSchema);
}
