/**
 * One tx's subscription (`tm.event='Tx' AND tx.hash='…'`, as broadcast_tx_commit and the
 * propagation probes ask): the node sends that tx's event only, with its index in its block,
 * and nothing for the block's other txs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { txHash } from '../src/block.js';
import { Cluster, waitFor } from './helpers.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await Cluster.start({ n: 1 });
});
afterAll(async () => {
  await cluster?.stop();
});

interface EventMessage {
  id?: unknown;
  result?: { query?: string; data?: { value: { TxResult: { index: number; tx: string } } } };
}

describe('Tx events of one hash', () => {
  it('sends the subscribed tx only, wherever it sits in its block', async () => {
    const node = cluster.node(0);
    const ws = new WebSocket(`ws://127.0.0.1:${node.rpc.port}/websocket`);
    const messages: EventMessage[] = [];
    ws.on('message', (raw: Buffer) => messages.push(JSON.parse(raw.toString()) as EventMessage));
    await new Promise((resolve) => ws.once('open', resolve));
    const txs = ['sub-a', 'sub-b', 'sub-c'].map((text) => Buffer.from(`${text}-${process.pid}`));
    const wanted = txHash(txs[2] as Buffer);
    const query = `tm.event='Tx' AND tx.hash='${wanted}'`;
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'subscribe', params: { query } }));
    await waitFor(
      'the subscription',
      () => messages.some((m) => m.id === 7 && m.result?.query === undefined),
      5000,
    );
    const height = node.store.height;
    for (const tx of txs) node.submitTx(tx); // one tick: one block
    await waitFor('the event', () => messages.some((m) => m.result?.query === query), 5000);
    await waitFor('a later block', () => node.store.height > height + 1, 5000);
    const events = messages.filter((m) => m.result?.query !== undefined);
    expect(events).toHaveLength(1);
    const txResult = events[0]?.result?.data?.value.TxResult;
    expect(Buffer.from(txResult?.tx ?? '', 'base64').toString()).toBe((txs[2] as Buffer).toString());
    const location = node.store.txLocation(wanted);
    expect(txResult?.index).toBe(location?.index);
    ws.close();
  });
});
