/**
 * Settling between levels (issue 12, part 4). A node that reports its backlog is polled
 * until it drains; one that cannot (no num_unconfirmed_txs, or a reply of another shape)
 * is named once and gets the fixed --settle-secs pause, instead of the drain timeout at
 * every level. Against counting servers on port 0 through the real CLI and generator.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BenchmarkRecord } from '../../../src/results/record.js';
import { BacklogUnavailableError, readUnconfirmed, Settler } from '../../../src/bench/settle.js';
import { main } from '../../../src/cli/benchmark.js';
import { resultValidator } from '../../../src/results/validate.js';
import {
  cometbftOk,
  startCountingServer,
  type ReceivedRequest,
  type ReplyPlan,
} from '../load/test-servers.js';

const HEALTH: ReplyPlan = { body: '{"jsonrpc":"2.0","id":-1,"result":{}}' };
const METHOD_NOT_FOUND: ReplyPlan = {
  body: '{"jsonrpc":"2.0","id":-1,"error":{"code":-32601,"message":"Method not found"}}',
};

/** A JSON-RPC node that takes broadcasts; `backlog` answers the backlog question both ways. */
function node(backlog: (request: ReceivedRequest) => ReplyPlan, onBroadcast?: () => void) {
  return startCountingServer((request) => {
    if (request.url === '/health') return HEALTH;
    if (request.url.startsWith('/num_unconfirmed_txs')) return backlog(request);
    if (request.body.includes('"method":"num_unconfirmed_txs"')) return backlog(request);
    onBroadcast?.();
    return { body: cometbftOk(request.body) };
  });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-settle-'));
});
afterEach(async () => {
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
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

async function records(): Promise<BenchmarkRecord[]> {
  const [run] = await readdir(dir);
  const folder = join(dir, run as string);
  const names = (await readdir(folder)).filter((name) => name.includes('-benchmark-')).sort();
  const validate = resultValidator();
  return Promise.all(
    names.map(async (name) => {
      const record = JSON.parse(await readFile(join(folder, name), 'utf8')) as BenchmarkRecord;
      expect(validate(record), JSON.stringify(validate.errors)).toBe(true);
      return record;
    }),
  );
}

const SWEEP = ['--loads', '20,40', '--duration', '1', '--confirm', 'none', '--settle-secs', '1'];

describe('settle between levels', () => {
  it('a node without num_unconfirmed_txs is named once and gets the fixed pause, not the 60 s timeout', async () => {
    // As a JSON-RPC server without the method answers: 404 at the URI, method not found at the root.
    const server = await node((request) =>
      request.method === 'GET' ? { status: 404, body: 'not found' } : METHOD_NOT_FOUND,
    );
    try {
      const started = performance.now();
      const { code, stdout, stderr } = await cli(['--endpoints', server.url, ...SWEEP, '--output-dir', dir]);
      const elapsedMs = performance.now() - started;
      expect(stderr).not.toMatch(/error/);
      expect(code).toBe(0);
      // Two levels of 1 s + 1 s pause: seconds, far from the 60 s drain timeout per level.
      expect(elapsedMs).toBeLessThan(20_000);
      expect(stdout.match(/cannot report its backlog/g)).toHaveLength(1);
      expect(stdout).toMatch(
        /endpoint0 cannot report its backlog \(POST .*: num_unconfirmed_txs is unknown here/,
      );
      expect(stdout).toMatch(/fixed 1 s pause \(--settle-secs\)/);
      expect(stdout).not.toMatch(/did not drain/);
      const [first, second] = await records();
      for (const record of [first, second]) {
        const settle = record?.runs[0]?.settle;
        expect(settle?.rule).toBe('pause');
        expect(settle?.pauseMs).toBe(1000);
        expect(settle?.settleMs).toBeGreaterThanOrEqual(900);
        expect(settle?.settleMs).toBeLessThan(5000);
        expect(Object.keys(settle?.unreportable ?? {})).toEqual(['endpoint0']);
      }
      // Asked at the first level only (GET, then POST at the root), never again.
      expect(first?.runs[0]?.settle.polls).toBe(1);
      expect(second?.runs[0]?.settle.polls).toBe(0);
      const asked = server.requests.filter(
        (r) => r.url.startsWith('/num_unconfirmed_txs') || r.body.includes('num_unconfirmed_txs'),
      );
      expect(asked).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it('a node that reports its backlog keeps the drain wait', async () => {
    // Broadcasts leave up to 7 txs behind; each poll sees 3 fewer.
    let backlog = 0;
    const server = await node(
      () => {
        const n = backlog;
        backlog = Math.max(0, backlog - 3);
        return {
          body: JSON.stringify({ jsonrpc: '2.0', id: -1, result: { n_txs: String(n), total: String(n) } }),
        };
      },
      () => (backlog = Math.min(backlog + 1, 7)),
    );
    try {
      const { code, stdout } = await cli(['--endpoints', server.url, ...SWEEP, '--output-dir', dir]);
      expect(code).toBe(0);
      expect(stdout).not.toMatch(/cannot report its backlog/);
      for (const record of await records()) {
        const settle = record.runs[0]?.settle;
        expect(settle?.rule).toBe('drain');
        expect(settle?.drained).toBe(true);
        expect(settle?.polls).toBeGreaterThanOrEqual(2);
        expect(settle?.unreportable).toBeUndefined();
      }
    } finally {
      await server.close();
    }
  });
});

describe('--settle-secs', () => {
  it('refuses a value that is not a whole number of seconds from 0 to 600, in one line', async () => {
    for (const value of ['-1', '1.5', 'soon', '601']) {
      const { code, stderr } = await cli(['--endpoints', 'http://127.0.0.1:9', '--settle-secs', value]);
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(
        /benchmark: error: --settle-secs .* is not valid: a whole number of seconds from 0 to 600/,
      );
    }
  });
});

describe('readUnconfirmed', () => {
  const at = (url: string) => ({ nodeId: 'node0', rpcUrl: url });

  it('tells "cannot report" (unknown method, another shape) from a failure that may pass', async () => {
    const cases: { reply: ReplyPlan; unavailable: boolean; message: RegExp }[] = [
      { reply: METHOD_NOT_FOUND, unavailable: true, message: /unknown here \(Method not found\)/ },
      {
        reply: { body: '{"jsonrpc":"2.0","id":-1,"result":{"txs":[]}}' },
        unavailable: true,
        message: /another shape/,
      },
      { reply: { body: '<html>hello</html>' }, unavailable: true, message: /not JSON/ },
      { reply: { status: 405, body: '' }, unavailable: true, message: /not served|unknown here/ },
      { reply: { status: 503, body: 'busy' }, unavailable: false, message: /HTTP 503/ },
      {
        reply: { body: '{"jsonrpc":"2.0","id":-1,"error":{"code":-32603,"message":"Internal error"}}' },
        unavailable: false,
        message: /JSON-RPC error -32603 Internal error/,
      },
    ];
    for (const { reply, unavailable, message } of cases) {
      const server = await node(() => reply);
      try {
        const error = await readUnconfirmed(at(server.url)).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error, JSON.stringify(reply)).toBeInstanceOf(Error);
        expect(error instanceof BacklogUnavailableError, JSON.stringify(reply)).toBe(unavailable);
        expect((error as Error).message).toMatch(message);
      } finally {
        await server.close();
      }
    }
  });

  it('asks JSON-RPC at the root when the URI form is not served, and remembers which form worked', async () => {
    const server = await node((request) =>
      request.method === 'GET'
        ? { status: 404, body: '' }
        : { body: '{"jsonrpc":"2.0","id":-1,"result":{"n_txs":"4","total":"4"}}' },
    );
    try {
      expect(await readUnconfirmed(at(server.url))).toEqual({ count: 4, form: 'jsonrpc' });
      expect(await readUnconfirmed(at(server.url), { form: 'jsonrpc' })).toEqual({
        count: 4,
        form: 'jsonrpc',
      });
      expect(server.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'POST']);
    } finally {
      await server.close();
    }
  });

  it('with one node that reports and one that cannot: drain the one, pause for the other', async () => {
    const reporting = await node(() => ({ body: '{"result":{"n_txs":"0","total":"0"}}' }));
    const silent = await node(() => METHOD_NOT_FOUND);
    const named: string[] = [];
    try {
      const settler = new Settler({
        endpoints: [at(reporting.url), { nodeId: 'node1', rpcUrl: silent.url }],
        timeoutMs: 10_000,
        pollIntervalMs: 50,
        pauseMs: 300,
        onUnreportable: (endpoint) => named.push(endpoint.nodeId),
      });
      const first = await settler.settle();
      const second = await settler.settle();
      for (const outcome of [first, second]) {
        expect(outcome.rule).toBe('drain+pause');
        expect(outcome.drained).toBe(true);
        expect(outcome.settleMs).toBeGreaterThanOrEqual(290);
        expect(outcome.unreportable).toEqual({ node1: expect.stringMatching(/unknown here/) });
      }
      expect(named).toEqual(['node1']);
    } finally {
      await reporting.close();
      await silent.close();
    }
  });
});
