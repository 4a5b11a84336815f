/**
 * An engine that restarts a crashed node itself (Swarm): the injector measures the node's
 * recovery from the crash, the figures keep that entry with the crash, and the summary says so.
 */
import { describe, expect, it } from 'vitest';
import { FaultInjector } from '../../../src/faults/injector.js';
import { faultFigures, type FaultEventRecord, type FaultsBlock } from '../../../src/faults/recovery.js';
import { parseScenario } from '../../../src/scenario/scenario.js';
import type { Deployment, NodeHandle } from '../../../src/testbed/testbed.js';
import { localEnvironment } from '../../support/environments.js';
import { loadWithSeries } from '../../support/load-result.js';

function event(
  action: FaultEventRecord['action'],
  nodes: string[],
  atMs: number,
  doneMs: number,
): FaultEventRecord {
  return {
    action,
    nodes,
    cause: action === 'restart' ? 'restore' : 'scenario',
    scheduled_ms: action === 'restart' ? null : atMs,
    fired_ms: atMs,
    done_ms: doneMs,
    started_at: new Date(atMs).toISOString(),
  };
}

describe('a crash the engine recovers from', () => {
  it('keeps the resync measured from the crash with the crash, and says the engine restarted it', () => {
    const figures = faultFigures({
      events: [event('kill', ['node1'], 3000, 3200), event('restart', ['node1'], 9000, 9100)],
      resyncs: [
        { node: 'node1', from_ms: 3200, after: 'crash', answering_ms: 1500, resynced_ms: 2400, height: 30 },
        { node: 'node1', from_ms: 9100, answering_ms: 50, resynced_ms: 120, height: 60 },
      ],
      load: loadWithSeries([10, 10, 10, 10, 10, 10, 10, 10, 10], { startedAt: new Date(0) }),
      warmupMs: 0,
      loadStartOffsetMs: 0,
      confirmCommit: true,
    });
    const [fault] = figures.faults;
    expect(fault?.resync.map((r) => [r.after ?? 'restart', r.resynced_ms])).toEqual([
      ['crash', 2400],
      ['restart', 120],
    ]);
    expect(fault?.summary).toMatch(
      /^node1 crashed at 3\.0 s; restarted by the engine and resynced 2\.4 s after the crash/,
    );
    expect(fault?.summary).not.toContain('down until the load ended');
  });

  it('the injector polls a node whose handle restarts after a crash from the moment the crash returned', async () => {
    const calls: string[] = [];
    const node = (nodeId: string, restartsAfterCrash: boolean): NodeHandle => ({
      nodeId,
      endpoint: { nodeId, rpcUrl: `http://127.0.0.1/${nodeId}` },
      ...(restartsAfterCrash ? { restartsAfterCrash } : {}),
      kill: async () => void calls.push(`kill ${nodeId}`),
      stop: async () => undefined,
      start: async () => void calls.push(`start ${nodeId}`),
      restart: async () => undefined,
      pause: async () => undefined,
      unpause: async () => undefined,
      exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
      logs: async () => '',
      stats: async () => ({ nodeId, cpuPercent: 0, memoryBytes: 0 }),
    });
    const nodes = [node('node0', true), node('node1', true), node('node2', false)];
    const deployment: Deployment = {
      runId: 'r',
      kind: 'remote',
      endpoints: nodes.map((n) => n.endpoint),
      nodes,
      environment: localEnvironment(),
      readyAfterMs: 1,
      destroy: async () => undefined,
      release: async () => undefined,
      [Symbol.asyncDispose]: async () => undefined,
    };
    const scenario = parseScenario(
      'events:\n  - { at: 50ms, action: crash, nodes: [node1, node2] }',
      's.yaml',
    );
    const injector = new FaultInjector({
      scenario,
      confirmCommit: true,
      protocol: { faultModel: 'byzantine', probe: async () => undefined },
      resyncPollMs: 10,
    });
    injector.onDeploy(deployment);
    const controller = new AbortController();
    const started = performance.now();
    const blocks: Record<string, unknown> = {};
    const context = {
      deployment,
      signal: controller.signal,
      elapsedMs: () => performance.now() - started,
      block: (name: string, data: unknown) => void (blocks[name] = data),
      log: () => undefined,
      publish: () => undefined,
    };
    const level = {
      runId: 'r',
      network: 'remote' as const,
      benchmarkNumber: 1,
      load: 10,
      run: 1,
      durationMs: 300,
      warmupMs: 0,
    };
    injector.onLevelStart(level, context);
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort();
    await injector.onLoadEnd(level, loadWithSeries([10]), context);
    const block = blocks.faults as FaultsBlock;
    const resync = block.faults[0]!.resync;
    const kill = block.events.find((e) => e.action === 'kill')!;
    // node1 (Swarm) from the crash and from the restore; node2 (plain) only from the restore
    expect(resync.filter((r) => r.after === 'crash').map((r) => [r.node, r.from_ms])).toEqual([
      ['node1', kill.done_ms],
    ]);
    expect(
      resync
        .filter((r) => r.after === undefined)
        .map((r) => r.node)
        .sort(),
    ).toEqual(['node1', 'node2']);
    expect(calls).toEqual(expect.arrayContaining(['kill node1', 'kill node2', 'start node1', 'start node2']));
  });
});
