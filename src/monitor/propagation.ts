/**
 * Propagation latency per node pair: an observer of the sweep (src/bench/observer.ts) that,
 * during each load level, submits small probe transactions of its own at a low, bounded rate
 * (2/s by default, round robin over the nodes as the sender) and watches every node for them
 * (the protocol's `watchTransactions`: cometbft Tx events per probe on each node's websocket,
 * an etcd watch on each member). For each ordered pair (i, j) it times the submit on i until
 * j has the probe committed. Where the nodes export their peers' round-trip times in their
 * /metrics (the reference node: refnode_peer_rtt_seconds{peer}), it scrapes them each second
 * of the level (src/monitor/peer-rtt.ts). At the load's end it adds the `propagation` block to
 * the run's record (docs/result-format.md).
 *
 * It never touches the load: the probes are its own requests on its own connections, in the
 * orchestrator's main thread, and their payloads are unique to the level, so they never
 * collide with the load's transactions.
 */
import { performance } from 'node:perf_hooks';
import { formatError } from '../common/errors.js';
import { sleep } from '../common/sleep.js';
import type { Endpoint } from '../protocols/endpoint.js';
import type { Protocol, TransactionWatch } from '../protocols/protocol.js';
import type { Deployment } from '../testbed/testbed.js';
import { PeerRttSampler, type PageReader, type PeerRttFigures } from './peer-rtt.js';
import {
  matrixLines,
  propagationFigures,
  type PairFigures,
  type ProbeOutcome,
  type SelfFigures,
} from './propagation-figures.js';

export interface PropagationOptions {
  /** The protocol: its probes and watches (`watchTransactions`); without them there is no block. */
  readonly protocol: Pick<Protocol, 'kind' | 'watchTransactions'>;
  /** Probes per second over the whole network (default 2). */
  readonly ratePerSec?: number;
  /** Probes in flight at most; a probe due while that many are is skipped (default 4: CometBFT allows 5 subscriptions per client). */
  readonly maxInFlight?: number;
  /** Longest wait after the load for the probes still in flight (default 5 s). */
  readonly graceMs?: number;
  /** A probe not everywhere after this long is given up on (default 30 s). */
  readonly probeTimeoutMs?: number;
  /** Longest wait for a node to accept a probe (default 5 s). */
  readonly submitTimeoutMs?: number;
  /** Scrape the nodes' peer round-trip times during the level and at its end (default true). */
  readonly peerRtts?: boolean;
  /** Milliseconds between those scrapes (default 1000, the refnode's ping interval). */
  readonly rttScrapeMs?: number;
  /** Reads a node's metrics page for the scrape (default: undici's request; tests pass their own). */
  readonly readPage?: PageReader;
  /** Monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
  /** A line when the protocol has no probes (once). */
  readonly warn?: (line: string) => void;
}

/**
 * The parts of the sweep's lifecycle this plug-in uses (src/bench/observer.ts has the full
 * SweepObserver; this folder sits below bench/, so it names only what it needs and the sweep
 * accepts it as an observer by its shape).
 */
