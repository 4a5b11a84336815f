/**
 * Attach mode's resources from the endpoints' own Prometheus metrics, against systems not
 * written here and our reference node: Debian's etcd (3.4, its /metrics has client_golang's
 * process_* series) and a refnode process (prom-client's refnode_process_*), read by
 * `--endpoint-metrics`; and Debian's Prometheus (2.42) scraping etcd through the generator's
 * `/sd/nodes`, read back by PromQL with `--prometheus-url`. The figures are held against the
 * kernel's own count of the process (/proc/PID/stat and status). A metrics URL that does not
 * answer is one warning line and the run goes on (the record says what is missing), or, with
 * `--require-monitoring`, one error line before the first level and no run folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourcesBlock } from '../../src/monitor/resources/schema.js';
import { startEtcdMember, type EtcdMember } from './etcd-fixture.js';
import { freePort, startPrometheus, type Started } from './monitoring-fixture.js';
import { ROOT, runBin } from './run-bin.js';

const REFNODE = join(ROOT, 'dist', 'refnode', 'refnode.js');
const TICKS_PER_SECOND = 100; // USER_HZ on Linux (getconf CLK_TCK)

let dir: string;
let etcd: EtcdMember | undefined;
let refnode: ChildProcess | undefined;
let refnodeUrl: string;

function note(line: string): void {
  process.stdout.write(`    ${line}\n`);
}

/** The kernel's count of a process: CPU seconds (user + system) and resident bytes. */
async function procOf(pid: number): Promise<{ cpuSeconds: number; rssBytes: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3, utime 14 and stime 15 (1-based), so 11 and 12 here.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return { cpuSeconds: ticks / TICKS_PER_SECOND, rssBytes: rssKb * 1024 };
}

async function resourcesOf(output: string): Promise<ResourcesBlock> {
  const [runDir] = await readdir(output);
  const record = JSON.parse(
    await readFile(join(output, runDir as string, 'endpoints-benchmark-1.json'), 'utf8'),
  ) as { runs: { blocks: { resources: ResourcesBlock } }[] };
  return record.runs[0]?.blocks.resources as ResourcesBlock;
}

