/**
 * What the faults of a level did, from its timeline and the generator's time series
 * (commits, or ok replies without --confirm commit, counted by the second they ARRIVED in,
 * so a stall shows as seconds with none). Per fault (one event that took nodes down, until
 * they came back): throughput before, during and after; the longest window with no
 * commit; the largest latency of the txs sent around it; the time until throughput is back
 * to 90 % of its pre-fault level; and each brought-back node's resync time (measured by
 * the injector). Per level: availability, the share of seconds with at least one commit.
 * Resolution: whole seconds of the measured window (docs/faults.md).
 */
import type { LoadResult } from '../load/types.js';
import { availabilityOf, levelSeries, round, windowPhases, type WindowPhases } from '../scenario/phases.js';
import type { NodeAction, Scenario } from '../scenario/scenario.js';

/** One action as it ran. Times in ms on the level's clock (from its load's start). */
export interface FaultEventRecord {
  readonly action: NodeAction;
  readonly nodes: readonly string[];
  /** `scenario`: a step of the scenario; `restore`: bringing nodes back after the load. */
  readonly cause: 'scenario' | 'restore';
  /** When the scenario asked for it (null: a restore). */
  readonly scheduled_ms: number | null;
  readonly fired_ms: number;
  /** When every node's action returned. */
  readonly done_ms: number;
  readonly started_at: string;
  /** Nodes whose action failed, with why. */
  readonly errors?: Readonly<Record<string, string>>;
}

export interface ResyncRecord {
  readonly node: string;
  /**
   * When the node was brought back (its restart or unpause returned); with `after: 'crash'`,
   * when the crash returned (the engine, e.g. Swarm, started the node again by itself).
   */
  readonly from_ms: number;
  /** `crash`: measured from the crash, because the engine restarts a crashed node itself. */
  readonly after?: 'crash';
  /** Until it answered its health probe again; null: not within the level (and 10 s). */
  readonly answering_ms: number | null;
  /** Until its height reached the highest of the other nodes'; null: not within the level, or no heights. */
  readonly resynced_ms: number | null;
  readonly height?: number;
  readonly reason?: string;
}

export interface FaultRecord extends WindowPhases {
  readonly action: NodeAction;
  readonly nodes: readonly string[];
  readonly down_ms: number;
  /** When the nodes were back (null: still down when the load ended). */
  readonly up_ms: number | null;
  readonly brought_back_by: 'scenario' | 'restore' | null;
  readonly resync: readonly ResyncRecord[];
  /** The plain line the text summary prints. */
  readonly summary: string;
}

export interface FaultsBlock {
  readonly scenario: Omit<Scenario, 'lines'>;
  /**
   * Most nodes down at once; the f the protocol's fault model tolerates (byzantine:
   * floor((n-1)/3), crash: floor((n-1)/2), unknown: null); whether a stall was expected.
   */
  readonly tolerance: {
    readonly max_down: number;
    readonly tolerated: number | null;
    readonly fault_model: 'byzantine' | 'crash' | null;
    readonly expect_stall: boolean;
  };
  readonly events: readonly FaultEventRecord[];
  readonly faults: readonly FaultRecord[];
  /** Share of the measured seconds with at least one commit (or ok reply). */
  readonly availability: number | null;
  /** How late each scenario step fired, ms (fired − scheduled): max and p99. */
  readonly lateness_ms: { readonly max: number; readonly p99: number } | null;
  /** What the figures count: commits, or ok replies when commits are not confirmed. */
  readonly judged_by: 'commits' | 'ok replies';
}

const VERB: Record<NodeAction, string> = {
  kill: 'crashed',
  stop: 'stopped',
  pause: 'paused',
  unpause: 'unpaused',
  restart: 'restarted',
};

