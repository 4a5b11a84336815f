/**
 * Readiness: poll every node at once until each is ready (and has its peers),
 * go on the moment the last one is, and on timeout name each node that is not
 * ready with its last error. Each protocol brings its own probe (`readiness` in
 * src/protocols/protocol.ts).
 */
import { setMaxListeners } from 'node:events';
import { get } from 'node:http';
import { MeshbenchError } from '../common/errors.js';
import { sleep } from '../common/sleep.js';
import { trace } from '../common/trace.js';
import { findProtocol } from '../protocols/registry.js';
import {
  httpProbe,
  type HttpGet,
  type ProbeResult,
  type ReadinessProbe as Probe,
  type ReadinessTarget,
} from '../protocols/readiness.js';

/** NOT_READY, with the ids of the nodes that were not ready. */
export class ReadinessError extends MeshbenchError {
  readonly notReady: readonly string[];
  constructor(message: string, hint: string, notReady: readonly string[]) {
    super('NOT_READY', message, { hint });
    this.notReady = notReady;
  }
}

export type { HttpGet, ProbeResult, ReadinessTarget } from '../protocols/readiness.js';
export type { ReadinessProbe as Probe } from '../protocols/readiness.js';
export { httpProbe } from '../protocols/readiness.js';
export { cometbftProbe } from '../protocols/cometbft.js';

/** The readiness probe of a protocol named by kind (a compose label); an unknown kind gets any HTTP answer below 500. */
export function probeForProtocol(protocol: string, expectedPeers: number): Probe {
  return findProtocol(protocol)?.readiness(expectedPeers) ?? httpProbe('/');
}

/** Every node is polled at least this often (and, on a large network, no more often). */
const MAX_POLL_INTERVAL_MS = 50;
/** No node is polled more often than this. */
const MIN_POLL_INTERVAL_MS = 10;
/** All nodes together are polled about this many times a second, within the two bounds. */
const POLLS_PER_SECOND = 400;

/**
 * The default time between two polls of one node: 10 ms on up to 4 nodes, growing with the
 * node count to 50 ms from 20 nodes. A small network is seen ready within ~10 ms of being
 * ready (50 ms before: about 30 ms more of every start on 4 nodes), and a large one is polled
 * no harder than before while its nodes are still starting.
 */
export function pollIntervalMs(nodes: number): number {
  const spread = (nodes * 1000) / POLLS_PER_SECOND;
  return Math.min(MAX_POLL_INTERVAL_MS, Math.max(MIN_POLL_INTERVAL_MS, spread));
}

export interface WaitOptions {
  readonly targets: readonly ReadinessTarget[];
  readonly probeFor: (target: ReadinessTarget) => Probe;
  readonly timeoutMs: number;
  /** The limit named in the timeout message (defaults to timeoutMs). */
  readonly reportedTimeoutMs?: number;
  /** Between two polls of one node (default: `pollIntervalMs` of the node count). */
  readonly intervalMs?: number;
  readonly requestTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * Checked about once a second: a message when waiting is pointless (a container exited),
   * undefined otherwise.
   */
  readonly fatal?: () => Promise<string | undefined>;
  /** Extra words about a node that is not ready (e.g. its last log line). */
  readonly describe?: (nodeId: string) => Promise<string>;
  readonly now?: () => number;
}

/**
 * Watches the probes' results for nodes that answer but are alone: `check` gives a message once
 * every node has said it has 0 peers, in every poll, for `forMs`. A network that connects no
 * node at all (an overlay whose traffic does not pass between the hosts) is told apart from
 * one whose nodes are still starting (they do not answer) or still connecting (some have peers).
 */
export function alonenessWatch(
  nodeIds: readonly string[],
  forMs: number,
  now: () => number = () => performance.now(),
): { record(nodeId: string, result: ProbeResult): void; check(): string | undefined } {
  const alone = new Set<string>();
  let allAloneSince: number | undefined;
  return {
    record(nodeId, result) {
      if (!result.ready && result.peers === 0) alone.add(nodeId);
      else alone.delete(nodeId);
      if (alone.size < nodeIds.length) allAloneSince = undefined;
      else allAloneSince ??= now();
    },
    check() {
      if (allAloneSince === undefined || now() - allAloneSince < forMs) return undefined;
      return `each of the ${nodeIds.length} nodes answered with 0 peers for ${Math.round(forMs / 1000)} s`;
    },
  };
}

