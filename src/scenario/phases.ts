/**
 * The phases around a window of trouble (a node fault, a network condition), from the
 * generator's time series: commits (or ok replies without --confirm commit) counted by the
 * second they ARRIVED in, so a stall shows as seconds with none. Throughput before, during
 * and after; the longest run with no commit; the largest latency of the txs sent around it;
 * the time until throughput is back to 90 % of its level before. The fault injector
 * (src/faults/) and the conditioner (src/conditions/) both judge their windows with these.
 * Resolution: whole seconds of the measured window (docs/faults.md).
 */
import type { LoadResult } from '../load/types.js';

export interface PhaseFigures {
  readonly seconds: number;
  /** Mean commits (or ok replies) per second that arrived in the phase. */
  readonly throughput: number | null;
  /** The worst per-second p99 latency of the txs sent in the phase (commit, or reply). */
  readonly worst_second_p99_ms: number | null;
}

const PRE_FAULT_WINDOW_SECS = 10;
const RECOVERED_SHARE = 0.9;

/** The generator's per-second series a level's figures read (the measured window). */
export interface LevelSeries {
  /** Commits (or ok replies) that arrived in each measured second. */
  readonly counts: readonly number[];
  /** Each second's p99 latency of the txs sent in it. */
  readonly p99s: readonly number[];
  /** Each second's largest latency (every second of the load, warm-up included). */
  readonly maxima: readonly (number | undefined)[];
  /** Level clock (ms) → seconds into the measured window. */
  readonly toSecs: (levelMs: number) => number;
}

export function levelSeries(input: {
  readonly load: LoadResult;
  readonly warmupMs: number;
  readonly loadStartOffsetMs: number;
  readonly confirmCommit: boolean;
}): LevelSeries {
  const { load } = input;
  const measuredSecs = Math.max(0, Math.round(load.durationSecs));
  return {
    counts: load.timeSeries
      .slice(0, measuredSecs)
      .map((s) => (input.confirmCommit ? (s.committedArrived ?? 0) : (s.okArrived ?? 0))),
    p99s: load.timeSeries
      .slice(0, measuredSecs)
      .map((s) => (input.confirmCommit ? (s.commitP99Ms ?? 0) : s.ackP99Ms)),
    maxima: load.timeSeries.map((s) => (input.confirmCommit ? s.commitMaxMs : s.ackMaxMs)),
    toSecs: (levelMs) => (levelMs - input.loadStartOffsetMs - input.warmupMs) / 1000,
  };
}

/** What a window of trouble (a fault, a condition) did: the phases around it and the recovery. */
export interface WindowPhases {
  readonly before: PhaseFigures;
  readonly during: PhaseFigures;
  readonly after: PhaseFigures;
  /** The longest run of whole seconds with no commit, from the window's start on. */
  readonly longest_no_commit_ms: number;
  /** The largest commit (or reply) latency of txs sent from a second before the window until it ended. */
  readonly max_latency_ms: number | null;
  /** From the window's end to the end of the first second with ≥ 90 % of the throughput before it. */
  readonly time_to_recover_ms: number | null;
}

/**
 * The phases around a window from `startMs` to `endMs` (level clock; null: to the load's
 * end). The recovery time is measured only when `measureRecovery` (the window was ended by
 * the scenario, not by the load's end).
 */
export function windowPhases(
  series: LevelSeries,
  startMs: number,
  endMs: number | null,
  measureRecovery: boolean,
): WindowPhases {
  const { counts, p99s } = series;
  const downS = series.toSecs(startMs);
  const upS = endMs === null ? undefined : series.toSecs(endMs);
  const start = clamp(Math.floor(downS), 0, counts.length);
  const end = upS === undefined ? counts.length : clamp(Math.ceil(upS), start, counts.length);
  const from = Math.max(0, start - PRE_FAULT_WINDOW_SECS);
  const before = phase(counts.slice(from, start), p99s.slice(from, start));
  const during = phase(counts.slice(start, end), p99s.slice(start, end));
  const after = phase(counts.slice(end), p99s.slice(end));
  let recover: number | null = null;
  if (before.throughput !== null && before.throughput > 0 && upS !== undefined && measureRecovery) {
    for (let second = Math.max(0, Math.floor(upS)); second < counts.length; second++) {
      if ((counts[second] ?? 0) >= RECOVERED_SHARE * before.throughput) {
        recover = Math.max(0, Math.round((second + 1 - upS) * 1000));
        break;
      }
    }
  }
  const latencies = series.maxima
    .slice(Math.max(0, start - 1), Math.max(end, start + 1))
    .filter((value): value is number => value !== undefined);
  return {
    before,
    during,
    after,
    longest_no_commit_ms: longestZeroRun(counts, start) * 1000,
    max_latency_ms: latencies.length > 0 ? Math.max(...latencies) : null,
    time_to_recover_ms: recover,
  };
}

/** Share of the measured seconds with at least one commit (or ok reply). */
export function availabilityOf(series: LevelSeries): number | null {
  return series.counts.length > 0
    ? series.counts.filter((count) => count > 0).length / series.counts.length
    : null;
}

function phase(values: readonly number[], p99s: readonly number[]): PhaseFigures {
  return {
    seconds: values.length,
    throughput: values.length > 0 ? round(values.reduce((a, b) => a + b, 0) / values.length) : null,
    worst_second_p99_ms: p99s.length > 0 ? round(Math.max(...p99s)) : null,
  };
}

function longestZeroRun(series: readonly number[], from: number): number {
  let longest = 0;
  let run = 0;
  for (let second = from; second < series.length; second++) {
    run = series[second] === 0 ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

export function round(value: number): number {
  return Math.round(value * 10) / 10;
}
