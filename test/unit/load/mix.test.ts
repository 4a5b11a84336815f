import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kindAt, loadMix, mixCycle, resolveMix, runLoad, type LoadOptions } from '../../../src/load/index.js';
import { startCountingServer, type CountingServer } from './test-servers.js';

const http = {
  kind: 'http',
  method: 'POST',
  path: '/',
  headers: {},
  bodyTemplate: '{"tx":"{{tx}}","seq":{{seq}}}',
} as const;
const base = { protocol: http, transactionSizeBytes: 100 };

describe('mixCycle', () => {
  it.each([[[3, 1]], [[1, 1, 1]], [[5, 2, 1]], [[7, 3]], [[1, 99]], [[13, 8, 5, 3, 2, 1, 1]]])(
    'weights %j: a full cycle is exact and every prefix is within one of each share',
    (weights) => {
      const cycle = mixCycle(weights);
      const total = weights.reduce((a, b) => a + b, 0);
      expect(cycle.length).toBe(total);
      const counts = weights.map(() => 0);
      // two cycles: the second starts where the first ended
      for (let n = 1; n <= 2 * total; n++) {
        counts[cycle[(n - 1) % total]!]!++;
        weights.forEach((weight, kind) =>
          expect(Math.abs(counts[kind]! - (n * weight) / total)).toBeLessThan(1),
        );
      }
      expect(counts).toEqual(weights.map((w) => 2 * w));
    },
  );
});

describe('kindAt', () => {
  it.each([[[3, 1]], [[1, 1, 1]], [[5, 2, 1]], [[7, 3]], [[13, 8, 5, 3, 2, 1, 1]]])(
    'weights %j: each aligned cycle is exact, every prefix within two of each share',
    (weights) => {
      const cycle = mixCycle(weights);
      const total = cycle.length;
      const counts = weights.map(() => 0);
      for (let seq = 0; seq < 50 * total; seq++) {
        counts[kindAt(cycle, seq)]!++;
        const n = seq + 1;
        weights.forEach((weight, kind) =>
          expect(Math.abs(counts[kind]! - (n * weight) / total)).toBeLessThan(2),
        );
        if (n % total === 0) expect(counts).toEqual(weights.map((w) => (n / total) * w));
      }
    },
  );

  it.each([2, 3, 4, 5, 6, 8, 16])(
    'a 3:1 mix split %i ways by seq mod m (targets, shards, clients): every part gets both kinds at their shares',
    (m) => {
      const cycle = mixCycle([3, 1]);
      const big = Array.from({ length: m }, () => 0);
      const all = Array.from({ length: m }, () => 0);
      for (let seq = 0; seq < 40_000; seq++) {
        all[seq % m]!++;
        if (kindAt(cycle, seq) === 1) big[seq % m]!++;
      }
      // the plain cycle (seq mod 4) would give part k of 4 only kind cycle[k]: 0 % or 100 % large
      for (let part = 0; part < m; part++) expect(big[part]! / all[part]!).toBeCloseTo(0.25, 1);
    },
  );
});

describe('resolveMix: one line naming the file, the kind and the field', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbench-mix-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const problem = (
    value: unknown,
    protocol: typeof base.protocol | { kind: string; broadcastMode: string } = http,
  ) => {
    try {
      resolveMix(value, 'mix.yaml', { protocol, transactionSizeBytes: 100 });
    } catch (error) {
      expect((error as { exitCode: number }).exitCode).toBe(2);
      return (error as Error).message;
    }
    return 'accepted';
  };

  it('refuses what a kind cannot be', () => {
    expect(problem({ kinds: [{ name: 'a', weight: 1, colour: 'red' }] })).toBe(
      '--mix mix.yaml: kind "a" field "colour": not known for protocol http; a kind may set name, weight, size, method, route',
    );
    expect(problem({ kinds: [{ name: 'a', weight: 0 }] })).toMatch(
      /^--mix mix.yaml: kind "a" field "weight": a whole number from 1/,
    );
    expect(problem({ kinds: [{ name: 'a', weight: -2 }] })).toMatch(/field "weight"/);
    expect(problem({ kinds: [{ name: 'a', weight: 1, size: 0 }] })).toMatch(/kind "a" field "size": bytes/);
    expect(problem({ kinds: [{ name: 'a', weight: 1, size: 17 * 1024 * 1024 }] })).toMatch(/field "size"/);
    expect(problem({ kinds: [{ name: 'a', weight: 1, method: 'BREW' }] })).toBe(
      '--mix mix.yaml: kind "a" field "method": one of GET, POST, PUT, PATCH, DELETE',
    );
    expect(problem({ kinds: [{ name: 'a', weight: 1, route: 'x' }] })).toMatch(
      /kind "a" field "route": a request path/,
    );
    expect(problem({ kinds: [{ name: 'a', weight: 1, mode: 'sync' }] })).toMatch(
      /kind "a" field "mode": not known for protocol http/,
    );
    expect(
      problem(
        { kinds: [{ name: 'a', weight: 1, mode: 'later' }] },
        { kind: 'cometbft', broadcastMode: 'async' },
      ),
    ).toBe('--mix mix.yaml: kind "a" field "mode": async | sync | commit');
    expect(
      problem({ kinds: [{ name: 'a', weight: 1, route: '/x' }] }, { kind: 'etcd', broadcastMode: '' }),
    ).toMatch(/field "route": not known for protocol etcd; a kind may set name, weight, size$/);
    expect(
      problem({
        kinds: [
          { name: 'a', weight: 1 },
          { name: 'a', weight: 1 },
        ],
      }),
    ).toMatch(/kind "a" field "name": names must differ/);
    expect(problem({ kinds: [] })).toMatch(/kinds: a non-empty list/);
    expect(problem({ kind: [] })).toMatch(/field "kind": not known/);
  });

  it('applies the protocol fields to the run options and defaults the size', () => {
    const mix = resolveMix(
      [
        { name: 'write', weight: 3, size: 512, method: 'put', route: '/w' },
        { name: 'read', weight: 1 },
      ],
      'inline',
      base,
    );
    expect(mix.kinds[0]).toMatchObject({
      name: 'write',
      transactionSizeBytes: 512,
      protocol: { ...http, method: 'PUT', path: '/w' },
      fields: { method: 'put', route: '/w' },
    });
    expect(mix.kinds[1]).toMatchObject({
      name: 'read',
      transactionSizeBytes: 100,
      protocol: http,
      fields: {},
    });
  });

  it('reads YAML and JSON files', async () => {
    await writeFile(
      join(dir, 'm.yaml'),
      'kinds:\n  - name: a\n    weight: 2\n  - {name: b, weight: 1, size: 10}\n',
    );
    await writeFile(join(dir, 'm.json'), JSON.stringify({ kinds: [{ name: 'a', weight: 1 }] }));
    expect((await loadMix(join(dir, 'm.yaml'), base)).kinds.map((k) => k.name)).toEqual(['a', 'b']);
    expect((await loadMix(join(dir, 'm.json'), base)).kinds).toHaveLength(1);
    await expect(loadMix(join(dir, 'missing.yaml'), base)).rejects.toThrow(/--mix .*missing\.yaml/);
  });
});

