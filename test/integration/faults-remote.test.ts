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

/** What the tests read of a level's record. */
interface RemoteRecord {
  parameters: { nodes: number; faults_applied: boolean };
  environment: { testbed: { nodesPerHost: number; hosts: unknown[] } };
  runs: {
    results: { per_node: { node_id: string; committed: number }[] };
    blocks?: { faults?: FaultsBlock };
  }[];
}

/**
 * `benchmark --network-type remote` on the first `hostCount` sandbox hosts with `events` as its
 * scenario, a level of `load` tx/s for `seconds` (1 s warm-up) and `--cleanup`, as users run it:
 * its output, its faults block and its record, once it exited 0 and left the hosts clean.
 */
async function remoteScenario(
  name: string,
  hostCount: number,
  events: string,
  level: { readonly load: number; readonly seconds: number },
  flags: readonly string[] = [],
): Promise<{ stdout: string; block: FaultsBlock; record: RemoteRecord }> {
  const state = suite.sandbox;
  const used = state.hosts.slice(0, hostCount);
  const hosts = await hostsFile(state, name, used);
  const output = join(suite.dir, name);
  const scenario = join(suite.dir, `${name}.yaml`);
  await writeFile(scenario, `events:\n${events}`);
  const run = await runBin('benchmark', [
    '--network-type',
    'remote',
    '--hosts-file',
    hosts,
    ...flags,
    '--loads',
    String(level.load),
    '--duration',
    String(level.seconds),
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
  const record = JSON.parse(
    await readFile(join(output, runDir as string, 'remote-benchmark-1.json'), 'utf8'),
  ) as RemoteRecord;
  expect(record.parameters.faults_applied).toBe(true);
  for (const host of used) expect((await leftovers(host)).containers).toEqual([]);
  return { stdout: run.stdout, block: record.runs[0]?.blocks?.faults as FaultsBlock, record };
}

describe('crash faults on sandbox SSH hosts', () => {
  it('runs the same scenario over SSH, with the events on the timeline and the hosts left clean', async () => {
    const { block } = await remoteScenario(
      'remote',
      DOCKER_HOSTS,
      '  - { from: 4s, to: 8s, action: crash, nodes: [node3] }\n  - { from: 10s, to: 12s, action: pause, nodes: [node0] }\n',
      { load: 50, seconds: 16 },
    );
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
  }, 600_000);

  it('--nodes-per-host 2: a crash takes down one node of a host, and its neighbour there goes on', async () => {
    // node i runs on host i mod 2: node2 is host0's second node, beside node0; 8 s after the
    // restart for it to catch up, as the first test leaves its node3
    const { stdout, block, record } = await remoteScenario(
      'packed',
      2,
      '  - { from: 3s, to: 6s, action: crash, nodes: [node2] }\n',
      { load: 40, seconds: 14 },
      ['--nodes-per-host', '2'],
    );
    expect(stdout).toMatch(/remote \(4 nodes\)/);
    expect(record.parameters.nodes).toBe(4);
    expect(record.environment.testbed.nodesPerHost).toBe(2);
    expect(record.environment.testbed.hosts).toHaveLength(2);
    expect(block.events.map((e) => `${e.action} ${e.nodes.join(',')} ${e.errors ?? 'ok'}`)).toEqual([
      'kill node2 ok',
      'restart node2 ok',
    ]);
    expect(block.faults[0]?.resync[0]?.resynced_ms).not.toBeNull();
    // every node took load and committed it, node0 on the crashed node's host among them
    const perNode = record.runs[0]?.results.per_node ?? [];
    expect(perNode.map((n) => n.node_id)).toEqual(['node0', 'node1', 'node2', 'node3']);
    for (const node of perNode) expect(node.committed, JSON.stringify(node)).toBeGreaterThan(0);
  }, 600_000);
});
