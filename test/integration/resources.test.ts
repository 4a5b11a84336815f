/**
 * The resource monitor on a real local network: `benchmark` as users run it (bin/benchmark.js)
 * on a 4-node refnode network on this machine's engine, one short level, a node killed in
 * the middle of it. Every node has plausible figures from the engine's stats stream (CPU,
 * working set, network), the killed one is marked down and the run goes on, the host and the
 * generator are sampled, the quiet check is recorded, the record validates, the summary has
 * the table, and nothing of the run is left (no container, no stats request).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourcesBlock } from '../../src/monitor/resources/schema.js';
import { resourcesBlockSchema } from '../../src/monitor/resources/schema.js';
import { runBin } from './run-bin.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-resources-it-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function note(line: string): void {
  process.stdout.write(`    ${line}\n`);
}

const NODES = ['node0', 'node1', 'node2', 'node3'];

describe('resources on a local refnode network', () => {
  it('gives every node plausible figures, marks a node killed mid-level as down, and goes on', async () => {
    const scenario = join(dir, 'kill-node3.yaml');
    await writeFile(
      scenario,
      'version: 1\nname: kill node3 mid-level\nevents:\n  - { at: 4s, action: crash, nodes: [node3] }\n',
    );
    const output = join(dir, 'out');
    const run = await runBin('benchmark', [
      '--committee',
      '4',
      '--loads',
      '200',
      '--duration',
      '7',
      '--scenario',
      scenario,
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const [runDir] = await readdir(output);
    const folder = join(output, runDir as string);
    const record = JSON.parse(await readFile(join(folder, 'local-benchmark-1.json'), 'utf8')) as {
      runs: { blocks?: { resources?: ResourcesBlock } }[];
      environment: { testbed: { composeProject?: string } };
    };
    const block = record.runs[0]?.blocks?.resources;
    if (!block) throw new Error(`no resources block\n${run.stdout}`);
    expect(resourcesBlockSchema.safeParse(block).success).toBe(true);
    expect(block.interval_ms).toBe(1000);
    expect(block.nodes.map((node) => node.node_id)).toEqual(NODES);
    for (const node of block.nodes) {
      note(
        `${node.node_id}: cpu mean ${node.cpu_percent.mean}% p99 ${node.cpu_percent.p99}%, mem ${(node.memory_bytes.mean / 2 ** 20).toFixed(1)} MiB, rx ${((node.net_rx_bytes_per_s?.mean ?? 0) / 1024).toFixed(1)} KiB/s, tx ${((node.net_tx_bytes_per_s?.mean ?? 0) / 1024).toFixed(1)} KiB/s, down ${JSON.stringify(node.down_s)}`,
      );
      // node3 dies at 4 s: on a busy machine the stream's first readings come late (CI: 1 before)
      expect(node.cpu_percent.count, node.node_id).toBeGreaterThanOrEqual(node.node_id === 'node3' ? 1 : 2);
      // a busy refnode uses some CPU, at most the machine's cores
      expect(node.cpu_percent.mean, node.node_id).toBeGreaterThan(0.5);
      expect(node.cpu_percent.max, node.node_id).toBeLessThanOrEqual(100 * 2 + 5);
      // a node process: megabytes, not bytes nor gigabytes
      expect(node.memory_bytes.mean, node.node_id).toBeGreaterThan(5 * 2 ** 20);
      expect(node.memory_bytes.max, node.node_id).toBeLessThan(2 * 2 ** 30);
      // 200 tx/s of 512 bytes, spread over 4 nodes and gossiped: kilobytes a second each way
      expect(node.net_rx_bytes_per_s?.mean, node.node_id).toBeGreaterThan(1000);
      expect(node.net_tx_bytes_per_s?.mean, node.node_id).toBeGreaterThan(1000);
      expect(node.container_id, node.node_id).toMatch(/^[0-9a-f]{12}$/);
    }
    const killed = block.nodes.find((node) => node.node_id === 'node3');
    expect(killed?.down_s.length).toBeGreaterThanOrEqual(2);
    expect(killed?.down_s[0]).toBeGreaterThanOrEqual(4);
    for (const node of block.nodes.filter((node) => node.node_id !== 'node3'))
      expect(node.down_s).toEqual([]);
    expect(block.hosts).toHaveLength(1);
    const host = block.hosts[0]!;
    note(
      `host: cpu mean ${host.cpu_percent.mean}% of ${host.cpus} CPUs, load1 ${host.load1.mean}, mem used ${(host.memory_used_bytes.mean / 2 ** 30).toFixed(2)} GiB`,
    );
    expect(host.cpu_percent.count).toBeGreaterThanOrEqual(4);
    expect(host.cpu_percent.mean).toBeGreaterThan(0);
    expect(host.memory_used_bytes.mean).toBeGreaterThan(0);
    note(
      `generator: cpu mean ${block.generator.cpu_percent.mean}%, loop delay p99 ${block.generator.event_loop_delay_ms.p99} ms, bottleneck ${block.generator.bottleneck}`,
    );
    expect(block.generator.cpu_percent.count).toBeGreaterThanOrEqual(5);
    expect(block.generator.cpu_percent.mean).toBeGreaterThan(0);
    expect(block.environment?.window_ms).toBeGreaterThanOrEqual(900);
    note(`quiet: ${block.environment?.quiet} ${JSON.stringify(block.environment?.reasons)}`);
    const summary = await readFile(join(folder, 'summary.txt'), 'utf8');
    expect(summary).toMatch(/Resources, every 1000 ms:/);
    expect(summary).toMatch(/node3 .*\d+ samples/);
    // nothing of the run left: its containers are removed, so no stats request can remain
    const project = record.environment.testbed.composeProject;
    expect(project).toBeTruthy();
    const left = execFileSync('docker', [
      'ps',
      '-aq',
      '--filter',
      `label=com.docker.compose.project=${project}`,
    ])
      .toString()
      .trim();
    expect(left).toBe('');
  });

  it('refuses a monitor interval below 100 ms or above the level in one line, before deploying', async () => {
    const low = await runBin('benchmark', [
      '--monitor-interval',
      '50',
      '--duration',
      '6',
      '--output-dir',
      dir,
    ]);
    expect(low.code).toBe(2);
    expect(low.stderr.trim().split('\n')[0]).toMatch(/--monitor-interval "50" is not valid: below 100 ms/);
    expect(low.stderr).not.toMatch(/\n\s+at /);
    const high = await runBin('benchmark', [
      '--monitor-interval',
      '7000',
      '--duration',
      '6',
      '--output-dir',
      dir,
    ]);
    expect(high.code).toBe(2);
    expect(high.stderr).toMatch(/longer than a level \(--duration 6 s\)/);
  });
});
