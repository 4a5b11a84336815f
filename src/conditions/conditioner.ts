/**
 * The network conditioner: an observer of the sweep that gives the network's links the
 * qualities a scenario asks for (delay, jitter, loss, bandwidth, partitions, zones,
 * mobility) during each load level. Per node it starts a nethelper sidecar in the node's
 * network namespace, probes what the kernel there can do, picks a mechanism per kind
 * (netem, else nfq-delay on NFQUEUE for delay and iptables statistic for loss; HTB for
 * bandwidth; iptables DROP for partitions) and refuses, before any load, a condition no
 * mechanism can apply. During a level it applies the model's state at each event's edge
 * (and each second when ramps or moves make it continuous), records each link's applied
 * quality per second, and takes everything off when the load ends. Each scenario event's
 * window is published live as it starts and ends (`context.publish`), for the dashboard.
 */
import { NETHELPER_IMAGE } from '../common/net-shaping.js';
import { sleep } from '../common/sleep.js';
import type { LoadResult } from '../load/types.js';
import type { NetworkEvent } from '../scenario/events.js';
import { namedNodes } from '../scenario/events.js';
import type { LevelContext, LevelStart as FaultsLevelStart } from '../scenario/lifecycle.js';
import { ORCHESTRATOR, ZoneProblem } from '../scenario/zones.js';
import { positionsProblem } from '../scenario/mobility.js';
import type { Deployment } from '../testbed/testbed.js';
import {
  applyFigures,
  conditionError,
  conditionsRecord,
  describe,
  describeBase,
  positionSeries,
  qualitySeries,
  round,
  type ConditionEventRecord,
  type LinkSample,
} from './block.js';
import { ControlServer } from './control.js';
import { ConditionModel, type LinkQuality, type NetworkConditions } from './model.js';
import {
  applyLinks,
  clearLinks,
  closeNamespaces,
  collectCaptures,
  conditionNeeds,
  mechanismsOf,
  missingMechanism,
  nfqStats,
  notApplicable,
  prepareNamespaces,
  reviveRestarted,
  startCaptures,
  startNamespaces,
  type ConditionNeeds,
  type Namespace,
} from './namespaces.js';
import type { DelayPreference } from './shaper.js';
import { windowFigures } from './windows.js';

export { NETHELPER_IMAGE };
export { conditionError, describe, type ConditionEventRecord } from './block.js';

/** A level's start as the conditioner reads it (the sweep hands more). */
interface LevelStart extends FaultsLevelStart {
  readonly network?: string;
  readonly benchmarkNumber?: number;
  readonly run?: number;
}

export interface ConditionerOptions {
  readonly conditions: NetworkConditions;
  /** Which networks the zones apply to (benchmark --network-type both: e.g. only the remote one, to emulate a WAN there). */
  readonly zonesOn?: 'all' | 'local' | 'remote';
  /** Where the scenario came from, for messages. */
  readonly source: string;
  /** Each condition's index among the scenario file's events (default: its own position). */
  readonly indices?: readonly number[];
  readonly image?: string;
  /** auto: netem where the kernel has it, else nfq-delay; or force one (to compare them). */
  readonly delayMechanism?: DelayPreference;
  /** Serve the live control endpoint (`conditions set|clear|show`), default true. */
  readonly control?: boolean;
  /** `--live-conditions`: start the helpers even when this network has no conditions. */
  readonly live?: boolean;
  /** `--capture`: the nodes whose traffic tcpdump writes to a pcap per level ('all': every node). */
  readonly capture?: readonly string[] | 'all';
  /** The size cap of each pcap, MB (default 20): tcpdump keeps the last this many MB. */
  readonly captureMaxMb?: number;
  /**
   * `--shape-orchestrator`: the orchestrator's traffic with the nodes (load, RPC, metrics) is
   * shaped too, as the links of an endpoint named `client` (by default it is never shaped).
   */
  readonly orchestrator?: boolean;
  readonly confirmCommit: boolean;
  /** The benchmark run's id, announced with the control endpoint (`conditions --run` takes it too). */
  readonly benchmarkRunId?: string;
  readonly onForce?: (cleanup: () => Promise<void>) => () => void;
  readonly warn?: (line: string) => void;
}

