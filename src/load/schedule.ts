/**
 * The open-loop schedule: the intended send time of every transaction, computed
 * from the start time and the rate function only (never from replies).
 *
 * The rate over time is a list of segments, each with a rate that is constant or
 * changes linearly. Transaction `n` (0-based) is due when the integral of the rate
 * from 0 reaches `n`, so tx 0 is due at t = 0 and, at a fixed rate r, tx n at n / r.
 */
import type { LoadShape } from './types.js';

export interface RateSegment {
  /** Start of the segment, ms from the schedule start. */
  readonly startMs: number;
  /** Length, ms (may be Infinity for the last segment). */
  readonly durationMs: number;
  /** Rate at the segment start and end, tx/s. */
  readonly fromRate: number;
  readonly toRate: number;
}

interface PreparedSegment extends RateSegment {
  /** Transactions due before this segment starts (fractional). */
  readonly startCount: number;
  /** Transactions due within this segment (Infinity when unbounded). */
  readonly count: number;
}

export class Schedule {
  private readonly segments: readonly PreparedSegment[];
  private cursor = 0;

  constructor(segments: readonly RateSegment[]) {
    if (segments.length === 0) throw new Error('a schedule needs at least one segment');
    const prepared: PreparedSegment[] = [];
    let startCount = 0;
    for (const segment of segments) {
      const count = ((segment.fromRate + segment.toRate) / 2) * (segment.durationMs / 1000);
      prepared.push({ ...segment, startCount, count });
      startCount += count;
    }
    this.segments = prepared;
  }

  /** Transactions due in [0, tMs): the integral of the rate (fractional). */
  countBefore(tMs: number): number {
    let total = 0;
    for (const segment of this.segments) {
      if (tMs <= segment.startMs) break;
      const tau = Math.min(tMs - segment.startMs, segment.durationMs);
      total += integrate(segment, tau);
      if (tMs < segment.startMs + segment.durationMs) break;
    }
    return total;
  }

  /** Number of whole transactions due strictly before `tMs`. */
  seqsBefore(tMs: number): number {
    // Tiny epsilon so that floating error never adds a phantom transaction exactly at a boundary.
    return Math.ceil(this.countBefore(tMs) - 1e-9);
  }

  /** Intended send time of transaction `seq` in ms from the start; Infinity when beyond the schedule. */
  timeOf(seq: number): number {
    // Sequence numbers usually arrive in increasing order: resume from the last segment used.
    let index = this.cursor;
    let segment = this.segments[index];
    if (segment === undefined || seq < segment.startCount) {
      index = 0;
      segment = this.segments[0];
    }
    while (segment !== undefined && seq >= segment.startCount + segment.count) {
      index++;
      segment = this.segments[index];
    }
    if (segment === undefined) return Infinity;
    this.cursor = index;
    return segment.startMs + solve(segment, seq - segment.startCount);
  }
}

/** Transactions due in the first `tauMs` of a segment. */
function integrate(segment: RateSegment, tauMs: number): number {
  const a = segment.fromRate / 1000;
  if (segment.fromRate === segment.toRate || !Number.isFinite(segment.durationMs)) return a * tauMs;
  const slope = (segment.toRate - segment.fromRate) / 1000 / segment.durationMs;
  return a * tauMs + (slope * tauMs * tauMs) / 2;
}

/** The time into a segment at which `m` transactions are due. */
function solve(segment: RateSegment, m: number): number {
  const a = segment.fromRate / 1000;
  if (segment.fromRate === segment.toRate || !Number.isFinite(segment.durationMs)) return m / a;
  const k = (segment.toRate - segment.fromRate) / 1000 / segment.durationMs / 2;
  // k τ² + a τ - m = 0, in the form that stays stable as k → 0.
  const root = Math.sqrt(Math.max(0, a * a + 4 * k * m));
  return root + a === 0 ? 0 : (2 * m) / (a + root);
}

export interface SchedulePlan {
  readonly schedule: Schedule;
  readonly warmupMs: number;
  /** Start and end of the measured window, ms from the schedule start. */
  readonly measuredStartMs: number;
  readonly measuredEndMs: number;
  /** End of the cool-down window (and of the schedule), ms. */
  readonly endMs: number;
  readonly cooldownMs: number;
  /** Sequence numbers: [0, firstMeasuredSeq) warm-up, [firstMeasuredSeq, firstCooldownSeq) measured, [firstCooldownSeq, endSeq) cool-down. */
  readonly firstMeasuredSeq: number;
  readonly firstCooldownSeq: number;
  readonly endSeq: number;
  /** Scheduled (input) rate over the measured window, tx/s. */
  readonly inputRate: number;
}

