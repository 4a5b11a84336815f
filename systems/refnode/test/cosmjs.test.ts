/**
 * A client not written here reads the refnode: CosmJS's Comet38Client and Tendermint37Client
 * call every served method and subscribe to NewBlock and Tx events on a 4-node network (in
 * process, real TCP on loopback). Every raw reply is validated against CometBFT's OpenAPI
 * document (with the errata listed in openapi.ts), and the commits' signatures are checked
 * with the validators' public keys as any client could check them.
 */
import { createPublicKey, verify } from 'node:crypto';
import {
  BlockIdFlag,
  Comet38Client,
  Tendermint37Client,
  rawEd25519PubkeyToRawAddress,
} from '@cosmjs/tendermint-rpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { txHash } from '../src/block.js';
import { CHAIN_ID, voteSignBytes } from '../src/keys.js';
import { Cluster, waitFor } from './helpers.js';
import { type SpecValidators, loadSpec } from './openapi.js';

let cluster: Cluster;
let spec: SpecValidators;
let http: string;
let ws: string;

beforeAll(async () => {
  spec = loadSpec();
  cluster = await Cluster.start({ n: 4 });
  const port = cluster.node(1).rpc.port;
  http = `http://127.0.0.1:${port}`;
  ws = `ws://127.0.0.1:${port}`;
  await waitFor('height 3 on every node', () => cluster.minHeight() >= 3, 15_000);
});
afterAll(async () => {
  await cluster?.stop();
});

const CLIENTS = [
  { name: 'Comet38Client', connect: (url: string) => Comet38Client.connect(url) },
  { name: 'Tendermint37Client', connect: (url: string) => Tendermint37Client.connect(url) },
] as const;

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const edPublicKey = (raw: Uint8Array) =>
  createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

let txSeq = 0;
const newTx = (tag: string): Uint8Array => Buffer.from(`cosmjs-${tag}-${process.pid}-${txSeq++}`);

