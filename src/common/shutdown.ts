/**
 * Signal handling shared by every command.
 *
 * The first SIGINT/SIGTERM aborts `shutdown.signal` (so load stops and partial
 * results can be printed) and the command's own `finally` blocks run the cleanup. A signal
 * within REPEAT_WINDOW_MS of the last one counted is that one delivered twice (`timeout`
 * signals the command and its group), not a second Ctrl-C.
 * A second signal runs the registered cleanups once more as a best effort and
 * exits when they end, 8 s at most ("second Ctrl-C forces"). So does a stop that is still
 * going after `stopGraceMs` (2 minutes): every command exits by itself, even when something
 * it waits on while stopping (an engine behind an SSH connection) never answers. A signal
 * during that forced exit ends the process at once, saying what may be left and how to
 * remove it.
 *
 * Output closed by its reader (`benchmark … | head`: EPIPE, the SIGPIPE that Node ignores)
 * counts as the first signal: the run stops and cleans up as after Ctrl-C, and what is
 * still written to that stream is dropped. Unhandled, the write's error ended the process
 * at once, past every cleanup: `--cleanup` left the whole network running.
 */
import { performance } from 'node:perf_hooks';
import { trace, tracing } from './trace.js';

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
  /** How long a stop may take before it is forced (default 120 s). */
  readonly stopGraceMs?: number;
  /** Signals this soon after the last one counted are the same one delivered twice (default REPEAT_WINDOW_MS). */
  readonly repeatWindowMs?: number;
}

/** A stop (removing a network, writing partial results) takes seconds; this is far beyond it. */
const STOP_GRACE_MS = 120_000;

/**
 * One stop often arrives as two signals within microseconds: GNU `timeout` signals the command,
 * then its whole process group (the command again), and wrappers that forward a terminal's
 * Ctrl-C to a child the terminal already signalled do the same (npm/cli issue 5021). Counted
 * as a second Ctrl-C, that forced the exit at once: `timeout 120 benchmark --committee 70
 * --cleanup` on a loaded machine exited with 61 of its containers still there, and left its
 * network. A signal this soon after the last one counted is taken as the same one; a person's
 * second Ctrl-C comes later than this.
 */
export const REPEAT_WINDOW_MS = 250;

/** Streams already watched for a closed reader (once per stream for the whole process). */
const watchedOutputs = new WeakSet<NodeJS.EventEmitter>();
/** What a closed output does now: the shutdown installed last (none after dispose). */
let onOutputClosed: ((name: string) => void) | undefined;
/** The signal of the shutdown installed last (none after dispose). */
let activeSignal: AbortSignal | undefined;

/**
 * The running command's stop signal (aborted by the first Ctrl-C), for work the process
 * starts outside any one command's call chain (a child process that builds an image) and
 * must stop with it; undefined when no command runs (tests, library use).
 */
export function shutdownSignal(): AbortSignal | undefined {
  return activeSignal;
}

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
  let lastCountedAt = -Infinity;
  let graceTimer: NodeJS.Timeout | undefined;
  const stopGraceMs = options.stopGraceMs ?? STOP_GRACE_MS;
  const repeatWindowMs = options.repeatWindowMs ?? REPEAT_WINDOW_MS;

  /** The first stop: abort, and force it if it is still going after the grace. */
  const stop = (line: string, reason: string) => {
    if (line !== '') log(line);
    controller.abort(new Error(reason));
    graceTimer = setTimeout(() => {
      count = 2;
      force(`still stopping ${Math.round(stopGraceMs / 1000)} s after it was asked to: forcing exit`);
    }, stopGraceMs);
    graceTimer.unref();
  };

  const handler = (signal: NodeJS.Signals) => {
    const now = performance.now();
    if (now - lastCountedAt < repeatWindowMs) return; // the same signal delivered twice
    lastCountedAt = now;
    count += 1;
    if (count === 1) {
      stop(`\nreceived ${signal}: stopping (press Ctrl-C again to force)`, `interrupted by ${signal}`);
      return;
    }
    if (count > 2) {
      // The forced exit waits up to 8 s for its clean-up; a signal during it does not wait at all.
      if (count === 3) {
        clearTimeout(graceTimer);
        log(
          `received ${signal} during the forced exit: exiting now, before its clean-up finished; what it had not removed is left (local-network --down, or remote-network --down with the same hosts, removes it)`,
        );
        exit(130);
      }
      return;
    }
    force(`received ${signal} again: forcing exit`);
  };

  const force = (line: string) => {
    clearTimeout(graceTimer);
    log(line);
    const registered = cleanups.size;
    const pending = [...cleanups].map(async (cleanup, index) => {
      const startedMs = performance.now();
      try {
        await cleanup();
      } catch {
        // best effort on a forced exit
      }
      if (tracing)
        trace(
          `forced exit: clean-up ${index + 1} of ${registered} ended after ${(performance.now() - startedMs).toFixed(0)} ms`,
        );
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
    stop(
      name === 'stderr' ? '' : `\n${name} was closed by its reader: stopping (as on Ctrl-C)`,
      `interrupted: ${name} was closed`,
    );
  };
  onOutputClosed = closed;
  activeSignal = controller.signal;

  return {
    signal: controller.signal,
    onForce(cleanup) {
      cleanups.add(cleanup);
      return () => cleanups.delete(cleanup);
    },
    dispose() {
      clearTimeout(graceTimer);
      for (const signal of signals) process.off(signal, handler);
      if (onOutputClosed === closed) onOutputClosed = undefined;
      if (activeSignal === controller.signal) activeSignal = undefined;
    },
  };
}
