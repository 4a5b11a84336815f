/**
 * LoadResult → the original tool's per-benchmark JSON (`network_type`,
 * `benchmark_number`, `parameters`, `results`, `timestamp`), extended with the
 * generator's full figures. A pure function: nothing here measures or prints.
 *
 * One generator run, no plan: `local-network`'s result file and the public API.
 * The `benchmark` command (attach mode included) writes `buildBenchmarkRecord`
 * records instead (src/bench/record.ts); both take `results` from the same
 * `resultsFromLoad`, so they agree field for field. Meanings: docs/result-format.md.
 */
import { keyPatternRecord, resultsFromLoad } from '../bench/record.js';
import type { KeyPatternRecord, RecordResults } from '../bench/record.js';
import type { ConfirmMode, LoadResult } from '../load/types.js';

export const ATTACH_RESULT_SCHEMA_VERSION = 1;

export interface LoadRecordInput {
  readonly runId: string;
  readonly networkType: 'endpoints' | 'local' | 'remote';
  readonly benchmarkNumber: number;
  /** Number of nodes (endpoints) the load went to. */
  readonly nodes: number;
  /** Target load, tx/s. */
  readonly load: number;
  /** Configured duration of the measured window, s. */
  readonly durationSecs: number;
  readonly transactionSizeBytes: number;
  readonly protocol: string;
  readonly confirm: ConfirmMode;
  /** Endpoint URLs (attach mode). */
  readonly endpoints?: readonly string[];
  /** ISO time the record was made. */
  readonly timestamp: string;
}

export interface LoadRecord {
  readonly schema_version: typeof ATTACH_RESULT_SCHEMA_VERSION;
  readonly run_id: string;
  readonly network_type: LoadRecordInput['networkType'];
  readonly benchmark_number: number;
  readonly parameters: {
    readonly nodes: number;
    readonly load: number;
    readonly duration: number;
    readonly transaction_size: number;
    readonly protocol: string;
    readonly confirm: ConfirmMode;
    readonly endpoints?: readonly string[];
    /** Key-value protocols (etcd): which keys the puts wrote. */
    readonly key_pattern?: KeyPatternRecord;
  };
  readonly results: RecordResults;
  readonly timestamp: string;
  readonly started_at: string;
  readonly ended_at: string;
  readonly interrupted: boolean;
  /** Warm-up and cool-down tallies (excluded from `results`). */
  readonly excluded: LoadResult['excluded'] | null;
  /** Generator settings (workers, connections, timeouts, shape). */
  readonly generator: LoadResult['generator'] | null;
  /** etcd, key pattern `unique`: every key this run wrote starts with this. */
  readonly key_prefix?: string;
}

export function loadRecord(result: LoadResult, input: LoadRecordInput): LoadRecord {
  return {
    schema_version: ATTACH_RESULT_SCHEMA_VERSION,
    run_id: input.runId,
    network_type: input.networkType,
    benchmark_number: input.benchmarkNumber,
    parameters: {
      nodes: input.nodes,
      load: input.load,
      duration: input.durationSecs,
      transaction_size: input.transactionSizeBytes,
      protocol: input.protocol,
      confirm: input.confirm,
      ...(input.endpoints ? { endpoints: input.endpoints } : {}),
      ...(result.keys ? { key_pattern: keyPatternRecord(result.keys) } : {}),
    },
    results: resultsFromLoad(result, input.confirm),
    timestamp: input.timestamp,
    started_at: result.startedAt,
    ended_at: result.endedAt,
    interrupted: result.interrupted,
    excluded: result.excluded ?? null,
    generator: result.generator ?? null,
    ...(result.keys?.runKeyPrefix === undefined ? {} : { key_prefix: result.keys.runKeyPrefix }),
  };
}
