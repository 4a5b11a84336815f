/**
 * The fault injector: an observer of the sweep (src/bench/observer.ts) that runs a
 * scenario's steps against the nodes during each load level, through NodeHandle (so it
 * works on every testbed that controls its nodes), keeps every event on the level's
 * timeline, measures how long a restarted node takes to catch up, and at the load's end
 * brings back every node it took down, then adds the `faults` block to the level's record
 * (events, phases and recovery figures: src/faults/recovery.ts). While the level runs it
 * publishes each fault's window live (`context.publish`: a window-start when the action
 * fires, a window-end when the nodes are back), for the dashboard.
 */
import { formatError, MeshbenchError } from '../common/errors.js';
import { sleep } from '../common/sleep.js';
import type { LoadResult } from '../load/types.js';
import type { Protocol } from '../protocols/protocol.js';
import type { Deployment, NodeHandle } from '../testbed/testbed.js';
import type { LevelContext, LevelStart } from '../scenario/lifecycle.js';
import { faultFigures, type FaultEventRecord, type FaultsBlock, type ResyncRecord } from './recovery.js';
import {
  checkedSteps,
  maxDown,
  scenarioRecord,
  type NodeAction,
  type Scenario,
  type ScenarioStep,
} from '../scenario/scenario.js';

export interface FaultInjectorOptions {
  /** The scenario, or how to make it from the network's node IDs (the shorthands pick nodes by position). */
  readonly scenario: Scenario | ((nodeIds: readonly string[]) => Scenario);
  /**
   * The protocol: its health probe (when a brought-back node answers again), its height
   * (when it has caught up) and its fault model (how many nodes down it tolerates).
   */
  readonly protocol?: Pick<Protocol, 'height' | 'probe' | 'faultModel'>;
  /** Whether commits are confirmed (the figures then judge commits, else ok replies). */
  readonly confirmCommit: boolean;
  /** Milliseconds between height polls of a restarted node (default 200). */
  readonly resyncPollMs?: number;
  /** Longest wait for a restarted node to catch up, after the load ended (default 10 s). */
  readonly resyncGraceMs?: number;
  /** The level's length (warm-up included): with it, the scenario is checked against the nodes as soon as they are up. */
  readonly levelMs?: number;
  /** Registers a cleanup for a forced exit (second Ctrl-C); returns its removal. The injector brings its nodes back there too. */
  readonly onForce?: (cleanup: () => Promise<void>) => () => void;
  /** A line when the scenario takes down more nodes than the network tolerates. */
  readonly warn?: (line: string) => void;
}

const UNDO: Partial<Record<NodeAction, NodeAction>> = { kill: 'restart', stop: 'restart', pause: 'unpause' };

interface LevelState {
  readonly context: LevelContext;
  readonly startWallMs: number;
  readonly events: FaultEventRecord[];
  readonly resyncs: Promise<ResyncRecord>[];
  readonly down: Map<string, NodeAction>;
  readonly tolerance: FaultsBlock['tolerance'];
  /** Each node's last action, so actions on one node run in order. */
  readonly chains: Map<string, Promise<void>>;
  /** Faults whose window is open (published live): closed by the action that brings all their nodes back. */
  readonly open: { readonly id: string; readonly nodes: readonly string[] }[];
  windows: number;
  running: Promise<void>;
  /** Removes the forced-exit restore once the level's nodes are back. */
  unregisterForce: () => void;
  /** Until when (level clock) the resync polls go on: set when the load ends, with a grace period. */
  resyncUntilMs?: number;
}

export class FaultInjector {
  readonly name = 'faults';
  readonly #options: FaultInjectorOptions;
  #scenario: Scenario | undefined;
  #nodes = new Map<string, NodeHandle>();
  #level: LevelState | undefined;

  constructor(options: FaultInjectorOptions) {
    this.#options = options;
  }

