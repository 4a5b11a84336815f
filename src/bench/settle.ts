/**
 * Between load levels the network settles. Two rules:
 *
 * - drain: poll each node's backlog (the protocol's `backlog` probe, CometBFT's
 *   `num_unconfirmed_txs`) until every mempool is empty, bounded by a timeout;
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
import { readUnconfirmed } from '../protocols/cometbft-mempool.js';
import { BacklogUnavailableError, type BacklogProbe } from '../protocols/protocol.js';
import type { Endpoint } from '../testbed/testbed.js';
import type { SettleOutcome } from './level.js';

export { BacklogUnavailableError } from '../protocols/protocol.js';
export { readUnconfirmed, type BacklogForm } from '../protocols/cometbft-mempool.js';

export interface SettleOptions {
  readonly endpoints: readonly Endpoint[];
  /** How a node's backlog is read: the protocol's `backlog` (default: CometBFT's num_unconfirmed_txs). */
  readonly backlog?: BacklogProbe;
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

/** Settles one network after each level, remembering which nodes cannot report a backlog. */
export class Settler {
  readonly #options: SettleOptions;
  /** Nodes that cannot report, with why (found out once, never asked again). */
  readonly #unreportable = new Map<string, string>();
  readonly #forms = new Map<string, string>();

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
      const backlog = options.backlog ?? { read: readUnconfirmed };
      const read = await backlog.read(endpoint, {
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
