/**
 * `--fault-load redirect|drop|keep` against real HTTP servers on loopback: a send due to a
 * node that is down goes to the next live node (redirect), is not made (drop), or goes to
 * it anyway (keep). Down is what the caller announces (`downNodes`, shared memory the sweep
 * writes from the fault injector's events) or what the transport sees (3 straight connection
 * failures, until the node's health probe answers). A dead endpoint whose connect hangs fails
 * as a connection error at the connect timeout, never as a reply timeout behind a queue.
 */
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { newDownNodes, runLoad, type LoadOptions } from '../../../src/load/index.js';
import { startCountingServer, type CountingServer } from './test-servers.js';
import { reservePorts } from '../../support/ports.js';

const http = {
  kind: 'http',
  method: 'POST',
  path: '/',
  headers: {},
  bodyTemplate: '{"tx":"{{tx}}","seq":{{seq}}}',
} as const;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function servers(count: number): Promise<CountingServer[]> {
  const list = await Promise.all(
    Array.from({ length: count }, () => startCountingServer(() => ({ status: 200, body: '{}' }))),
  );
  cleanups.push(() => Promise.all(list.map((s) => s.close())).then(() => undefined));
  return list;
}

function options(urls: readonly string[], overrides: Partial<LoadOptions> = {}): LoadOptions {
  return {
    runId: 'fault-load',
    endpoints: urls.map((rpcUrl, index) => ({ nodeId: `node${index}`, rpcUrl })),
    protocol: http,
    shape: { kind: 'fixed', rate: 300 },
    transactions: 300,
    transactionSizeBytes: 64,
    confirm: 'none',
    // These tests count where each send went. A send more than 1 s late (the default) is not made
    // and counted as dropped (the generator's own overload guard): with two CPU burners, 4 unit
    // files, lint and tsc beside it, this process once stalled past that and 44 of 300 were dropped
    // (CI, drop test: sent 256). No test here is about that guard, so it is out of reach.
    maxScheduleLagMs: 60_000,
    ...overrides,
  };
}

/** The seqs a server got, from the bodies. */
function seqsOf(server: CountingServer): number[] {
  return server.requests.map((r) => (JSON.parse(r.body) as { seq: number }).seq);
}

/** A port nothing listens on (bound, then closed). */
async function freePort(): Promise<number> {
  const [port] = await reservePorts(1);
  return port as number;
}

