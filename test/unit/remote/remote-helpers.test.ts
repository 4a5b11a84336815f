import { describe, expect, it } from 'vitest';
import { mapSettled, firstFailure } from '../../../src/testbed/remote/concurrency.js';
import { parseOsRelease } from '../../../src/testbed/remote/remote-host.js';
import { placeNodes } from '../../../src/testbed/remote/placement.js';
import { peersFirstProbe } from '../../../src/testbed/remote/remote-nodes.js';
import { lastUsableAddress } from '../../../src/testbed/sandbox/sandbox.js';

describe('placeNodes', () => {
  it('puts one node per host first and gives co-located nodes their own ports', () => {
    const placements = placeNodes(3, 2);
    expect(placements.map((p) => [p.nodeId, p.hostIndex, p.ports.rpc, p.ports.p2p])).toEqual([
      ['node0', 0, 26657, 26656],
      ['node1', 1, 26657, 26656],
      ['node2', 2, 26657, 26656],
      ['node3', 0, 26667, 26666],
      ['node4', 1, 26667, 26666],
      ['node5', 2, 26667, 26666],
    ]);
  });
});

describe('parsers', () => {
  it('reads /etc/os-release', () => {
    expect(parseOsRelease('PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\n')).toMatchObject({
      ID: 'ubuntu',
      ID_LIKE: 'debian',
      PRETTY_NAME: 'Ubuntu 24.04 LTS',
    });
  });

  it('finds the last usable address of a subnet', () => {
    expect(lastUsableAddress('172.18.0.0/16')).toBe('172.18.255.254');
    expect(lastUsableAddress('10.1.2.0/24')).toBe('10.1.2.254');
  });
});

describe('mapSettled', () => {
  it('keeps order, bounds concurrency and reports the first failure', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapSettled([5, 1, 4, 2, 3], 2, async (value) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, value));
      running--;
      if (value === 4) throw new Error('four');
      return value * 10;
    });
    expect(peak).toBe(2);
    const { values, error, failed } = firstFailure(results);
    expect(values).toEqual([50, 10, 20, 30]);
    expect((error as Error).message).toBe('four');
    expect(failed).toBe(1);
  });
});

describe('peersFirstProbe', () => {
  const target = { nodeId: 'node0', rpcUrl: 'http://10.0.0.1:26657' };
  const node = (peers: number, calls: string[]) => async (url: string) => {
    const path = new URL(url).pathname;
    calls.push(path);
    if (path === '/net_info')
      return { status: 200, body: JSON.stringify({ result: { n_peers: String(peers) } }) };
    if (path === '/status')
      return { status: 200, body: JSON.stringify({ result: { sync_info: { catching_up: false } } }) };
    return { status: 200, body: '{}' };
  };

  it('asks one question while peers are missing, and the full probe once they are there', async () => {
    const waiting: string[] = [];
    expect(await peersFirstProbe(3)(target, node(1, waiting))).toEqual({
      ready: false,
      detail: 'net_info: 1 of 3 peers',
      peers: 1,
    });
    expect(waiting).toEqual(['/net_info']);
    const done: string[] = [];
    expect((await peersFirstProbe(3)(target, node(3, done))).ready).toBe(true);
    expect(done).toEqual(['/net_info', '/health', '/status', '/net_info']);
  });

  it('makes one connection attempt while the node does not listen yet', async () => {
    const calls: string[] = [];
    const refused = async (url: string): Promise<{ status: number; body: string }> => {
      calls.push(url);
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    expect(await peersFirstProbe(2)(target, refused)).toEqual({ ready: false, detail: 'ECONNREFUSED' });
    expect(calls).toHaveLength(1);
  });
});