export interface LevelStart {
  readonly runId: string;
  readonly network: string;
  readonly benchmarkNumber: number;
  readonly run: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface LevelContext {
  readonly deployment: Pick<Deployment, 'endpoints'>;
  readonly signal: AbortSignal;
  elapsedMs(): number;
  block(name: string, data: unknown): void;
  log(line: string): void;
}

/** The record's `propagation` block (one per run of a level). */
export interface PropagationBlock extends PeerRttFigures {
  /** How the probes were sent and the nodes watched. */
  readonly method: string;
  readonly rate_per_s: number;
  /** Probes: sent, accepted by their node, refused (with why, in `errors`), skipped (too many in flight or no live watch). */
  readonly probes: {
    readonly sent: number;
    readonly accepted: number;
    readonly refused: number;
    readonly skipped: number;
    /** Seen by every node watched without a break until it reported the probe. */
    readonly complete: number;
  };
  /** The nodes, in the order of the network's endpoints. */
  readonly nodes: readonly string[];
  /** Every ordered pair from ≠ to: submit on `from` until `to` has it committed, ms. */
  readonly pairs: readonly PairFigures[];
  /** Submit on a node until that node has it committed, ms. */
  readonly self: readonly SelfFigures[];
  /** What went wrong on the way (a watch that did not connect, a refused probe), each once. */
  readonly errors?: readonly string[];
}

interface Probe {
  readonly id: string;
  readonly origin: string;
  readonly watched: Set<string>;
  /** Node → its watch's drops when the probe was armed there (a drop since: not waited on). */
  readonly armedDrops: Map<string, number>;
  readonly seenMs: Map<string, number>;
  readonly createdAtMs: number;
  sentAtMs: number | undefined;
}

interface NodeWatch {
  readonly endpoint: Endpoint;
  readonly watch: TransactionWatch;
}

interface LevelState {
  readonly context: LevelContext;
  readonly scope: string;
  readonly nodes: readonly string[];
  readonly watches: NodeWatch[];
  readonly watchOf: Map<string, TransactionWatch>;
  readonly probes: Map<string, Probe>;
  readonly done: ProbeOutcome[];
  readonly inFlight: Set<Promise<void>>;
  readonly errors: Set<string>;
  readonly counts: { sent: number; accepted: number; refused: number; skipped: number; complete: number };
  readonly rtts: PeerRttSampler | undefined;
  running: Promise<void>;
  sampling: Promise<void>;
}

const DEFAULTS = {
  ratePerSec: 2,
  maxInFlight: 4,
  graceMs: 5000,
  probeTimeoutMs: 30_000,
  submitTimeoutMs: 5000,
  /** No probe before this (level clock): the watches connect and conditions take hold. */
  firstProbeMs: 500,
  armTimeoutMs: 2000,
  watchReadyMs: 5000,
  scrapeTimeoutMs: 3000,
  rttScrapeMs: 1000,
} as const;

export class PropagationMonitor {
  readonly name = 'propagation';
  readonly #options: PropagationOptions;
  readonly #now: () => number;
  /** Whether #now is performance.now(), the clock a watcher's own times are on (a test's clock is not). */
  readonly #performanceClock: boolean;
  #level: LevelState | undefined;
  #warned = false;

  constructor(options: PropagationOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#performanceClock = options.now === undefined;
  }

  get #rate(): number {
    return this.#options.ratePerSec ?? DEFAULTS.ratePerSec;
  }

  onLevelStart(level: LevelStart, context: LevelContext): void {
    const watcher = this.#options.protocol.watchTransactions;
    if (!watcher) {
      if (!this.#warned)
        this.#options.warn?.(
          `propagation: protocol ${this.#options.protocol.kind} cannot watch for transactions; no propagation block`,
        );
      this.#warned = true;
      return;
    }
    const endpoints = context.deployment.endpoints;
    const scope = `${level.runId}-${level.network}-${level.benchmarkNumber}-${level.run}`;
    const state: LevelState = {
      context,
      scope,
      nodes: endpoints.map((endpoint) => endpoint.nodeId),
      watches: [],
      watchOf: new Map(),
      probes: new Map(),
      done: [],
      inFlight: new Set(),
      errors: new Set(),
      counts: { sent: 0, accepted: 0, refused: 0, skipped: 0, complete: 0 },
      rtts:
        this.#options.peerRtts === false
          ? undefined
          : new PeerRttSampler(endpoints, {
              ...(this.#options.readPage ? { readPage: this.#options.readPage } : {}),
              timeoutMs: DEFAULTS.scrapeTimeoutMs,
            }),
      running: Promise.resolve(),
      sampling: Promise.resolve(),
    };
    for (const endpoint of endpoints) {
      const watch = watcher.watch(endpoint, scope, (id, seenAtMs) =>
        this.#seen(state, endpoint.nodeId, id, seenAtMs),
      );
      state.watches.push({ endpoint, watch });
      state.watchOf.set(endpoint.nodeId, watch);
    }
    this.#level = state;
    state.running = this.#run(state, level);
    state.sampling = this.#sample(state);
  }

  /** The nodes' round trips each second of the level (from its first second: conditions take hold at its start). */
  async #sample(state: LevelState): Promise<void> {
    const { rtts, context } = state;
    if (!rtts) return;
    const everyMs = this.#options.rttScrapeMs ?? DEFAULTS.rttScrapeMs;
    for (let dueMs = everyMs; ; dueMs += everyMs) {
      await sleep(Math.max(0, dueMs - context.elapsedMs()), context.signal);
      if (context.signal.aborted) return;
      await rtts.sample();
    }
  }

