/**
 * A guard for test runs: a command whose work is done must exit on its own. With
 * MESHBENCH_CHECK_HANDLES=1, the CLI entry calls `watchForLeftHandles()` when the
 * command returns; if the process is still alive `graceMs` later, what keeps it alive
 * (sockets with their addresses, servers, child processes, timers with the line that
 * made them) is printed on stderr, one line each, so a test that waits for the exit
 * fails with the culprit named instead of a bare timeout.
 *
 * Timers are only described when `trackTimers()` ran first: it wraps the global
 * setTimeout/setInterval to remember where each timer was made. Worker threads are
 * not listed by node; a process held by nothing it lists says so.
 */
import { promisify } from 'node:util';

/** The environment variable that turns the check on (tests set it to 1). */
export const CHECK_HANDLES_ENV = 'MESHBENCH_CHECK_HANDLES';

/** Time a command gets after returning to close what is still closing (socket FINs, child exits). */
export const DEFAULT_HANDLE_GRACE_MS = 2_000;

interface TrackedTimer {
  readonly kind: 'setTimeout' | 'setInterval';
  readonly delayMs: number;
  readonly site: string;
}

const MAX_TRACKED_TIMERS = 10_000;
const timers = new Map<NodeJS.Timeout, TrackedTimer>();
let tracking = false;

/** Remembers where every timer made from now on through the global functions was made. */
export function trackTimers(): void {
  if (tracking) return;
  tracking = true;
  const wrap = <F extends typeof setTimeout | typeof setInterval>(
    original: F,
    kind: TrackedTimer['kind'],
  ): F => {
    const wrapped = function (this: unknown, ...args: Parameters<F>): NodeJS.Timeout {
      const timer = (original as (...a: unknown[]) => NodeJS.Timeout).apply(this, args);
      if (timers.size >= MAX_TRACKED_TIMERS) forgetFinishedTimers();
      if (timers.size < MAX_TRACKED_TIMERS) {
        timers.set(timer, { kind, delayMs: Number(args[1] ?? 0), site: callSite(new Error().stack) });
      }
      return timer;
    };
    // util.promisify(setTimeout) keeps working.
    const custom = (original as unknown as Record<symbol, unknown>)[promisify.custom];
    if (custom !== undefined) Object.defineProperty(wrapped, promisify.custom, { value: custom });
    return wrapped as unknown as F;
  };
  globalThis.setTimeout = wrap(globalThis.setTimeout, 'setTimeout');
  globalThis.setInterval = wrap(globalThis.setInterval, 'setInterval');
}

function forgetFinishedTimers(): void {
  for (const timer of timers.keys()) {
    if ((timer as unknown as { _destroyed?: boolean })._destroyed) timers.delete(timer);
  }
}

/** The first stack frame outside this module and node's own code. */
function callSite(stack: string | undefined): string {
  const frames = (stack ?? '').split('\n').slice(1);
  const frame = frames.find((line) => !line.includes('active-handles') && !line.includes('node:internal'));
  return frame?.trim().replace(/^at /, '') ?? 'unknown site';
}

interface HandleLike {
  readonly constructor?: { readonly name?: string };
  readonly _handle?: { hasRef?: () => boolean } | null;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly _pipeName?: string;
  readonly pid?: number;
  readonly spawnargs?: readonly string[];
  address?: () => unknown;
}

/** One line per resource that keeps the event loop alive now. */
export function describeActiveHandles(): string[] {
  const lines: string[] = [];
  const stdio = new Set<unknown>([process.stdin, process.stdout, process.stderr]);
  const getHandles = (process as unknown as { _getActiveHandles?: () => HandleLike[] })._getActiveHandles;
  for (const handle of getHandles?.call(process) ?? []) {
    if (stdio.has(handle) || handle._handle?.hasRef?.() === false) continue;
    lines.push(describeHandle(handle));
  }
  for (const [timer, info] of timers) {
    const state = timer as unknown as { _destroyed?: boolean };
    if (state._destroyed || !timer.hasRef()) {
      if (state._destroyed) timers.delete(timer);
      continue;
    }
    lines.push(`${info.kind}(…, ${info.delayMs}) made at ${info.site}`);
  }
  // What node counts but could not be described above (timers made elsewhere, requests in flight…).
  const described = new Set(['TCPSocketWrap', 'TCPServerWrap', 'PipeWrap', 'PipeServerWrap', 'ProcessWrap']);
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) {
    if (described.has(type)) continue;
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  const trackedTimers = lines.filter((line) => /^set(Timeout|Interval)\(/.test(line)).length;
  const untracked = (counts.get('Timeout') ?? 0) - trackedTimers;
  counts.delete('Timeout');
  if (untracked > 0) counts.set('Timeout (made where this check cannot see)', untracked);
  for (const [type, count] of counts) lines.push(`${type}${count > 1 ? ` ×${count}` : ''}`);
  return lines;
}

function describeHandle(handle: HandleLike): string {
  const kind = handle.constructor?.name ?? 'handle';
  if (kind === 'ChildProcess') {
    return `child process ${handle.pid ?? '?'}: ${(handle.spawnargs ?? []).join(' ').slice(0, 200)}`;
  }
  if (kind === 'Socket' || kind === 'TLSSocket') {
    if (handle.remoteAddress !== undefined) {
      return `${kind === 'TLSSocket' ? 'TLS' : 'TCP'} socket ${handle.localAddress ?? '?'}:${handle.localPort ?? '?'} → ${handle.remoteAddress}:${handle.remotePort ?? '?'}`;
    }
    return `socket ${handle._pipeName ?? '(not connected, or a pipe)'}`;
  }
  if (kind === 'Server') {
    let address: unknown;
    try {
      address = handle.address?.();
    } catch {
      address = undefined;
    }
    const where =
      typeof address === 'object' && address !== null && 'port' in address
        ? `${String((address as { address?: unknown }).address)}:${String(address.port)}`
        : String(address);
    return `server listening on ${where}`;
  }
  return kind;
}

export interface WatchOptions {
  /** The command's name, for the report. */
  readonly name: string;
  readonly graceMs?: number;
  readonly write?: (text: string) => void;
}

/**
 * Call when a command has returned. An unref'd timer: if the process exits in time it
 * never fires; if it fires, something else holds the process, and it is reported.
 */
export function watchForLeftHandles(options: WatchOptions): void {
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const graceMs = options.graceMs ?? DEFAULT_HANDLE_GRACE_MS;
  const timer = setTimeout(() => {
    timers.delete(timer);
    const lines = describeActiveHandles();
    write(
      `${options.name}: error: still running ${graceMs} ms after the command finished; held open by:\n` +
        (lines.length > 0
          ? lines.map((line) => `  - ${line}\n`).join('')
          : '  - nothing node lists (a worker thread or a native add-on)\n'),
    );
  }, graceMs);
  timer.unref();
}
