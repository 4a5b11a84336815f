/**
 * The clients' figures merged exactly: their recorder states (encoded HDR histograms and
 * counters) added into one Recorder, the same merge the generator's worker threads use, and
 * turned into one LoadResult (with a mix, each kind's states likewise: the result's `kinds`).
 * Percentiles come from the merged histograms, never averaged.
 */
import { buildLoadResult, planSchedule, shareInputRate } from '../load/index.js';
import type { LoadOptions, LoadProgress, LoadResult, LoadShare } from '../load/types.js';
import { Recorder, type RecorderState } from '../measure/recorder.js';

/** What one client brought back: its state and own result, or how far it got. */
export interface ClientOutcome {
  readonly clientId: string;
  readonly host: string;
  readonly nodeIds: readonly string[];
  readonly share: LoadShare;
  readonly status: 'ok' | 'dead' | 'error';
  readonly state?: RecorderState;
  /** With a mix: its recorder state per kind, in the mix's order. */
  readonly kindStates?: readonly RecorderState[];
  readonly result?: LoadResult;
  /** The last progress it reported (dead or failed clients: what it did before it died). */
  readonly lastProgress?: LoadProgress;
  /** Why it is dead or failed. */
  readonly reason?: string;
}

/**
 * One LoadResult over the clients that reported. When some did not, their shares are left
 * out of the input too (input rate and efficiency cover the shares that came back), and the
 * load_clients block names them.
 */
export function mergeClientResults(
  options: LoadOptions,
  outcomes: readonly ClientOutcome[],
  run: { startedAt: Date; endedAt: Date; workers: number },
): LoadResult {
  const reported = outcomes.filter((o) => o.state !== undefined && o.result !== undefined);
  const nodeIds = options.endpoints.map((e) => e.nodeId);
  const recorder = Recorder.fromStates(
    nodeIds,
    reported.map((o) => o.state as RecorderState),
  );
  // a mix: each kind's states merged across the clients, as exactly as the totals
  const kindRecorders = options.mix?.kinds.map((_, kind) =>
    Recorder.fromStates(
      nodeIds,
      reported.flatMap((o) => (o.kindStates?.[kind] ? [o.kindStates[kind]] : [])),
    ),
  );
  const plan = planSchedule({
    shape: options.shape,
    ...(options.durationMs === undefined ? {} : { durationMs: options.durationMs }),
    ...(options.transactions === undefined ? {} : { transactions: options.transactions }),
    ...(options.warmupMs === undefined ? {} : { warmupMs: options.warmupMs }),
    ...(options.cooldownMs === undefined ? {} : { cooldownMs: options.cooldownMs }),
  });
  const interrupted = reported.some((o) => o.result?.interrupted === true);
  const stopped = reported.flatMap((o) =>
    o.result?.interrupted ? [o.result.durationSecs * 1000 + plan.measuredStartMs] : [],
  );
  const merged = buildLoadResult(options, plan, recorder, {
    ...run,
    interrupted,
    ...(kindRecorders ? { kindRecorders } : {}),
    ...(stopped.length > 0 ? { stoppedAtMs: Math.max(...stopped) } : {}),
  });
  if (reported.length === outcomes.length || interrupted) return merged;
  const inputRate = reported.reduce((sum, o) => sum + shareInputRate(plan, o.share), 0);
  return { ...merged, inputRate };
}
