/**
 * Attach mode (`benchmark --endpoints`, the sweep path without a deploy) against a
 * real refnode (one-node committee, a plain process on free loopback ports): the
 * cometbft adapter's broadcast, health probe and /websocket commit confirmation
 * against the node the project ships, through the CLI.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/benchmark.js';
import { runLoad } from '../../src/load/index.js';

const REFNODE = join(process.cwd(), 'dist', 'refnode', 'refnode.js');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let node: ChildProcess | undefined;
let dir: string;
let rpcUrl: string;

beforeAll(async () => {
  if (!existsSync(REFNODE)) {
    const build = spawn(process.execPath, ['systems/refnode/bundle.mjs'], { stdio: 'inherit' });
    await new Promise((resolve) => build.once('exit', resolve));
  }
  dir = await mkdtemp(join(tmpdir(), 'meshbench-attach-refnode-'));
  const [rpcPort, p2pPort] = [await freePort(), await freePort()];
  rpcUrl = `http://127.0.0.1:${rpcPort}`;
  node = spawn(
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
  for (;;) {
    const healthy = await fetch(`${rpcUrl}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) break;
    if (Date.now() > deadline) throw new Error(`refnode at ${rpcUrl} not healthy within 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  if (node && node.exitCode === null) {
    node.kill('SIGTERM');
    await new Promise((resolve) => node?.once('exit', resolve));
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('benchmark attach mode against a refnode', () => {
  it('confirms every tx through /websocket NewBlock events and writes the result files', async () => {
    const out = join(dir, 'out');
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await main([
        '--endpoints',
        rpcUrl,
        '--loads',
        '100,200',
        '--duration',
        '2',
        '--confirm',
        'commit',
        '--output-dir',
        out,
      ]);
    } finally {
      stdout.mockRestore();
    }
    expect(code).toBe(0);
    const runs = await readdir(out);
    expect(runs).toHaveLength(1);
    const [run] = runs;
    expect((await readdir(join(out, run as string))).sort()).toEqual([
      'endpoints-benchmark-1.json',
      'endpoints-benchmark-2.json',
      'report.html',
      'run.json',
      'summary.txt',
    ]);
    const records = await Promise.all(
      [1, 2].map(async (n) =>
        JSON.parse(await readFile(join(out, run as string, `endpoints-benchmark-${n}.json`), 'utf8')),
      ),
    );
    for (const [index, record] of records.entries()) {
      const load = [100, 200][index] as number;
      expect(record.network_type).toBe('endpoints');
      expect(record.parameters).toMatchObject({ nodes: 1, load, duration: 2, endpoints: [rpcUrl] });
      expect(record.results.outcomes.ok).toBe(load * 2);
      expect(record.results.outcomes.committed).toBe(load * 2);
      expect(record.results.outcomes.commitTimeout).toBe(0);
      expect(record.results.latency_stage).toBe('commit');
      expect(record.results.successful_transactions).toBe(load * 2);
      expect(record.results.commit_latency_ms.count).toBe(load * 2);
      // Between levels the sweep waits for the node's mempool to drain.
      expect(record.runs[0].settle).toMatchObject({ polled: true, drained: true });
    }
  });

  it('broadcast_tx_sync and broadcast_tx_commit are accepted and counted', async () => {
    const endpoints = [{ nodeId: 'node0', rpcUrl }];
    for (const broadcastMode of ['sync', 'commit'] as const) {
      const result = await runLoad({
        runId: `it-${broadcastMode}`,
        endpoints,
        protocol: { kind: 'cometbft', broadcastMode },
        shape: { kind: 'fixed', rate: 50 },
        durationMs: 1000,
        transactionSizeBytes: 200,
        confirm: broadcastMode === 'commit' ? 'commit' : 'none',
        requestTimeoutMs: 15_000,
      });
      expect(result.outcomes.ok).toBe(50);
      if (broadcastMode === 'commit') expect(result.outcomes.committed).toBe(50);
    }
  });
});
