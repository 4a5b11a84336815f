/**
 * Between load levels the network settles: poll CometBFT's `num_unconfirmed_txs`
 * on every node until every mempool is empty, bounded by a timeout. What was
 * seen is returned (and recorded), never thrown: a network that does not drain
 * is a finding, not a crash.
 */
import type { Endpoint } from '../testbed/testbed.js';
import type { SettleOutcome } from './record.js';

export interface SettleOptions {
  readonly endpoints: readonly Endpoint[];
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  /** Per-request timeout. */
  readonly requestTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export function skippedSettle(reason: string): SettleOutcome {
  return {
    polled: false,
    skippedReason: reason,
    drained: false,
    settleMs: 0,
    polls: 0,
    residualUnconfirmed: {},
    errors: {},
  };
}

/** Reads `n_txs` from one node's `num_unconfirmed_txs` (CometBFT URI form). */
export async function readUnconfirmed(
  endpoint: Endpoint,
  options: { fetch?: typeof fetch; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const doFetch = options.fetch ?? fetch;
  const url = new URL(
    'num_unconfirmed_txs',
    endpoint.rpcUrl.endsWith('/') ? endpoint.rpcUrl : `${endpoint.rpcUrl}/`,
  );
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 2000)];
  if (options.signal) signals.push(options.signal);
  const response = await doFetch(url, { signal: AbortSignal.any(signals) });
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${url.href}`);
  const body = (await response.json()) as { result?: { n_txs?: unknown; total?: unknown }; error?: unknown };
  const value = Number(body.result?.n_txs ?? body.result?.total);
  if (!Number.isFinite(value)) throw new Error(`no n_txs in the reply of ${url.href}`);
  return value;
}

export async function waitForMempoolsToDrain(options: SettleOptions): Promise<SettleOutcome> {
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? defaultSleep;
  const started = now();
  let polls = 0;
  let residual: Record<string, number> = {};
  let errors: Record<string, string> = {};
  for (;;) {
    polls += 1;
    residual = {};
    errors = {};
    await Promise.all(
      options.endpoints.map(async (endpoint) => {
        try {
          residual[endpoint.nodeId] = await readUnconfirmed(endpoint, {
            ...(options.fetch ? { fetch: options.fetch } : {}),
            timeoutMs: options.requestTimeoutMs ?? 2000,
            ...(options.signal ? { signal: options.signal } : {}),
          });
        } catch (error) {
          errors[endpoint.nodeId] = error instanceof Error ? error.message : String(error);
        }
      }),
    );
    const drained = Object.keys(errors).length === 0 && Object.values(residual).every((count) => count === 0);
    const elapsed = now() - started;
    if (drained || elapsed >= options.timeoutMs || options.signal?.aborted) {
      return {
        polled: true,
        drained,
        settleMs: Math.round(elapsed * 1000) / 1000,
        polls,
        residualUnconfirmed: residual,
        errors,
      };
    }
    await sleep(Math.min(options.pollIntervalMs, Math.max(0, options.timeoutMs - elapsed)), options.signal);
  }
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
