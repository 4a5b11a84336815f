/**
 * The sweep's lifecycle, and the observers that plug into it. The sweep deploys, runs
 * each load level and tears down; everything else (writing records, the console, the
 * summary, the comparison, and next: faults, resource monitors, an HTML report, a
 * regression gate) is an observer registered by the command, called at each step in
 * registration order, each hook awaited:
 *
 *   preflight()                   before anything is deployed or written (a URL probed, a port bound)
 *   onDeploy(deployment)          a network is up (once per network, or per level with --fresh-network)
 *   onLevelStart(level, context)  a run of a level starts its load: context.signal ends with it,
 *                                 context.elapsedMs() is the level's clock, context.block() adds
 *                                 a named block to this run's record
 *   onLoadProgress(level, p, ctx) about once a second during the load: the generator's counts so far
 *                                 and the latencies completed in that tick (p.latency)
 *   onLiveEvent(level, event)     whenever a plug-in calls context.publish(event) during the level: a
 *                                 node's resource sample as the monitor takes it, a fault or network
 *                                 condition window as it starts and ends (src/measure/live.ts). The one
 *                                 seam for live figures: publishers and watchers (the dashboard) never
 *                                 know each other, and the loop names neither
 *   onLoadEnd(level, load, ctx)   that run's load ended (also when interrupted), before it settles
 *   onLevelEnd(level)             a level (all its runs) is done, with what it measured
 *   onTeardown(deployment)        a network is about to be removed or left running
 *   onRunEnd(run, out)            once, after the last level (also after an early stop)
 *
 * Shape taken from k6's Output (Start / AddMetricSamples / Stop) and Caliper's round
 * observers: the loop knows no observer by name.
 */
import type { LoadOptions, LoadProgress, LoadResult } from '../load/types.js';
import type { LiveEvent } from '../measure/live.js';
import type { Deployment } from '../testbed/testbed.js';
import type { LevelRun, EnvironmentRecord, RecordNetworkType } from './level.js';
import type { SearchOutcome } from './load-search.js';
import type { BenchmarkPlan } from './plan.js';

export type {
  LiveEvent,
  LivePublisher,
  LiveResourceFigures,
  LiveResourceSample,
  LiveWindowEnd,
  LiveWindowStart,
} from '../measure/live.js';

/** Where an observer's output goes. */
export interface SweepOutput {
  /** A block of text on the console (nothing when the plan turns console output off). */
  say(text: string): void;
  /** A file in the run folder, written atomically (text or bytes as they are, else JSON); its path (undefined when the plan writes no files). */
  write(name: string, data: unknown): Promise<string | undefined>;
}

export interface SweepSearch {
  readonly network: RecordNetworkType;
  readonly outcome: SearchOutcome;
}

/** One run of one level, as it starts. */
export interface LevelStart {
  readonly runId: string;
  readonly network: RecordNetworkType;
  readonly benchmarkNumber: number;
  readonly load: number;
  /** 1-based, of `plan.runs`. */
  readonly run: number;
  readonly durationMs: number;
  readonly warmupMs: number;
}

export interface LevelContext {
  readonly deployment: Deployment;
  /** Aborted when this run's load ends (or the whole run is interrupted). */
  readonly signal: AbortSignal;
  /** Milliseconds since this run's load started (monotonic). */
  elapsedMs(): number;
  /** Adds (or replaces) this observer's named block in this run's record (`runs[].blocks`). */
  block(name: string, data: unknown): void;
  /** A progress line. */
  log(line: string): void;
  /**
   * Publishes a live point or event of this run to every observer's onLiveEvent, at once
   * (until the run's load end is done). For what watchers show while the level runs; the
   * record still gets its block.
   */
  publish(event: LiveEvent): void;
}

