/**
 * Attach mode (`benchmark --endpoints`) end to end against counting servers: probe,
 * levels, result files in a new run folder, the table; and every bad input as a
 * one-line error. Attach mode is the sweep path (src/bench/sweep.ts) with no deploy.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildBenchmarkPlan } from '../../../src/bench/plan.js';
import { runBenchmark } from '../../../src/results/run.js';
import { main } from '../../../src/cli/benchmark.js';
import { MeshbenchError } from '../../../src/common/errors.js';
import { probeEndpoints, runLoad } from '../../../src/load/index.js';
import { resultValidator } from '../../../src/results/validate.js';
import { cometbftOk, startCountingServer } from './test-servers.js';
import type { CountingServer } from './test-servers.js';
import { defaultReporters } from '../../../src/report/reporters.js';

let dir: string;
let node: CountingServer;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-attach-'));
  // A cometbft-shaped node: /health for the probe, an empty mempool for the settle
  // poll between levels, and an ok for every broadcast.
  node = await startCountingServer((r) =>
    r.url === '/health'
      ? { body: '{"jsonrpc":"2.0","id":-1,"result":{}}' }
      : r.url === '/num_unconfirmed_txs'
        ? { body: '{"jsonrpc":"2.0","id":-1,"result":{"n_txs":"0","total":"0"}}' }
        : { body: cometbftOk(r.body) },
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
    // --confirm none: the counting server has no /websocket (cometbft defaults to commit).
    const { code, stdout, stderr } = await cli([
      '--endpoints',
      node.url,
      '--loads',
      '100,200',
      '--duration',
      '1',
      '--confirm',
      'none',
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
    expect(files).toEqual([
      'endpoints-benchmark-1.json',
      'endpoints-benchmark-2.json',
      'report.html',
      'run.json',
      'summary.txt',
    ]);
    const record = JSON.parse(await readFile(join(dir, runs[0] as string, files[1] as string), 'utf8'));
    expect(record).toMatchObject({
      network_type: 'endpoints',
      benchmark_number: 2,
      parameters: { nodes: 1, load: 200, duration: 1, transaction_size: 300, endpoints: [node.url] },
      results: { successful_transactions: 200, failed_transactions: 0, duration_secs: 1, throughput: 200 },
    });
    expect(typeof record.timestamp).toBe('string');
    expect(record.results.avg_latency_ms).toBeGreaterThan(0);
    expect(record.results.latency_std_dev_ms).toBeGreaterThanOrEqual(0);
    expect(record.results.ack_latency_uncorrected_ms.count).toBe(200);
    // /health probe + 100 + 200 transactions.
    expect(node.requests.filter((r) => r.url === '/health')).toHaveLength(1);
    expect(node.requests.filter((r) => r.url === '/')).toHaveLength(300);
    // A second run never overwrites the first.
    await cli([
      '--endpoints',
      node.url,
      '--loads',
      '50',
      '--duration',
      '1',
      '--confirm',
      'none',
      '--output-dir',
      dir,
    ]);
    expect(await readdir(dir)).toHaveLength(2);
  });

  // A repeated --loads adds to the list (the base has --loads 100): the error quotes it all.
  it.each([
    [['--loads', '0'], /--loads "100,0" is not valid: "0" is not a load; .*each a number > 0/],
    [['--loads', '-3'], /--loads "100,-3" is not valid: "-3" is not a load/],
    [
      ['--transaction-size', '0'],
      /--transaction-size "0" is not valid: a whole number of bytes from 1 to 16777216/,
    ],
    [['--transaction-size', '16777217'], /--transaction-size "16777217" is not valid/],
    [['--protocol', 'grpc'], /--protocol "grpc" is not valid: one of cometbft, etcd, http/],
    [['--confirm', 'always'], /--confirm "always" is not valid: one of none, commit/],
    [
      ['--endpoints', 'http//broken'],
      /--endpoints "http\/\/broken" is not valid: "http\/\/broken" is not a URL; give http\(s\):\/\/host:port URLs/,
    ],
    [
      ['--protocol', 'http', '--http-header', 'no colon'],
      /--http-header "no colon" is not valid: a header as "Name: value"/,
    ],
    [
      ['--protocol', 'http', '--http-method', 'FETCH'],
      /--http-method "FETCH" is not valid: one of GET, POST/,
    ],
    [
      ['--protocol', 'http', '--http-path', 'x'],
      /--http-path "x" is not valid: a request path starting with \//,
    ],
    [['--http-path', '/x'], /--http-path "\/x" is not valid: applies to --protocol http only/],
    [
      ['--protocol', 'http', '--etcd-key-prefix', 'k/'],
      /--etcd-key-prefix "k\/" is not valid: applies to --protocol etcd only/,
    ],
    [
      ['--protocol', 'etcd', '--confirm', 'commit'],
      /--confirm "commit" is not valid: commit confirmation needs --protocol cometbft/,
    ],
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

  it('stops after the level that was interrupted and says so', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const plan = await buildBenchmarkPlan({
      endpoints: node.url,
      loads: '100,200',
      duration: 5,
      confirm: 'none',
      transactionSize: 64,
      outputDir: dir,
      consoleOutput: false,
    });
    const outcome = await runBenchmark(plan, {
      reporters: defaultReporters(),
      createTestbed: () => {
        throw new Error('attach mode must not deploy');
      },
      runLoad,
      probeEndpoints: (endpoints, protocol) => probeEndpoints(endpoints, protocol),
      stdout: () => undefined,
      stderr: () => undefined,
      signal: controller.signal,
    });
    expect(outcome.interrupted).toBe(true);
    expect(outcome.records).toHaveLength(1);
    expect(outcome.records[0]?.interrupted).toBe(true);
    expect(node.requests.filter((r) => r.url === '/').length).toBeLessThan(500);
  });

  it('maps the --http-* flags onto the http adapter and sends what they say', async () => {
    const { code, stderr } = await cli([
      '--endpoints',
      node.url,
      '--protocol',
      'http',
      '--http-method',
      'put',
      '--http-path',
      '/submit',
      '--http-body',
      '{"data":"{{tx}}","n":{{seq}}}',
      '--http-header',
      'X-Api-Key: secret',
      '--http-header',
      'X-Tenant: a',
      '--loads',
      '20',
      '--duration',
      '1',
      '--transaction-size',
      '16',
      '--output-dir',
      dir,
    ]);
    expect(stderr).not.toMatch(/error/);
    expect(code).toBe(0);
    const sent = node.requests.filter((r) => r.url === '/submit');
    expect(sent).toHaveLength(20);
    for (const request of sent) {
      expect(request.method).toBe('PUT');
      expect(request.headers['x-api-key']).toBe('secret');
      expect(request.headers['x-tenant']).toBe('a');
      const body = JSON.parse(request.body) as { data: string; n: number };
      expect(Buffer.from(body.data, 'base64')).toHaveLength(16);
      expect(typeof body.n).toBe('number');
    }
    const [run] = await readdir(dir);
    const record = JSON.parse(await readFile(join(dir, run as string, 'endpoints-benchmark-1.json'), 'utf8'));
    expect(record.parameters).toMatchObject({ protocol: 'http', confirm: 'none' });
    expect(record.plan.protocol).toEqual({
      kind: 'http',
      method: 'PUT',
      path: '/submit',
      headers: { 'x-api-key': 'secret', 'x-tenant': 'a' },
      bodyTemplate: '{"data":"{{tx}}","n":{{seq}}}',
    });
  });

  it('maps --etcd-key-prefix onto the etcd adapter', async () => {
    // an etcd-shaped answer to each put: a run with none accepted exits 1
    await etcdNode();
    const { code } = await cli([
      '--endpoints',
      node.url,
      '--protocol',
      'etcd',
      '--etcd-key-prefix',
      'bench/',
      '--loads',
      '10',
      '--duration',
      '1',
      '--output-dir',
      dir,
    ]);
    expect(code).toBe(0);
    const puts = node.requests.filter((r) => r.url === '/v3/kv/put');
    expect(puts).toHaveLength(10);
    for (const put of puts) {
      const key = Buffer.from((JSON.parse(put.body) as { key: string }).key, 'base64').toString();
      expect(key.startsWith('bench/')).toBe(true);
    }
  });

  /** An etcd-shaped node: the status probe, and a header for every put. */
  async function etcdNode(): Promise<CountingServer> {
    await node.close();
    node = await startCountingServer(() => ({ body: '{"header":{"cluster_id":"1","revision":"2"}}' }));
    return node;
  }

  const putKeys = () =>
    node.requests
      .filter((r) => r.url === '/v3/kv/put')
      .map((r) => Buffer.from((JSON.parse(r.body) as { key: string }).key, 'base64').toString());

  async function records(): Promise<Record<string, unknown>[]> {
    const [run] = await readdir(dir);
    const files = (await readdir(join(dir, run as string)))
      .filter((f) => /-benchmark-\d+\.json$/.test(f))
      .sort();
    return Promise.all(
      files.map(
        async (f) =>
          JSON.parse(await readFile(join(dir, run as string, f), 'utf8')) as Record<string, unknown>,
      ),
    );
  }

  it('etcd: two levels write two disjoint sets of keys, one per send, each under the key_prefix its record names', async () => {
    await etcdNode();
    const { code } = await cli([
      '--endpoints',
      node.url,
      '--protocol',
      'etcd',
      '--loads',
      '20,30',
      '--duration',
      '1',
      '--output-dir',
      dir,
    ]);
    expect(code).toBe(0);
    const keys = putKeys();
    expect(keys).toHaveLength(50);
    expect(new Set(keys).size).toBe(50);
    const validate = resultValidator();
    for (const record of await records()) {
      expect(validate(record), JSON.stringify(validate.errors)).toBe(true);
      const parameters = record.parameters as { key_pattern: unknown };
      expect(parameters.key_pattern).toEqual({ pattern: 'unique', prefix: 'meshbench/' });
      const [run] = record.runs as { key_prefix: string }[];
      expect(run?.key_prefix).toMatch(new RegExp(`^meshbench/${String(record.run_id)}-endpoints-\\d-1/$`));
      const written = keys.filter((key) => key.startsWith(run?.key_prefix ?? '?'));
      expect(written.length).toBeGreaterThan(0);
      expect(written).toHaveLength(
        (record.results as { successful_transactions: number }).successful_transactions,
      );
    }
  });

  it('etcd: --etcd-key-pattern zipfian writes into the key space and the record says so', async () => {
    await etcdNode();
    const { code, stderr } = await cli([
      '--endpoints',
      node.url,
      '--protocol',
      'etcd',
      '--etcd-key-pattern',
      'zipfian',
      '--etcd-key-space',
      '50',
      '--etcd-zipf-exponent',
      '1.1',
      '--loads',
      '100',
      '--duration',
      '1',
      '--output-dir',
      dir,
    ]);
    expect(stderr).not.toMatch(/error/);
    expect(code).toBe(0);
    const keys = putKeys();
    expect(keys).toHaveLength(100);
    for (const key of keys) expect(key).toMatch(/^meshbench\/000000[0-4]\d$/);
    expect(new Set(keys).size).toBeLessThan(50);
    const [record] = await records();
    const validate = resultValidator();
    expect(validate(record), JSON.stringify(validate.errors)).toBe(true);
    expect((record?.parameters as { key_pattern: unknown }).key_pattern).toEqual({
      pattern: 'zipfian',
      prefix: 'meshbench/',
      key_space: 50,
      key_size_bytes: 8,
      zipf_exponent: 1.1,
    });
    expect((record?.runs as { key_prefix?: string }[])[0]?.key_prefix).toBeUndefined();
  });
});
