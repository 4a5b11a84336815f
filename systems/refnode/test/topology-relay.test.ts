/**
 * A partial topology (--connect): consensus messages reach members that are not peers
 * through relays, so a star and a ring of in-process refnodes still commit.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { Cluster, waitFor } from './helpers.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

function committedEverywhere(c: Cluster, hashes: readonly string[]): boolean {
  return c.running().every((n) => hashes.every((h) => n.store.isCommitted(h)));
}

async function commitsOn(neighbours: (i: number) => readonly number[], n: number): Promise<Cluster> {
  cluster = await Cluster.start({
    n,
    nodeArgs: (i) => [
      '--connect',
      neighbours(i)
        .map((j) => `node${j}`)
        .join(','),
    ],
  });
  const c = cluster;
  await waitFor(
    'the peers connected',
    () => c.running().every((node, i) => node.p2p.connectedPeers().length === neighbours(i).length),
    5000,
  );
  // Txs to every node, leaves included: each is proposed by whoever holds it.
  const hashes = c
    .running()
    .flatMap((node) => Array.from({ length: 20 }, () => node.submitTx(randomBytes(64))));
  await waitFor('txs committed on all nodes', () => committedEverywhere(c, hashes), 20_000);
  c.checkStores();
  expect(c.violations).toEqual([]);
  return c;
}

describe('refnode on a partial topology', () => {
  it('a star of 5 (hub node0) commits; the hub relays, leaves only see the hub', async () => {
    const c = await commitsOn((i) => (i === 0 ? [1, 2, 3, 4] : [0]), 5);
    expect(c.node(3).p2p.connectedPeers()).toEqual(['node0']);
    const relayed = await c.node(0).metrics.relayedMessages.get();
    expect(relayed.values[0]?.value ?? 0).toBeGreaterThan(0);
  });

  it('a ring of 6 commits (messages travel up to 3 hops)', async () => {
    await commitsOn((i) => [(i + 5) % 6, (i + 1) % 6], 6);
  });

  it('keeps a mesh without --connect unwrapped (no relays)', async () => {
    cluster = await Cluster.start({ n: 4 });
    const c = cluster;
    const hashes = c.running().map((node) => node.submitTx(randomBytes(64)));
    await waitFor('txs committed on all nodes', () => committedEverywhere(c, hashes), 20_000);
    expect(c.node(0).config.relay).toBe(false);
    expect((await c.node(0).metrics.relayedMessages.get()).values[0]?.value ?? 0).toBe(0);
  });

  it('the hub passes leaves’ txs on, so any proposer has them (a batch commits in a few heights)', async () => {
    const n = 8;
    const c = await commitsOn((i) => (i === 0 ? Array.from({ length: n - 1 }, (_, j) => j + 1) : [0]), n);
    expect(c.node(0).config.relay).toBe(true);
    const before = c.maxHeight();
    const hashes = c
      .running()
      .flatMap((node) => Array.from({ length: 10 }, () => node.submitTx(randomBytes(64))));
    await waitFor('txs committed on all nodes', () => committedEverywhere(c, hashes), 20_000);
    // without the hub's relay each leaf's txs wait for that leaf's turn as proposer (8 heights)
    expect(c.maxHeight() - before).toBeLessThan(n);
  });

  it('--connect must name peers', () => {
    expect(() =>
      parseConfig(['--id', 'node0', '--peers', 'node0@a:1,node1@b:1', '--connect', 'node7'], {}),
    ).toThrow(/--connect names 'node7', which is not in --peers/);
  });
});