  async #run(state: LevelState, level: LevelStart): Promise<void> {
    const { context } = state;
    const ready = await Promise.race([
      Promise.all(state.watches.map(({ watch }) => watch.ready)),
      sleep(DEFAULTS.watchReadyMs, context.signal).then(() => undefined),
    ]);
    state.watches.forEach(({ endpoint, watch }, index) => {
      if (ready?.[index] !== true && !watch.connected)
        state.errors.add(`${endpoint.nodeId}: its watch did not connect`);
    });
    const intervalMs = 1000 / this.#rate;
    const endMs = level.warmupMs + level.durationMs;
    let dueMs = Math.max(level.warmupMs, DEFAULTS.firstProbeMs);
    let turn = 0;
    let seq = 0;
    for (;;) {
      for (let wait = dueMs - context.elapsedMs(); wait > 0 && !context.signal.aborted;) {
        await sleep(Math.ceil(wait), context.signal);
        wait = dueMs - context.elapsedMs();
      }
      if (context.signal.aborted || dueMs >= endMs) return;
      dueMs += intervalMs;
      this.#release(state);
      this.#expire(state, this.#options.probeTimeoutMs ?? DEFAULTS.probeTimeoutMs);
      if (state.probes.size >= (this.#options.maxInFlight ?? DEFAULTS.maxInFlight)) {
        state.counts.skipped++;
        continue;
      }
      const origin = state.watches[turn % state.watches.length];
      turn++;
      if (!origin) return;
      const task = this.#probe(state, origin.endpoint, String(seq++));
      state.inFlight.add(task);
      void task.finally(() => state.inFlight.delete(task));
    }
  }