export interface PlanInput {
  readonly shape: LoadShape;
  readonly durationMs?: number;
  readonly transactions?: number;
  readonly warmupMs?: number;
  readonly cooldownMs?: number;
}

function firstRate(shape: LoadShape): number {
  if (shape.kind === 'fixed') return shape.rate;
  if (shape.kind === 'ramp') return shape.fromRate;
  return shape.rates[0] ?? 0;
}

/** Segments of the measured window, starting at `offsetMs`. The last one is unbounded when `durationMs` is. */
function measuredSegments(shape: LoadShape, offsetMs: number, durationMs: number): RateSegment[] {
  if (shape.kind === 'fixed') {
    return [{ startMs: offsetMs, durationMs, fromRate: shape.rate, toRate: shape.rate }];
  }
  if (shape.kind === 'ramp') {
    return [{ startMs: offsetMs, durationMs, fromRate: shape.fromRate, toRate: shape.toRate }];
  }
  const segments: RateSegment[] = [];
  let at = 0;
  shape.rates.forEach((rate, index) => {
    if (at >= durationMs) return;
    const isLast = index === shape.rates.length - 1;
    const length = isLast ? durationMs - at : Math.min(shape.stepDurationMs, durationMs - at);
    segments.push({ startMs: offsetMs + at, durationMs: length, fromRate: rate, toRate: rate });
    at += length;
  });
  return segments;
}

function lastRate(segments: readonly RateSegment[]): number {
  return segments[segments.length - 1]?.toRate ?? 0;
}

/**
 * Lays out warm-up, measured window and cool-down. With `durationMs` the measured
 * window lasts that long; with `transactions` it holds exactly that many sends.
 * Warm-up runs at the first rate, cool-down at the last.
 */
export function planSchedule(input: PlanInput): SchedulePlan {
  const warmupMs = input.warmupMs ?? 0;
  const cooldownMs = input.cooldownMs ?? 0;
  const shape = input.shape;
  const defaultDurationMs =
    shape.kind === 'steps' && input.transactions === undefined
      ? shape.rates.length * shape.stepDurationMs
      : undefined;
  const durationMs = input.durationMs ?? defaultDurationMs;

  const warmup: RateSegment[] =
    warmupMs > 0
      ? [{ startMs: 0, durationMs: warmupMs, fromRate: firstRate(shape), toRate: firstRate(shape) }]
      : [];

  if (durationMs !== undefined) {
    const measured = measuredSegments(shape, warmupMs, durationMs);
    const cooldown: RateSegment[] =
      cooldownMs > 0
        ? [
            {
              startMs: warmupMs + durationMs,
              durationMs: cooldownMs,
              fromRate: lastRate(measured),
              toRate: lastRate(measured),
            },
          ]
        : [];
    const schedule = new Schedule([...warmup, ...measured, ...cooldown]);
    const measuredEndMs = warmupMs + durationMs;
    const firstMeasuredSeq = schedule.seqsBefore(warmupMs);
    const firstCooldownSeq = schedule.seqsBefore(measuredEndMs);
    return windowOf(schedule, warmupMs, measuredEndMs, cooldownMs, firstMeasuredSeq, firstCooldownSeq);
  }

  const transactions = input.transactions;
  if (transactions === undefined) throw new Error('planSchedule needs durationMs or transactions');
  if (shape.kind === 'ramp') throw new Error('a ramp needs a duration');
  // The measured window's last rate continues without end, which is also the cool-down rate.
  const schedule = new Schedule([...warmup, ...measuredSegments(shape, warmupMs, Infinity)]);
  const firstMeasuredSeq = schedule.seqsBefore(warmupMs);
  const firstCooldownSeq = firstMeasuredSeq + transactions;
  const measuredEndMs = schedule.timeOf(firstCooldownSeq);
  return windowOf(schedule, warmupMs, measuredEndMs, cooldownMs, firstMeasuredSeq, firstCooldownSeq);
}

/** The window of a schedule: warm-up, measured part, cool-down, and the input rate of the measured part. */
function windowOf(
  schedule: Schedule,
  warmupMs: number,
  measuredEndMs: number,
  cooldownMs: number,
  firstMeasuredSeq: number,
  firstCooldownSeq: number,
): SchedulePlan {
  const endMs = measuredEndMs + cooldownMs;
  const measuredSecs = (measuredEndMs - warmupMs) / 1000;
  return {
    schedule,
    warmupMs,
    measuredStartMs: warmupMs,
    measuredEndMs,
    endMs,
    cooldownMs,
    firstMeasuredSeq,
    firstCooldownSeq,
    endSeq: Math.max(firstCooldownSeq, schedule.seqsBefore(endMs)),
    inputRate: measuredSecs > 0 ? (firstCooldownSeq - firstMeasuredSeq) / measuredSecs : 0,
  };
}