export interface WaitResult {
  /** From the call to the moment the last node was ready. */
  readonly waitedMs: number;
  readonly readyAtMs: Readonly<Record<string, number>>;
}

/**
 * GET with node:http: built in (nothing to load on the start-up path) and, unlike fetch,
 * no blocked-port list, so any port a compose file publishes can be polled.
 */
export function httpGet(timeoutMs: number): HttpGet {
  return (url) =>
    new Promise((resolve, reject) => {
      const req = get(url, { timeout: timeoutMs, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('request timed out'), { name: 'TimeoutError' })),
      );
      req.on('error', reject);
    });
}

export async function waitForReady(options: WaitOptions): Promise<WaitResult> {
  const now = options.now ?? (() => performance.now());
  const start = now();
  const intervalMs = options.intervalMs ?? pollIntervalMs(options.targets.length);
  const requestTimeoutMs = options.requestTimeoutMs ?? 1_000;
  const http = httpGet(requestTimeoutMs);
  const last = new Map<string, string>(options.targets.map((target) => [target.nodeId, 'not polled yet']));
  const readyAtMs: Record<string, number> = {};
  const stop = new AbortController();
  // One listener per polled node plus the watcher wait on this signal at once.
  setMaxListeners(options.targets.length + 10, stop.signal);
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let fatalMessage: string | undefined;

  const deadline = start + options.timeoutMs;
  const pollNode = async (target: ReadinessTarget) => {
    const probe = options.probeFor(target);
    while (!stop.signal.aborted && now() < deadline) {
      const result = await probe(target, http);
      if (last.get(target.nodeId) !== result.detail) trace(`ready: ${target.nodeId} ${result.detail}`);
      last.set(target.nodeId, result.detail);
      if (result.ready) {
        readyAtMs[target.nodeId] = Math.round(now() - start);
        return;
      }
      await sleep(intervalMs, stop.signal);
    }
  };
  const watchFatal = async () => {
    while (options.fatal && !stop.signal.aborted && now() < deadline) {
      await sleep(1_000, stop.signal);
      if (stop.signal.aborted) return;
      fatalMessage = await options.fatal().catch(() => undefined);
      if (fatalMessage !== undefined) stop.abort();
    }
  };
  const watcher = watchFatal();
  try {
    await Promise.all(options.targets.map(pollNode));
  } finally {
    stop.abort();
    options.signal?.removeEventListener('abort', onAbort);
    await watcher;
  }
  if (options.signal?.aborted) {
    throw new MeshbenchError('INTERRUPTED', 'interrupted while waiting for the nodes to be ready');
  }
  if (fatalMessage !== undefined) {
    const dead = options.targets
      .filter((target) => readyAtMs[target.nodeId] === undefined)
      .map((t) => t.nodeId);
    throw new ReadinessError(fatalMessage, 'see the node logs above (or use --logs DIR)', dead);
  }
  const notReady = options.targets.filter((target) => readyAtMs[target.nodeId] === undefined);
  if (notReady.length > 0) {
    const parts = await Promise.all(
      notReady.map(async (target) => {
        const extra = options.describe ? await options.describe(target.nodeId).catch(() => '') : '';
        return `${target.nodeId} (${last.get(target.nodeId)}${extra ? `; ${extra}` : ''})`;
      }),
    );
    const limitSecs = Math.round((options.reportedTimeoutMs ?? options.timeoutMs) / 1000);
    throw new ReadinessError(
      `${notReady.length} of ${options.targets.length} nodes not ready after ${limitSecs} s: ${parts.join(', ')}`,
      'raise --startup-wait, or read the node logs (--logs DIR)',
      notReady.map((target) => target.nodeId),
    );
  }
  return { waitedMs: Math.round(now() - start), readyAtMs };
}
