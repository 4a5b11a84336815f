/**
 * What a sweep hands up for each level: per run, the generator's result, how the network
 * settled, the level's timings and the observers' blocks; and the facts of where it ran.
 * Plain data: src/results/ turns it into the record format (docs/result.schema.json).
 */
import type { LoadResult } from '../load/types.js';

/**
 * How a level settled: `drain` polled every node's backlog until empty (or the timeout);
 * `pause` waited the fixed --settle-secs because no node can report a backlog;
 * `drain+pause` polled the nodes that can and paused for the others; `skipped` did not wait.
 */
export type SettleRule = 'drain' | 'pause' | 'drain+pause' | 'skipped';

export interface SettleOutcome {
  readonly rule: SettleRule;
  /** Whether any backlog was polled at all. */
  readonly polled: boolean;
  /** Why not, when not polled. */
  readonly skippedReason?: string;
  /** True when every node reported an empty backlog within the bound. */
  readonly drained: boolean;
  readonly settleMs: number;
  readonly polls: number;
  /** Unconfirmed txs per node at the last poll. */
  readonly residualUnconfirmed: Readonly<Record<string, number>>;
  /** Nodes whose backlog could not be read at the last poll, with the error. */
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

/** One run of a level (a level has --runs of them). */
export interface LevelRun {
  readonly load: LoadResult;
  readonly settle: SettleOutcome;
  readonly timing: LevelTiming;
  /** What observers added during this run, by observer name. */
  readonly blocks?: Readonly<Record<string, unknown>>;
}

/** Where a level ran: the record's `environment` block. */
export interface EnvironmentRecord {
  readonly tool: 'meshbench';
  readonly tool_version: string;
  readonly node_image_id: string | null;
  readonly host: Readonly<Record<string, unknown>>;
  readonly testbed: Readonly<Record<string, unknown>>;
  readonly deploy_ready_after_ms: number | null;
}

/** The network types a record can carry (`endpoints` is attach mode). */
export type RecordNetworkType = 'local' | 'remote' | 'endpoints';
