/**
 * A new protocol is one definition and one registry line: here a small "queue" protocol
 * is defined and registered inside the test, and runs end to end (its flag, the plan,
 * readiness, the probe, the shared generator, commit confirmation from the reply, the
 * backlog settle between levels, the records and the summary) against a stub HTTP
 * server on 127.0.0.1. Nothing outside src/protocols/ learns its name.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/benchmark.js';
import { runLoad } from '../../../src/load/index.js';
import { registerProtocol, type ProtocolDefinition } from '../../../src/protocols/index.js';
import { joinUrl, parseJson, probeRequest } from '../../../src/protocols/protocol.js';
import { text } from '../../../src/protocols/settings.js';
import { probeForProtocol, waitForReady } from '../../../src/testbed/readiness.js';
import { startCountingServer, type CountingServer } from '../load/test-servers.js';

type QueueOptions = { readonly kind: 'queue'; readonly tenant: string };

const TENANT = /^[a-z]+$/;

/** A queue service: POST /enqueue stores a tx for a tenant, and storing it is committing it. */
const queue: ProtocolDefinition<QueueOptions> = {
  kind: 'queue',
  settings: [
    {
      key: 'queueTenant',
      describe: 'queue: tenant the transactions are filed under',
      defaultDescription: 'main',
      default: 'main',
      parse: text('a tenant name in lower-case letters', (value) => TENANT.test(value)),
    },
  ],
  options: (values) => ({ kind: 'queue', tenant: (values.queueTenant as string | undefined) ?? 'main' }),
  check: (options) =>
    TENANT.test(options.tenant)
      ? undefined
      : {
          message: `queue tenant ${JSON.stringify(options.tenant)} is not allowed`,
          hint: 'use lower-case letters',
        },
  create: (options) => ({
    kind: 'queue',
    request: {
      method: 'POST',
      path: '/enqueue',
      headers: { 'content-type': 'application/json', 'x-tenant': options.tenant },
    },
    body: (tx, seq) => `{"tx":"${tx.base64}","seq":${seq}}`,
    parseReply: (status, body) => {
      if (status !== 200) return { kind: 'httpError', status };
      const stored = (parseJson(body) as { stored?: unknown } | undefined)?.stored;
      return stored === true ? { kind: 'ok', committed: true } : { kind: 'rejected', code: 'queue:full' };
    },
    probe: (endpoint, timeoutMs) =>
      probeRequest(joinUrl(endpoint.rpcUrl, '/ready'), { method: 'GET' }, timeoutMs, (s) => s === 200),
    repliesConfirmCommit: true,
    backlog: {
      async read(endpoint, read = {}) {
        const response = await (read.fetch ?? fetch)(joinUrl(endpoint.rpcUrl, '/depth'));
        const { depth } = (await response.json()) as { depth: number };
        return { count: depth, form: 'depth' };
      },
    },
    recordedSettings: { tenant: options.tenant },
  }),
  confirmsCommits: true,
  readiness: () => async (target, http) => {
    const reply = await http(`${target.rpcUrl}/ready`);
    return reply.status === 200
      ? { ready: true, detail: 'ready' }
      : { ready: false, detail: `/ready ${reply.status}` };
  },
  describe: (options) => `queue (tenant ${options.tenant})`,
};

let unregister: () => void;
beforeAll(() => {
  unregister = registerProtocol(queue);
});
afterAll(() => unregister());

let dir: string;
let node: CountingServer;
/** Entries the stub still holds: each /depth poll drains two. */
let depth = 0;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-queue-'));
  depth = 0;
  node = await startCountingServer((request) => {
    if (request.url === '/ready') return { body: '{}' };
    if (request.url === '/depth') {
      const now = depth;
      depth = Math.max(0, depth - 2);
      return { body: JSON.stringify({ depth: now }) };
    }
    if (request.url === '/enqueue') {
      depth = 3;
      return { body: '{"stored":true}' };
    }
    return { status: 404, body: '{}' };
  });
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
  // yargs prints --help with console.log.
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => {
    stdout += `${parts.join(' ')}\n`;
  });
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    log.mockRestore();
  }
}

