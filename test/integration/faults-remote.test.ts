/**
 * Crash faults on sandbox SSH hosts: the scenario of faults.test.ts (a crash and a pause) run
 * by `benchmark --network-type remote` as users run it (bin/benchmark.js): the events on the
 * timeline at their times, and the hosts left clean; and a crash among nodes packed two to a
 * host (`--nodes-per-host 2`).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FaultsBlock } from '../../src/faults/recovery.js';
import { runBin } from './run-bin.js';
import { DOCKER_HOSTS, hostsFile, leftovers, sandboxSuite } from './sandbox-fixture.js';

/**
 * How late an event may fire on the sandbox hosts: half the 2 s between the nearest two, so each
 * is at its own place on the timeline however busy the machine (a clean-clone CI beside another
 * file saw 341 ms); the p99 target of 50 ms is measured by npm run bench:faults, not asserted here.
 */
const EVENT_BOUND_MS = 1000;

const suite = sandboxSuite('faults-remote');

describe('crash faults on sandbox SSH hosts', () => {
  it('runs the same scenario over SSH, with the events on the timeline and the hosts left clean', async () => {
    const state = suite.sandbox;
    const hosts = await hostsFile(state, 'faults', state.hosts.slice(0, DOCKER_HOSTS));
    const output = join(suite.dir, 'remote');
    const scenario = join(suite.dir, 'remote.yaml');
    await writeFile(
      scenario,
      'events:\n  - { from: 4s, to: 8s, action: crash, nodes: [node3] }\n  - { from: 10s, to: 12s, action: pause, nodes: [node0] }\n',
    );
    const run = await runBin('benchmark', [
      '--network-type',
      'remote',
      '--hosts-file',
      hosts,
      '--loads',
      '50',
      '--duration',
      '16',
      '--warmup',
      '1',
      '--startup-wait',
      '120',
      '--scenario',
      scenario,
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const [runDir] = await readdir(output);
    const rec = JSON.parse(
      await readFile(join(output, runDir as string, 'remote-benchmark-1.json'), 'utf8'),
    ) as {
      runs: { blocks?: { faults?: FaultsBlock } }[];
      parameters: { faults_applied: boolean };
    };
    expect(rec.parameters.faults_applied).toBe(true);
    const block = rec.runs[0]?.blocks?.faults as FaultsBlock;
    expect(block.events.map((e) => `${e.scheduled_ms} ${e.action} ${e.nodes.join(',')}`)).toEqual([
      '4000 kill node3',
      '8000 restart node3',
      '10000 pause node0',
      '12000 unpause node0',
    ]);
    for (const event of block.events) {
      expect(event.errors, JSON.stringify(event)).toBeUndefined();
      expect(event.fired_ms - (event.scheduled_ms as number)).toBeLessThan(EVENT_BOUND_MS);
    }
    expect(block.faults[0]?.resync[0]?.resynced_ms).not.toBeNull();
    for (const host of state.hosts.slice(0, DOCKER_HOSTS)) {
      expect((await leftovers(host)).containers).toEqual([]);
    }
  }, 600_000);

  it('--nodes-per-host 2: a crash takes down one node of a host, and its neighbour there goes on', async () => {
    const state = suite.sandbox;
    const pair = state.hosts.slice(0, 2);
    const hosts = await hostsFile(state, 'packed', pair);
    const output = join(suite.dir, 'packed');
    const scenario = join(suite.dir, 'packed.yaml');
    // node i runs on host i mod 2: node2 is host0's second node, beside node0
    await writeFile(scenario, 'events:\n  - { from: 3s, to: 6s, action: crash, nodes: [node2] }\n');
    const run = await runBin('benchmark', [
      '--network-type',
      'remote',
      '--hosts-file',
      hosts,
      '--nodes-per-host',
      '2',
      '--loads',
      '40',
      // 8 s after the restart for node2 to catch up, as the first test leaves its node3
      '--duration',
      '14',
      '--warmup',
      '1',
      '--startup-wait',
      '120',
      '--scenario',
      scenario,
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/remote \(4 nodes\)/);
    const [runDir] = await readdir(output);
    const rec = JSON.parse(
      await readFile(join(output, runDir as string, 'remote-benchmark-1.json'), 'utf8'),
    ) as {
      parameters: { nodes: number };
      environment: { testbed: { nodesPerHost: number; hosts: unknown[] } };
      runs: {
        results: { per_node: { node_id: string; ok: number; committed: number }[] };
        blocks?: { faults?: FaultsBlock };
      }[];
    };
    expect(rec.parameters.nodes).toBe(4);
    expect(rec.environment.testbed.nodesPerHost).toBe(2);
    expect(rec.environment.testbed.hosts).toHaveLength(2);
    const block = rec.runs[0]?.blocks?.faults as FaultsBlock;
    expect(block.events.map((e) => `${e.action} ${e.nodes.join(',')} ${e.errors ?? 'ok'}`)).toEqual([
      'kill node2 ok',
      'restart node2 ok',
    ]);
    expect(block.faults[0]?.resync[0]?.resynced_ms).not.toBeNull();
    // every node took load and committed it, node0 on the crashed node's host among them
    const perNode = rec.runs[0]?.results.per_node ?? [];
    expect(perNode.map((n) => n.node_id)).toEqual(['node0', 'node1', 'node2', 'node3']);
    for (const node of perNode) expect(node.committed, JSON.stringify(node)).toBeGreaterThan(0);
    for (const host of pair) expect((await leftovers(host)).containers).toEqual([]);
  }, 600_000);
});
