/** The refnode RPC over real HTTP and WebSocket on loopback (one-node committee, commits alone). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { txHash } from '../src/block.js';
import { Cluster } from './helpers.js';

let cluster: Cluster;
let base: string;

beforeAll(async () => {
  cluster = await Cluster.start({
    n: 1,
    extraArgs: ['--max-body-bytes', '4096', '--max-batch-size', '5', '--mempool-max-txs', '3'],
  });
  base = `http://127.0.0.1:${cluster.node(0).rpc.port}`;
});
afterAll(async () => {
  await cluster.stop();
});

interface RpcReply {
  jsonrpc: string;
  id: unknown;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data: string };
}

async function post(
  body: string,
  contentType = 'application/json',
): Promise<{ status: number; json: RpcReply & RpcReply[] }> {
  const res = await fetch(base, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, json: (await res.json()) as RpcReply & RpcReply[] };
}

async function get(path: string): Promise<{ status: number; json: RpcReply }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, json: (await res.json()) as RpcReply };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('refnode RPC', () => {
  it('serves health, status and net_info like CometBFT', async () => {
    expect(await get('/health')).toEqual({ status: 200, json: { jsonrpc: '2.0', id: -1, result: {} } });
    const status = await post('{"jsonrpc":"2.0","id":7,"method":"status","params":{}}');
    expect(status.json.id).toBe(7);
    expect(status.json.result).toMatchObject({
      node_info: { id: cluster.node(0).key.nodeId, moniker: 'node0' },
      validator_info: { address: cluster.node(0).key.addressHex },
      sync_info: { catching_up: false },
    });
    expect(
      typeof (status.json.result?.sync_info as { latest_block_height: unknown }).latest_block_height,
    ).toBe('string');
    expect((await get('/net_info')).json.result).toMatchObject({ listening: true, n_peers: '0' });
  });

  it('broadcasts in the three modes and finds the tx by hash', async () => {
    const asyncReply = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'broadcast_tx_async', params: { tx: b64('rpc-a') } }),
    );
    expect(asyncReply.json.result).toMatchObject({ code: 0, hash: txHash(Buffer.from('rpc-a')) });
    const syncReply = await get(`/broadcast_tx_sync?tx=${encodeURIComponent('"rpc-b"')}`);
    expect(syncReply.json.result).toMatchObject({ code: 0, hash: txHash(Buffer.from('rpc-b')) });
    const commit = await get(`/broadcast_tx_commit?tx=0x${Buffer.from('rpc-c').toString('hex')}`);
    expect(commit.status).toBe(200);
    expect(commit.json.result).toMatchObject({
      check_tx: { code: 0 },
      tx_result: { code: 0 },
      hash: txHash(Buffer.from('rpc-c')),
    });
    const height = commit.json.result?.height as string;
    expect(Number(height)).toBeGreaterThan(0);
    const found = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tx',
        params: [Buffer.from(txHash(Buffer.from('rpc-c')), 'hex').toString('base64')],
      }),
    );
    expect(found.json.result).toMatchObject({
      hash: txHash(Buffer.from('rpc-c')),
      height,
      index: expect.any(Number),
      tx: b64('rpc-c'),
    });
    const byUri = await get(`/tx?hash=0x${txHash(Buffer.from('rpc-c'))}`);
    expect(byUri.json.result?.height).toBe(height);
    const unconfirmed = await get('/num_unconfirmed_txs');
    expect(unconfirmed.json.result).toMatchObject({
      n_txs: expect.any(String),
      total_bytes: expect.any(String),
    });
  });

  it('answers bad input with JSON-RPC errors and keeps serving', async () => {
    const malformed = await post('{"method":');
    expect(malformed.status).toBe(400);
    expect(malformed.json.error).toMatchObject({ code: -32700, message: 'Parse error. Invalid JSON' });

    const wrongType = await post('{"method":"status"}', 'text/html');
    expect(wrongType.status).toBe(415);
    expect(wrongType.json.error?.code).toBe(-32600);
    expect(wrongType.json.error?.data).toMatch(/unsupported content type 'text\/html'/);

    const big = await post(
      JSON.stringify({ method: 'broadcast_tx_sync', params: { tx: b64('x'.repeat(5000)) } }),
    );
    expect(big.status).toBe(413);
    expect(big.json.error?.data).toMatch(/request body too large \(max 4096 bytes\)/);

    const notBase64 = await post('{"id":1,"method":"broadcast_tx_sync","params":{"tx":"***"}}');
    expect(notBase64.json.error).toMatchObject({ code: -32602, data: 'tx is not valid base64' });

    const empty = await post('{"id":1,"method":"broadcast_tx_sync","params":{"tx":""}}');
    expect(empty.json.error).toMatchObject({ code: -32602, data: 'tx is empty' });

    await post(JSON.stringify({ id: 1, method: 'broadcast_tx_sync', params: { tx: b64('dup') } }));
    const dup = await post(
      JSON.stringify({ id: 1, method: 'broadcast_tx_sync', params: { tx: b64('dup') } }),
    );
    expect(dup.json.error).toMatchObject({ code: -32603, data: 'tx already exists in cache' });

    const unknown = await post('{"id":9,"method":"no_such_method"}');
    expect(unknown.json).toMatchObject({ id: 9, error: { code: -32601, message: 'Method not found' } });
    expect((await fetch(`${base}/no_such_method`)).status).toBe(404); // not a path CometBFT serves

    const huge = await post(
      JSON.stringify(Array.from({ length: 6 }, (_, i) => ({ id: i, method: 'health' }))),
    );
    expect(huge.json.error).toMatchObject({
      code: -32600,
      data: 'batch of 6 requests exceeds the maximum of 5',
    });

    const mixed = await post('[{"id":1,"method":"health"},{"id":2,"method":"nope"},{"id":3}]');
    expect(mixed.status).toBe(200);
    expect(mixed.json.map((r) => r.error?.code ?? 'ok')).toEqual(['ok', -32601, -32600]);

    const uriBad = await get('/broadcast_tx_sync?tx=plain');
    expect(uriBad.status).toBe(500);
    expect(uriBad.json.error?.code).toBe(-32602);

    const missing = await get('/tx?hash=0x' + 'AB'.repeat(32));
    expect(missing.json.error?.data).toMatch(/^tx \(ABAB.*\) not found$/);

    const subscribeOverHttp = await post(
      '{"id":1,"method":"subscribe","params":{"query":"tm.event=\'NewBlock\'"}}',
    );
    expect(subscribeOverHttp.json.error?.data).toMatch(/only available over \/websocket/);

    expect((await get('/health')).status).toBe(200);
  });

  it('refuses txs with a JSON-RPC error when the mempool is full', async () => {
    const node = cluster.node(0);
    // Stop proposing so the pool fills: a one-node committee would commit them at once.
    node.consensus.stop();
    const replies = [];
    for (let i = 0; i < 5; i++)
      replies.push(
        await post(JSON.stringify({ id: i, method: 'broadcast_tx_sync', params: { tx: b64(`fill-${i}`) } })),
      );
    const errors = replies.filter((r) => r.json.error !== undefined);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]?.json.error).toMatchObject({
      code: -32603,
      data: expect.stringMatching(/^mempool is full: number of txs 3 \(max: 3\)/),
    });
    expect(node.mempool.size).toBe(3);
  });
});

describe('refnode paths', () => {
  /** What a WebSocket client gets when it connects to `path`: the HTTP status of a refusal, or `open`. */
  const upgradeTo = (path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base.replace('http:', 'ws:')}${path}`);
      ws.once('open', () => {
        ws.close();
        resolve('open');
      });
      ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve(`${response.statusCode} ${body}`));
      });
      ws.once('error', reject);
    });
  const request = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, init);
    return { status: res.status, text: await res.text() };
  };
  const rpc = (path: string) =>
    request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"health"}',
    });

  it('refuses, as CometBFT does (404), a WebSocket upgrade or a request on a path it does not serve', async () => {
    expect(await upgradeTo('/websocket')).toBe('open');
    for (const path of ['/websocket/websocket', '/', '/status', '/ws']) {
      const answer = await upgradeTo(path);
      expect(answer, path).toMatch(/^404 404 page not found: /);
      expect(answer, path).toContain(`${path} is not a refnode RPC path`);
    }
    for (const path of ['/websocket/websocket', '/no_such_method', '/status/']) {
      expect(await request(path), `GET ${path}`).toMatchObject({ status: 404 });
      expect(await rpc(path), `POST ${path}`).toMatchObject({
        status: 404,
        text: expect.stringMatching(/^404 page not found: .* \(JSON-RPC: POST \/;/),
      });
    }
    // A JSON-RPC POST to /websocket, or a plain GET of it: 400, the upgrade is missing.
    expect(await rpc('/websocket')).toMatchObject({
      status: 400,
      text: expect.stringMatching(/WebSocket upgrade/),
    });
    expect((await request('/websocket')).status).toBe(400);
    // What is served still is: JSON-RPC at /, a method's path by GET or (its body unread) POST.
    expect(await rpc('/')).toEqual({ status: 200, text: '{"jsonrpc":"2.0","id":1,"result":{}}' });
    expect(await rpc('/health')).toEqual({ status: 200, text: '{"jsonrpc":"2.0","id":-1,"result":{}}' });
    expect((await request('/?x=1')).status).toBe(200);
    expect((await request('/metrics')).status).toBe(200);
  });
});

describe('refnode /websocket', () => {
  it('sends NewBlock and Tx events with the tx bytes and hashes', async () => {
    const c = await Cluster.start({ n: 1 });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${c.node(0).rpc.port}/websocket`);
      const messages: {
        id: unknown;
        result?: {
          query?: string;
          data?: { type: string; value: Record<string, unknown> };
          events?: Record<string, string[]>;
        };
      }[] = [];
      ws.on('message', (d: Buffer) => messages.push(JSON.parse(d.toString())));
      await new Promise((r) => ws.once('open', r));
      ws.send(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 'b',
          method: 'subscribe',
          params: { query: "tm.event='NewBlock'" },
        }),
      );
      ws.send(
        JSON.stringify({ jsonrpc: '2.0', id: 't', method: 'subscribe', params: { query: "tm.event='Tx'" } }),
      );
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 's', method: 'status' }));
      ws.send('not json');
      const deadline = Date.now() + 5000;
      const replies = () => messages.filter((m) => m.result?.query === undefined);
      while (replies().length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Replies may come in any order (JSON-RPC ids pair them); the bad message gets a parse error.
      expect(
        replies()
          .map((m) => m.id)
          .sort(),
      ).toEqual([-1, 'b', 's', 't'].sort());
      expect(replies().find((m) => m.id === -1)).toMatchObject({ error: { code: -32700 } });
      const hash = c.node(0).submitTx(Buffer.from('ws-tx'));
      const find = (pred: (m: (typeof messages)[number]) => boolean) => messages.find(pred);
      while (
        Date.now() < deadline &&
        find((m) => m.id === 't' && m.result?.events?.['tx.hash']?.[0] === hash) === undefined
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const txEvent = find((m) => m.id === 't' && m.result?.events?.['tx.hash']?.[0] === hash);
      expect(txEvent?.result?.query).toBe("tm.event='Tx'");
      expect(txEvent?.result?.data).toMatchObject({
        type: 'tendermint/event/Tx',
        value: { TxResult: { tx: b64('ws-tx'), index: 0 } },
      });
      const height = (txEvent?.result?.data?.value.TxResult as { height: string }).height;
      const blockEvent = find(
        (m) =>
          m.id === 'b' &&
          (m.result?.data?.value.block as { header: { height: string } } | undefined)?.header.height ===
            height,
      );
      expect(blockEvent?.result?.data?.type).toBe('tendermint/event/NewBlock');
      expect((blockEvent?.result?.data?.value.block as { data: { txs: string[] } }).data.txs).toContain(
        b64('ws-tx'),
      );
      ws.close();
    } finally {
      await c.stop();
    }
  });
});

describe('refnode RPC under random input', () => {
  it('answers every random body with JSON and keeps serving (fuzz over HTTP)', async () => {
    const c = await Cluster.start({ n: 1, extraArgs: ['--max-body-bytes', '2048'] });
    try {
      const url = `http://127.0.0.1:${c.node(0).rpc.port}`;
      const fc = (await import('fast-check')).default;
      const bodies = fc.sample(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
          fc
            .record({
              id: fc.jsonValue({ maxDepth: 1 }),
              method: fc.constantFrom('status', 'broadcast_tx_sync', 'tx', 'x'),
              params: fc.jsonValue({ maxDepth: 2 }),
            })
            .map((v) => JSON.stringify(v)),
          fc.string({ minLength: 2100, maxLength: 2200 }),
        ),
        { numRuns: 150, seed: 42 },
      );
      for (const body of bodies) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        const json = (await res.json()) as unknown;
        expect(json === null || typeof json === 'object').toBe(true);
        const entries = Array.isArray(json) ? json : [json];
        for (const e of entries) expect(e).toHaveProperty('jsonrpc', '2.0');
      }
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      await c.stop();
    }
  });
});