interface LevelState {
  readonly context: LevelContext;
  readonly events: ConditionEventRecord[];
  /** The scenario events whose window is open (published live), until their end or the load's. */
  readonly open: Set<number>;
  /** Nodes a partition cuts off from the orchestrator (`client`): down for the load (--fault-load). */
  readonly cutFromClient: Set<string>;
  readonly samples: LinkSample[];
  running: Promise<void>;
  unregisterForce: () => void;
}

export class NetworkConditioner {
  readonly name = 'network';
  readonly #options: ConditionerOptions;
  #model: ConditionModel | undefined;
  #namespaces: Namespace[] = [];
  #runId = '';
  #level: LevelState | undefined;
  /** The conditions of the network deployed now (the zones only where --zones-on says). */
  #conditions: NetworkConditions;
  /** Captures fetched at a level's load end, written at its end: file name → bytes. */
  #captures = new Map<string, Buffer>();
  /** Live changes made with `conditions set`, in order, until `conditions clear`. */
  #live: NetworkEvent[] = [];
  #control: ControlServer | undefined;
  /** Which kinds of condition the scenario reaches at some point. */
  #needs: ConditionNeeds = { delay: false, loss: false, rate: false, partition: false, ifb: false };

  constructor(options: ConditionerOptions) {
    this.#options = options;
    this.#conditions = options.conditions;
  }

