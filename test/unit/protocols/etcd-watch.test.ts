/**
 * The propagation probes' watch on an etcd member (Debian's etcd-server on 127.0.0.1,
 * test/integration/etcd-fixture.ts): a probe put is reported by the member's watch, and a
 * member that crashes and comes back is watched again, with the drop counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdTransactionWatcher } from '../../../src/protocols/etcd-watch.js';
import type { Endpoint } from '../../../src/protocols/endpoint.js';
import { startEtcdMember, type EtcdMember } from '../../integration/etcd-fixture.js';

const SCOPE = 'r1-local-1-1';
let member: EtcdMember;

beforeAll(async () => {
  member = await startEtcdMember();
}, 30_000);

afterAll(async () => {
  await member?.close();
});

describe('the etcd probe watch', () => {
  it('reports probes, counts a drop when the member crashes, and watches it again once it is back', async () => {
    const watcher = etcdTransactionWatcher('meshbench/');
    const endpoint: Endpoint = { nodeId: 'node0', rpcUrl: member.clientUrl };
    const seenIds = new Set<string>();
    const watch = watcher.watch(endpoint, SCOPE, (id) => seenIds.add(id));
    try {
      expect(await watch.ready).toBe(true);
      await watch.expect('0', 2000);
      await watcher.submit(endpoint, { scope: SCOPE, id: '0' }, 5000);
      await expect.poll(() => seenIds.has('0')).toBe(true);
      expect(watch.drops).toBe(0);
      await member.kill();
      await expect.poll(() => watch.connected, { timeout: 10_000 }).toBe(false);
      expect(watch.drops).toBe(1);
      await expect(watch.expect('1', 2000)).rejects.toThrow(/not live/);
      await member.restart();
      await expect.poll(() => watch.connected, { timeout: 20_000 }).toBe(true);
      await watch.expect('2', 2000);
      await watcher.submit(endpoint, { scope: SCOPE, id: '2' }, 5000);
      await expect.poll(() => seenIds.has('2'), { timeout: 10_000 }).toBe(true);
      expect(watch.drops).toBe(1);
      expect([...seenIds].sort()).toEqual(['0', '2']);
    } finally {
      await watch.close();
    }
    expect(watch.connected).toBe(false);
    expect(watch.drops).toBe(1); // its own close is not a drop
  }, 60_000);
});
