/**
 * The propagation probes' watch on a CometBFT node: one subscription for a level's probes where
 * the app emits kvstore's `app` event (the reference node, in this process), and a subscription
 * per probe where it does not (a node whose app emits no such event: a websocket server here
 * that answers as CometBFT does, since no CometBFT runs on this machine).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import {
  cometbftProbeBytes,
  cometbftTransactionWatcher,
  scopeQuery,
  txQuery,
} from '../../../src/protocols/cometbft-watch.js';
import type { Endpoint } from '../../../src/protocols/endpoint.js';
import type { TransactionWatch } from '../../../src/protocols/protocol.js';
import { txHash } from '../../../src/protocols/transaction.js';
import { Cluster, freePorts } from '../../../systems/refnode/test/helpers.js';

const SCOPE = 'r1-local-1-1';

/** A watch and the probes it has reported, with a wait for one. */
function watchOf(endpoint: Endpoint): { watch: TransactionWatch; seen: (id: string) => Promise<void> } {
  const waiting = new Map<string, () => void>();
  const seenIds = new Set<string>();
  const watch = cometbftTransactionWatcher.watch(endpoint, SCOPE, (id) => {
    seenIds.add(id);
    waiting.get(id)?.();
  });
  return {
    watch,
    seen: (id) =>
      seenIds.has(id) ? Promise.resolve() : new Promise<void>((resolve) => waiting.set(id, resolve)),
  };
}

/** A websocket server on loopback at `/websocket` (this file's own, closed after each test): its port. */
async function websocketServer(onConnection: (socket: WebSocket) => void): Promise<number> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, path: '/websocket' });
  server = { http, wss };
  wss.on('connection', onConnection);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return (http.address() as AddressInfo).port;
}

let cluster: Cluster | undefined;
let server: { http: Server; wss: WebSocketServer } | undefined;
const watches: TransactionWatch[] = [];

afterEach(async () => {
  await Promise.all(watches.splice(0).map((watch) => watch.close()));
  await cluster?.stop();
  cluster = undefined;
  if (server) {
    server.wss.close();
    await new Promise((resolve) => server?.http.close(resolve));
    server = undefined;
  }
});

