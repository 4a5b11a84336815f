/**
 * Between load levels the network settles. Two rules:
 *
 * - drain: poll each node's backlog (CometBFT's `num_unconfirmed_txs`) until every
 *   mempool is empty, bounded by a timeout;
 * - pause: a fixed pause (--settle-secs), for nodes that cannot report a backlog: the
 *   method is unknown (HTTP 404/405/501, JSON-RPC "method not found") or the reply has
 *   another shape. Such a node is found out once, at the first level, and not asked
 *   again; a node that can report keeps the drain rule (when some can and some cannot,
 *   the wait lasts until the reporting ones drain and at least the pause).
 *
 * What was seen is returned (and recorded), never thrown: a network that does not drain
 * is a finding, not a crash. A node that cannot be reached is not "cannot report": it is
 * polled again until the timeout.
 */
import { sleep as defaultSleep } from '../common/sleep.js';
import type { Endpoint } from '../testbed/testbed.js';
import type { SettleOutcome } from './level.js';

export interface SettleOptions {
  readonly endpoints: readonly Endpoint[];
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  /** The fixed pause for nodes that cannot report a backlog (default 0). */
  readonly pauseMs?: number;
  /** Per-request timeout. */
  readonly requestTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told once per node that cannot report its backlog, with why. */
  readonly onUnreportable?: (endpoint: Endpoint, reason: string) => void;
}

export function skippedSettle(reason: string): SettleOutcome {
  return {
    rule: 'skipped',
    polled: false,
    skippedReason: reason,
    drained: false,
    settleMs: 0,
    polls: 0,
    residualUnconfirmed: {},
    errors: {},
  };
}

/** The node answered, but not with a backlog: it has no usable `num_unconfirmed_txs`. */
export class BacklogUnavailableError extends Error {
  override readonly name = 'BacklogUnavailableError';
}

/** How a node answered the backlog question: the URI form (GET) or JSON-RPC (POST to the root). */
export type BacklogForm = 'uri' | 'jsonrpc';

const METHOD = 'num_unconfirmed_txs';
/** HTTP statuses that mean "no such method here", not "try again". */
const NO_SUCH_ROUTE = new Set([404, 405, 501]);
/** JSON-RPC: method not found, invalid request. */
const NO_SUCH_METHOD = new Set([-32601, -32600]);

/**
 * Reads one node's backlog (`n_txs`, else `total`). Throws BacklogUnavailableError when
 * the node answers but cannot report one, and a plain Error when it cannot be reached
 * or fails in a way that may pass (timeouts, 5xx).
 */
export async function readUnconfirmed(
  endpoint: Endpoint,
  options: { fetch?: typeof fetch; timeoutMs?: number; signal?: AbortSignal; form?: BacklogForm } = {},
): Promise<{ count: number; form: BacklogForm }> {
  const doFetch = options.fetch ?? fetch;
  const base = endpoint.rpcUrl.endsWith('/') ? endpoint.rpcUrl : `${endpoint.rpcUrl}/`;
  const ask = async (form: BacklogForm) => {
    const signals = [AbortSignal.timeout(options.timeoutMs ?? 2000)];
    if (options.signal) signals.push(options.signal);
    const signal = AbortSignal.any(signals);
    const url = form === 'uri' ? new URL(METHOD, base) : new URL(base);
    const response =
      form === 'uri'
        ? await doFetch(url, { signal })
        : await doFetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ jsonrpc: '2.0', id: -1, method: METHOD, params: {} }),
            signal,
          });
    return { form, url, status: response.status, text: await response.text() };
  };
  let reply = await ask(options.form ?? 'uri');
  // A server that speaks JSON-RPC only at its root: ask there before giving up.
  if (options.form === undefined && NO_SUCH_ROUTE.has(reply.status)) reply = await ask('jsonrpc');

  const where = `${reply.form === 'uri' ? 'GET' : 'POST'} ${reply.url.href}`;
  let body: unknown;
  try {
    body = JSON.parse(reply.text);
  } catch {
    body = undefined;
  }
  const error = (body as { error?: unknown } | undefined)?.error;
  if (error !== undefined && error !== null) {
    const code = Number((error as { code?: unknown }).code);
    const message = String((error as { message?: unknown }).message ?? JSON.stringify(error));
    if (NO_SUCH_METHOD.has(code) || /method not found|unknown method/i.test(message)) {
      throw new BacklogUnavailableError(`${where}: ${METHOD} is unknown here (${message})`);
    }
    throw new Error(`${where}: JSON-RPC error ${Number.isFinite(code) ? `${code} ` : ''}${message}`);
  }
  if (NO_SUCH_ROUTE.has(reply.status)) {
    throw new BacklogUnavailableError(`${where}: HTTP ${reply.status} (${METHOD} is not served)`);
  }
  if (reply.status < 200 || reply.status >= 300) throw new Error(`${where}: HTTP ${reply.status}`);
  const result = (body as { result?: { n_txs?: unknown; total?: unknown } } | undefined)?.result;
  const value = result?.n_txs ?? result?.total;
  const count = typeof value === 'number' || typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isInteger(count) || count < 0) {
    throw new BacklogUnavailableError(
      `${where}: the reply has no n_txs or total count (${body === undefined ? 'not JSON' : 'another shape'})`,
    );
  }
  return { count, form: reply.form };
}

