/**
 * Wakes this thread at a given instant with a precision of tens of microseconds, where
 * Node's timers fire on whole-millisecond ticks (libuv's epoll timeout is in ms).
 *
 * A small worker thread blocks in a futex wait (Atomics.wait with a timeout; no CPU) until
 * shortly before the instant, spins the last SPIN_MS, then notifies a cell that this thread
 * waits on with Atomics.waitAsync. That wakes this thread's event loop at once, while
 * it sleeps in epoll as usual, so replies are still read the moment they land (which
 * blocking waits on this thread cannot do).
 *
 * `arm` moves the instant. Moving it later needs no wake-up: the worker, waking at
 * the old instant, sees the generation changed and waits again without notifying. Only
 * moving it earlier, or arming after it fired (it then sleeps until told), wakes the worker.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

/** How long before the instant the worker stops waiting and spins (futex waits end up to ~60 µs late). */
const SPIN_MS = 0.06;

/**
 * performance.now() and process.hrtime at one instant: of a few readings, the one whose
 * performance.now() pair is closest (a preemption between them would skew the pair).
 * The worker's source has its own copy.
 */
function readClocks(): { perfMs: number; hrNs: bigint } {
  performance.now(); // the first call loads perf_hooks (~0.1 ms), not between a pair
  let best = { gapMs: Infinity, perfMs: 0, hrNs: 0n };
  for (let i = 0; i < 5; i++) {
    const before = performance.now();
    const hrNs = process.hrtime.bigint();
    const after = performance.now();
    if (after - before < best.gapMs) best = { gapMs: after - before, perfMs: (before + after) / 2, hrNs };
  }
  return { perfMs: best.perfMs, hrNs: best.hrNs };
}

// Shared layout: float64 [0] = the armed instant (this thread's performance.now() clock; Infinity =
// none, -1 = close); int32 [0] = generation (bumped by every arm), [1] = fired count (what this thread
// waits on). A thread's performance.now() may count from its own start, so the worker maps its clock
// onto ours through the monotonic clock both share (process.hrtime), not wall-clock timeOrigins.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const due = new Float64Array(workerData.shared, 0, 1);
const cells = new Int32Array(workerData.shared, 8, 2);
const SPIN_MS = ${SPIN_MS};
// readClocks above, as text (a bundler may rename what a function's own text refers to)
const { perfMs, hrNs } = (() => {
  performance.now();
  let best = { gapMs: Infinity, perfMs: 0, hrNs: 0n };
  for (let i = 0; i < 5; i++) {
    const before = performance.now();
    const hrNs = process.hrtime.bigint();
    const after = performance.now();
    if (after - before < best.gapMs) best = { gapMs: after - before, perfMs: (before + after) / 2, hrNs };
  }
  return best;
})();
const offset = workerData.perfMs + Number(hrNs - workerData.hrNs) / 1e6 - perfMs;
const now = () => performance.now() + offset;
for (;;) {
  const generation = Atomics.load(cells, 0);
  const at = due[0];
  if (at === -1) break;
  if (at === Infinity) { Atomics.wait(cells, 0, generation); continue; }
  const waitMs = at - SPIN_MS - now();
  if (waitMs > 0) {
    Atomics.wait(cells, 0, generation, waitMs);
    if (Atomics.load(cells, 0) !== generation) continue;
  }
  while (now() < at && Atomics.load(cells, 0) === generation);
  if (Atomics.load(cells, 0) !== generation) continue;
  Atomics.add(cells, 1, 1);
  Atomics.notify(cells, 1);
  // Fired: sleep until the next arm.
  Atomics.wait(cells, 0, generation);
}
`;

/** Atomics.waitAsync (Node ≥ 16; in TypeScript's es2024 lib, newer than this project's). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      cells: Int32Array,
      index: number,
      value: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

export class Waker {
  readonly #worker: Worker;
  readonly #due: Float64Array;
  readonly #cells: Int32Array;
  /** The armed instant on this thread's performance.now() clock (Infinity: none). */
  #armed = Infinity;
  /** The fired count when it was armed: once it moves, the worker sleeps until the next arm. */
  #firedAtArm = 0;
  #closed = false;

  constructor() {
    const shared = new SharedArrayBuffer(16);
    this.#due = new Float64Array(shared, 0, 1);
    this.#cells = new Int32Array(shared, 8, 2);
    this.#due[0] = Infinity;
    const { perfMs, hrNs } = readClocks();
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { shared, hrNs, perfMs } });
    // It keeps the process alive only while it is waited on (see wait). A worker that fails
    // only costs precision: pending waits resolve, and `alive` tells the caller to use timers.
    this.#worker.unref();
    this.#worker.on('error', () => undefined);
    this.#worker.once('exit', () => this.#end());
  }

  /** False once closed or once the worker failed: `wait` then resolves at once. */
  get alive(): boolean {
    return !this.#closed;
  }

  /**
   * Resolves at `atMs` (performance.now() clock), or at once when it has passed; a later
   * `wait` or `arm` moves the instant, and this promise then resolves at the new one.
   */
  wait(atMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const fired = Atomics.load(this.#cells, 1);
    this.arm(atMs);
    const result = waitAsync(this.#cells, 1, fired);
    if (!result.async) return Promise.resolve();
    // A pending waitAsync does not keep the event loop alive; the worker does, while it is waited on.
    this.#worker.ref();
    return result.value.then(() => {
      this.#worker.unref();
    });
  }

  /** Moves the instant (see the class comment). */
  arm(atMs: number): void {
    if (this.#closed) return;
    const fired = Atomics.load(this.#cells, 1);
    const wakeWorker = atMs < this.#armed || fired !== this.#firedAtArm;
    this.#armed = atMs;
    this.#firedAtArm = fired;
    this.#due[0] = atMs;
    Atomics.add(this.#cells, 0, 1);
    if (wakeWorker) Atomics.notify(this.#cells, 0);
  }

  /** Ends the worker; a pending `wait` resolves. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#end();
    await this.#worker.terminate();
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#due[0] = -1;
    Atomics.add(this.#cells, 0, 1);
    Atomics.notify(this.#cells, 0);
    Atomics.add(this.#cells, 1, 1);
    Atomics.notify(this.#cells, 1);
  }
}
