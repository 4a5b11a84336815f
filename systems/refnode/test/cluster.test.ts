/**
 * Multi-node refnode tests: 4 in-process nodes talking over real TCP on loopback.
 * Timeouts are short (view timeout 300 ms) so view changes happen quickly.
 */
import { randomBytes } from 'node:crypto';
import { statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, sleep, waitFor } from './helpers.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

function submit(c: Cluster, i: number, count = 1): string[] {
  const hashes: string[] = [];
  for (let k = 0; k < count; k++) hashes.push(c.node(i).submitTx(randomBytes(64)));
  return hashes;
}

function state(c: Cluster): string {
  return c
    .running()
    .map(
      (n) =>
        `${n.config.id}: stored ${n.store.height}, at ${n.consensus.height}/${n.consensus.round}/${n.consensus.step}, ` +
        `peers ${n.p2p.connectedPeers().length}, mempool ${n.mempool.size}, missing ${n.consensus.missingDecision ?? '-'}, ` +
        `${n.consensus.describe()}, outbox ${n.outboxPending}`,
    )
    .join('\n');
}

function committedEverywhere(c: Cluster, hashes: readonly string[]): boolean {
  return c.running().every((n) => hashes.every((h) => n.store.isCommitted(h)));
}

/**
 * With the nodes `stopped` down (more than the committee tolerates), txs submitted to node0 do not
 * commit; once node `back` returns they commit on every running node, and no height forked.
 */