describe('a protocol registered by a test', () => {
  it('gets its flag in --help, in the protocols group', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--protocol +cometbft \| etcd \| http \| mesh \| queue/);
    expect(stdout).toMatch(/Protocol \(http, etcd, mesh, queue\):/);
    expect(stdout).toMatch(/--confirm .*\n.*\[default: commit for cometbft, mesh, queue\]/);
    expect(stdout).toMatch(
      /--queue-tenant +queue: tenant the transactions are filed under.*\[default: main\]/,
    );
  });

  it('runs a benchmark end to end: probe, load, commits from the reply, settle on its backlog, records', async () => {
    const { code, stderr } = await cli([
      '--endpoints',
      node.url,
      '--protocol',
      'queue',
      '--queue-tenant',
      'blue',
      '--loads',
      '20,40',
      '--duration',
      '1',
      '--transaction-size',
      '16',
      '--output-dir',
      dir,
    ]);
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    const sent = node.requests.filter((r) => r.url === '/enqueue');
    expect(sent).toHaveLength(60);
    for (const request of sent) {
      expect(request.method).toBe('POST');
      expect(request.headers['x-tenant']).toBe('blue');
      expect(Buffer.from((JSON.parse(request.body) as { tx: string }).tx, 'base64')).toHaveLength(16);
    }
    expect(node.requests.filter((r) => r.url === '/ready')).toHaveLength(1);

    const [run] = await readdir(dir);
    const folder = join(dir, run as string);
    const record = JSON.parse(await readFile(join(folder, 'endpoints-benchmark-2.json'), 'utf8'));
    // The default confirm mode of a protocol that confirms commits is commit; the reply confirmed each.
    expect(record.parameters).toMatchObject({ protocol: 'queue', confirm: 'commit', load: 40 });
    expect(record.plan.protocol).toEqual({ kind: 'queue', tenant: 'blue' });
    expect(record.results).toMatchObject({ successful_transactions: 40, failed_transactions: 0 });
    expect(record.results).toMatchObject({ latency_stage: 'commit', outcomes: { committed: 40 } });
    expect(record.runs[0].generator).toMatchObject({ tenant: 'blue', confirm: 'commit' });
    // Settled on the protocol's backlog: /depth polled until the stub drained (3 → 1 → 0).
    expect(record.runs[0].settle).toMatchObject({ rule: 'drain', polled: true, drained: true, polls: 3 });
    expect(node.requests.filter((r) => r.url === '/depth')).toHaveLength(6);
    expect(await readFile(join(folder, 'summary.txt'), 'utf8')).toMatch(
      /protocol: +queue \(tenant blue\), confirm commit/,
    );
  });

  it('runs under runLoad with options a script builds, and its readiness probe finds the stub ready', async () => {
    await waitForReady({
      targets: [{ nodeId: 'node0', rpcUrl: node.url }],
      probeFor: () => probeForProtocol('queue', 0),
      timeoutMs: 5_000,
    });
    const result = await runLoad({
      runId: 'queue-run',
      endpoints: [{ nodeId: 'node0', rpcUrl: node.url }],
      protocol: { kind: 'queue', tenant: 'green' },
      shape: { kind: 'fixed', rate: 50 },
      transactions: 25,
      transactionSizeBytes: 32,
      confirm: 'commit',
    });
    expect(result.protocol).toBe('queue');
    expect(result.outcomes).toMatchObject({ ok: 25, committed: 25 });
    expect(result.committedThroughput).toBeGreaterThan(0);
    expect(result.generator).toMatchObject({ tenant: 'green' });
    await expect(
      runLoad({
        runId: 'queue-bad',
        endpoints: [{ nodeId: 'node0', rpcUrl: node.url }],
        protocol: { kind: 'queue', tenant: 'Not Letters' },
        shape: { kind: 'fixed', rate: 50 },
        transactions: 5,
        transactionSizeBytes: 32,
        confirm: 'commit',
      }),
    ).rejects.toThrow(/queue tenant "Not Letters" is not allowed/);
    // Load workers import the registry afresh: a protocol registered here is refused there, up front.
    await expect(
      runLoad({
        runId: 'queue-workers',
        endpoints: [{ nodeId: 'node0', rpcUrl: node.url }],
        protocol: { kind: 'queue', tenant: 'green' },
        shape: { kind: 'fixed', rate: 50 },
        transactions: 5,
        transactionSizeBytes: 32,
        confirm: 'commit',
        workers: 2,
      }),
    ).rejects.toThrow(/registered in this thread, so 2 load workers cannot speak it/);
  });

  it('rejects its flag with another protocol, and a bad value, with one line', async () => {
    const base = ['--endpoints', node.url, '--loads', '10', '--duration', '1', '--output-dir', dir];
    const other = await cli([...base, '--queue-tenant', 'blue']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(
      /--queue-tenant "blue" is not valid: applies to --protocol queue only \(got cometbft\)/,
    );
    const bad = await cli([...base, '--protocol', 'queue', '--queue-tenant', 'Blue']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--queue-tenant "Blue" is not valid: a tenant name in lower-case letters/);
  });
});