/** Settles one network after each level, remembering which nodes cannot report a backlog. */
export class Settler {
  readonly #options: SettleOptions;
  /** Nodes that cannot report, with why (found out once, never asked again). */
  readonly #unreportable = new Map<string, string>();
  readonly #forms = new Map<string, BacklogForm>();

  constructor(options: SettleOptions) {
    this.#options = options;
  }

  /** Nodes that cannot report a backlog, with the reason. */
  get unreportable(): ReadonlyMap<string, string> {
    return this.#unreportable;
  }

  async settle(): Promise<SettleOutcome> {
    const options = this.#options;
    const now = options.now ?? (() => performance.now());
    const sleep = options.sleep ?? defaultSleep;
    const pauseMs = options.pauseMs ?? 0;
    const started = now();
    let polls = 0;
    let residual: Record<string, number> = {};
    let errors: Record<string, string> = {};
    for (;;) {
      const reporting = options.endpoints.filter((endpoint) => !this.#unreportable.has(endpoint.nodeId));
      if (reporting.length === 0) break;
      polls += 1;
      residual = {};
      errors = {};
      await Promise.all(reporting.map((endpoint) => this.#poll(endpoint, residual, errors)));
      const stillReporting = options.endpoints.filter((endpoint) => !this.#unreportable.has(endpoint.nodeId));
      if (stillReporting.length === 0) break;
      const drained =
        Object.keys(errors).length === 0 &&
        stillReporting.every((endpoint) => residual[endpoint.nodeId] === 0);
      const elapsed = now() - started;
      if (drained || elapsed >= options.timeoutMs || options.signal?.aborted) {
        if (this.#unreportable.size > 0 && !options.signal?.aborted && elapsed < pauseMs) {
          await sleep(pauseMs - elapsed, options.signal);
        }
        return this.#outcome(true, drained, now() - started, polls, residual, errors);
      }
      await sleep(Math.min(options.pollIntervalMs, Math.max(0, options.timeoutMs - elapsed)), options.signal);
    }
    // No node can report: the fixed pause, counted from the end of the level.
    const elapsed = now() - started;
    if (elapsed < pauseMs && !options.signal?.aborted) await sleep(pauseMs - elapsed, options.signal);
    return this.#outcome(polls > 0, false, now() - started, polls, {}, {});
  }

  async #poll(endpoint: Endpoint, residual: Record<string, number>, errors: Record<string, string>) {
    const options = this.#options;
    const form = this.#forms.get(endpoint.nodeId);
    try {
      const read = await readUnconfirmed(endpoint, {
        ...(options.fetch ? { fetch: options.fetch } : {}),
        timeoutMs: options.requestTimeoutMs ?? 2000,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(form ? { form } : {}),
      });
      this.#forms.set(endpoint.nodeId, read.form);
      residual[endpoint.nodeId] = read.count;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Once a node has reported, a strange reply is a passing failure, not a missing method.
      if (error instanceof BacklogUnavailableError && form === undefined) {
        this.#unreportable.set(endpoint.nodeId, message);
        options.onUnreportable?.(endpoint, message);
      } else {
        errors[endpoint.nodeId] = message;
      }
    }
  }

  #outcome(
    polled: boolean,
    drained: boolean,
    elapsedMs: number,
    polls: number,
    residual: Record<string, number>,
    errors: Record<string, string>,
  ): SettleOutcome {
    const some = this.#unreportable.size > 0;
    const all = this.#unreportable.size === this.#options.endpoints.length;
    return {
      rule: all ? 'pause' : some ? 'drain+pause' : 'drain',
      polled,
      drained,
      settleMs: Math.round(elapsedMs * 1000) / 1000,
      polls,
      residualUnconfirmed: residual,
      errors,
      ...(some
        ? {
            pauseMs: this.#options.pauseMs ?? 0,
            unreportable: Object.fromEntries(this.#unreportable),
          }
        : {}),
    };
  }
}

/** One settle with the drain rule (and the pause for nodes that cannot report). */
export function waitForMempoolsToDrain(options: SettleOptions): Promise<SettleOutcome> {
  return new Settler(options).settle();
}
