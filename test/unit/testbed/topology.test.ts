import { describe, expect, it } from 'vitest';
import {
  isConnected,
  neighbourLists,
  parseTopology,
  topologyEdges,
  topologyDegrees,
  topologyEnvironment,
  topologyProblem,
  topologyRecord,
} from '../../../src/testbed/topology.js';
import { refnodeCompose } from '../../../src/testbed/local/compose-generate.js';

describe('topologies', () => {
  it('parses full, star, ring and random:K, and names the rule otherwise', () => {
    expect(parseTopology('full')).toEqual({ kind: 'full' });
    expect(parseTopology(' Star ')).toEqual({ kind: 'star' });
    expect(parseTopology('ring')).toEqual({ kind: 'ring' });
    expect(parseTopology('random:3')).toEqual({ kind: 'random', degree: 3 });
    for (const bad of ['mesh', 'random', 'random:0', 'random:x', 'random:-1', ''])
      expect(parseTopology(bad)).toHaveProperty('rule');
  });

  it('full: every pair once', () => {
    const edges = topologyEdges({ kind: 'full' }, 5);
    expect(edges).toHaveLength(10);
    expect(neighbourLists(edges, 5).every((list) => list.length === 4)).toBe(true);
  });

  it('star: the hub (node 0) has n-1 peers, each leaf one', () => {
    const lists = neighbourLists(topologyEdges({ kind: 'star' }, 8), 8);
    expect(lists[0]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(lists.slice(1).every((list) => list.length === 1 && list[0] === 0)).toBe(true);
  });

  it('ring: two peers each, connected; two nodes share one edge', () => {
    const edges = topologyEdges({ kind: 'ring' }, 6);
    expect(neighbourLists(edges, 6).map((list) => list.length)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(isConnected(edges, 6)).toBe(true);
    expect(topologyEdges({ kind: 'ring' }, 2)).toEqual([[0, 1]]);
    expect(topologyEdges({ kind: 'ring' }, 1)).toEqual([]);
  });

  it('random:K: connected, every node at least K peers (at most K+1), the same seed the same graph', () => {
    for (const nodes of [2, 3, 4, 7, 16, 33]) {
      for (const degree of [1, 2, 3, 5]) {
        if (degree > nodes - 1) continue;
        for (const seed of [1, 42, 987654]) {
          const spec = { kind: 'random', degree, seed } as const;
          const edges = topologyEdges(spec, nodes);
          expect(isConnected(edges, nodes), `${nodes} nodes random:${degree} seed ${seed}`).toBe(true);
          const degrees = neighbourLists(edges, nodes).map((list) => list.length);
          expect(Math.min(...degrees)).toBeGreaterThanOrEqual(degree);
          // the connecting ring gives 2 even for K = 1
          expect(Math.max(...degrees)).toBeLessThanOrEqual(Math.max(degree, 2) + 1);
          expect(topologyEdges(spec, nodes)).toEqual(edges);
        }
      }
    }
    const a = topologyEdges({ kind: 'random', degree: 3, seed: 1 }, 16);
    const b = topologyEdges({ kind: 'random', degree: 3, seed: 2 }, 16);
    expect(a).not.toEqual(b);
  });

  it('refuses random:K with K not below the committee', () => {
    expect(topologyProblem({ kind: 'random', degree: 4 }, 4)).toMatch(/random:4 needs more than 4 nodes/);
    expect(() => topologyEdges({ kind: 'random', degree: 4 }, 4)).toThrow();
    expect(topologyProblem({ kind: 'random', degree: 3 }, 4)).toBeUndefined();
  });

  it('records the edges by node id', () => {
    const record = topologyRecord({ kind: 'random', degree: 2, seed: 7 }, 4, (i) => `node${i}`);
    expect(record).toMatchObject({
      kind: 'random',
      name: 'random:2',
      degree: 2,
      seed: 7,
      nodes: 4,
      hub: 'node0',
    });
    expect(record.edges.length).toBeGreaterThanOrEqual(4);
    expect(topologyRecord({ kind: 'star' }, 3, (i) => `n${i}`).edges).toEqual([
      ['n0', 'n1'],
      ['n0', 'n2'],
    ]);
  });

  it("gives each node its neighbours' addresses and ids, the hub's, and (not for full) REFNODE_CONNECT", () => {
    const members = ['a', 'b', 'c'].map((id, i) => ({ id, address: `10.0.0.${i + 1}:26656` }));
    expect(topologyEnvironment({ kind: 'star' }, members)).toEqual([
      {
        MESHBENCH_PEERS: '10.0.0.2:26656,10.0.0.3:26656',
        MESHBENCH_PEER_IDS: 'b,c',
        MESHBENCH_BOOTSTRAP: '10.0.0.1:26656',
        REFNODE_CONNECT: 'b,c',
      },
      ...[1, 2].map(() => ({
        MESHBENCH_PEERS: '10.0.0.1:26656',
        MESHBENCH_PEER_IDS: 'a',
        MESHBENCH_BOOTSTRAP: '10.0.0.1:26656',
        REFNODE_CONNECT: 'a',
      })),
    ]);
    expect(topologyEnvironment({ kind: 'full' }, members)[1]).toEqual({
      MESHBENCH_PEERS: '10.0.0.1:26656,10.0.0.3:26656',
      MESHBENCH_PEER_IDS: 'a,c',
      MESHBENCH_BOOTSTRAP: '10.0.0.1:26656',
    });
    expect(topologyDegrees({ kind: 'star' }, 4)).toEqual([3, 1, 1, 1]);
  });

  it('the generated compose file carries the topology (and is unchanged without one)', () => {
    const ports = { rpcHostPorts: [1, 2, 3, 4], metricsHostPorts: [5, 6, 7, 8] };
    const ring = refnodeCompose({ committee: 4, ...ports, topology: { kind: 'ring' } }) as {
      services: Record<string, { environment: Record<string, string> }>;
    };
    expect(ring.services.node0?.environment).toMatchObject({
      REFNODE_CONNECT: 'node1,node3',
      MESHBENCH_PEERS: 'node1:26656,node3:26656',
      MESHBENCH_PEER_IDS: 'node1,node3',
      MESHBENCH_BOOTSTRAP: 'node0:26656',
    });
    const plain = refnodeCompose({ committee: 4, ...ports }) as typeof ring;
    expect(plain.services.node0?.environment).not.toHaveProperty('MESHBENCH_PEERS');
  });
});