describe.each(CLIENTS)('CosmJS $name', ({ connect }) => {
  it('reads every served method', async () => {
    const client = await connect(http);
    try {
      // Txs in the three modes.
      const committedTx = newTx('commit');
      const commitReply = await client.broadcastTxCommit({ tx: committedTx });
      expect(commitReply.checkTx.code).toBe(0);
      expect(commitReply.height).toBeGreaterThan(0);
      expect(hex(commitReply.hash).toUpperCase()).toBe(txHash(committedTx));
      for (const reply of [
        await client.broadcastTxSync({ tx: newTx('sync') }),
        await client.broadcastTxAsync({ tx: newTx('async') }),
      ]) {
        expect(reply.hash).toHaveLength(32);
        if ('code' in reply) expect(reply.code).toBe(0);
      }
      const height = commitReply.height;
      await waitFor('one more block', () => cluster.node(1).store.height > height, 10_000);

      expect(await client.health()).toBeNull();

      const status = await client.status();
      const self = cluster.node(1);
      expect(hex(status.nodeInfo.id)).toBe(self.key.nodeId);
      expect(status.nodeInfo.moniker).toBe('node1');
      expect(status.nodeInfo.network).toBe(CHAIN_ID);
      expect(status.syncInfo.latestBlockHeight).toBeGreaterThan(height);
      expect(status.syncInfo.catchingUp).toBe(false);
      expect(status.validatorInfo.pubkey?.algorithm).toBe('ed25519');
      expect(status.validatorInfo.address).toEqual(
        rawEd25519PubkeyToRawAddress(status.validatorInfo.pubkey!.data),
      );

      const info = await client.abciInfo();
      expect(info.lastBlockHeight).toBeGreaterThan(height);
      expect(info.lastBlockAppHash).toHaveLength(32);

      const validators = await client.validatorsAll();
      expect(validators.total).toBe(4);
      const addresses = validators.validators.map((v) => hex(v.address));
      expect(addresses).toEqual([...addresses].sort());
      for (const v of validators.validators)
        expect(v.address).toEqual(rawEd25519PubkeyToRawAddress(v.pubkey!.data));
      const keyByAddress = new Map(validators.validators.map((v) => [hex(v.address), v.pubkey!.data]));
      const page = await client.validators({ page: 2, per_page: 3 });
      expect(page.count).toBe(1);
      expect(page.total).toBe(4);

      const genesis = await client.genesis();
      expect(genesis.chainId).toBe(CHAIN_ID);
      expect(genesis.validators.map((v) => hex(v.address))).toEqual(addresses);
      expect(genesis.consensusParams.block?.maxGas).toBe(-1);

      const { block, blockId } = await client.block(height);
      expect(block.header.height).toBe(height);
      expect(block.header.chainId).toBe(CHAIN_ID);
      expect(block.txs.map((t) => hex(t))).toContain(hex(committedTx));
      expect(keyByAddress.has(hex(block.header.proposerAddress))).toBe(true);
      expect(blockId.hash).toHaveLength(32);
      const parent = await client.block(height - 1);
      expect(block.header.lastBlockId?.hash).toEqual(parent.blockId.hash);
      expect(block.header.lastBlockId?.parts).toEqual(parent.blockId.parts);
      expect(block.header.appHash).toEqual(parent.blockId.hash);
      expect(block.header.dataHash).toHaveLength(32);
      expect(block.lastCommit?.height).toBe(height - 1);
      expect((await client.block()).block.header.height).toBeGreaterThan(height);
      expect((await client.block(1)).block.lastCommit).toBeNull();

      const chain = await client.blockchain(1, height);
      expect(chain.lastHeight).toBeGreaterThan(height);
      expect(chain.blockMetas.map((m) => m.header.height)).toEqual(
        Array.from({ length: Math.min(20, height) }, (_, i) => height - i),
      );
      expect(chain.blockMetas[0]!.blockId).toEqual(blockId);
      expect(chain.blockMetas[0]!.numTxs).toBe(block.txs.length);

      const results = await client.blockResults(height);
      expect(results.height).toBe(height);
      expect(results.results).toHaveLength(block.txs.length);
      expect(results.results.every((r) => r.code === 0)).toBe(true);

      const commit = await client.commit(height);
      expect(commit.canonical).toBe(true);
      expect(commit.header.height).toBe(height);
      expect(commit.commit.blockId).toEqual(blockId);
      const signed = commit.commit.signatures.filter((s) => s.blockIdFlag === BlockIdFlag.Commit);
      expect(signed.length).toBeGreaterThanOrEqual(3);
      for (const sig of signed) {
        const bytes = voteSignBytes(
          'precommit',
          height,
          commit.commit.round,
          { hash: Buffer.from(blockId.hash), partsHash: Buffer.from(blockId.parts.hash) },
          sig.timestamp!.getTime(),
        );
        const pub = keyByAddress.get(hex(sig.validatorAddress!));
        expect(pub).toBeDefined();
        expect(verify(null, bytes, edPublicKey(pub!), sig.signature!)).toBe(true);
        expect(
          verify(null, Buffer.concat([bytes, Buffer.from([0])]), edPublicKey(pub!), sig.signature!),
        ).toBe(false);
      }

      const found = await client.tx({ hash: commitReply.hash });
      expect(found.height).toBe(height);
      expect(hex(found.tx)).toBe(hex(committedTx));

      const pending = await client.numUnconfirmedTxs();
      expect(pending.total).toBeGreaterThanOrEqual(0);
    } finally {
      client.disconnect();
    }
  });

  it('decodes NewBlock and Tx events', async () => {
    const client = await connect(ws);
    const blocks: number[] = [];
    const txEvents: string[] = [];
    const failures: unknown[] = [];
    const newBlocks = client.subscribeNewBlock().subscribe({
      next: (b) => {
        blocks.push(b.header.height);
        expect(b.header.chainId).toBe(CHAIN_ID);
        if (b.header.height > 1) expect(b.lastCommit?.signatures.length).toBe(4);
      },
      error: (err) => failures.push(err),
      complete: () => {},
    });
    const txs = client.subscribeTx().subscribe({
      next: (t) => txEvents.push(hex(t.hash).toUpperCase()),
      error: (err) => failures.push(err),
      complete: () => {},
    });
    try {
      await new Promise((r) => setTimeout(r, 300)); // subscriptions are live
      const tx = newTx('event');
      await client.broadcastTxSync({ tx });
      await waitFor('the Tx event', () => txEvents.includes(txHash(tx)) || failures.length > 0, 10_000);
      await waitFor('two NewBlock events', () => blocks.length >= 2 || failures.length > 0, 10_000);
      expect(failures).toEqual([]);
      expect(blocks[1]).toBe(blocks[0]! + 1);
    } finally {
      newBlocks.unsubscribe();
      txs.unsubscribe();
      client.disconnect();
    }
  });
});