describe('--fault-load with nodes announced down', () => {
  it('redirect: the sends due to a down node go to the next live one; the schedule is unchanged', async () => {
    const s = await servers(3);
    const downNodes = newDownNodes(3);
    Atomics.store(downNodes, 1, 1);
    const result = await runLoad(
      options(
        s.map((x) => x.url),
        { downNodes },
      ),
    );
    expect(s[1]?.received).toBe(0);
    expect(result.scheduled).toBe(300);
    expect(result.sent).toBe(300);
    expect(result.efficiency).toBe(1);
    // round robin: seq ≡ 1 (mod 3) was node1's, and went to node2, the next live node
    expect(seqsOf(s[2] as CountingServer).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 300 }, (_, seq) => seq).filter((seq) => seq % 3 !== 0),
    );
    expect(result.faultLoad).toEqual({ mode: 'redirect', redirected: 100, dropped: 0 });
    const byNode = Object.fromEntries(result.perNode.map((n) => [n.nodeId, n]));
    expect(byNode.node1).toMatchObject({ sent: 0, redirectedOut: 100, redirectedIn: 0, faultDropped: 0 });
    expect(byNode.node2).toMatchObject({ sent: 200, ok: 200, redirectedOut: 0, redirectedIn: 100 });
    expect(byNode.node0).toMatchObject({ sent: 100, redirectedIn: 0 });
  });

  it('redirect: wraps around to the first node, and a node announced up again gets its share back', async () => {
    const s = await servers(3);
    const downNodes = newDownNodes(3);
    Atomics.store(downNodes, 2, 1);
    const result = await runLoad(
      options(
        s.map((x) => x.url),
        {
          downNodes,
          shape: { kind: 'fixed', rate: 200 },
          transactions: 600,
          onProgress: (p) => {
            // up again once a third of the schedule went out
            if (p.sent >= 200) Atomics.store(downNodes, 2, 0);
          },
        },
      ),
    );
    const byNode = Object.fromEntries(result.perNode.map((n) => [n.nodeId, n]));
    expect(byNode.node0?.redirectedIn).toBe(byNode.node2?.redirectedOut);
    expect(byNode.node2?.redirectedOut).toBeGreaterThan(0);
    expect(s[2]?.received).toBeGreaterThan(0);
    expect((byNode.node2?.redirectedOut ?? 0) + (s[2]?.received ?? 0)).toBe(200);
    expect(result.efficiency).toBe(1);
  });

  it('drop: those sends are not made, counted per node, and efficiency is judged on the rest', async () => {
    const s = await servers(4);
    const downNodes = newDownNodes(4);
    Atomics.store(downNodes, 3, 1);
    const result = await runLoad(
      options(
        s.map((x) => x.url),
        { downNodes, faultLoad: 'drop', transactions: 400 },
      ),
    );
    expect(s[3]?.received).toBe(0);
    expect(result.scheduled).toBe(400);
    expect(result.sent).toBe(300);
    expect(result.outcomes.ok).toBe(300);
    expect(result.outcomes.dropped).toBe(0);
    expect(result.faultLoad).toEqual({ mode: 'drop', redirected: 0, dropped: 100 });
    expect(result.efficiency).toBe(300 / (400 - 100));
    expect(result.perNode.find((n) => n.nodeId === 'node3')).toMatchObject({ sent: 0, faultDropped: 100 });
  });

  it('keep: the sends go to the down node anyway (clients pinned to it), and no per-node counts are added', async () => {
    const s = await servers(2);
    const downNodes = newDownNodes(2);
    Atomics.store(downNodes, 0, 1);
    const result = await runLoad(
      options(
        s.map((x) => x.url),
        { downNodes, faultLoad: 'keep', transactions: 100 },
      ),
    );
    expect(s[0]?.received).toBe(50);
    expect(result.faultLoad).toEqual({ mode: 'keep', redirected: 0, dropped: 0 });
    expect(result.perNode[0]?.redirectedOut).toBeUndefined();
  });

  it('redirect with every node down: each send goes to its own node, and its failure shows', async () => {
    const port = await freePort();
    const downNodes = newDownNodes(1);
    Atomics.store(downNodes, 0, 1);
    const result = await runLoad(options([`http://127.0.0.1:${port}`], { downNodes, transactions: 20 }));
    expect(result.outcomes.connectionError).toBe(20);
    expect(result.faultLoad?.redirected).toBe(0);
    expect(result.efficiency).toBe(0);
  });

  it('rejects downNodes that are not shared memory or do not match the endpoints, in one line', async () => {
    const s = await servers(2);
    const urls = s.map((x) => x.url);
    await expect(runLoad(options(urls, { downNodes: new Int32Array(2) }))).rejects.toThrow(
      /not on a SharedArrayBuffer/,
    );
    await expect(runLoad(options(urls, { downNodes: newDownNodes(3) }))).rejects.toThrow(/3 slots for 2/);
    await expect(
      runLoad(options(urls, { faultLoad: 'elsewhere' as LoadOptions['faultLoad'] })),
    ).rejects.toThrow(/fault load "elsewhere" is not known/);
  });
});