  onDeploy(deployment: Deployment): void {
    if (deployment.nodes.length === 0) {
      throw new MeshbenchError(
        'BAD_SCENARIO',
        `node faults need control of the nodes, and this ${deployment.kind} network gives none`,
        { hint: 'run the network with meshbench (local or remote) to inject faults', exitCode: 2 },
      );
    }
    this.#nodes = new Map(deployment.nodes.map((node) => [node.nodeId, node]));
    const { scenario } = this.#options;
    this.#scenario = typeof scenario === 'function' ? scenario([...this.#nodes.keys()]) : scenario;
    if (this.#options.levelMs !== undefined) this.check([...this.#nodes.keys()], this.#options.levelMs);
  }

  get #current(): Scenario {
    if (!this.#scenario) throw new Error('faults: no network deployed');
    return this.#scenario;
  }

  /** Checks the scenario against this network's nodes and a level's length, before any load. */
  check(nodeIds: readonly string[], levelMs: number): readonly ScenarioStep[] {
    return checkedSteps(this.#current, nodeIds, levelMs);
  }

  onLevelStart(level: LevelStart, context: LevelContext): void {
    const levelMs = level.warmupMs + level.durationMs;
    const nodeIds = [...this.#nodes.keys()];
    const steps = this.check(nodeIds, levelMs);
    const down = maxDown(steps);
    const model = this.#options.protocol?.faultModel;
    const tolerated =
      model === undefined ? null : Math.floor((nodeIds.length - 1) / (model === 'byzantine' ? 3 : 2));
    const tolerance = {
      max_down: down,
      tolerated,
      fault_model: model ?? null,
      expect_stall: tolerated !== null && down > tolerated,
    };
    if (tolerance.expect_stall) {
      this.#options.warn?.(
        `faults: up to ${down} of ${nodeIds.length} nodes down at once, more than the f = ${tolerated} a ${model === 'byzantine' ? 'BFT (n >= 3f + 1)' : 'crash-fault (n >= 2f + 1)'} network of ${nodeIds.length} tolerates: expect it to stall while they are down`,
      );
    }
    const state: LevelState = {
      context,
      startWallMs: Date.now() - context.elapsedMs(),
      events: [],
      resyncs: [],
      down: new Map(),
      tolerance,
      chains: new Map(),
      open: [],
      windows: 0,
      running: Promise.resolve(),
      unregisterForce: () => undefined,
    };
    // A forced exit mid-level: bring back what is down or paused, best effort, before the process goes.
    state.unregisterForce = this.#options.onForce?.(() => this.#restore(state)) ?? (() => undefined);
    this.#level = state;
    state.running = this.#run(state, steps);
  }

  /** Fires each step at its time on the level's clock; stops at the level's end. */
  async #run(state: LevelState, steps: readonly ScenarioStep[]): Promise<void> {
    const { context } = state;
    const pending: Promise<void>[] = [];
    for (const step of steps) {
      if (context.signal.aborted) break;
      // Timers may fire a little early on the monotonic clock: wait again for the rest.
      for (
        let wait = step.atMs - context.elapsedMs();
        wait > 0 && !context.signal.aborted;
        wait = step.atMs - context.elapsedMs()
      ) {
        await sleep(Math.ceil(wait), context.signal);
      }
      if (context.signal.aborted) break;
      pending.push(this.#apply(state, step.action, step.nodes, step.atMs, 'scenario'));
    }
    await Promise.all(pending);
  }

  /** Applies one action to its nodes at once and records it. */
  async #apply(
    state: LevelState,
    action: NodeAction,
    nodes: readonly string[],
    scheduledMs: number | null,
    cause: 'scenario' | 'restore',
  ): Promise<void> {
    const { context } = state;
    const firedMs = context.elapsedMs();
    for (const node of nodes) {
      if (UNDO[action]) state.down.set(node, action);
      else state.down.delete(node);
    }
    // The load stops aiming at them now (--fault-load), not after the action returns.
    if (UNDO[action]) {
      for (const node of nodes)
        context.publish?.({ kind: 'node-state', node, state: 'down', atMs: round(firedMs) });
    }
    if (UNDO[action]) {
      // As the record's band will show it (recovery.ts: from fired_ms, labelled by action and nodes).
      const id = `fault-${++state.windows}`;
      state.open.push({ id, nodes: [...nodes] });
      context.publish?.({
        kind: 'window-start',
        id,
        category: 'fault',
        label: `${action} ${nodes.join(', ')}`,
        nodes: [...nodes],
        links: [],
        atMs: round(firedMs),
      });
    }
    const errors: Record<string, string> = {};
    await Promise.all(
      nodes.map((nodeId) => {
        // One action at a time per node: a restart waits for the kill before it to return.
        const previous = state.chains.get(nodeId) ?? Promise.resolve();
        const next = previous.then(async () => {
          const node = this.#nodes.get(nodeId);
          try {
            if (!node) throw new Error('no such node');
            await act(node, action);
          } catch (error) {
            errors[nodeId] = formatError(error);
          }
        });
        state.chains.set(nodeId, next);
        return next;
      }),
    );
    const doneMs = context.elapsedMs();
    if (action === 'restart' || action === 'unpause') {
      // Until the action that brings every node of the fault back has returned (its done_ms).
      for (const window of state.open.filter((open) => open.nodes.every((node) => nodes.includes(node)))) {
        state.open.splice(state.open.indexOf(window), 1);
        context.publish?.({ kind: 'window-end', id: window.id, category: 'fault', atMs: round(doneMs) });
      }
    }
    const event: FaultEventRecord = {
      action,
      nodes: [...nodes],
      cause,
      scheduled_ms: scheduledMs,
      fired_ms: round(firedMs),
      done_ms: round(doneMs),
      started_at: new Date(state.startWallMs + firedMs).toISOString(),
      ...(Object.keys(errors).length > 0 ? { errors } : {}),
    };
    state.events.push(event);
    const line = `faults: ${action} ${nodes.join(', ')} at ${(firedMs / 1000).toFixed(1)} s${scheduledMs === null ? ' (restoring)' : ''}${
      Object.keys(errors).length > 0
        ? `: failed (${Object.entries(errors)
            .map(([n, e]) => `${n}: ${e}`)
            .join('; ')})`
        : ''
    }`;
    context.log(line);
    if ((action === 'restart' || action === 'unpause') && this.#options.protocol) {
      for (const node of nodes) {
        if (!errors[node]) state.resyncs.push(this.#resync(state, node, doneMs));
      }
    } else if (action === 'restart' || action === 'unpause') {
      // No health probe to wait for: the load goes back to them once they are started.
      for (const node of nodes.filter((n) => !errors[n]))
        context.publish?.({ kind: 'node-state', node, state: 'up', atMs: round(doneMs) });
    }
    // an engine that restarts a crashed node itself (Swarm): its recovery runs from the crash
    if (action === 'kill' && this.#options.protocol) {
      for (const node of nodes) {
        if (!errors[node] && this.#nodes.get(node)?.restartsAfterCrash)
          state.resyncs.push(this.#resync(state, node, doneMs, 'crash'));
      }
    }
  }

  /**
   * Polls a brought-back node: first until it answers its health probe, then (when the
   * protocol has heights) until its height reaches the highest of the others'.
   */
  async #resync(state: LevelState, nodeId: string, fromMs: number, after?: 'crash'): Promise<ResyncRecord> {
    const protocol = this.#options.protocol as NonNullable<FaultInjectorOptions['protocol']>;
    const node = this.#nodes.get(nodeId) as NodeHandle;
    const others = [...this.#nodes.values()].filter((other) => other.nodeId !== nodeId);
    const pollMs = this.#options.resyncPollMs ?? 200;
    const elapsed = () => state.context.elapsedMs();
    const timeUp = () => state.resyncUntilMs !== undefined && elapsed() > state.resyncUntilMs;
    const record = (fields: Partial<ResyncRecord>): ResyncRecord => ({
      node: nodeId,
      from_ms: round(fromMs),
      ...(after ? { after } : {}),
      answering_ms: null,
      resynced_ms: null,
      ...fields,
    });
    let lastError = '';
    let answeringMs: number | null = null;
    while (!timeUp()) {
      try {
        if (answeringMs === null) {
          await protocol.probe(node.endpoint, 1000);
          answeringMs = round(elapsed() - fromMs);
          // Answering again: the load may aim at it again (--fault-load).
          state.context.publish?.({ kind: 'node-state', node: nodeId, state: 'up', atMs: round(elapsed()) });
          if (!protocol.height) return record({ answering_ms: answeringMs });
        }
        const height = protocol.height as NonNullable<Protocol['height']>;
        const [own, ...rest] = await Promise.all([
          height(node.endpoint, { timeoutMs: 1000 }),
          ...others.map((other) => height(other.endpoint, { timeoutMs: 1000 }).catch(() => -1)),
        ]);
        const network = Math.max(...rest);
        if (network >= 0 && (own as number) >= network) {
          return record({
            answering_ms: answeringMs,
            resynced_ms: round(elapsed() - fromMs),
            height: own as number,
          });
        }
        lastError = `at height ${own} of ${network}`;
      } catch (error) {
        // The message only: a probe's hint speaks to --endpoints users, not here.
        lastError = error instanceof Error ? error.message : String(error);
      }
      await sleep(pollMs);
    }
    return record({
      answering_ms: answeringMs,
      reason:
        answeringMs === null
          ? `did not answer again (${lastError || 'no reply'})`
          : `did not catch up (${lastError})`,
    });
  }

  /** After the load: bring back every node still down or paused, then the level's figures. */
  async onLoadEnd(level: LevelStart, load: LoadResult, context: LevelContext): Promise<void> {
    const state = this.#level;
    if (!state) return;
    state.resyncUntilMs = context.elapsedMs() + (this.#options.resyncGraceMs ?? 10_000);
    await state.running;
    await this.#restore(state);
    state.unregisterForce();
    const resyncs = await Promise.all(state.resyncs);
    this.#level = undefined;
    const block: FaultsBlock = {
      scenario: scenarioRecord(this.#current),
      tolerance: state.tolerance,
      ...faultFigures({
        events: state.events,
        resyncs,
        load,
        warmupMs: level.warmupMs,
        loadStartOffsetMs: Date.parse(load.startedAt) - state.startWallMs,
        confirmCommit: this.#options.confirmCommit,
      }),
    };
    context.block('faults', block);
  }

  async #restore(state: LevelState): Promise<void> {
    const byAction = new Map<NodeAction, string[]>();
    for (const [node, action] of state.down) {
      const undo = UNDO[action] as NodeAction;
      byAction.set(undo, [...(byAction.get(undo) ?? []), node]);
    }
    for (const [action, nodes] of byAction) await this.#apply(state, action, nodes, null, 'restore');
  }

  /** A level that ended without its load end (an error): nodes still come back before the network goes. */
  async onTeardown(): Promise<void> {
    const state = this.#level;
    if (!state) return;
    // No figures for a level that failed: the resync polls stop now.
    state.resyncUntilMs = state.context.elapsedMs();
    await state.running.catch(() => undefined);
    await this.#restore(state).catch(() => undefined);
    state.unregisterForce();
    this.#level = undefined;
  }
}

async function act(node: NodeHandle, action: NodeAction): Promise<void> {
  switch (action) {
    case 'kill':
      return node.kill('SIGKILL');
    case 'stop':
      return node.stop();
    case 'pause':
      return node.pause();
    case 'unpause':
      return node.unpause();
    case 'restart':
      return node.start();
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
