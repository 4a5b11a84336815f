/**
 * Attach mode end to end against counting servers: probe, levels, result files in
 * a new run folder, the table; and every bad input as a one-line error.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runAttach } from '../../../src/bench/attach.js';
import { main } from '../../../src/cli/benchmark.js';
import { MeshbenchError } from '../../../src/common/errors.js';
import { probeEndpoints } from '../../../src/load/index.js';
import { cometbftOk, startCountingServer } from './test-servers.js';
import type { CountingServer } from './test-servers.js';

let dir: string;
let node: CountingServer;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-attach-'));
  node = await startCountingServer((r) =>
    r.url === '/health' ? { body: '{"jsonrpc":"2.0","id":-1,"result":{}}' } : { body: cometbftOk(r.body) },
  );
});
afterEach(async () => {
  await node.close();
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('benchmark attach mode', () => {
  it('probes, runs each load and writes one seed-format JSON per load into a new run folder', async () => {
    const { code, stdout, stderr } = await cli([
      '--endpoints',
      node.url,
      '--loads',
      '100,200',
      '--duration',
      '0.5',
      '--transaction-size',
      '300',
      '--output-dir',
      dir,
    ]);
    expect(stderr).not.toMatch(/error/);
    expect(code).toBe(0);
    expect(stdout).toMatch(/load tx\/s/);
    const runs = await readdir(dir);
    expect(runs).toHaveLength(1);
    const files = (await readdir(join(dir, runs[0] as string))).sort();
    expect(files).toEqual(['endpoints-benchmark-1.json', 'endpoints-benchmark-2.json']);
    const record = JSON.parse(await readFile(join(dir, runs[0] as string, files[1] as string), 'utf8'));
    expect(record).toMatchObject({
      network_type: 'endpoints',
      benchmark_number: 2,
      parameters: { nodes: 1, load: 200, duration: 0.5, transaction_size: 300 },
      results: { successful_transactions: 100, failed_transactions: 0, duration_secs: 0.5, throughput: 200 },
    });
    expect(typeof record.timestamp).toBe('string');
    expect(record.results.avg_latency_ms).toBeGreaterThan(0);
    expect(record.results.latency_std_dev_ms).toBeGreaterThanOrEqual(0);
    expect(record.results.ack_latency_uncorrected_ms.count).toBe(100);
    // /health probe + 50 + 100 transactions.
    expect(node.requests.filter((r) => r.url === '/health')).toHaveLength(1);
    expect(node.requests.filter((r) => r.url === '/')).toHaveLength(150);
    // A second run never overwrites the first.
    await cli(['--endpoints', node.url, '--loads', '50', '--duration', '0.2', '--output-dir', dir]);
    expect(await readdir(dir)).toHaveLength(2);
  });

  it.each([
    [['--loads', '0'], /--loads "0" is not allowed; use rates above 0/],
    [['--loads', '-3'], /--loads "-3" is not allowed/],
    [
      ['--transaction-size', '0'],
      /--transaction-size "0" is not allowed; use a whole number of bytes from 1 to 16777216/,
    ],
    [['--transaction-size', '16777217'], /--transaction-size "16777217" is not allowed/],
    [['--protocol', 'grpc'], /--protocol "grpc" is not allowed; use one of cometbft, etcd, http/],
    [['--confirm', 'always'], /--confirm "always" is not allowed; use one of none, commit/],
    [['--endpoints', 'http//broken'], /endpoint URL "http\/\/broken" cannot be parsed; use a full URL/],
  ])('rejects %j with one line and exit 2', async (extra, message) => {
    const base = ['--endpoints', node.url, '--loads', '100', '--duration', '1', '--output-dir', dir];
    const args =
      extra[0] === '--endpoints' ? [...extra, '--loads', '100', '--output-dir', dir] : [...base, ...extra];
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(node.received).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });

  it('names an unreachable endpoint and the fix, exit 1, nothing written', async () => {
    const { code, stderr } = await cli([
      '--endpoints',
      'http://127.0.0.1:9',
      '--loads',
      '100',
      '--output-dir',
      dir,
    ]);
    expect(code).toBe(1);
    const errors = stderr
      .trim()
      .split('\n')
      .filter((line) => line.includes('error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^benchmark: error: endpoint http:\/\/127\.0\.0\.1:9\/health is not reachable \(ECONNREFUSED\); start the node or fix the URL/,
    );
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(await readdir(dir)).toEqual([]);
  });

  it('probeEndpoints: cometbft GET /health, etcd POST /v3/maintenance/status, http GET /; unhealthy answers fail', async () => {
    await probeEndpoints([{ nodeId: 'n', rpcUrl: node.url }], 'cometbft', 1000);
    await probeEndpoints([{ nodeId: 'n', rpcUrl: node.url }], 'etcd', 1000);
    await probeEndpoints([{ nodeId: 'n', rpcUrl: node.url }], 'http', 1000);
    expect(node.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /health',
      'POST /v3/maintenance/status',
      'GET /',
    ]);
    const sick = await startCountingServer(() => ({ status: 503, body: 'starting' }));
    try {
      const error = await probeEndpoints([{ nodeId: 'n', rpcUrl: sick.url }], 'cometbft', 1000).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(MeshbenchError);
      expect((error as MeshbenchError).code).toBe('ENDPOINT_UNREACHABLE');
      expect((error as MeshbenchError).message).toContain(`${sick.url}/health`);
      expect((error as MeshbenchError).message).toContain('HTTP 503');
    } finally {
      await sick.close();
    }
    const silent = await startCountingServer(() => ({ hang: true }));
    try {
      const error = await probeEndpoints([{ nodeId: 'n', rpcUrl: silent.url }], 'cometbft', 200).catch(
        (e: unknown) => e,
      );
      expect((error as MeshbenchError).message).toMatch(/no answer within 200 ms/);
    } finally {
      await silent.close();
    }
  });

  it('runAttach stops after the level that was interrupted and says so', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const outcome = await runAttach({
      endpoints: [node.url],
      loads: [100, 200],
      durationSecs: 5,
      protocol: { kind: 'cometbft', broadcastMode: 'async' },
      confirm: 'none',
      transactionSizeBytes: 64,
      outputDir: dir,
      signal: controller.signal,
    });
    expect(outcome.interrupted).toBe(true);
    expect(outcome.levels).toHaveLength(1);
    expect(outcome.levels[0]?.record.interrupted).toBe(true);
  });
});
