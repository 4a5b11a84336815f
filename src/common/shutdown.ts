/**
 * Signal handling shared by every command.
 *
 * The first SIGINT/SIGTERM aborts `shutdown.signal` (so load stops and partial
 * results can be printed) and the command's own `finally` blocks run the cleanup.
 * A second signal runs the registered cleanups once more as a best effort and
 * exits at once ("second Ctrl-C forces").
 *
 * Output closed by its reader (`benchmark … | head`: EPIPE, the SIGPIPE that Node ignores)
 * counts as the first signal: the run stops and cleans up as after Ctrl-C, and what is
 * still written to that stream is dropped. Unhandled, the write's error ended the process
 * at once, past every cleanup: `--cleanup` left the whole network running.
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
  /** Streams whose reader may go away (default: stdout and stderr). */
  readonly outputs?: readonly NodeJS.EventEmitter[];
}

/** Streams already watched for a closed reader (once per stream for the whole process). */
const watchedOutputs = new WeakSet<NodeJS.EventEmitter>();
/** What a closed output does now: the shutdown installed last (none after dispose). */
let onOutputClosed: ((name: string) => void) | undefined;

function watchOutput(stream: NodeJS.EventEmitter, name: string): void {
  if (watchedOutputs.has(stream)) return;
  watchedOutputs.add(stream);
  // Stays for the life of the process: a write after the command returned must not crash it.
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    onOutputClosed?.(name);
  });
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
  const outputs = options.outputs ?? [process.stdout, process.stderr];
  for (const stream of outputs)
    watchOutput(
      stream,
      stream === process.stdout ? 'stdout' : stream === process.stderr ? 'stderr' : 'output',
    );
  const closed = (name: string) => {
    // As the first Ctrl-C: stop and clean up (a later signal still forces). Once stopping,
    // another closed stream changes nothing.
    if (count > 0) return;
    count = 1;
    if (name !== 'stderr') log(`\n${name} was closed by its reader: stopping (as on Ctrl-C)`);
    controller.abort(new Error(`interrupted: ${name} was closed`));
  };
  onOutputClosed = closed;

  return {
    signal: controller.signal,
    onForce(cleanup) {
      cleanups.add(cleanup);
      return () => cleanups.delete(cleanup);
    },
    dispose() {
      for (const signal of signals) process.off(signal, handler);
      if (onOutputClosed === closed) onOutputClosed = undefined;
    },
  };
}