export function faultFigures(input: {
  readonly events: readonly FaultEventRecord[];
  readonly resyncs: readonly ResyncRecord[];
  readonly load: LoadResult;
  readonly warmupMs: number;
  /** Where the generator's clock starts on the level's clock, ms. */
  readonly loadStartOffsetMs: number;
  readonly confirmCommit: boolean;
}): Omit<FaultsBlock, 'scenario' | 'tolerance'> {
  const { events } = input;
  const series = levelSeries(input);
  const faults: FaultRecord[] = [];
  events.forEach((event, index) => {
    if (!['kill', 'stop', 'pause'].includes(event.action)) return;
    const back = events
      .slice(index + 1)
      .find(
        (later) =>
          (later.action === 'restart' || later.action === 'unpause') &&
          event.nodes.every((node) => later.nodes.includes(node)),
      );
    const phases = windowPhases(
      series,
      event.fired_ms,
      back ? back.done_ms : null,
      back?.cause === 'scenario',
    );
    const resync = input.resyncs.filter(
      (r) =>
        event.nodes.includes(r.node) &&
        (r.after === 'crash'
          ? Math.abs(r.from_ms - event.done_ms) < 1
          : back !== undefined && Math.abs(r.from_ms - back.done_ms) < 1),
    );
    const record = {
      action: event.action,
      nodes: event.nodes,
      down_ms: event.fired_ms,
      up_ms: back ? back.done_ms : null,
      brought_back_by: back ? back.cause : null,
      before: phases.before,
      during: phases.during,
      after: phases.after,
      longest_no_commit_ms: phases.longest_no_commit_ms,
      max_latency_ms: phases.max_latency_ms,
      time_to_recover_ms: phases.time_to_recover_ms,
      resync,
    };
    faults.push({
      ...record,
      summary: summaryLine(record, input.confirmCommit) + faultLoadLine(event, events, input.load),
    });
  });
  const lateness = events
    .filter((event) => event.scheduled_ms !== null)
    .map((event) => event.fired_ms - (event.scheduled_ms as number))
    .sort((a, b) => a - b);
  return {
    events,
    faults,
    availability: availabilityOf(series),
    lateness_ms:
      lateness.length > 0
        ? {
            max: round(lateness.at(-1) as number),
            p99: round(
              lateness[Math.min(lateness.length - 1, Math.ceil(0.99 * lateness.length) - 1)] as number,
            ),
          }
        : null,
    judged_by: input.confirmCommit ? 'commits' : 'ok replies',
  };
}

/**
 * What --fault-load did with the sends due to the fault's nodes: `; 1,000 sends redirected to
 * live nodes`. The generator counts per node over the level, so a node down in more than one
 * window of the level gets the level's count, said so.
 */
function faultLoadLine(
  event: FaultEventRecord,
  events: readonly FaultEventRecord[],
  load: LoadResult,
): string {
  const mode = load.faultLoad?.mode;
  if (mode === undefined || mode === 'keep') return '';
  const nodes = load.perNode.filter((node) => event.nodes.includes(node.nodeId));
  const count = nodes.reduce(
    (total, node) => total + (mode === 'drop' ? (node.faultDropped ?? 0) : (node.redirectedOut ?? 0)),
    0,
  );
  const windows = events.filter(
    (other) =>
      ['kill', 'stop', 'pause'].includes(other.action) && other.nodes.some((n) => event.nodes.includes(n)),
  ).length;
  const what = mode === 'drop' ? 'not sent (--fault-load drop)' : 'redirected to live nodes';
  return `; ${count.toLocaleString('en-US')} sends ${what}${windows > 1 ? ` over the level's ${windows} windows` : ''}`;
}

function summaryLine(fault: Omit<FaultRecord, 'summary'>, commits: boolean): string {
  const parts = [`${fault.nodes.join(', ')} ${VERB[fault.action]} at ${(fault.down_ms / 1000).toFixed(1)} s`];
  // the engine (Swarm) started it again by itself: recovery from the crash
  const restartedByEngine = fault.resync.filter((record) => record.after === 'crash');
  for (const r of restartedByEngine) {
    const who = fault.nodes.length > 1 ? `${r.node} ` : '';
    parts.push(
      r.resynced_ms !== null
        ? `${who}restarted by the engine and resynced ${(r.resynced_ms / 1000).toFixed(1)} s after the crash`
        : r.answering_ms !== null && r.reason === undefined
          ? `${who}restarted by the engine, answering ${(r.answering_ms / 1000).toFixed(1)} s after the crash`
          : `${r.node} ${r.reason ?? 'did not resync'} after the crash`,
    );
  }
  if (fault.up_ms === null || fault.brought_back_by === 'restore') {
    if (restartedByEngine.length === 0) parts.push('down until the load ended');
  } else {
    const after = fault.action === 'pause' ? 'unpause' : 'restart';
    for (const r of fault.resync.filter((record) => record.after !== 'crash')) {
      const who = fault.nodes.length > 1 ? `${r.node} ` : '';
      parts.push(
        r.resynced_ms !== null
          ? `${who}resynced ${(r.resynced_ms / 1000).toFixed(1)} s after ${after}`
          : r.answering_ms !== null && r.reason === undefined
            ? `${who}answering ${(r.answering_ms / 1000).toFixed(1)} s after ${after}`
            : `${r.node} ${r.reason ?? 'did not resync'} after ${after}`,
      );
    }
    parts.push(
      fault.time_to_recover_ms === null
        ? `throughput not back to 90% within the level`
        : `throughput back to 90% after ${(fault.time_to_recover_ms / 1000).toFixed(1)} s`,
    );
  }
  if (fault.longest_no_commit_ms > 0)
    parts.push(
      `no ${commits ? 'commit' : 'ok reply'} for ${(fault.longest_no_commit_ms / 1000).toFixed(0)} s`,
    );
  return parts.join('; ');
}