describe('runLoad with a mix', () => {
  let server: CountingServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it.each([1, 2])(
    'sends each kind its exact share, method, route and size; %i worker(s) merge exactly',
    async (workers) => {
      server = await startCountingServer((request) => ({
        status: request.url === '/slow' ? 500 : 200,
        body: '{}',
      }));
      const mix = resolveMix(
        [
          { name: 'small', weight: 3, size: 16 },
          { name: 'big', weight: 1, size: 3000, method: 'PUT', route: '/big' },
          { name: 'failing', weight: 1, route: '/slow' },
        ],
        'inline',
        base,
      );
      const options: LoadOptions = {
        runId: 'mix-run',
        endpoints: [{ nodeId: 'node0', rpcUrl: server.url }],
        protocol: http,
        shape: { kind: 'fixed', rate: 400 },
        transactions: 200,
        transactionSizeBytes: 100,
        confirm: 'none',
        workers,
        mix,
      };
      const result = await runLoad(options);
      expect(result.sent).toBe(200);
      const kinds = result.kinds!;
      expect(kinds.map((k) => [k.name, k.scheduled, k.sent, k.share])).toEqual([
        ['small', 120, 120, 0.6],
        ['big', 40, 40, 0.2],
        ['failing', 40, 40, 0.2],
      ]);
      expect(kinds[0]!.outcomes.ok).toBe(120);
      expect(kinds[2]!.outcomes.ok).toBe(0);
      expect(kinds[2]!.outcomes.httpError).toEqual({ 500: 40 });
      expect(result.outcomes.ok).toBe(160);
      // per-kind latency histograms hold exactly their own replies
      expect(kinds.reduce((sum, k) => sum + k.latency.ack.corrected.count, 0)).toBe(
        result.latency.ack.corrected.count,
      );
      const seen = server.requests.map((r) => `${r.method} ${r.url}`);
      expect(seen.filter((s) => s === 'POST /')).toHaveLength(120);
      expect(seen.filter((s) => s === 'PUT /big')).toHaveLength(40);
      expect(seen.filter((s) => s === 'POST /slow')).toHaveLength(40);
      const bigBody = server.requests.find((r) => r.url === '/big')!.body;
      const smallBody = server.requests.find((r) => r.url === '/')!.body;
      // base64 of the tx bytes: 3000 and 16 bytes
      expect(Buffer.from(JSON.parse(bigBody).tx, 'base64')).toHaveLength(3000);
      expect(Buffer.from(JSON.parse(smallBody).tx, 'base64')).toHaveLength(16);
    },
    // worker threads start slowly on a busy machine (tsx in each)
    120_000,
  );

  it('without a mix there are no per-kind figures', async () => {
    server = await startCountingServer(() => ({ body: '{}' }));
    const result = await runLoad({
      runId: 'plain',
      endpoints: [{ nodeId: 'node0', rpcUrl: server.url }],
      protocol: http,
      shape: { kind: 'fixed', rate: 400 },
      transactions: 20,
      transactionSizeBytes: 100,
      confirm: 'none',
    });
    expect(result.kinds).toBeUndefined();
    expect(result.sent).toBe(20);
  });
});