describe('--fault-load with a node that dies on its own', () => {
  it('3 straight refused connections take a node for down; its health probe brings it back', async () => {
    const live = await servers(2);
    const port = await freePort();
    const urls = [live[0]?.url as string, `http://127.0.0.1:${port}`, live[1]?.url as string];
    let revived: Server | undefined;
    let revivedCount = 0;
    cleanups.push(
      () => new Promise<void>((resolve) => (revived ? revived.close(() => resolve()) : resolve())),
    );
    const result = await runLoad(
      options(urls, {
        shape: { kind: 'fixed', rate: 150 },
        transactions: 600,
        onProgress: (p) => {
          // the dead node starts answering once a quarter of the schedule is out
          if (p.sent < 150 || revived) return;
          revived = createServer((req, res) => {
            req.resume();
            req.on('end', () => {
              revivedCount++;
              res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
            });
          });
          revived.keepAliveTimeout = 60_000;
          revived.listen(port, '127.0.0.1');
        },
      }),
    );
    const node1 = result.perNode.find((n) => n.nodeId === 'node1');
    // down after 3 failures, not after its whole share failed
    expect(node1?.failed).toBeGreaterThanOrEqual(3);
    expect(node1?.failed).toBeLessThan(50);
    expect(result.outcomes.connectionError).toBe(node1?.failed);
    expect(node1?.redirectedOut).toBeGreaterThan(0);
    expect(result.perNode.find((n) => n.nodeId === 'node2')?.redirectedIn).toBe(node1?.redirectedOut);
    // back: the probe (GET /) answered, and the node took its share again
    expect(node1?.ok).toBeGreaterThan(0);
    // every ok of node1 reached the revived server, which also answered the probe's GET
    expect(revivedCount).toBeGreaterThan(node1?.ok ?? 0);
    expect((node1?.failed ?? 0) + (node1?.ok ?? 0) + (node1?.redirectedOut ?? 0)).toBe(200);
  });

  it('a node whose connections break (resets: an overloaded node) is not taken for down; its failures stay', async () => {
    const live = await servers(1);
    const resetting = await startCountingServer(() => ({ reset: true }));
    cleanups.push(() => resetting.close());
    const result = await runLoad(options([live[0]?.url as string, resetting.url], { transactions: 100 }));
    expect(resetting.received).toBe(50);
    expect(result.perNode[1]).toMatchObject({ failed: 50, redirectedOut: 0 });
    expect(result.faultLoad?.redirected).toBe(0);
  });

  it('keep: a node that refuses stays in the round robin (every send to it fails)', async () => {
    const live = await servers(1);
    const port = await freePort();
    const result = await runLoad(
      options([live[0]?.url as string, `http://127.0.0.1:${port}`], { faultLoad: 'keep', transactions: 100 }),
    );
    expect(result.outcomes.connectionError).toBe(50);
    expect(result.perNode[1]?.failed).toBe(50);
  });
});

/**
 * A listener whose connects hang: a worker thread listens with a backlog of 1 and blocks, so
 * it never accepts; once its accept queue is full the kernel drops further SYNs (a dead node
 * whose address stays routable looks the same). Returns its port.
 */
async function hangingListener(): Promise<number> {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
     });`,
    { eval: true },
  );
  cleanups.push(async () => {
    await worker.terminate();
  });
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  // Fill the accept queue: these connect (queued), every later one hangs.
  const fillers: Socket[] = [];
  for (let i = 0; i < 3; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => undefined));
  cleanups.push(() => {
    for (const socket of fillers) socket.destroy();
  });
  return port;
}

describe('a dead endpoint fails fast', () => {
  it.each(['raw', 'undici'] as const)(
    '%s: sends to an endpoint whose connect hangs end as connection errors at the connect timeout, not as 10 s reply timeouts',
    async (transport) => {
      const port = await hangingListener();
      const result = await runLoad(
        options([`http://127.0.0.1:${port}`], {
          transport,
          faultLoad: 'keep',
          shape: { kind: 'fixed', rate: 40 },
          transactions: 40,
          connectionsPerEndpoint: 1,
          requestTimeoutMs: 10_000,
        }),
      );
      expect(result.outcomes.timeout).toBe(0);
      expect(result.outcomes.connectionError).toBe(40);
    },
    30_000,
  );
});