describe('the CometBFT probe watch', () => {
  it("needs no subscription per probe once the level's own has delivered one (an app with kvstore's event)", async () => {
    cluster = await Cluster.start({ n: 1 });
    const rpcUrl = `http://127.0.0.1:${cluster.node(0).rpc.port}`;
    // The watch talks to the node through a websocket relay that notes what the watch asks
    const asked: string[] = [];
    let relayClosed: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (relayClosed = resolve));
    const port = await websocketServer((client) => {
      const node = new WebSocket(`${rpcUrl.replace('http', 'ws')}/websocket`);
      const opened = new Promise((resolve) => node.once('open', resolve));
      client.on('message', (raw: Buffer) => {
        const request = JSON.parse(raw.toString('utf8')) as { method: string; params: { query: string } };
        asked.push(`${request.method} ${request.params.query}`);
        void opened.then(() => node.send(raw.toString('utf8')));
      });
      node.on('message', (raw: Buffer) => client.send(raw.toString('utf8')));
      client.on('close', () => {
        node.close();
        relayClosed();
      });
    });
    const endpoint: Endpoint = { nodeId: 'node0', rpcUrl, wsUrl: `ws://127.0.0.1:${port}/websocket` };
    const { watch, seen } = watchOf(endpoint);
    watches.push(watch);
    expect(await watch.ready).toBe(true);
    const hash0 = txHash(cometbftProbeBytes({ scope: SCOPE, id: '0' }));
    await watch.expect('0', 2000);
    await cometbftTransactionWatcher.submit(endpoint, { scope: SCOPE, id: '0' }, 5000);
    await seen('0');
    watch.forget('0');
    const ids = ['1', '2', '3', '4', '5', '6', '7', '8'];
    await Promise.all(ids.map((id) => watch.expect(id, 2000)));
    for (const id of ids) await cometbftTransactionWatcher.submit(endpoint, { scope: SCOPE, id }, 5000);
    await Promise.all(ids.map((id) => seen(id)));
    for (const id of ids) watch.forget(id);
    // its close comes after everything it sent before
    await watch.close();
    await closed;
    expect(asked).toEqual([
      `subscribe ${scopeQuery(SCOPE)}`,
      `subscribe ${txQuery(hash0)}`,
      `unsubscribe ${txQuery(hash0)}`,
    ]);
  });

  it('counts a drop when its node crashes, and watches the node again once it is back', async () => {
    // a fixed RPC port, so the node comes back where the watch looks for it
    const [rpcPort] = await freePorts(1);
    cluster = await Cluster.start({ n: 1, nodeArgs: () => ['--rpc-port', String(rpcPort)] });
    const endpoint: Endpoint = { nodeId: 'node0', rpcUrl: `http://127.0.0.1:${cluster.node(0).rpc.port}` };
    const { watch, seen } = watchOf(endpoint);
    watches.push(watch);
    expect(await watch.ready).toBe(true);
    await watch.expect('0', 2000);
    await cometbftTransactionWatcher.submit(endpoint, { scope: SCOPE, id: '0' }, 5000);
    await seen('0');
    expect(watch.drops).toBe(0);
    await cluster.stopNode(0);
    await expect.poll(() => watch.connected, { timeout: 10_000 }).toBe(false);
    expect(watch.drops).toBe(1);
    await expect(watch.expect('1', 2000)).rejects.toThrow(/not connected/);
    await cluster.startNode(0);
    await expect.poll(() => watch.connected, { timeout: 10_000 }).toBe(true);
    expect(watch.drops).toBe(1);
    await watch.expect('2', 2000);
    await cometbftTransactionWatcher.submit(endpoint, { scope: SCOPE, id: '2' }, 5000);
    await seen('2');
    await watch.close();
    // closed, it stays so: no reconnect after close
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(watch.connected).toBe(false);
    expect(watch.drops).toBe(1);
  });

  it('subscribes to each probe, and drops it once seen, where the app emits no such event', async () => {
    const queries: string[] = [];
    const sockets = new Set<WebSocket>();
    const subscriptions = new Map<string, number>();
    const port = await websocketServer((socket) => {
      sockets.add(socket);
      socket.on('message', (raw: Buffer) => {
        const request = JSON.parse(raw.toString('utf8')) as {
          id: number;
          method: string;
          params: { query: string };
        };
        queries.push(`${request.method} ${request.params.query}`);
        if (request.method === 'subscribe') subscriptions.set(request.params.query, request.id);
        else subscriptions.delete(request.params.query);
        socket.send(JSON.stringify({ jsonrpc: '2.0', id: request.id, result: {} }));
      });
    });
    /** The node commits a probe: a Tx event to the subscriptions that match it (its hash's; the app has no `app` event). */
    const commit = (id: string): void => {
      const bytes = cometbftProbeBytes({ scope: SCOPE, id });
      const hash = txHash(bytes);
      const query = txQuery(hash);
      const rpcId = subscriptions.get(query);
      if (rpcId === undefined) return;
      const data = { type: 'tendermint/event/Tx', value: { TxResult: { tx: bytes.toString('base64') } } };
      const events = { 'tm.event': ['Tx'], 'tx.hash': [hash] };
      for (const socket of sockets)
        socket.send(JSON.stringify({ jsonrpc: '2.0', id: rpcId, result: { query, data, events } }));
    };
    const { watch, seen } = watchOf({ nodeId: 'node0', rpcUrl: `http://127.0.0.1:${port}` });
    watches.push(watch);
    expect(await watch.ready).toBe(true);
    for (const id of ['0', '1', '2']) {
      await watch.expect(id, 2000);
      commit(id);
      await seen(id);
      watch.forget(id);
    }
    await expect.poll(() => queries.filter((q) => q.startsWith('unsubscribe')).length).toBe(3);
    const hashOf = (id: string) => txHash(cometbftProbeBytes({ scope: SCOPE, id }));
    expect(queries).toEqual([
      `subscribe ${scopeQuery(SCOPE)}`,
      ...['0', '1', '2'].flatMap((id) => [
        `subscribe ${txQuery(hashOf(id))}`,
        `unsubscribe ${txQuery(hashOf(id))}`,
      ]),
    ]);
  });
});