  async onDeploy(deployment: Deployment, network?: string): Promise<void> {
    const { zones, ...rest } = this.#options.conditions;
    const zonesHere =
      zones && (this.#options.zonesOn ?? 'all') !== 'all' && network !== this.#options.zonesOn
        ? undefined
        : zones;
    this.#conditions = { ...rest, ...(zonesHere ? { zones: zonesHere } : {}) };
    const idle =
      this.#conditions.events.length === 0 &&
      !this.#conditions.zones &&
      !this.#conditions.mobility &&
      this.#options.capture === undefined &&
      this.#options.live !== true;
    if (idle) {
      // nothing to shape on this network (the zones are for the other one)
      this.#model = undefined;
      return;
    }
    const nodes = deployment.nodes;
    if (nodes.length === 0 || nodes.some((node) => !node.sidecar)) {
      throw conditionError(
        `network conditions need the nodes' network namespaces, and this ${deployment.kind} network gives none`,
        'run the network with meshbench (local or remote) to shape its links',
      );
    }
    const nodeIds = nodes.map((node) => node.nodeId);
    this.#runId = deployment.runId;
    this.#checkNames(nodeIds);
    try {
      this.#model = new ConditionModel(this.#conditions, nodeIds, {
        orchestrator: this.#options.orchestrator === true,
      });
    } catch (error) {
      // the zone assignment against this network's nodes (a compose file's: the plan judged the generated ones)
      if (!(error instanceof ZoneProblem)) throw error;
      throw conditionError(
        error.message,
        "name this network's nodes in the zones' assignment (--zone-of, or the scenario's zones: nodes), or leave it out to place them round robin",
      );
    }
    this.#namespaces = await startNamespaces(deployment, nodeIds, {
      ...(this.#options.image ? { image: this.#options.image } : {}),
      ...(this.#options.delayMechanism ? { delayMechanism: this.#options.delayMechanism } : {}),
      ...(this.#options.orchestrator ? { orchestrator: true } : {}),
      ...(this.#options.warn ? { warn: this.#options.warn } : {}),
    });
    this.#needs = conditionNeeds(this.#model);
    const refused = notApplicable(this.#namespaces, this.#needs, this.#options);
    if (refused) {
      await this.#closeAll();
      throw refused;
    }
    if (this.#options.control !== false) {
      this.#control = await ControlServer.start(
        deployment.runId,
        this.#model.ends,
        {
          set: (event) => this.#setLive(event),
          clear: () => this.#clearLive(),
          state: () => ({
            runId: deployment.runId,
            nodes: nodeIds,
            live: this.#live.map((e) => describe(e, 'start')),
          }),
        },
        {
          ...(this.#options.benchmarkRunId ? { benchmarkRunId: this.#options.benchmarkRunId } : {}),
          network: deployment.kind,
        },
      );
    }
    await prepareNamespaces(this.#namespaces, deployment.runId, this.#prepareDelay, this.#options.warn);
  }

  /** Whether the helpers set up the delay's queue: the scenario delays, or live changes may. */
  get #prepareDelay(): boolean {
    return this.#needs.delay || this.#options.control !== false;
  }

  /** The scenario file's index of condition `index`. */
  #index(index: number): number {
    return this.#options.indices?.[index] ?? index;
  }

  #checkNames(nodeIds: readonly string[]): void {
    this.#conditions.events.forEach((event, position) => {
      const index = this.#index(position);
      for (const node of namedNodes(event)) {
        if (node === ORCHESTRATOR && this.#options.orchestrator) continue;
        if (node === ORCHESTRATOR) {
          throw conditionError(
            `${this.#options.source}: events[${index}]: ${ORCHESTRATOR} (the orchestrator's traffic with the nodes) is shaped only when asked`,
            'add --shape-orchestrator',
          );
        }
        if (!nodeIds.includes(node)) {
          throw conditionError(
            `${this.#options.source}: events[${index}]: no node ${JSON.stringify(node)} in this network (nodes: ${nodeIds.join(', ')})`,
            'name one of its nodes',
          );
        }
      }
    });
    const capture = this.#options.capture;
    const notNode = Array.isArray(capture) ? capture.find((node) => !nodeIds.includes(node)) : undefined;
    if (notNode !== undefined) {
      throw conditionError(
        `--capture: no node ${notNode} in this network (nodes: ${nodeIds.join(', ')})`,
        'give node IDs or all',
      );
    }
    const mobility = this.#conditions.mobility;
    const problem = mobility ? positionsProblem(mobility, nodeIds) : undefined;
    if (problem) throw conditionError(`${this.#options.source}: ${problem.message}`, problem.hint);
  }

  /** What the record says about each namespace: its capabilities and the mechanism per kind. */
  mechanisms(): ReturnType<typeof mechanismsOf> {
    return mechanismsOf(this.#namespaces);
  }

  onLevelStart(level: LevelStart, context: LevelContext): void {
    const model = this.#model;
    if (!model) return;
    const levelMs = level.warmupMs + level.durationMs;
    const state: LevelState = {
      context,
      events: [],
      open: new Set(),
      cutFromClient: new Set(),
      samples: [],
      running: Promise.resolve(),
      unregisterForce: () => undefined,
    };
    state.unregisterForce =
      this.#options.onForce?.(async () => {
        await this.#clear();
      }) ?? (() => undefined);
    this.#level = state;
    // captures start beside the timeline, which must not wait for them
    const captures = startCaptures(
      this.#namespaces,
      this.#options.capture,
      this.#options.captureMaxMb ?? 20,
      this.#options.warn,
    );
    state.running = Promise.all([captures, this.#run(state, model, levelMs)]).then(() => undefined);
  }

  /** Writes the level's pcaps into the run folder. */
  async onLevelEnd(
    _level: unknown,
    out: { write(name: string, data: unknown): Promise<string | undefined> },
  ): Promise<void> {
    const captures = [...this.#captures];
    this.#captures.clear();
    for (const [name, bytes] of captures) await out.write(name, bytes);
  }

  async #run(state: LevelState, model: ConditionModel, levelMs: number): Promise<void> {
    const { context } = state;
    const edges = model.edges();
    const startsAt = new Map<number, number[]>();
    const endsAt = new Map<number, number[]>();
    this.#conditions.events.forEach((event: NetworkEvent, index) => {
      startsAt.set(event.fromMs, [...(startsAt.get(event.fromMs) ?? []), index]);
      if (event.toMs !== null) endsAt.set(event.toMs, [...(endsAt.get(event.toMs) ?? []), index]);
    });
    const times = new Set<number>(edges.filter((t) => t < levelMs));
    for (let t = 0; t < levelMs; t += 1000) times.add(t);
    for (const t of [...times].sort((a, b) => a - b)) {
      for (
        let wait = t - context.elapsedMs();
        wait > 0 && !context.signal.aborted;
        wait = t - context.elapsedMs()
      ) {
        await sleep(Math.ceil(wait), context.signal);
      }
      if (context.signal.aborted) break;
      const isEdge = edges.includes(t);
      const wanted = model.at(t, this.#live);
      // a node restarted by a fault lives in a new namespace: a new helper, and its links again
      const revived = t % 1000 === 0 ? await this.#reviveRestarted() : [];
      if (revived.length > 0 && !isEdge && !model.continuous) {
        const firedMs = context.elapsedMs();
        const { changed, errors } = await this.#apply(wanted);
        state.events.push({
          event: null,
          edge: 'reattach',
          nodes: revived,
          scheduled_ms: t,
          fired_ms: round(firedMs),
          done_ms: round(context.elapsedMs()),
          changed,
          ...(errors ? { errors } : {}),
        });
        context.log(
          `network: ${revived.join(', ')} restarted: conditions applied again in its new namespace`,
        );
      } else if (revived.length > 0) {
        state.events.push({
          event: null,
          edge: 'reattach',
          nodes: revived,
          scheduled_ms: t,
          fired_ms: round(context.elapsedMs()),
          done_ms: round(context.elapsedMs()),
          changed: 0,
        });
      }
      if (isEdge || model.continuous) {
        const firedMs = context.elapsedMs();
        for (const index of startsAt.get(t) ?? []) this.#windowStarts(state, index, firedMs);
        // cut from the orchestrator: the load stops aiming at it before the cut applies
        this.#clientCuts(state, wanted, firedMs, 'down');
        const { changed, errors } = await this.#apply(wanted);
        const doneMs = context.elapsedMs();
        // joined again: once the links are back
        this.#clientCuts(state, wanted, doneMs, 'up');
        for (const index of endsAt.get(t) ?? []) this.#windowEnds(state, index, doneMs);
        const records: ConditionEventRecord[] = [];
        const base = {
          scheduled_ms: t,
          fired_ms: round(firedMs),
          done_ms: round(doneMs),
          changed,
          ...(errors ? { errors } : {}),
        };
        for (const index of startsAt.get(t) ?? []) records.push({ event: index, edge: 'start', ...base });
        for (const index of endsAt.get(t) ?? []) records.push({ event: index, edge: 'end', ...base });
        if (records.length === 0 && changed > 0) records.push({ event: null, edge: 'tick', ...base });
        state.events.push(...records);
        const baseLine = t === 0 ? describeBase(this.#conditions, model) : undefined;
        if (baseLine !== undefined)
          context.log(
            `network: ${baseLine} at ${(firedMs / 1000).toFixed(1)} s (${changed} node${changed === 1 ? '' : 's'} in ${Math.round(doneMs - firedMs)} ms)`,
          );
        for (const record of records) {
          if (record.event === null) continue;
          context.log(
            `network: ${describe(this.#conditions.events[record.event] as NetworkEvent, record.edge)} at ${(firedMs / 1000).toFixed(1)} s (${changed} node${changed === 1 ? '' : 's'} in ${Math.round(doneMs - firedMs)} ms)${
              errors
                ? `: failed (${Object.entries(errors)
                    .map(([n, e]) => `${n}: ${e}`)
                    .join('; ')})`
                : ''
            }`,
          );
        }
        if (t === 0 && errors) {
          throw conditionError(
            `network conditions: could not apply them at the level's start: ${Object.entries(errors)
              .map(([n, e]) => `${n}: ${e}`)
              .join('; ')}`,
            'see the helper error above; run with --verbose for more',
          );
        }
      }
      if (t % 1000 === 0) {
        const positions = model.positionsAt(t);
        state.samples.push({ t: t / 1000, state: wanted, ...(positions ? { positions } : {}) });
      }
    }
  }

  /** Publishes a scenario event's window as it starts (as the record's band: from fired_ms, its description). */
  #windowStarts(state: LevelState, index: number, firedMs: number): void {
    const event = this.#conditions.events[index];
    if (!event || state.open.has(index)) return;
    state.open.add(index);
    const selector = event.selector;
    state.context.publish?.({
      kind: 'window-start',
      id: `condition-${index}`,
      category: 'condition',
      label: describe(event, 'start'),
      nodes: selector.kind === 'nodes' ? [...selector.nodes] : [],
      links: selector.kind === 'links' ? selector.links.map((link) => `${link.from}->${link.to}`) : [],
      atMs: round(firedMs),
    });
  }

  /**
   * Nodes whose links with the orchestrator (`client`, shaped with --shape-orchestrator) a
   * partition cuts, or whose cut ended: published as node-state `down` (before the cut is
   * applied) or `up` (after it is lifted), so the generator routes their load (--fault-load).
   */
  #clientCuts(state: LevelState, wanted: Map<string, LinkQuality>, atMs: number, edge: 'down' | 'up'): void {
    for (const key of wanted.keys()) {
      if (!key.startsWith(`${ORCHESTRATOR}->`)) continue;
      const node = key.slice(ORCHESTRATOR.length + 2);
      const cut = wanted.get(key)?.up === false || wanted.get(`${node}->${ORCHESTRATOR}`)?.up === false;
      if (edge === 'down' && cut && !state.cutFromClient.has(node)) {
        state.cutFromClient.add(node);
        state.context.publish?.({ kind: 'node-state', node, state: 'down', atMs: round(atMs) });
      } else if (edge === 'up' && !cut && state.cutFromClient.delete(node)) {
        state.context.publish?.({ kind: 'node-state', node, state: 'up', atMs: round(atMs) });
      }
    }
  }

  /** Publishes the end of an open window (lifted by the scenario, or at the load's end). */
  #windowEnds(state: LevelState, index: number, doneMs: number): void {
    if (!state.open.delete(index)) return;
    state.context.publish?.({
      kind: 'window-end',
      id: `condition-${index}`,
      category: 'condition',
      atMs: round(doneMs),
    });
  }

  /** Re-attaches restarted nodes (namespaces.ts): the nodes revived. */
  #reviveRestarted(): Promise<string[]> {
    return reviveRestarted(this.#namespaces, {
      runId: this.#runId,
      ...(this.#options.image ? { image: this.#options.image } : {}),
      prepareDelay: this.#prepareDelay,
    });
  }

  #apply(wanted: Map<string, LinkQuality>): Promise<{ changed: number; errors?: Record<string, string> }> {
    return applyLinks(this.#namespaces, wanted);
  }

  #clear(): Promise<number> {
    return clearLinks(this.#namespaces);
  }

  /** A live change: checked against the namespaces' mechanisms, applied now, put on the timeline. */
  async #setLive(event: NetworkEvent): Promise<string> {
    const line = describe(event, 'start');
    const missing = missingMechanism(this.#namespaces, event);
    if (missing) throw new Error(missing);
    this.#live = [...this.#live, event];
    return `${line}: ${await this.#applyLive('live-set', line)}`;
  }

  async #clearLive(): Promise<string> {
    const count = this.#live.length;
    this.#live = [];
    return `${count} live change${count === 1 ? '' : 's'} cleared: ${await this.#applyLive('live-clear', 'clear')}`;
  }

  /** Applies the model with the live changes now; a line on what changed. */
  async #applyLive(edge: 'live-set' | 'live-clear', what: string): Promise<string> {
    const state = this.#level;
    const model = this.#model;
    if (!state || !model) return 'takes effect when the next level starts';
    const { context } = state;
    const firedMs = context.elapsedMs();
    const { changed, errors } = await this.#apply(model.at(firedMs, this.#live));
    const doneMs = context.elapsedMs();
    state.events.push({
      event: null,
      edge,
      live: what,
      scheduled_ms: round(firedMs),
      fired_ms: round(firedMs),
      done_ms: round(doneMs),
      changed,
      ...(errors ? { errors } : {}),
    });
    const result = `${changed} node${changed === 1 ? '' : 's'} changed at ${(firedMs / 1000).toFixed(1)} s in ${Math.round(doneMs - firedMs)} ms${
      errors
        ? ` (failed: ${Object.entries(errors)
            .map(([n, e]) => `${n}: ${e}`)
            .join('; ')})`
        : ''
    }`;
    context.log(`network: live ${what}: ${result}`);
    return result;
  }

  async onLoadEnd(level: LevelStart, load: LoadResult, context: LevelContext): Promise<void> {
    const state = this.#level;
    if (!state) return;
    await state.running;
    const nfq = await nfqStats(this.#namespaces);
    const captures = await collectCaptures(this.#namespaces, this.#options.capture, level, this.#captures);
    const firedMs = context.elapsedMs();
    const changed = await this.#clear();
    const doneMs = context.elapsedMs();
    for (const index of [...state.open]) this.#windowEnds(state, index, doneMs);
    state.events.push({
      event: null,
      edge: 'clear',
      scheduled_ms: round(firedMs),
      fired_ms: round(firedMs),
      done_ms: round(doneMs),
      changed,
    });
    state.unregisterForce();
    this.#level = undefined;
    const { windows, availability } = windowFigures({
      conditions: this.#conditions,
      events: state.events,
      load,
      warmupMs: level.warmupMs,
      loadStartOffsetMs: Date.parse(load.startedAt) - (Date.now() - context.elapsedMs()),
      confirmCommit: this.#options.confirmCommit,
      describe: (event, index) => `${describe(event, 'start')} (events[${this.#index(index)}])`,
    });
    const fileIndex = (event: number | null) => (event === null ? null : this.#index(event));
    context.block('network', {
      source: this.#options.source,
      conditions: conditionsRecord(this.#conditions, this.#model as ConditionModel),
      namespaces: this.mechanisms(),
      events: state.events.map((record) => ({ ...record, event: fileIndex(record.event) })),
      windows: windows.map((window) => ({ ...window, event: this.#index(window.event) })),
      availability,
      apply_ms: applyFigures(state.events),
      quality: qualitySeries(state.samples),
      ...(state.samples.some((s) => s.positions) ? { positions: positionSeries(state.samples) } : {}),
      ...(nfq.length > 0 ? { nfq_delay: nfq } : {}),
      ...(Object.keys(captures).length > 0
        ? { captures: { max_mb: this.#options.captureMaxMb ?? 20, files: captures } }
        : {}),
    });
  }

  async onTeardown(): Promise<void> {
    const state = this.#level;
    if (state) {
      await state.running.catch(() => undefined);
      state.unregisterForce();
      this.#level = undefined;
    }
    await this.#clear().catch(() => undefined);
    await this.#control?.close().catch(() => undefined);
    this.#control = undefined;
    await this.#closeAll();
  }

  async #closeAll(): Promise<void> {
    await closeNamespaces(this.#namespaces);
    this.#namespaces = [];
  }
}
