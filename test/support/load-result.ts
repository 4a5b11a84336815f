/** A LoadResult for tests of what is computed from one: its time series, one entry per second. */
import type { LoadResult } from '../../src/load/types.js';

export function loadWithSeries(
  committedArrived: readonly number[],
  options: { readonly commitMaxMs?: readonly number[]; readonly startedAt?: Date } = {},
): LoadResult {
  return {
    startedAt: (options.startedAt ?? new Date()).toISOString(),
    durationSecs: committedArrived.length,
    timeSeries: committedArrived.map((count, second) => ({
      second,
      sent: 100,
      ok: 100,
      failed: 0,
      committed: 100,
      ackP50Ms: 1,
      ackP99Ms: 2,
      commitP99Ms: 20,
      commitMaxMs: options.commitMaxMs?.[second] ?? 50,
      okArrived: 100,
      committedArrived: count,
    })),
  } as unknown as LoadResult;
}
