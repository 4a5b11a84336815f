import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RPC_CODES,
  RpcError,
  decodeBase64Param,
  decodeHashParam,
  decodeUriBytes,
  matchesQuery,
  namedParams,
  parseEventQuery,
  parseJsonRpcBody,
  parseQuery,
} from '../src/rpc-parse.js';

function errorData(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof RpcError) return `${err.code} ${err.data}`;
    throw err;
  }
  throw new Error('did not throw');
}

describe('parseJsonRpcBody', () => {
  it('parses a single request and a batch', () => {
    expect(parseJsonRpcBody('{"jsonrpc":"2.0","id":3,"method":"status"}', 10)).toEqual({
      kind: 'single',
      entry: { ok: true, request: { id: 3, method: 'status', params: {} } },
    });
    const batch = parseJsonRpcBody(
      '[{"id":1,"method":"health"},{"id":"x","method":"tx","params":["AA=="]}]',
      10,
    );
    expect(batch.kind).toBe('batch');
    if (batch.kind === 'batch')
      expect(batch.entries.map((e) => e.ok && e.request.method)).toEqual(['health', 'tx']);
  });

  it('answers malformed JSON with -32700', () => {
    const r = parseJsonRpcBody('{"method": "status"', 10);
    expect(r.kind).toBe('error');
    if (r.kind === 'error') {
      expect(r.error.code).toBe(RPC_CODES.parseError);
      expect(r.error.message).toBe('Parse error. Invalid JSON');
    }
  });

  it('refuses an empty batch and a batch over the limit with -32600', () => {
    const empty = parseJsonRpcBody('[]', 10);
    expect(empty.kind === 'error' && empty.error.code).toBe(RPC_CODES.invalidRequest);
    const huge = parseJsonRpcBody(
      JSON.stringify(Array.from({ length: 11 }, (_, i) => ({ id: i, method: 'health' }))),
      10,
    );
    expect(huge.kind === 'error' && huge.error.data).toBe('batch of 11 requests exceeds the maximum of 10');
  });

  it('flags invalid request objects per entry, keeping the id when it can', () => {
    const r = parseJsonRpcBody(
      '[1, {"id":2}, {"id":3,"method":"x","jsonrpc":"1.0"}, {"id":4,"method":"x","params":5}, {"id":{},"method":"x"}]',
      10,
    );
    expect(r.kind).toBe('batch');
    if (r.kind !== 'batch') return;
    expect(r.entries.map((e) => (e.ok ? 'ok' : [e.id, e.error.code]))).toEqual([
      [null, -32600],
      [2, -32600],
      [3, -32600],
      [4, -32602],
      [null, -32600],
    ]);
  });

  it('never throws and always yields a well-formed answer, whatever the body (fuzz)', () => {
    const jsonish = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record(
          {
            jsonrpc: fc.oneof(fc.constant('2.0'), fc.string()),
            id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.object()),
            method: fc.oneof(
              fc.constantFrom('status', 'broadcast_tx_sync', 'tx', ''),
              fc.string(),
              fc.integer(),
            ),
            params: fc.oneof(fc.object(), fc.array(fc.jsonValue()), fc.string(), fc.constant(null)),
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
      fc.array(fc.jsonValue(), { maxLength: 30 }).map((a) => JSON.stringify(a)),
    );
    fc.assert(
      fc.property(jsonish, fc.integer({ min: 1, max: 20 }), (body, maxBatch) => {
        const r = parseJsonRpcBody(body, maxBatch);
        if (r.kind === 'error') {
          expect(r.error).toBeInstanceOf(RpcError);
          expect([-32700, -32600]).toContain(r.error.code);
          return;
        }
        const entries = r.kind === 'single' ? [r.entry] : r.entries;
        if (r.kind === 'batch') expect(entries.length).toBeLessThanOrEqual(maxBatch);
        for (const e of entries) {
          if (e.ok) {
            expect(typeof e.request.method).toBe('string');
            expect(e.request.method.length).toBeGreaterThan(0);
            expect(typeof e.request.params).toBe('object');
            expect(e.request.params).not.toBeNull();
          } else {
            expect(e.error.code).toBeLessThan(-32000);
            expect(JSON.parse(JSON.stringify({ id: e.id, error: e.error }))).toHaveProperty('error.message');
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('params', () => {
  it('maps positional params by name', () => {
    expect(namedParams(['AA==', true], ['hash', 'prove'])).toEqual({ hash: 'AA==', prove: true });
    expect(namedParams({ tx: 'x' }, ['tx'])).toEqual({ tx: 'x' });
  });

  it('decodes base64 txs strictly', () => {
    expect(decodeBase64Param('tx', 'aGVsbG8=').toString()).toBe('hello');
    expect(decodeBase64Param('tx', '').length).toBe(0);
    for (const bad of ['not base64!', 'aGVsbG8', 'aGV=sbG8', 42, null]) {
      expect(() => decodeBase64Param('tx', bad)).toThrow(RpcError);
    }
  });

  it('decodes URI byte arguments as 0x hex or quoted strings, as CometBFT', () => {
    expect(decodeUriBytes('tx', '0x68656c6c6f').toString()).toBe('hello');
    expect(decodeUriBytes('tx', '"hello"').toString()).toBe('hello');
    expect(decodeUriBytes('tx', '"a\\"b"').toString()).toBe('a"b');
    expect(errorData(() => decodeUriBytes('tx', '0x123'))).toMatch(/even number of hex digits/);
    expect(errorData(() => decodeUriBytes('tx', 'hello'))).toMatch(/0x-prefixed hex or a "quoted string"/);
  });

  it('decodes hashes as hex (0x optional) or base64 of 32 bytes', () => {
    const hex = 'ab'.repeat(32);
    expect(decodeHashParam(hex, 'json')).toBe(hex.toUpperCase());
    expect(decodeHashParam(`0x${hex}`, 'uri')).toBe(hex.toUpperCase());
    expect(decodeHashParam(Buffer.from(hex, 'hex').toString('base64'), 'json')).toBe(hex.toUpperCase());
    expect(() => decodeHashParam('abc', 'json')).toThrow(RpcError);
  });

  it('parses query strings without throwing on bad escapes (fuzz)', () => {
    expect([...parseQuery('?tx=%22a%20b%22&x&tx=ignored')]).toEqual([
      ['tx', '"a b"'],
      ['x', ''],
    ]);
    fc.assert(
      fc.property(fc.string(), (s) => void parseQuery(s)),
      { numRuns: 1000 },
    );
  });
});

describe('event queries', () => {
  it('parses tm.event queries with AND conditions and matches events', () => {
    const q = parseEventQuery("tm.event='Tx' AND tx.hash='AB'");
    expect(q).toEqual([
      { key: 'tm.event', value: 'Tx' },
      { key: 'tx.hash', value: 'AB' },
    ]);
    expect(matchesQuery(q, { 'tm.event': ['Tx'], 'tx.hash': ['AB'] })).toBe(true);
    expect(matchesQuery(q, { 'tm.event': ['Tx'], 'tx.hash': ['CD'] })).toBe(false);
    expect(matchesQuery(parseEventQuery("tm.event = 'NewBlock'"), { 'tm.event': ['NewBlock'] })).toBe(true);
    expect(parseEventQuery('tx.height=5')).toEqual([{ key: 'tx.height', value: '5' }]);
  });

  it("matches CONTAINS on any of a key's values", () => {
    const q = parseEventQuery("tm.event='Tx' AND app.key CONTAINS 'meshbench-probe/r1/'");
    expect(q).toEqual([
      { key: 'tm.event', value: 'Tx' },
      { key: 'app.key', value: 'meshbench-probe/r1/', contains: true },
    ]);
    const tx = (key: string) => ({ 'tm.event': ['Tx'], 'app.key': [key] });
    expect(matchesQuery(q, tx('meshbench-probe/r1/7'))).toBe(true);
    expect(matchesQuery(q, tx('meshbench-probe/r10/7'))).toBe(false);
    expect(matchesQuery(q, { 'tm.event': ['Tx'] })).toBe(false);
  });

  it('refuses what it cannot parse', () => {
    for (const bad of [
      '',
      "tm.event>'Tx'",
      'tm.event',
      42,
      "tm.event='Tx' OR tm.event='NewBlock'",
      'app.key CONTAINS 5',
    ]) {
      expect(() => parseEventQuery(bad)).toThrow(RpcError);
    }
  });
});