/** A level, all its runs done. */
export interface LevelEnd {
  readonly runId: string;
  readonly network: RecordNetworkType;
  readonly benchmarkNumber: number;
  readonly load: number;
  readonly nodes: number;
  readonly runs: readonly LevelRun[];
  readonly environment: EnvironmentRecord;
  readonly timestamp: string;
  /** Attach mode: the endpoint URLs the load went to. */
  readonly endpoints?: readonly string[];
}

/** Timing of one level as the orchestrator saw it, including writing its files. */
export interface LevelTimingSummary {
  readonly network: RecordNetworkType;
  readonly benchmarkNumber: number;
  readonly load: number;
  readonly run: number;
  readonly levelMs: number;
  readonly loadMs: number;
  readonly settleMs: number;
  readonly deployMs: number;
  /** loadMs − configured duration: the generator's start and its wait for the last commits. */
  readonly generatorTailMs: number;
  /** levelMs − configured duration − settle wait − deploy: everything added to the load itself. */
  readonly overheadMs: number;
  /** overheadMs − generatorTailMs: the orchestrator's own share (records, files, polling, printing). */
  readonly orchestratorMs: number;
}

/** Everything a run did, at its end. */
export interface SweepEnd {
  readonly runId: string;
  readonly plan: BenchmarkPlan;
  readonly searches: readonly SweepSearch[];
  readonly levels: readonly LevelTimingSummary[];
  readonly notes: readonly string[];
  readonly startedAt: string;
  readonly endedAt: string;
  readonly runDir: string | undefined;
  readonly interrupted: boolean;
  /** What the observers before this one found (the comparison's findings, say). */
  readonly findings: readonly string[];
}

/** What an observer adds at the run's end for the observers after it and for run.json. */
export interface RunEndContribution {
  readonly findings?: readonly string[];
  /** Named entries for the run index (run.json), e.g. `{ comparison: 'comparison.json' }`. */
  readonly index?: Readonly<Record<string, unknown>>;
}

export interface SweepObserver {
  readonly name: string;
  /**
   * Before anything is deployed or written (a monitoring URL probed, a port bound): a thrown
   * error stops the run there. What it starts must end by onRunEnd or be unref'd.
   */
  preflight?(options: { readonly signal?: AbortSignal }): void | Promise<void>;
  /**
   * Environment variables each node of a network about to be deployed gets (e.g. the ingest
   * endpoint's MESHBENCH_INGEST_URL); generated networks only (local --committee, remote).
   */
  nodeEnvironment?(
    network: RecordNetworkType,
  ): Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>;
  onDeploy?(deployment: Deployment, network: RecordNetworkType): void | Promise<void>;
  onLevelStart?(level: LevelStart, context: LevelContext): void | Promise<void>;
  /**
   * Runs the level's load in its place (load clients beside the nodes, src/clients/): gets the
   * options the sweep built and the local generator, returns one merged LoadResult. The first
   * observer that has it runs the load; without one, the sweep calls its own generator.
   */
  runLoad?(
    options: LoadOptions,
    context: LevelContext,
    generator: (options: LoadOptions) => Promise<LoadResult>,
  ): Promise<LoadResult>;
  /**
   * About once a second during the load: the generator's counts so far and the latencies
   * completed in that tick, `progress.latency` (must return at once).
   */
  onLoadProgress?(level: LevelStart, progress: LoadProgress, context: LevelContext): void;
  /**
   * A live point or event a plug-in published during the level (`context.publish`): must
   * return at once; a throw is reported as one line and does not reach the publisher.
   */
  onLiveEvent?(level: LevelStart, event: LiveEvent): void;
  /** The run's load ended (also when interrupted): the last moment to add blocks to its record. */
  onLoadEnd?(level: LevelStart, load: LoadResult, context: LevelContext): void | Promise<void>;
  onLevelEnd?(level: LevelEnd, out: SweepOutput): void | Promise<void>;
  onTeardown?(deployment: Deployment, network: RecordNetworkType): void | Promise<void>;
  onRunEnd?(run: SweepEnd, out: SweepOutput): void | RunEndContribution | Promise<void | RunEndContribution>;
}
