/**
 * The resource monitor on sandbox hosts over SSH: `benchmark --network-type remote` as users
 * run it, one node per host. Every remote node has figures from its host's engine (the stats
 * stream through the SSH-forwarded socket), every host has CPU, memory and load from one
 * long-lived loop over its SSH connection, and when the run is over no loop is left running
 * on any host.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resourcesBlockSchema, type ResourcesBlock } from '../../src/monitor/resources/schema.js';
import { docker } from '../../src/testbed/sandbox/sandbox.js';
import { runBin } from './run-bin.js';
import { DOCKER_HOSTS, hostsFile, note, sandboxSuite } from './sandbox-fixture.js';

const suite = sandboxSuite('resources-remote');

describe('resources on remote sandbox hosts', () => {
  it('gives every remote node and host figures over SSH, and leaves no loop running on the hosts', async () => {
    const hosts = suite.sandbox.hosts.slice(0, DOCKER_HOSTS);
    const file = await hostsFile(suite.sandbox, 'resources', hosts);
    const output = join(suite.dir, 'out');
    const run = await runBin('benchmark', [
      '--network-type',
      'remote',
      '--hosts-file',
      file,
      '--loads',
      '100',
      '--duration',
      '6',
      '--startup-wait',
      '120',
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const [runDir] = await readdir(output);
    const record = JSON.parse(
      await readFile(join(output, runDir as string, 'remote-benchmark-1.json'), 'utf8'),
    ) as { runs: { blocks?: { resources?: ResourcesBlock } }[] };
    const block = record.runs[0]?.blocks?.resources;
    if (!block) throw new Error(`no resources block\n${run.stdout}`);
    expect(resourcesBlockSchema.safeParse(block).success).toBe(true);
    expect(block.errors ?? []).toEqual([]);
    expect(block.nodes).toHaveLength(hosts.length);
    for (const node of block.nodes) {
      note(
        `${node.node_id}@${node.host}: cpu mean ${node.cpu_percent.mean}%, mem ${(node.memory_bytes.mean / 2 ** 20).toFixed(1)} MiB, rx ${((node.net_rx_bytes_per_s?.mean ?? 0) / 1024).toFixed(1)} KiB/s`,
      );
      expect(hosts.map((host) => host.name)).toContain(node.host);
      expect(node.cpu_percent.count, node.node_id).toBeGreaterThanOrEqual(2);
      expect(node.cpu_percent.mean, node.node_id).toBeGreaterThan(0.1);
      expect(node.memory_bytes.mean, node.node_id).toBeGreaterThan(5 * 2 ** 20);
      // remote nodes run with --network host: no counters of their own, and the record says so
      expect(node.host_network, node.node_id).toBe(true);
      expect(node.down_s).toEqual([]);
    }
    expect(block.hosts.map((host) => host.host).sort()).toEqual(hosts.map((host) => host.name).sort());
    for (const host of block.hosts) {
      note(`host ${host.host}: cpu mean ${host.cpu_percent.mean}% of ${host.cpus}, load1 ${host.load1.mean}`);
      expect(host.cpu_percent.count, host.host).toBeGreaterThanOrEqual(3);
      expect(host.memory_used_bytes.mean, host.host).toBeGreaterThan(0);
      expect(Object.keys(host.interfaces).length, host.host).toBeGreaterThan(0);
    }
    expect(block.environment?.hosts?.length).toBe(hosts.length);
    for (const host of hosts) {
      const loops = await docker(['exec', host.container, 'pgrep', '-f', 'meshbench-host-files']);
      expect(loops.stdout.trim(), host.name).toBe('');
    }
  });
});