  async #probe(state: LevelState, origin: Endpoint, id: string): Promise<void> {
    const watcher = this.#options.protocol.watchTransactions;
    if (!watcher) return;
    const probe: Probe = {
      id,
      origin: origin.nodeId,
      watched: new Set(),
      armedDrops: new Map(),
      seenMs: new Map(),
      createdAtMs: this.#now(),
      sentAtMs: undefined,
    };
    state.probes.set(id, probe);
    const live = state.watches.filter(({ watch }) => watch.connected);
    for (const { endpoint, watch } of live) probe.armedDrops.set(endpoint.nodeId, watch.drops ?? 0);
    const armed = await Promise.allSettled(live.map(({ watch }) => watch.expect(id, DEFAULTS.armTimeoutMs)));
    armed.forEach((outcome, index) => {
      const node = live[index]?.endpoint.nodeId as string;
      if (outcome.status === 'fulfilled') probe.watched.add(node);
      else state.errors.add(`${node}: ${formatError(outcome.reason)}`);
    });
    if (probe.watched.size === 0 || state.context.signal.aborted) {
      state.counts.skipped++;
      this.#drop(state, probe);
      return;
    }
    probe.sentAtMs = this.#now();
    state.counts.sent++;
    try {
      await watcher.submit(
        origin,
        { scope: state.scope, id },
        this.#options.submitTimeoutMs ?? DEFAULTS.submitTimeoutMs,
      );
      state.counts.accepted++;
    } catch (error) {
      state.counts.refused++;
      state.errors.add(formatError(error));
      this.#drop(state, probe);
    }
  }

  /** Node `node` has probe `id`: now, or at `seenAtMs` (performance.now(): the node's own time). */
  #seen(state: LevelState, node: string, id: string, seenAtMs?: number): void {
    const probe = state.probes.get(id);
    if (!probe || probe.sentAtMs === undefined || probe.seenMs.has(node)) return;
    const at = seenAtMs !== undefined && this.#performanceClock ? seenAtMs : this.#now();
    probe.seenMs.set(node, Math.max(0, at - probe.sentAtMs));
    if (this.#awaited(state, probe) === 0) this.#finish(state, probe);
  }

  /** Whether `node`'s watch has gone down since `probe` was armed there. */
  #droppedSince(state: LevelState, probe: Probe, node: string): boolean {
    return (state.watchOf.get(node)?.drops ?? 0) !== probe.armedDrops.get(node);
  }

  /**
   * The nodes `probe` still waits for: watched, not yet seen, and watched without a break
   * since it was armed (a node whose watch dropped may have had it while nobody watched, and
   * its report would never come: a crashed node's).
   */
  #awaited(state: LevelState, probe: Probe): number {
    let awaited = 0;
    for (const node of probe.watched)
      if (!probe.seenMs.has(node) && !this.#droppedSince(state, probe, node)) awaited++;
    return awaited;
  }

  /** Finishes the sent probes that wait for no node any more (their nodes' watches dropped). */
  #release(state: LevelState): void {
    for (const probe of [...state.probes.values()])
      if (probe.sentAtMs !== undefined && this.#awaited(state, probe) === 0) this.#finish(state, probe);
  }

  /**
   * A probe is done with: its outcome kept, its expectations dropped. A node whose watch
   * dropped before it reported the probe counts as unwatched for it, not as missing.
   */
  #finish(state: LevelState, probe: Probe): void {
    const watched = [...probe.watched].filter(
      (node) => probe.seenMs.has(node) || !this.#droppedSince(state, probe, node),
    );
    if (watched.length > 0 && watched.every((node) => probe.seenMs.has(node))) state.counts.complete++;
    state.done.push({ origin: probe.origin, watched, seenMs: probe.seenMs });
    this.#drop(state, probe);
  }

  #drop(state: LevelState, probe: Probe): void {
    state.probes.delete(probe.id);
    for (const { watch } of state.watches) watch.forget(probe.id);
  }

  /** Gives up on probes sent longer ago than `timeoutMs` (what they saw so far counts). */
  #expire(state: LevelState, timeoutMs: number): void {
    const now = this.#now();
    for (const probe of [...state.probes.values()]) {
      if (probe.sentAtMs !== undefined && now - probe.sentAtMs > timeoutMs) this.#finish(state, probe);
    }
  }

  async onLoadEnd(_level: LevelStart, _load: unknown, context: LevelContext): Promise<void> {
    const state = this.#level;
    if (!state) return;
    this.#level = undefined;
    try {
      await state.running;
      await Promise.allSettled([...state.inFlight]);
      await state.sampling;
      const deadline = this.#now() + (this.#options.graceMs ?? DEFAULTS.graceMs);
      for (;;) {
        this.#release(state);
        if (state.probes.size === 0 || this.#now() >= deadline) break;
        await sleep(20);
      }
      for (const probe of [...state.probes.values()]) {
        if (probe.sentAtMs === undefined) this.#drop(state, probe);
        else this.#finish(state, probe);
      }
      await state.rtts?.sample();
      const block = this.#block(state);
      context.block('propagation', block);
      if (block.pairs.some((pair) => pair.count > 0)) {
        context.log(`propagation p50 ms (submit on → committed on):`);
        for (const line of matrixLines(block.pairs)) context.log(`  ${line}`);
      } else if (block.nodes.length === 1) {
        // one node: nothing to propagate to, but its own probes' commit is a figure (a silent
        // --propagation looked like a flag that did nothing)
        const own = block.self[0];
        if (own && own.count > 0)
          context.log(
            `propagation: one node, so only each probe's own commit as ${own.node}'s watch saw it: p50 ${own.p50_ms?.toFixed(2)} ms, p99 ${own.p99_ms?.toFixed(2)} ms (${own.count} probes)`,
          );
      }
    } finally {
      await this.#close(state);
    }
  }

  async onTeardown(): Promise<void> {
    const state = this.#level;
    this.#level = undefined;
    if (state) await this.#close(state);
  }

  async #close(state: LevelState): Promise<void> {
    await Promise.all(state.watches.map(({ watch }) => watch.close().catch(() => undefined)));
  }

  #block(state: LevelState): PropagationBlock {
    const { pairs, self } = propagationFigures(state.nodes, state.done);
    const watcher = this.#options.protocol.watchTransactions;
    const rtt = state.rtts?.figures();
    return {
      method: watcher?.method ?? '',
      rate_per_s: this.#rate,
      probes: { ...state.counts },
      nodes: state.nodes,
      pairs,
      self,
      ...(rtt ?? {}),
      ...(state.errors.size > 0 ? { errors: [...state.errors].slice(0, 20) } : {}),
    };
  }
}
