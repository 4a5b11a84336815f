/**
 * The mesh figures (`--protocol mesh`, docs/mesh-protocol.md): an observer of the sweep that,
 * during each load level, reads every node's `GET /deliveries` stream (one streaming parser per
 * node, in the orchestrator's main thread) and at the load's end adds the `mesh` block: the
 * delivery latency matrix per ordered pair with p50/p99, the delivery ratio, duplicates and
 * misses per receiver, messages never delivered, availability per second, the ack latency (the
 * load's), and the one-line problems of nodes that do not serve the contract.
 */
import { performance } from 'node:perf_hooks';
import { sleep } from '../../common/sleep.js';
import { DeliveryStream, deliveriesUrl } from '../../protocols/mesh-stream.js';
import type { LevelContext, LevelStart } from '../propagation.js';
import { MeshTally, meshMatrixLines, type MeshFigures } from './figures.js';

export interface MeshMonitorOptions {
  /** After the load, wait until no delivery arrived for this long (default 1000 ms)… */
  readonly quietMs?: number;
  /** …but at most this long (default 10 s). */
  readonly graceMs?: number;
  readonly warn?: (line: string) => void;
}

/** The record's `mesh` block (one per run of a level). */
export interface MeshBlock extends MeshFigures {
  /** Publish → 2xx, from the scheduled send (the load's ack stage), ms. */
  readonly ack: { readonly p50_ms: number | null; readonly p99_ms: number | null };
  /** Events that were not deliveries (malformed), per node that sent any. */
  readonly malformed: Readonly<Record<string, number>>;
  /** One line per node that did not serve the contract, each once. */
  readonly errors?: readonly string[];
}

interface LevelState {
  readonly tally: MeshTally;
  readonly streams: DeliveryStream[];
  readonly errors: Set<string>;
  readonly startedMs: number;
  lastDeliveryMs: number;
}

/** The load's ack figures, read by shape (this folder sits below the sweep). */
function ackOf(load: unknown): { p50_ms: number | null; p99_ms: number | null; ok?: number } {
  const summary = (
    load as { latency?: { ack?: { corrected?: { count?: number; p50?: number; p99?: number } } } }
  )?.latency?.ack?.corrected;
  const ok = (load as { outcomes?: { ok?: number } })?.outcomes?.ok;
  const has = summary !== undefined && (summary.count ?? 0) > 0;
  return {
    p50_ms: has && typeof summary.p50 === 'number' ? summary.p50 : null,
    p99_ms: has && typeof summary.p99 === 'number' ? summary.p99 : null,
    ...(typeof ok === 'number' ? { ok } : {}),
  };
}

export class MeshMonitor {
  readonly name = 'mesh';
  readonly #options: MeshMonitorOptions;
  #level: LevelState | undefined;

  constructor(options: MeshMonitorOptions = {}) {
    this.#options = options;
  }

  onLevelStart(_level: LevelStart, context: LevelContext): void {
    const endpoints = context.deployment.endpoints;
    const state: LevelState = {
      tally: new MeshTally(endpoints.map((endpoint) => endpoint.nodeId)),
      streams: [],
      errors: new Set(),
      startedMs: performance.now() - context.elapsedMs(),
      lastDeliveryMs: performance.now(),
    };
    endpoints.forEach((endpoint, index) => {
      state.streams.push(
        new DeliveryStream(endpoint.nodeId, deliveriesUrl(endpoint), {
          onDelivery: ({ id, origin }, arrivedMs) => {
            if (id.includes('/')) return; // a propagation probe, not the load's
            state.tally.deliver(index, id, origin, arrivedMs);
            state.lastDeliveryMs = arrivedMs;
          },
          onProblem: (line) => state.errors.add(line),
        }),
      );
    });
    this.#level = state;
  }

  async onLoadEnd(_level: LevelStart, load: unknown, context: LevelContext): Promise<void> {
    const state = this.#level;
    if (!state) return;
    this.#level = undefined;
    try {
      const quietMs = this.#options.quietMs ?? 1000;
      const deadline = performance.now() + (this.#options.graceMs ?? 10_000);
      while (performance.now() < deadline && performance.now() - state.lastDeliveryMs < quietMs)
        await sleep(50);
      const ack = ackOf(load);
      const figures = state.tally.figures({
        ...(ack.ok === undefined ? {} : { published: ack.ok }),
        levelStartMs: state.startedMs,
      });
      const malformed: Record<string, number> = {};
      state.streams.forEach((stream, index) => {
        if (stream.malformedEvents > 0) malformed[figures.nodes[index] as string] = stream.malformedEvents;
      });
      const block: MeshBlock = {
        ...figures,
        ack: { p50_ms: ack.p50_ms, p99_ms: ack.p99_ms },
        malformed,
        ...(state.errors.size > 0 ? { errors: [...state.errors].slice(0, 20) } : {}),
      };
      context.block('mesh', block);
      for (const line of state.errors) this.#options.warn?.(`mesh: ${line}`);
      if (figures.messages === 0) context.log(`mesh: ${figures.note ?? 'no delivery'}`);
      else {
        context.log(`mesh delivery p50 ms (origin → receiver):`);
        for (const line of meshMatrixLines(figures)) context.log(`  ${line}`);
        if ((figures.never_delivered ?? 0) > 0)
          context.log(`mesh: ${figures.never_delivered} accepted publishes were never delivered on any node`);
      }
    } finally {
      await Promise.all(state.streams.map((stream) => stream.close()));
    }
  }

  async onTeardown(): Promise<void> {
    const state = this.#level;
    this.#level = undefined;
    if (state) await Promise.all(state.streams.map((stream) => stream.close()));
  }
}
