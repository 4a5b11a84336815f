/**
 * One open-loop schedule split across load clients. Client k of n sends the sequence numbers
 * ≡ k (mod n) of the whole schedule, each at its own intended time, so the shares interleave
 * and their union is exactly the one schedule (every sequence number once, at the time the
 * single generator would have sent it). Each client's rate is its count over the window; the
 * shares sum to the total.
 */
import { planSchedule, sequencesOfShare } from '../load/index.js';
import type { LoadShare, LoadOptions } from '../load/types.js';

export function clientShares(count: number): LoadShare[] {
  return Array.from({ length: count }, (_, index) => ({ index, count }));
}

/** Each share's number of measured transactions (they sum to the schedule's). */
export function shareCounts(
  options: Pick<LoadOptions, 'shape' | 'durationMs' | 'transactions' | 'warmupMs' | 'cooldownMs'>,
  shares: readonly LoadShare[],
): number[] {
  const plan = planSchedule(options);
  return shares.map((share) => sequencesOfShare(plan.firstMeasuredSeq, plan.firstCooldownSeq, share));
}
