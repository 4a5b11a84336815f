import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  committedHashes,
  createCometbftProtocol,
  parseCometbftReply,
  parseCometbftReplyJson,
  websocketUrlFor,
} from '../../../src/protocols/cometbft.js';
import { createEtcdProtocol, parseEtcdReply, readEtcdRaftIndex } from '../../../src/protocols/etcd.js';
import { createHttpProtocol, parseHttpReply } from '../../../src/protocols/http.js';
import { txHash } from '../../../src/load/payload.js';

const tx = { bytes: Buffer.from('1=run.abc.xx'), base64: Buffer.from('1=run.abc.xx').toString('base64') };

describe('cometbft', () => {
  it('builds the JSON-RPC broadcast body', () => {
    const protocol = createCometbftProtocol('sync');
    expect(JSON.parse(protocol.body(tx, 7))).toEqual({
      jsonrpc: '2.0',
      id: 7,
      method: 'broadcast_tx_sync',
      params: { tx: tx.base64 },
    });
    expect(protocol.request).toMatchObject({ method: 'POST', path: '/' });
  });

  it.each([
    [200, '{"jsonrpc":"2.0","id":1,"result":{"code":0,"data":"","log":"","hash":"AB"}}', { kind: 'ok' }],
    [200, '{"jsonrpc":"2.0","id":1,"result":{"code":"0","hash":"AB"}}', { kind: 'ok' }],
    [
      200,
      '{"jsonrpc":"2.0","id":1,"result":{"code":5,"log":"bad nonce"}}',
      { kind: 'rejected', code: 'app:5' },
    ],
    [
      200,
      '{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"mempool is full"}}',
      { kind: 'rejected', code: 'rpc:-32603' },
    ],
    [
      500,
      '{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"Invalid Request"}}',
      { kind: 'rejected', code: 'rpc:-32600' },
    ],
    [500, 'Internal Server Error', { kind: 'httpError', status: 500 }],
    [503, '{"foo":1}', { kind: 'httpError', status: 503 }],
    [200, 'not json', { kind: 'badResponse' }],
    [200, '{"jsonrpc":"2.0","id":1}', { kind: 'badResponse' }],
    [200, '{"jsonrpc":"2.0","id":1,"result":{"data":""}}', { kind: 'badResponse' }],
  ])('classifies HTTP %i %s', (status, body, expected) => {
    expect(parseCometbftReply(status, body, 'async')).toEqual(expected);
  });

  it('classifies the canonical accepted reply as ok, exactly as the full JSON parse does', () => {
    const accepted =
      '{"jsonrpc":"2.0","id":42,"result":{"code":0,"data":"","log":"","codespace":"","hash":"9F86D081884C7D65"}}';
    expect(parseCometbftReply(200, accepted, 'async')).toEqual({ kind: 'ok' });
    expect(parseCometbftReply(200, accepted, 'sync')).toEqual({ kind: 'ok' });
    // Near misses of the fast path's shape (each field mostly canonical, so that most
    // bodies differ in one or two places): each must get what JSON.parse makes of it.
    const mostly = <T>(canonical: T, other: fc.Arbitrary<T>): fc.Arbitrary<T> =>
      fc.oneof({ arbitrary: fc.constant(canonical), weight: 3 }, { arbitrary: other, weight: 1 });
    const part = fc.oneof(
      fc.constantFrom('', '0', '1', '-1', '"', '\\', '\\"', '\u0001', '\n', 'é', 'AB', ' ', '}', ',', ':'),
      fc.string({ maxLength: 6 }),
      fc.string({ unit: 'binary', maxLength: 4 }),
    );
    fc.assert(
      fc.property(
        fc.record({
          id: mostly('7', fc.oneof(fc.integer().map(String), part)),
          code: mostly('0', fc.oneof(fc.constantFrom('1', '00', '0.0', '-0', '"0"', '0 '), part)),
          data: mostly('', part),
          log: mostly('', part),
          codespace: mostly('', part),
          hash: mostly('9F86D0', part),
          tail: mostly('}}', fc.constantFrom('}} ', '}}}', '},"error":null}', '}', '},"error":{"code":1}}')),
          status: mostly(200, fc.constantFrom(201, 400, 500)),
          mode: mostly('async', fc.constantFrom('sync', 'commit')) as fc.Arbitrary<
            'async' | 'sync' | 'commit'
          >,
        }),
        ({ id, code, data, log, codespace, hash, tail, status, mode }) => {
          const body = `{"jsonrpc":"2.0","id":${id},"result":{"code":${code},"data":"${data}","log":"${log}","codespace":"${codespace}","hash":"${hash}"${tail}`;
          expect(parseCometbftReply(status, body, mode)).toEqual(parseCometbftReplyJson(status, body, mode));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('broadcast_tx_commit: ok means committed; check_tx or tx_result codes reject', () => {
    expect(
      parseCometbftReply(
        200,
        '{"result":{"check_tx":{"code":0},"tx_result":{"code":0},"height":"5"}}',
        'commit',
      ),
    ).toEqual({ kind: 'ok', committed: true });
    expect(
      parseCometbftReply(200, '{"result":{"check_tx":{"code":3},"tx_result":{"code":0}}}', 'commit'),
    ).toEqual({ kind: 'rejected', code: 'app:3' });
    expect(
      parseCometbftReply(200, '{"result":{"check_tx":{"code":0},"deliver_tx":{"code":9}}}', 'commit'),
    ).toEqual({ kind: 'rejected', code: 'app:9' });
  });

  it('reads tx hashes from NewBlock and Tx events', () => {
    const newBlock = {
      jsonrpc: '2.0',
      id: 1,
      result: {
        data: { type: 'tendermint/event/NewBlock', value: { block: { data: { txs: [tx.base64] } } } },
      },
    };
    expect(committedHashes(newBlock)).toEqual([txHash(tx.bytes)]);
    const empty = {
      result: { data: { type: 'tendermint/event/NewBlock', value: { block: { data: { txs: null } } } } },
    };
    expect(committedHashes(empty)).toEqual([]);
    const txEvent = {
      result: {
        data: { type: 'tendermint/event/Tx', value: { TxResult: { tx: tx.base64 } } },
        events: { 'tx.hash': ['abcd'] },
      },
    };
    expect(committedHashes(txEvent)).toEqual(['ABCD']);
    expect(committedHashes({ id: 1, result: {} })).toBeUndefined();
  });

  it('derives the websocket URL', () => {
    expect(websocketUrlFor({ nodeId: 'n', rpcUrl: 'http://127.0.0.1:26657' })).toBe(
      'ws://127.0.0.1:26657/websocket',
    );
    expect(websocketUrlFor({ nodeId: 'n', rpcUrl: 'https://host/rpc/' })).toBe('wss://host/rpc/websocket');
    expect(websocketUrlFor({ nodeId: 'n', rpcUrl: 'http://x', wsUrl: 'ws://y/ws' })).toBe('ws://y/ws');
  });
});

describe('etcd', () => {
  it('puts base64 key and value; the default key is <prefix><run id>/<seq base36>', () => {
    const protocol = createEtcdProtocol({ keyPrefix: 'k/' }, 'run-1');
    const body = JSON.parse(protocol.body(tx, 12)) as { key: string; value: string };
    expect(Buffer.from(body.key, 'base64').toString()).toBe('k/run-1/c');
    expect(body.value).toBe(tx.base64);
    expect(protocol.keys).toEqual({ pattern: 'unique', prefix: 'k/', runKeyPrefix: 'k/run-1/' });
  });
  it.each([
    [200, '{"header":{"revision":"2"}}', { kind: 'ok' }],
    [
      400,
      '{"error":"etcdserver: request is too large","code":3,"message":"etcdserver: request is too large"}',
      { kind: 'rejected', code: 'grpc:3' },
    ],
    [502, 'Bad gateway', { kind: 'httpError', status: 502 }],
    [200, '<html>', { kind: 'badResponse' }],
    [200, '{}', { kind: 'badResponse' }],
  ])('classifies HTTP %i %s', (status, body, expected) => {
    expect(parseEtcdReply(status, body)).toEqual(expected);
  });
  it("reads a member's height from POST /v3/maintenance/status (raftIndex, a string in the gateway's JSON)", async () => {
    // Real etcd answers in test/integration/etcd.test.ts; here, what it must refuse.
    const replies: [number, string][] = [
      [200, '{"header":{"revision":"9"},"raftIndex":"1234","raftTerm":"2"}'],
      [503, '{"error":"etcdserver: not capable","code":14}'],
      [200, '{"header":{"revision":"9"}}'],
    ];
    const seen: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${body}`);
        const [status, reply] = replies.shift() ?? [500, ''];
        res.writeHead(status, { 'content-type': 'application/json' }).end(reply);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const endpoint = { nodeId: 'kv0', rpcUrl: `http://127.0.0.1:${port}` };
      const height = createEtcdProtocol({}, 'r').height;
      expect(height).toBe(readEtcdRaftIndex);
      expect(await readEtcdRaftIndex(endpoint)).toBe(1234);
      await expect(readEtcdRaftIndex(endpoint)).rejects.toThrow(/\/v3\/maintenance\/status: HTTP 503$/);
      await expect(readEtcdRaftIndex(endpoint)).rejects.toThrow(/no raftIndex$/);
      expect(seen).toEqual(Array(3).fill('POST /v3/maintenance/status {}'));
    } finally {
      server.close();
    }
  });
});

describe('http', () => {
  it('fills {{tx}} and {{seq}} in the body template', () => {
    const protocol = createHttpProtocol({
      method: 'put',
      path: '/p',
      bodyTemplate: '{"t":"{{tx}}","s":{{seq}},"again":"{{tx}}"}',
    });
    expect(JSON.parse(protocol.body(tx, 3))).toEqual({ t: tx.base64, s: 3, again: tx.base64 });
    expect(protocol.request.method).toBe('PUT');
  });
  it('success is 2xx and, when set, a truthy JSON field', () => {
    expect(parseHttpReply(204, '')).toEqual({ kind: 'ok' });
    expect(parseHttpReply(404, '')).toEqual({ kind: 'httpError', status: 404 });
    expect(parseHttpReply(200, '{"r":{"ok":true}}', 'r.ok')).toEqual({ kind: 'ok' });
    expect(parseHttpReply(200, '{"r":{"ok":false}}', 'r.ok')).toEqual({
      kind: 'rejected',
      code: 'field:r.ok',
    });
    expect(parseHttpReply(200, 'nope', 'r.ok')).toEqual({ kind: 'badResponse' });
  });
  it('rejects unknown methods', () => {
    expect(() => createHttpProtocol({ method: 'BREW', path: '/', bodyTemplate: '' })).toThrow(
      /HTTP method BREW/,
    );
  });
});

describe('asciiBodies (the raw transport takes the string length as the byte length)', () => {
  it.each([
    ['cometbft async', createCometbftProtocol('async')],
    ['cometbft commit', createCometbftProtocol('commit')],
    ['etcd with a non-ASCII key prefix', createEtcdProtocol({ keyPrefix: 'clé/ключ/' }, 'r')],
    [
      'etcd zipfian with a non-ASCII key prefix',
      createEtcdProtocol({ keyPrefix: 'ключ/', keys: { kind: 'zipfian', keySpace: 1000 } }, 'r'),
    ],
  ])('%s: every body is ASCII, whatever the tx bytes and sequence number', (_name, protocol) => {
    expect(protocol.request.asciiBodies).toBe(true);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(Number.MAX_SAFE_INTEGER), (bytes, seq) => {
        const raw = Buffer.from(bytes);
        const body = protocol.body({ bytes: raw, base64: raw.toString('base64') }, seq);
        expect(Buffer.byteLength(body)).toBe(body.length);
        expect(body).toMatch(/^[\x20-\x7e]*$/);
      }),
    );
  });

  it('is not claimed by the generic http adapter (its template is the user’s text)', () => {
    const protocol = createHttpProtocol({ method: 'POST', path: '/', bodyTemplate: 'é {{tx}}' });
    expect(protocol.request.asciiBodies).not.toBe(true);
  });
});