async function stallsThenResumes(c: Cluster, stopped: readonly number[], back: number): Promise<void> {
  await waitFor('first block', () => c.minHeight() >= 1, 10_000);
  for (const node of stopped) await c.stopNode(node);
  await sleep(300); // let any height in flight settle
  const stalled = c.maxHeight();
  const hashes = submit(c, 0, 10);
  await sleep(1500);
  expect(c.maxHeight()).toBeLessThanOrEqual(stalled + 1);
  expect(hashes.some((h) => c.node(0).store.isCommitted(h))).toBe(false);
  await c.startNode(back);
  await waitFor(
    `txs committed after node${back} returned`,
    () => committedEverywhere(c, hashes),
    20_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${state(c)}`);
  });
  c.checkStores();
  expect(c.violations).toEqual([]);
}

describe('refnode cluster (4 nodes, real TCP)', () => {
  it('commits txs submitted to any node, the same blocks on every node', async () => {
    cluster = await Cluster.start();
    const c = cluster;
    const hashes = [...submit(c, 0, 50), ...submit(c, 1, 50), ...submit(c, 3, 50)];
    await waitFor('txs committed on all nodes', () => committedEverywhere(c, hashes), 15_000);
    const loc0 = c.node(0).store.txLocation(hashes[0] as string);
    const loc3 = c.node(3).store.txLocation(hashes[0] as string);
    expect(loc3).toEqual(loc0);
    c.checkStores();
    expect(c.violations).toEqual([]);
    expect(c.node(2).p2p.connectedPeers().length).toBe(3);
  });

  it('keeps committing with one node stopped (f = 1)', async () => {
    cluster = await Cluster.start();
    const c = cluster;
    await waitFor('first block', () => c.minHeight() >= 1, 10_000);
    await c.stopNode(3);
    const start = c.maxHeight();
    // Enough blocks that node3's turns as proposer come up and are skipped by view changes.
    const hashes = submit(c, 0, 20);
    await waitFor('txs committed with node3 down', () => committedEverywhere(c, hashes), 15_000);
    await waitFor('8 more blocks with node3 down', () => c.minHeight() >= start + 8, 20_000);
    expect(c.running().some((n) => n.consensus.roundChanges > 0)).toBe(true);
    c.checkStores();
    expect(c.violations).toEqual([]);
  });

  it('stalls with two nodes stopped and resumes when one returns', async () => {
    cluster = await Cluster.start();
    await stallsThenResumes(cluster, [2, 3], 3);
  });

  it('a committee of 2 stalls with one node stopped (it forked before: each decided alone)', async () => {
    cluster = await Cluster.start({ n: 2 });
    await stallsThenResumes(cluster, [1], 1);
  });

  it('a restarted node catches up from its peers and says catching_up until then', async () => {
    cluster = await Cluster.start();
    const c = cluster;
    await waitFor('first block', () => c.minHeight() >= 1, 10_000);
    await c.stopNode(3);
    for (let round = 0; round < 5; round++) {
      submit(c, round % 3, 100);
      await sleep(100);
    }
    await waitFor('30 blocks ahead', () => c.node(0).store.height >= 30, 20_000);
    const node3 = await c.startNode(3);
    const behind = node3.store.height;
    expect(behind).toBeLessThan(c.node(0).store.height);
    let sawCatchingUp = node3.catchingUp();
    await waitFor(
      'node3 caught up',
      () => {
        sawCatchingUp ||= node3.catchingUp();
        return node3.store.height >= c.node(0).store.height - 1 && !node3.catchingUp();
      },
      20_000,
    );
    expect(sawCatchingUp).toBe(true);
    const hashes = submit(c, 3, 10);
    await waitFor('node3 commits new txs', () => committedEverywhere(c, hashes), 15_000);
    c.checkStores();
    expect(c.violations).toEqual([]);
  });

  it('recovers when a crash tore the last block but the WAL already reached the next height', async () => {
    cluster = await Cluster.start({ extraArgs: ['--fsync', 'true'] });
    const c = cluster;
    submit(c, 0, 20);
    await waitFor('5 blocks', () => c.minHeight() >= 5, 15_000);
    const dataDir = c.node(3).config.dataDir;
    await c.stopNode(3);
    // Cut the last block record short: the WAL (at the next height) is now ahead of the store.
    const file = join(dataDir, 'blocks.log');
    truncateSync(file, statSync(file).size - 5);
    const node3 = await c.startNode(3);
    const hashes = submit(c, 1, 20);
    await waitFor('node3 caught up and commits', () => committedEverywhere(c, hashes), 20_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${state(c)}`);
      },
    );
    expect(node3.store.truncatedBytes).toBeGreaterThan(0);
    c.checkStores();
    expect(c.violations).toEqual([]);
  });

  it('stays safe at every height under random crashes, restarts and message delays', async () => {
    // Seeded PRNG so a failure can be replayed: mulberry32.
    let seed = Number(process.env.REFNODE_TEST_SEED ?? Date.now() % 1_000_000);
    const seedUsed = seed;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const delays = new Map<string, number>();
    cluster = await Cluster.start({
      extraArgs: ['--fsync', 'true'],
      delayMs: (from, to) => delays.get(`${from}>${to}`) ?? 0,
    });
    const c = cluster;
    const submitted: string[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      // New random link delays (0-60 ms, some links slow).
      for (const a of c.ids)
        for (const b of c.ids)
          if (a !== b) delays.set(`${a}>${b}`, rand() < 0.3 ? Math.floor(rand() * 60) : 0);
      const action = rand();
      const down = c.ids.map((_, i) => i).filter((i) => c.nodes[i] === undefined);
      const up = c.ids.map((_, i) => i).filter((i) => c.nodes[i] !== undefined);
      if (action < 0.35 && down.length < 2 && up.length > 0) {
        // Crash one node (at most 2 down at once: with 2 down, progress stalls, safety must still hold).
        await c.stopNode(up[Math.floor(rand() * up.length)] as number, true);
      } else if (action < 0.7 && down.length > 0) {
        await c.startNode(down[Math.floor(rand() * down.length)] as number);
      }
      for (const node of c.running()) {
        for (let k = 0; k < 5; k++) {
          try {
            submitted.push(node.submitTx(randomBytes(32)));
          } catch {
            /* duplicate/full: fine */
          }
        }
      }
      await sleep(100 + Math.floor(rand() * 400));
      expect(c.violations, `seed ${seedUsed}`).toEqual([]);
    }
    delays.clear();
    for (let i = 0; i < c.n; i++) if (c.nodes[i] === undefined) await c.startNode(i);
    const last = submitted.slice(-5);
    await waitFor(
      `convergence (seed ${seedUsed})`,
      () => committedEverywhere(c, last) && c.minHeight() === c.maxHeight(),
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${state(c)}`);
    });
    c.checkStores();
    expect(c.violations, `seed ${seedUsed}`).toEqual([]);
    expect(c.maxHeight()).toBeGreaterThan(5);
  }, 90_000);
});
