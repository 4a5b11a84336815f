/**
 * Network sizes, topologies and the ingest endpoint on this machine's engine, as users run
 * them (bin/benchmark.js): a star and a ring of reference nodes commit (consensus messages
 * relayed over non-neighbours), `--committees 4,6` writes a record per size and the scaling
 * report, and a node container POSTing to its MESHBENCH_INGEST_URL lands in the record.
 * Levels of a few seconds.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchmarkRecord } from '../../src/results/record.js';
import type { IngestBlock } from '../../src/monitor/ingest/schema.js';
import { ROOT, runBin } from './run-bin.js';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-topology-it-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// A generous start-up wait: this 2-core machine is shared, and a slow start is not what is tested here.
const SHORT = [
  '--loads',
  '40',
  '--duration',
  '3',
  '--warmup',
  '1',
  '--settle-timeout',
  '10',
  '--startup-wait',
  '120',
  '--cleanup',
];

async function records(output: string): Promise<{ runDir: string; records: BenchmarkRecord[] }> {
  const [name] = await readdir(output);
  const runDir = join(output, name as string);
  const files = (await readdir(runDir)).filter((file) => /^local-benchmark-\d+\.json$/.test(file)).sort();
  return {
    runDir,
    records: await Promise.all(
      files.map(async (file) => JSON.parse(await readFile(join(runDir, file), 'utf8')) as BenchmarkRecord),
    ),
  };
}

interface TopologyRecordShape {
  readonly name: string;
  readonly hub: string;
  readonly edges: readonly (readonly [string, string])[];
}

async function topologyRun(name: string, args: readonly string[]) {
  const output = join(dir, name);
  const result = await runBin('benchmark', [...args, ...SHORT, '--output-dir', output]);
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  const {
    records: [record],
  } = await records(output);
  return record as BenchmarkRecord;
}

describe('topologies of reference nodes', () => {
  it('a star of 5 (node0 the hub) commits every transaction', async () => {
    const record = await topologyRun('star', ['--committee', '5', '--topology', 'star']);
    expect(record.results.efficiency).toBeGreaterThan(0.95);
    const topology = (record.environment.testbed as { topology?: TopologyRecordShape }).topology;
    expect(topology?.name).toBe('star');
    expect(topology?.hub).toBe('node0');
    expect(topology?.edges).toEqual([
      ['node0', 'node1'],
      ['node0', 'node2'],
      ['node0', 'node3'],
      ['node0', 'node4'],
    ]);
    expect((record.plan as { topology?: unknown }).topology).toEqual({ kind: 'star' });
  });

  it('a ring of 5 commits every transaction', async () => {
    const record = await topologyRun('ring', ['--committee', '5', '--topology', 'ring']);
    expect(record.results.efficiency).toBeGreaterThan(0.95);
    const topology = (record.environment.testbed as { topology?: TopologyRecordShape }).topology;
    expect(topology?.edges).toHaveLength(5);
  });
});

describe('--committees', () => {
  it('4,6: one network per size, a record each, and the scaling report', async () => {
    const output = join(dir, 'committees');
    const result = await runBin('benchmark', ['--committees', '4,6', ...SHORT, '--output-dir', output]);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/\[local n=4\] 4 nodes ready/);
    expect(result.stdout).toMatch(/\[local n=6\] 6 nodes ready/);
    const { runDir, records: written } = await records(output);
    expect(written.map((record) => [record.benchmark_number, record.parameters.nodes])).toEqual([
      [1, 4],
      [2, 6],
    ]);
    for (const record of written) expect(record.results.efficiency).toBeGreaterThan(0.9);
    const scaling = JSON.parse(await readFile(join(runDir, 'scaling.json'), 'utf8')) as {
      series: { rows: { nodes: number }[] }[];
      findings: string[];
    };
    expect(scaling.series[0]?.rows.map((row) => row.nodes)).toEqual([4, 6]);
    expect(scaling.findings[0]).toMatch(/^local at 40 tx\/s: throughput .* with 4 nodes, .* with 6/);
    expect(result.stdout).toMatch(/figures against network size/);
  });
});

describe('--ingest', () => {
  it("a node container POSTing to its MESHBENCH_INGEST_URL lands in the level's record", async () => {
    const output = join(dir, 'ingest');
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin/benchmark.js'),
        '--committee',
        '4',
        '--ingest',
        ...SHORT,
        // long enough for a docker exec on a busy machine to POST while the level still runs
        '--duration',
        '15',
        '--output-dir',
        output,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Once the level runs, POST from inside node0 with what its environment says.
    const running = new Promise<string>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const project = /compose project (meshbench-[\w-]+)/.exec(stdout)?.[1];
        if (project && /running for/.test(stdout)) resolve(project);
      });
    });
    const project = await Promise.race([running, closed.then(() => undefined)]);
    expect(project, `${stdout}\n${stderr}`).toBeDefined();
    const { stdout: ids } = await run('docker', [
      'ps',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--filter',
      'label=com.docker.compose.service=node0',
    ]);
    const container = ids.trim().split('\n')[0] as string;
    const script = `
      const url = process.env.MESHBENCH_INGEST_URL;
      (async () => {
        const statuses = [];
        for (let i = 0; i < 5; i++) {
          const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: 'app_sync_ms', value: i, tags: { node: process.env.REFNODE_ID } }) });
          statuses.push(r.status);
        }
        const bad = await fetch(url, { method: 'POST', body: 'not json and not line protocol' });
        statuses.push(bad.status);
        const lp = await fetch(url.replace('/ingest', '/write'), { method: 'POST', body: 'app_peers,node=n0 value=3i' });
        statuses.push(lp.status);
        console.log(url + ' ' + statuses.join(','));
      })();`;
    // The exec may end non-zero when the network is removed right after the POSTs (a busy
    // machine runs it late); what it printed is what counts.
    const posted = await run('docker', ['exec', container, '/usr/local/bin/node', '-e', script]).catch(
      (error: { stdout?: string; stderr?: string }) => ({
        stdout: error.stdout ?? '',
        stderr: error.stderr ?? '',
      }),
    );
    expect(posted.stdout.trim(), `${posted.stderr}\n${stdout}\n${stderr}`).toMatch(
      /^http:\/\/[\d.]+:\d+\/ingest 204,204,204,204,204,400,204$/,
    );
    expect(await closed, `${stdout}\n${stderr}`).toBe(0);
    const {
      records: [record],
    } = await records(output);
    const block = record?.runs[0]?.blocks?.ingest as IngestBlock | undefined;
    expect(block, JSON.stringify(record?.runs[0]?.blocks ?? {})).toBeDefined();
    expect(block?.points.filter((p) => p.name === 'app_sync_ms').map((p) => p.value)).toEqual([
      0, 1, 2, 3, 4,
    ]);
    expect(block?.points.find((p) => p.name === 'app_peers')).toMatchObject({
      value: 3,
      tags: { node: 'n0' },
    });
    expect(block?.rejected_requests).toBe(1);
    for (const point of block?.points ?? []) {
      expect(point.t_ms).toBeGreaterThan(0);
      expect(point.t_ms).toBeLessThan(20_000);
    }
  });
});
