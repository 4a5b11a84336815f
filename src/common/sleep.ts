/**
 * Waits `ms` milliseconds; an abort during the wait ends it early and resolves (never
 * rejects), so a polling loop checks its signal after the wait, in one place.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
