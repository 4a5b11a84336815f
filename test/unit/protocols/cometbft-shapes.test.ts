/**
 * meshbench's cometbft adapter against replies in the shapes of CometBFT's OpenAPI document
 * (built from the document's own examples) and against a running refnode (signed votes, full
 * headers): broadcast replies read as accepted or committed, NewBlock events yield their txs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { txHash } from '../../../src/load/payload.js';
import {
  committedHashes,
  createCometbftProtocol,
  parseCometbftReply,
  parseCometbftReplyJson,
} from '../../../src/protocols/cometbft.js';
import type { Endpoint } from '../../../src/testbed/testbed.js';
import { Cluster, waitFor } from '../../../systems/refnode/test/helpers.js';
import { exampleOf, loadSpec } from '../../../systems/refnode/test/openapi.js';

describe("cometbft adapter on the OpenAPI document's examples", () => {
  const spec = loadSpec({ errata: false }); // the document as written

  it('reads the broadcast replies as accepted, and the commit reply as committed', () => {
    for (const method of ['broadcast_tx_sync', 'broadcast_tx_async'] as const) {
      const body = JSON.stringify(exampleOf(spec.responseSchema(method)));
      const mode = method === 'broadcast_tx_sync' ? 'sync' : 'async';
      expect(parseCometbftReply(200, body, mode), body).toEqual({ kind: 'ok' });
      expect(parseCometbftReplyJson(200, body, mode)).toEqual({ kind: 'ok' });
    }
    const commit = JSON.stringify(exampleOf(spec.responseSchema('broadcast_tx_commit')));
    expect(parseCometbftReply(200, commit, 'commit'), commit).toEqual({ kind: 'ok', committed: true });
  });

  it("finds the txs of a NewBlock event whose block is the document's Block", () => {
    const block = exampleOf(spec.schemaOf('Block')) as { data: string[] };
    expect(Array.isArray(block.data)).toBe(true);
    const event = { result: { data: { type: 'tendermint/event/NewBlock', value: { block } } } };
    expect(committedHashes(event)).toEqual(block.data.map((tx) => txHash(Buffer.from(tx, 'base64'))));
  });
});

describe('cometbft adapter against a refnode', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({ n: 4 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('broadcasts, sees the commit in a NewBlock event, and finds the tx by polling', async () => {
    const endpoint: Endpoint = { nodeId: 'node2', rpcUrl: `http://127.0.0.1:${cluster.node(2).rpc.port}` };
    const seen = new Set<string>();
    for (const mode of ['async', 'sync', 'commit'] as const) {
      const protocol = createCometbftProtocol(mode);
      const source = protocol.commits!.subscribe(protocol.commits!.websocketUrl(endpoint), (h) =>
        seen.add(h),
      );
      try {
        expect(await source.ready).toBe(true);
        const tx = Buffer.from(`adapter-${mode}-${process.pid}`);
        const res = await fetch(`${endpoint.rpcUrl}/`, {
          method: 'POST',
          headers: protocol.request.headers,
          body: protocol.body({ base64: tx.toString('base64') } as never, 7),
        });
        const body = await res.text();
        expect(protocol.parseReply(res.status, body)).toMatchObject({ kind: 'ok' });
        // The refnode's canonical accepted reply still takes the adapter's fast path (frozen OK).
        if (mode !== 'commit') expect(Object.isFrozen(parseCometbftReply(200, body, mode))).toBe(true);
        const hash = txHash(tx);
        await waitFor(`the NewBlock event with the ${mode} tx`, () => seen.has(hash), 10_000);
        expect(await protocol.commits!.poll(endpoint, hash, 5_000)).toBe(true);
      } finally {
        await source.close();
      }
    }
  });
});