/** The CPU seconds a node's series accounts for (each sample covers one interval). */
function cpuSecondsOf(block: ResourcesBlock, index = 0): number {
  const intervalS = block.interval_ms / 1000;
  return (block.nodes[index]?.series ?? []).reduce(
    (sum, sample) => sum + ('cpu_percent' in sample ? (sample.cpu_percent / 100) * intervalS : 0),
    0,
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-attached-resources-'));
  etcd = await startEtcdMember();
  if (!existsSync(REFNODE)) throw new Error(`${REFNODE} is missing: run npm run build first`);
  const [rpcPort, p2pPort] = [await freePort(), await freePort()];
  refnodeUrl = `http://127.0.0.1:${rpcPort}`;
  refnode = spawn(
    process.execPath,
    [
      REFNODE,
      ...['--id', 'node0', '--peers', `node0@127.0.0.1:${p2pPort}`, '--listen', '127.0.0.1'],
      ...['--rpc-port', String(rpcPort), '--p2p-port', String(p2pPort), '--metrics-port', '0'],
      ...['--data-dir', join(dir, 'node0'), '--fsync', 'false', '--log-level', 'warn'],
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const deadline = Date.now() + 20_000;
  while (
    !(await fetch(`${refnodeUrl}/health`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) throw new Error(`refnode at ${refnodeUrl} not healthy within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 60_000);

afterAll(async () => {
  if (refnode && refnode.exitCode === null) {
    const exited = new Promise((resolve) => refnode?.once('exit', resolve));
    refnode.kill('SIGTERM');
    await exited;
  }
  await etcd?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('attach mode: resources from the endpoints’ Prometheus metrics', () => {
  it('--endpoint-metrics on etcd: CPU and resident memory per second, as the kernel counts them', async () => {
    const member = etcd as EtcdMember;
    const pid = member.pid() as number;
    const before = await procOf(pid);
    const output = join(dir, 'etcd');
    const run = await runBin('benchmark', [
      ...['--protocol', 'etcd', '--endpoints', member.clientUrl],
      ...['--endpoint-metrics', `${member.clientUrl}/metrics`],
      ...['--loads', '200', '--duration', '5', '--output-dir', output],
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const after = await procOf(pid);
    const block = await resourcesOf(output);
    const node = block.nodes[0];
    note(
      `etcd: ${JSON.stringify({ cpu: node?.cpu_percent, mem: node?.memory_bytes.max, samples: node?.series.length })}; kernel: ${(after.cpuSeconds - before.cpuSeconds).toFixed(2)} CPU s, RSS ${after.rssBytes}`,
    );
    expect(block.absent).toBeUndefined();
    expect(block.nodes).toHaveLength(1);
    expect(node).toMatchObject({
      node_id: 'endpoint0',
      source: 'prometheus_scrape',
      metrics_url: `${member.clientUrl}/metrics`,
      down_s: [],
    });
    // etcd's page has no network or disk counter of its process: those figures are absent, not 0.
    expect(node?.net_rx_bytes_per_s).toBeUndefined();
    expect(node?.block_write_bytes_per_s).toBeUndefined();
    expect(node?.series.length).toBeGreaterThanOrEqual(3);
    expect(node?.cpu_percent.mean).toBeGreaterThan(0);
    // The samples cover part of the run: at most what the kernel counted for the whole of it.
    const accounted = cpuSecondsOf(block);
    expect(accounted).toBeGreaterThan(0);
    expect(accounted).toBeLessThanOrEqual((after.cpuSeconds - before.cpuSeconds) * 1.15 + 0.05);
    // client_golang reads /proc/PID/stat's rss: the same figure, a few moments apart.
    expect(node?.memory_bytes.max).toBeGreaterThan(after.rssBytes * 0.5);
    expect(node?.memory_bytes.max).toBeLessThan(after.rssBytes * 2);
  }, 120_000);

  it('--endpoint-metrics on a refnode: its prefixed process metrics (refnode_process_*)', async () => {
    const pid = refnode?.pid as number;
    const output = join(dir, 'refnode');
    const run = await runBin('benchmark', [
      ...['--endpoints', refnodeUrl, '--endpoint-metrics', `${refnodeUrl}/metrics`],
      // 8 s: on a busy machine (CI's other lane) this single-threaded node answered its page
      // only twice in a 4 s level (each read over a second; a read still going skips a tick)
      ...['--loads', '100', '--duration', '8', '--output-dir', output],
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const after = await procOf(pid);
    const block = await resourcesOf(output);
    const node = block.nodes[0];
    note(
      `refnode: ${JSON.stringify({ cpu: node?.cpu_percent, mem: node?.memory_bytes.max })}, RSS ${after.rssBytes}`,
    );
    expect(node).toMatchObject({ source: 'prometheus_scrape' });
    // A single-threaded node under load may answer its page late: a late answer is a sample, not a gap.
    expect(node?.series.filter((sample) => !('down' in sample)).length).toBeGreaterThanOrEqual(2);
    expect(node?.down_s).toEqual([]);
    expect(node?.cpu_percent.mean).toBeGreaterThan(0);
    expect(node?.memory_bytes.max).toBeGreaterThan(after.rssBytes * 0.5);
    expect(node?.memory_bytes.max).toBeLessThan(after.rssBytes * 2);
    const [runDir] = await readdir(output);
    const summary = await readFile(join(output, runDir as string, 'summary.txt'), 'utf8');
    expect(summary).toMatch(/endpoint0@127\.0\.0\.1:\d+ +│ [\d.]+/);
  }, 120_000);

  it('--prometheus-url: the same figures by PromQL from a Prometheus that scrapes etcd through /sd/nodes', async () => {
    const member = etcd as EtcdMember;
    const generatorPort = await freePort();
    const prometheus: Started = await startPrometheus(generatorPort);
    try {
      const output = join(dir, 'promql');
      const run = await runBin('benchmark', [
        ...['--protocol', 'etcd', '--endpoints', member.clientUrl],
        ...['--endpoint-metrics', `${member.clientUrl}/metrics`],
        ...['--metrics-port', String(generatorPort), '--prometheus-url', prometheus.url],
        ...['--require-monitoring', '--loads', '200', '--duration', '8', '--output-dir', output],
      ]);
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      const after = await procOf(member.pid() as number);
      const block = await resourcesOf(output);
      const node = block.nodes[0];
      note(
        `promql: ${JSON.stringify({ cpu: node?.cpu_percent, mem: node?.memory_bytes.max, samples: node?.series.length, errors: block.errors })}`,
      );
      expect(block.source).toContain('PromQL');
      expect(node).toMatchObject({ node_id: 'endpoint0', source: 'prometheus_query' });
      // Prometheus finds the target a second or two into the level (service discovery, then two scrapes).
      expect(node?.series.length).toBeGreaterThanOrEqual(3);
      expect(node?.cpu_percent.max).toBeGreaterThan(0);
      expect(node?.memory_bytes.max).toBeGreaterThan(after.rssBytes * 0.5);
      expect(node?.memory_bytes.max).toBeLessThan(after.rssBytes * 2);
    } finally {
      await prometheus.stop();
    }
  }, 120_000);

  it('a metrics URL that does not answer: one line and the run goes on; with --require-monitoring, no run', async () => {
    const dead = `http://127.0.0.1:${await freePort()}/metrics`;
    const output = join(dir, 'dead');
    const args = (out: string) => [
      ...['--endpoints', refnodeUrl, '--endpoint-metrics', dead],
      ...['--loads', '100', '--duration', '3', '--output-dir', out],
    ];
    const run = await runBin('benchmark', args(output));
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const lines = run.stderr.split('\n').filter((line) => line.includes(dead));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('did not answer');
    const block = await resourcesOf(output);
    expect(block.errors?.join('\n')).toContain(`${dead} did not answer`);
    expect(block.nodes[0]?.series.every((sample) => 'down' in sample)).toBe(true);

    const strict = join(dir, 'strict');
    const stopped = await runBin('benchmark', [...args(strict), '--require-monitoring']);
    expect(stopped.code).toBe(1);
    const errorLines = stopped.stderr.trim().split('\n');
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/error: --endpoint-metrics: endpoint0: .* did not answer/);
    expect(stopped.stderr).not.toMatch(/\n\s+at /);
    expect(await readdir(strict).catch(() => [])).toEqual([]);
  }, 120_000);
});
