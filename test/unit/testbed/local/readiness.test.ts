import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ReadinessError,
  alonenessWatch,
  cometbftProbe,
  httpProbe,
  pollIntervalMs,
  waitForReady,
} from '../../../../src/testbed/readiness.js';

/** A small CometBFT-like RPC on port 0 whose answers the test changes as it goes. */
interface FakeState {
  catchingUp: boolean;
  peers: number;
  healthStatus: number;
  requests: number;
}
const servers: Server[] = [];
async function startNode(state: FakeState): Promise<string> {
  const server = createServer((req, res) => {
    state.requests += 1;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    res.setHeader('content-type', 'application/json');
    if (path === '/health') res.statusCode = state.healthStatus;
    const result =
      path === '/status'
        ? { node_info: { id: 'x' }, sync_info: { catching_up: state.catchingUp } }
        : path === '/net_info'
          ? { n_peers: String(state.peers) }
          : {};
    res.end(JSON.stringify({ jsonrpc: '2.0', id: -1, result }));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('pollIntervalMs', () => {
  it('polls a small network every 10 ms and spreads a large one up to 50 ms per node', () => {
    expect([1, 4, 8, 16, 20, 100].map(pollIntervalMs)).toEqual([10, 10, 20, 40, 50, 50]);
  });
});

describe('waitForReady', () => {
  it('goes on as soon as every node is ready and has its peers', async () => {
    const a: FakeState = { catchingUp: true, peers: 0, healthStatus: 200, requests: 0 };
    const b: FakeState = { catchingUp: false, peers: 1, healthStatus: 200, requests: 0 };
    const targets = [
      { nodeId: 'a', rpcUrl: await startNode(a) },
      { nodeId: 'b', rpcUrl: await startNode(b) },
    ];
    setTimeout(() => {
      a.catchingUp = false;
      a.peers = 1;
    }, 300);
    const result = await waitForReady({
      targets,
      probeFor: () => cometbftProbe(1),
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    expect(Object.keys(result.readyAtMs).sort()).toEqual(['a', 'b']);
    expect(result.readyAtMs.a).toBeGreaterThanOrEqual(result.readyAtMs.b ?? 0);
    expect(result.waitedMs).toBeLessThan(10_000);
  });

  it('on timeout names each node that is not ready with its last error', async () => {
    const peerless: FakeState = { catchingUp: false, peers: 1, healthStatus: 200, requests: 0 };
    const sick: FakeState = { catchingUp: false, peers: 3, healthStatus: 503, requests: 0 };
    const ok: FakeState = { catchingUp: false, peers: 3, healthStatus: 200, requests: 0 };
    const targets = [
      { nodeId: 'n0', rpcUrl: await startNode(ok) },
      { nodeId: 'n1', rpcUrl: await startNode(peerless) },
      { nodeId: 'n2', rpcUrl: await startNode(sick) },
      { nodeId: 'n3', rpcUrl: 'http://127.0.0.1:1' },
    ];
    const error = await waitForReady({
      targets,
      probeFor: () => cometbftProbe(3),
      timeoutMs: 600,
      intervalMs: 20,
      describe: async (nodeId) => `log of ${nodeId}`,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ReadinessError);
    const readiness = error as ReadinessError;
    expect(readiness.notReady).toEqual(['n1', 'n2', 'n3']);
    expect(readiness.message).toContain('3 of 4 nodes not ready after 1 s');
    expect(readiness.message).toContain('n1 (net_info: 1 of 3 peers; log of n1)');
    expect(readiness.message).toContain('n2 (/health answered HTTP 503');
    expect(readiness.message).toMatch(/n3 \(ECONNREFUSED/);
    expect(readiness.message).not.toContain('n0 (');
  });

  it('stops early with the fatal message when a node dies', async () => {
    const state: FakeState = { catchingUp: true, peers: 0, healthStatus: 200, requests: 0 };
    const started = performance.now();
    const error = await waitForReady({
      targets: [{ nodeId: 'n0', rpcUrl: await startNode(state) }],
      probeFor: () => cometbftProbe(0),
      timeoutMs: 20_000,
      fatal: async () => 'node n0 exited (exit code 1) before it was ready',
    }).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe('node n0 exited (exit code 1) before it was ready');
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('gives up when every node answers alone (0 peers) for the watch span, through fatal', async () => {
    const nodes = await Promise.all(
      ['n0', 'n1'].map(async (nodeId) => ({
        nodeId,
        rpcUrl: await startNode({ catchingUp: false, peers: 0, healthStatus: 200, requests: 0 }),
      })),
    );
    const alone = alonenessWatch(['n0', 'n1'], 300);
    const error = await waitForReady({
      targets: nodes,
      probeFor: () => async (target, http) => {
        const result = await cometbftProbe(1)(target, http);
        alone.record(target.nodeId, result);
        return result;
      },
      timeoutMs: 20_000,
      fatal: async () => alone.check(),
    }).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe('each of the 2 nodes answered with 0 peers for 0 s');
  });

  it('stops when the signal aborts', async () => {
    const state: FakeState = { catchingUp: true, peers: 0, healthStatus: 200, requests: 0 };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await waitForReady({
      targets: [{ nodeId: 'n0', rpcUrl: await startNode(state) }],
      probeFor: () => cometbftProbe(0),
      timeoutMs: 20_000,
      signal: controller.signal,
    }).catch((caught: unknown) => caught);
    expect((error as { code?: string }).code).toBe('INTERRUPTED');
  });

  it('httpProbe accepts any answer below 500', async () => {
    const state: FakeState = { catchingUp: true, peers: 0, healthStatus: 200, requests: 0 };
    const url = await startNode(state);
    const result = await waitForReady({
      targets: [{ nodeId: 'h', rpcUrl: url }],
      probeFor: () => httpProbe('/'),
      timeoutMs: 2_000,
    });
    expect(result.readyAtMs.h).toBeDefined();
  });
});

describe('alonenessWatch', () => {
  let clock = 0;
  const watch = () => alonenessWatch(['n0', 'n1'], 20_000, () => clock);
  const alone = { ready: false, detail: 'net_info: 0 of 1 peers', peers: 0 };

  it('speaks once every node has answered alone for the whole span', () => {
    clock = 0;
    const w = watch();
    w.record('n0', alone);
    clock = 5_000;
    w.record('n1', alone);
    clock = 24_999;
    expect(w.check()).toBeUndefined();
    clock = 25_000;
    expect(w.check()).toBe('each of the 2 nodes answered with 0 peers for 20 s');
  });

  it('starts again when a node has a peer, does not answer, or is ready', () => {
    for (const other of [
      { ready: false, detail: 'net_info: 1 of 2 peers', peers: 1 },
      { ready: false, detail: 'ECONNREFUSED' },
      { ready: true, detail: 'ready' },
    ]) {
      clock = 0;
      const w = watch();
      w.record('n0', alone);
      w.record('n1', alone);
      clock = 10_000;
      w.record('n1', other);
      clock = 21_000;
      w.record('n1', alone);
      clock = 40_000;
      expect(w.check(), other.detail).toBeUndefined();
      clock = 41_000;
      expect(w.check(), other.detail).toBeDefined();
    }
  });
});
