/**
 * The mesh figures (`--protocol mesh`, docs/mesh-protocol.md): an observer of the sweep that,
 * during each load level, reads every node's `GET /deliveries` stream (one streaming parser per
 * node, in the orchestrator's main thread) and at the load's end adds the `mesh` block: the
 * delivery latency matrix per ordered pair with p50/p99, the delivery ratio, duplicates and
 * misses per receiver, messages never delivered, availability per second, the ack latency (the
 * load's), per fault or condition window what each node held of what was published in it (its
 * resync after the window, or its losses), and the one-line problems of nodes that do not
 * serve the contract.
 */
import { performance } from 'node:perf_hooks';
import { sleep } from '../../common/sleep.js';
import { DeliveryStream, deliveriesUrl } from '../../protocols/mesh-stream.js';
import type { LevelContext, LevelStart } from '../propagation.js';
import { MeshTally, meshMatrixLines, type MeshFigures, type WindowFigures } from './figures.js';

/** The live window events this monitor follows (src/measure/live.ts), read by shape. */
interface WindowEvent {
  readonly kind: string;
  readonly id?: string;
  readonly label?: string;
  readonly atMs?: number;
  /** node-state events: the node and whether it went down or answers again. */
  readonly node?: string;
  readonly state?: string;
}

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
  /** Fault and condition windows of the level, by id: label, level-clock start and end. */
  readonly windows: Map<string, { label: string; startMs: number; endMs: number | null }>;
  /** Nodes a plug-in took down (node-state events): their stream's failures are expected, not reported. */
  readonly down: Set<string>;
  /** Per stream (receiver index) whose node's clock is unknown (attach mode). */
  readonly unclocked: Map<number, UnclockedStream>;
  lastDeliveryMs: number;
}

/** An `at` below this (March 1973 in ms) is no time in ms since the epoch: seconds, most likely. */
const EPOCH_MS_FLOOR = 1e11;

/**
 * How a node whose clock meshbench does not know (attach mode) has its `at` used: each delivery
 * goes into the tally at its `at` as if the clocks agreed, and at the level's end the stream's
 * deliveries move by the smallest `arrival − at` seen over the level (the clocks' difference plus
 * the stream's fastest transit; a live delivery sets it, a replay arrives long after its `at`).
 * So each is timed at most that transit late (a fraction of a ms on this machine; a remote
 * node's one-way delay to here) and never after its arrival, and a replay keeps its old time
 * and is left out, as with a known clock.
 */
