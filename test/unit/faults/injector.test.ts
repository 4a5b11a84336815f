/**
 * The fault injector against fake node handles and the real clock: steps fire at their
 * time on the level's clock, actions on one node run in order, every node taken down is
 * brought back at the load's end (also when the level is interrupted), and the level's
 * record gets the timeline and the figures.
 */
import { describe, expect, it } from 'vitest';
import type { LevelContext, LevelStart, LiveEvent } from '../../../src/bench/observer.js';
import { FaultInjector } from '../../../src/faults/injector.js';
import type { FaultsBlock } from '../../../src/faults/recovery.js';
import { parseScenario } from '../../../src/scenario/scenario.js';
import type { Deployment, NodeHandle } from '../../../src/testbed/testbed.js';
import { localEnvironment } from '../../support/environments.js';
import { loadWithSeries } from '../../support/load-result.js';

function fakeNetwork(count: number, log: string[]): Deployment {
  const nodes: NodeHandle[] = Array.from({ length: count }, (_, index) => {
    const nodeId = `node${index}`;
    const step = (action: string) => async () => {
      log.push(`${action} ${nodeId}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    };
    return {
      nodeId,
      endpoint: { nodeId, rpcUrl: `http://127.0.0.1:${1 + index}` },
      kill: step('kill'),
      stop: step('stop'),
      start: step('start'),
      restart: step('restart'),
      pause: step('pause'),
      unpause: step('unpause'),
      exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
      logs: async () => '',
      stats: async () => ({ nodeId, cpuPercent: 0, memoryBytes: 0 }),
    };
  });
  return {
    runId: 'r',
    kind: 'local',
    endpoints: nodes.map((node) => node.endpoint),
    nodes,
    environment: localEnvironment(),
    readyAfterMs: 1,
    destroy: async () => undefined,
    release: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };
}

const level: LevelStart = {
  runId: 'r',
  network: 'local',
  benchmarkNumber: 1,
  load: 100,
  run: 1,
  durationMs: 2000,
  warmupMs: 0,
};

function levelContext(): {
  context: LevelContext;
  end: () => void;
  blocks: Record<string, unknown>;
  lines: string[];
  published: LiveEvent[];
} {
  const controller = new AbortController();
  const started = performance.now();
  const blocks: Record<string, unknown> = {};
  const lines: string[] = [];
  const published: LiveEvent[] = [];
  return {
    context: {
      deployment: undefined as unknown as Deployment,
      signal: controller.signal,
      elapsedMs: () => performance.now() - started,
      block: (name, data) => {
        blocks[name] = data;
      },
      log: (line) => lines.push(line),
      publish: (event) => published.push(event),
    },
    end: () => controller.abort(),
    blocks,
    lines,
    published,
  };
}

describe('the fault injector', () => {
  it('fires each step at its time, in order per node, and records the timeline', async () => {
    const log: string[] = [];
    const scenario = parseScenario(
      'events:\n  - { at: 200ms, action: crash, nodes: [node3] }\n  - { at: 210ms, action: restart, nodes: [node3] }\n  - { from: 400ms, to: 600ms, action: pause, nodes: [node1, node2] }',
      's.yaml',
    );
    // A BFT protocol whose nodes answer their probe at once (and report no height).
    const protocol = { faultModel: 'byzantine' as const, probe: async () => undefined };
    const injector = new FaultInjector({ scenario, confirmCommit: true, protocol });
    injector.onDeploy(fakeNetwork(4, log));
    const { context, end, blocks, published } = levelContext();
    injector.onLevelStart(level, context);
    await new Promise((resolve) => setTimeout(resolve, 800));
    end();
    await injector.onLoadEnd(level, loadWithSeries([100, 100]), context);
    // Published live as they happened: each fault's window opens when it fires and closes when
    // the nodes are back, at the times and with the labels the record's bands get.
    const windows = published
      .filter((event) => event.kind !== 'node-state')
      .map((event) =>
        event.kind === 'window-start'
          ? [event.kind, event.category, event.label, event.nodes.join('+'), event.atMs]
          : event.kind === 'window-end'
            ? [event.kind, event.category, event.id, event.atMs]
            : [event.kind],
      );
    // Each node taken down is said to be down as its action fires (the load is routed away at
    // once, --fault-load), and up once it answers its health probe after being brought back.
    const states = published.flatMap((event) =>
      event.kind === 'node-state' ? [`${event.state} ${event.node}`] : [],
    );
    expect(states.filter((state) => state.startsWith('down'))).toEqual([
      'down node3',
      'down node1',
      'down node2',
    ]);
    expect([...states].sort()).toEqual(
      ['down node1', 'down node2', 'down node3', 'up node1', 'up node2', 'up node3'].sort(),
    );
    for (const node of ['node1', 'node2', 'node3'])
      expect(states.indexOf(`up ${node}`)).toBeGreaterThan(states.indexOf(`down ${node}`));
    const killDown = published.find((event) => event.kind === 'node-state' && event.node === 'node3');
    const killWindow = published.find((event) => event.kind === 'window-start');
    expect(killDown?.atMs).toBe(killWindow?.atMs);
    const starts = published.filter((event) => event.kind === 'window-start');
    expect(windows).toEqual([
      ['window-start', 'fault', 'kill node3', 'node3', expect.any(Number)],
      ['window-end', 'fault', starts[0]?.id, expect.any(Number)],
      ['window-start', 'fault', 'pause node1, node2', 'node1+node2', expect.any(Number)],
      ['window-end', 'fault', starts[1]?.id, expect.any(Number)],
    ]);
    expect(log).toEqual([
      'kill node3',
      'start node3',
      'pause node1',
      'pause node2',
      'unpause node1',
      'unpause node2',
    ]);
    const block = blocks.faults as FaultsBlock;
    expect(block.events.map((e) => [e.action, e.nodes.join('+'), e.scheduled_ms])).toEqual([
      ['kill', 'node3', 200],
      ['restart', 'node3', 210],
      ['pause', 'node1+node2', 400],
      ['unpause', 'node1+node2', 600],
    ]);
    // Never early, and within 250 ms (the p99 figure comes from npm run bench:faults).
    for (const event of block.events) {
      expect(event.fired_ms).toBeGreaterThanOrEqual(event.scheduled_ms as number);
      expect(event.fired_ms - (event.scheduled_ms as number)).toBeLessThan(250);
    }
    // The restart waited for the kill of the same node to return.
    expect(block.events[1]?.done_ms).toBeGreaterThan(block.events[0]?.done_ms as number);
    expect(block.faults.map((f) => [f.action, f.nodes.join('+'), f.brought_back_by])).toEqual([
      ['kill', 'node3', 'scenario'],
      ['pause', 'node1+node2', 'scenario'],
    ]);
    const times = (kind: LiveEvent['kind']) =>
      published.flatMap((event) => (event.kind === kind && 'atMs' in event ? [event.atMs] : []));
    expect(times('window-start')).toEqual(block.faults.map((f) => f.down_ms));
    expect(times('window-end')).toEqual(block.faults.map((f) => f.up_ms));
    expect(block.tolerance).toEqual({
      max_down: 2,
      tolerated: 1,
      fault_model: 'byzantine',
      expect_stall: true,
    });
    // Each brought-back node answered again; without heights that is all there is to measure.
    expect(
      block.faults.flatMap((f) => f.resync.map((r) => [r.node, r.answering_ms !== null, r.resynced_ms])),
    ).toEqual([
      ['node3', true, null],
      ['node1', true, null],
      ['node2', true, null],
    ]);
    expect(block.faults[0]?.summary).toMatch(/^node3 crashed at 0\.2 s; answering 0\.\d s after restart/);
  });

  it('interrupted mid-fault: no later step fires, and every node it took down comes back', async () => {
    const log: string[] = [];
    const scenario = parseScenario(
      'events:\n  - { at: 50ms, action: pause, nodes: [node0] }\n  - { at: 60ms, action: crash, nodes: [node1] }\n  - { at: 1500ms, action: crash, nodes: [node2] }',
      's.yaml',
    );
    const injector = new FaultInjector({ scenario, confirmCommit: true });
    injector.onDeploy(fakeNetwork(4, log));
    const { context, end, blocks, published } = levelContext();
    injector.onLevelStart(level, context);
    await new Promise((resolve) => setTimeout(resolve, 200));
    end();
    await injector.onLoadEnd(level, loadWithSeries([100, 100]), context);
    expect(log.sort()).toEqual(['kill node1', 'pause node0', 'start node1', 'unpause node0']);
    // The restore at the load's end closes both windows too.
    expect(published.filter((event) => event.kind === 'window-start')).toHaveLength(2);
    expect(published.filter((event) => event.kind === 'window-end')).toHaveLength(2);
    const block = blocks.faults as FaultsBlock;
    expect(
      block.events
        .filter((e) => e.cause === 'restore')
        .map((e) => e.action)
        .sort(),
    ).toEqual(['restart', 'unpause']);
    expect(block.faults.every((f) => f.brought_back_by === 'restore')).toBe(true);
    expect(block.faults[0]?.summary).toMatch(/node0 paused at 0\.\d s; down until the load ended/);
  });

  it('a forced exit mid-level (second Ctrl-C) runs the registered restore; a finished level unregisters it', async () => {
    const log: string[] = [];
    const scenario = parseScenario('events:\n  - { at: 20ms, action: pause, nodes: [node2] }', 's.yaml');
    const registered = new Set<() => Promise<void>>();
    const injector = new FaultInjector({
      scenario,
      confirmCommit: true,
      onForce: (cleanup) => {
        registered.add(cleanup);
        return () => registered.delete(cleanup);
      },
    });
    injector.onDeploy(fakeNetwork(4, log));
    const { context, end } = levelContext();
    injector.onLevelStart(level, context);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(registered.size).toBe(1);
    for (const cleanup of registered) await cleanup();
    expect(log).toEqual(['pause node2', 'unpause node2']);
    end();
    await injector.onLoadEnd(level, loadWithSeries([100, 100]), context);
    expect(registered.size).toBe(0);
  });

  it('refuses a scenario naming a node the network does not have, as soon as the network is up', () => {
    const scenario = parseScenario('events:\n  - { at: 1s, action: crash, nodes: [validator7] }', 's.yaml');
    expect(() =>
      new FaultInjector({ scenario, confirmCommit: true, levelMs: 60_000 }).onDeploy(fakeNetwork(4, [])),
    ).toThrow(
      /s.yaml: line 2: events\[0\]: no node "validator7" in this network \(nodes: node0, node1, node2, node3\)/,
    );
    // Without the level's length it is checked when the level starts.
    const later = new FaultInjector({ scenario, confirmCommit: true });
    later.onDeploy(fakeNetwork(4, []));
    expect(() => later.onLevelStart(level, levelContext().context)).toThrow(/no node "validator7"/);
  });
});
