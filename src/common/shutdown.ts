/**
 * Signal handling shared by every command.
 *
 * The first SIGINT/SIGTERM aborts `shutdown.signal` (so load stops and partial
 * results can be printed) and the command's own `finally` blocks run the cleanup.
 * A second signal runs the registered cleanups once more as a best effort and
 * exits at once ("second Ctrl-C forces").
 */
export type Cleanup = () => Promise<void> | void;

export interface Shutdown {
  readonly signal: AbortSignal;
  /** Registers a cleanup to run on a forced exit; returns a function that unregisters it. */
  onForce(cleanup: Cleanup): () => void;
  /** Removes the process signal listeners. */
  dispose(): void;
}

export interface ShutdownOptions {
  readonly log?: (line: string) => void;
  readonly exit?: (code: number) => never;
  readonly signals?: readonly NodeJS.Signals[];
}

export function installShutdown(options: ShutdownOptions = {}): Shutdown {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  const controller = new AbortController();
  const cleanups = new Set<Cleanup>();
  let count = 0;

  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count === 1) {
      log(`\nreceived ${signal}: stopping (press Ctrl-C again to force)`);
      controller.abort(new Error(`interrupted by ${signal}`));
      return;
    }
    log(`received ${signal} again: forcing exit`);
    const pending = [...cleanups].map(async (cleanup) => {
      try {
        await cleanup();
      } catch {
        // best effort on a forced exit
      }
    });
    // within 10 s of the signal whatever the cleanups do
    const timer = setTimeout(() => exit(130), 8_000);
    timer.unref();
    void Promise.allSettled(pending).then(() => exit(130));
  };
  for (const signal of signals) process.on(signal, handler);

  return {
    signal: controller.signal,
    onForce(cleanup) {
      cleanups.add(cleanup);
      return () => cleanups.delete(cleanup);
    },
    dispose() {
      for (const signal of signals) process.off(signal, handler);
    },
  };
}
