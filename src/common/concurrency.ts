/** Runs `task` over `items` with at most `limit` at once; results keep the input order. */
export async function mapSettled<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await task(items[index]!, index) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** The first rejection's reason, or the values when all fulfilled. */
export function firstFailure<R>(results: readonly PromiseSettledResult<R>[]): {
  values: R[];
  error?: unknown;
  failed: number;
} {
  const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
  const values = results
    .filter((r) => r.status === 'fulfilled')
    .map((r) => (r as PromiseFulfilledResult<R>).value);
  return failed.length > 0
    ? { values, error: failed[0]!.reason, failed: failed.length }
    : { values, failed: 0 };
}