describe("every reply in CometBFT's OpenAPI shapes", () => {
  let id = 1;
  const call = async (method: string, params: Record<string, unknown> = {}): Promise<unknown> => {
    const res = await fetch(http, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: id++, method, params }),
    });
    expect(res.status).toBe(200);
    return res.json();
  };
  const valid = (method: string, body: unknown): void => {
    const errors = spec.reply(method, body);
    expect(errors, `${method}: ${JSON.stringify(body).slice(0, 400)}`).toEqual([]);
    expect((body as { error?: unknown }).error, method).toBeUndefined();
  };

  it('validates every method the refnode serves', async () => {
    const tx = Buffer.from(`openapi-${process.pid}`).toString('base64');
    const committed = (await call('broadcast_tx_commit', { tx })) as {
      result: { height: string; hash: string };
    };
    valid('broadcast_tx_commit', committed);
    valid(
      'broadcast_tx_sync',
      await call('broadcast_tx_sync', { tx: Buffer.from('openapi-s').toString('base64') }),
    );
    valid(
      'broadcast_tx_async',
      await call('broadcast_tx_async', { tx: Buffer.from('openapi-a').toString('base64') }),
    );
    const height = committed.result.height;
    await waitFor('one more block', () => cluster.node(1).store.height > Number(height), 10_000);
    const calls: [string, Record<string, unknown>][] = [
      ['health', {}],
      ['status', {}],
      ['net_info', {}],
      ['num_unconfirmed_txs', {}],
      ['tx', { hash: Buffer.from(committed.result.hash, 'hex').toString('base64') }],
      ['block', { height }],
      ['block', {}],
      ['block', { height: '1' }],
      ['blockchain', { minHeight: '1', maxHeight: height }],
      ['blockchain', {}],
      ['block_results', { height }],
      ['block_results', { height: '1' }],
      ['commit', { height }],
      ['commit', {}],
      ['validators', {}],
      ['validators', { height, page: '1', per_page: '2' }],
      ['genesis', {}],
      ['abci_info', {}],
    ];
    for (const [method, params] of calls) valid(method, await call(method, params));
    // The document gives /header's 200 reply as a bare header (CometBFT wraps it as every reply).
    const header = (await call('header', { height })) as { result: { header: unknown } };
    expect(spec.schema('BlockHeader', header.result.header)).toEqual([]);
    // The URI form answers alike.
    const uri = await (await fetch(`${http}/block?height=${height}`)).json();
    valid('block', uri);
  });

  it('validates the NewBlock event against the Block and BlockID schemas', async () => {
    const socket = new WebSocket(`${ws}/websocket`);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const events: { data: { value: { block: unknown; block_id: unknown } } }[] = [];
    socket.on('message', (raw: Buffer) => {
      const message = JSON.parse(raw.toString()) as { result?: { data?: unknown } };
      if (message.result?.data !== undefined) events.push(message.result as (typeof events)[number]);
    });
    socket.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'subscribe',
        params: { query: "tm.event='NewBlock'" },
      }),
    );
    try {
      await waitFor('a NewBlock event', () => events.length > 0, 10_000);
      const { block, block_id } = events[0]!.data.value;
      expect(spec.schema('Block', block)).toEqual([]);
      expect(spec.schema('BlockID', block_id)).toEqual([]);
    } finally {
      socket.close();
    }
  });

  it('is checked against a document that still has teeth', () => {
    // A reply in the old refnode's shape fails: the errata relax only what CometBFT does differently.
    const old = {
      jsonrpc: '2.0',
      id: 1,
      result: { block: { header: { height: 5, proposer_address: 'node0' } } },
    };
    expect(spec.reply('block', old).length).toBeGreaterThan(0);
  });
});