interface UnclockedStream {
  /** The smallest arrival (ms since the epoch, here) − `at` so far. */
  lagMs: number;
  said: boolean;
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
      windows: new Map(),
      down: new Set(),
      unclocked: new Map(),
      lastDeliveryMs: performance.now(),
    };
    endpoints.forEach((endpoint, index) => {
      const unclocked: UnclockedStream | undefined =
        endpoint.clockOffsetMs === undefined ? { lagMs: Infinity, said: false } : undefined;
      if (unclocked) state.unclocked.set(index, unclocked);
      state.streams.push(
        new DeliveryStream(
          endpoint.nodeId,
          deliveriesUrl(endpoint),
          {
            // timed by the node's own clock when it says (`at`) and its offset is known
            onDelivery: ({ id, origin, at }, deliveredMs) => {
              if (id.includes('/')) return; // a propagation probe, not the load's
              if (unclocked && at !== undefined && at >= EPOCH_MS_FLOOR) {
                // the node's clock is not known (attach mode): at its `at`, moved at the level's end
                const lagMs = performance.timeOrigin + deliveredMs - at;
                if (lagMs < unclocked.lagMs) unclocked.lagMs = lagMs;
                state.tally.deliver(index, id, origin, at - performance.timeOrigin);
                state.lastDeliveryMs = performance.now();
                return;
              }
              if (unclocked && at !== undefined && !unclocked.said) {
                // not ms since the epoch (seconds?): timed at its arrival, and said once
                unclocked.said = true;
                state.errors.add(
                  `${endpoint.nodeId}: /deliveries sent "at" ${at}, not a time in ms since the Unix epoch (docs/mesh-protocol.md); its deliveries are timed at their arrival here`,
                );
              }
              // delivered before the level began: a replay of what the node held (an earlier
              // level's messages), told by the node's own time; not this level's
              if (deliveredMs < state.startedMs) return;
              state.tally.deliver(index, id, origin, deliveredMs);
              state.lastDeliveryMs = performance.now(); // the stream's quiet is timed here
            },
            onProblem: (line) => {
              if (!state.down.has(endpoint.nodeId)) state.errors.add(line);
            },
          },
          { clockOffsetMs: endpoint.clockOffsetMs },
        ),
      );
    });
    this.#level = state;
  }

  /** The windows of faults and conditions, as their plug-ins publish them. */
  onLiveEvent(_level: LevelStart, event: WindowEvent): void {
    const state = this.#level;
    if (!state) return;
    if (event.kind === 'node-state' && event.node !== undefined) {
      if (event.state === 'down') state.down.add(event.node);
      else state.down.delete(event.node);
      return;
    }
    if (event.id === undefined || typeof event.atMs !== 'number') return;
    if (event.kind === 'window-start')
      state.windows.set(event.id, { label: event.label ?? event.id, startMs: event.atMs, endMs: null });
    else if (event.kind === 'window-end') {
      const window = state.windows.get(event.id);
      if (window) window.endMs = event.atMs;
    }
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
      for (const [index, unclocked] of state.unclocked)
        if (Number.isFinite(unclocked.lagMs)) state.tally.retime(index, unclocked.lagMs, state.startedMs);
      const ack = ackOf(load);
      const figures = state.tally.figures({
        ...(ack.ok === undefined ? {} : { published: ack.ok }),
        levelStartMs: state.startedMs,
        windows: [...state.windows].map(([id, window]) => ({
          id,
          label: window.label,
          startMs: state.startedMs + window.startMs,
          endMs: window.endMs === null ? null : state.startedMs + window.endMs,
        })),
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
      if (figures.unknown_origin > 0) this.#options.warn?.(`mesh: ${figures.note}`);
      else if (figures.messages === 0) context.log(`mesh: ${figures.note ?? 'no delivery'}`);
      if (figures.messages > 0) {
        context.log(`mesh delivery p50 ms (origin → receiver):`);
        for (const line of meshMatrixLines(figures)) context.log(`  ${line}`);
        if ((figures.never_delivered ?? 0) > 0)
          context.log(`mesh: ${figures.never_delivered} accepted publishes were never delivered on any node`);
        for (const window of figures.windows ?? []) context.log(`mesh: ${windowLine(window)}`);
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

const LATE_MS = 100;

/** One line per window: who caught up how long after it, and what was lost. */
export function windowLine(window: WindowFigures): string {
  const head = `${window.label} (${window.published} published during it)`;
  if (window.published === 0) return `${head}: nothing to hold`;
  // A message published just before the end arrives a few ms after it on every node: only a
  // catch-up of 100 ms or more is named (the record keeps every node's figure).
  const late = window.receivers
    .filter((receiver) => (receiver.resync_ms ?? 0) >= LATE_MS)
    .map((receiver) => `${receiver.node} ${(receiver.resync_ms as number).toFixed(0)} ms`);
  const lost = window.receivers
    .filter((receiver) => receiver.missing > 0)
    .map((receiver) => `${receiver.node} ${receiver.missing}`);
  const parts = [
    window.to_ms === null
      ? 'still open when the load ended'
      : late.length > 0
        ? `caught up after it ended: ${late.join(', ')}`
        : lost.length > 0
          ? 'what arrived had arrived by its end'
          : 'every node held it all by its end',
    ...(lost.length > 0 ? [`never reached: ${lost.join(', ')}`] : []),
  ];
  return `${head}: ${parts.join('; ')}`;
}
