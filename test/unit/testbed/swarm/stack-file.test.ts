import { describe, expect, it } from 'vitest';
import { serviceName, stackName, swarmStack } from '../../../../src/testbed/swarm/stack-file.js';

const hosts = [
  { nodeId: 'aaa', address: '10.0.0.1' },
  { nodeId: 'bbb', address: '10.0.0.2' },
];

type Service = {
  environment: Record<string, string>;
  labels: Record<string, string>;
  ports?: { target: number; published: number; mode: string }[];
  networks?: string[];
  hostname?: string;
  deploy: { placement: { constraints: string[] }; restart_policy: { condition: string } };
  healthcheck: { disable: boolean };
};

describe('swarmStack', () => {
  it('pins one node per swarm node, publishes in host mode, restarts, labels the run (overlay)', () => {
    const stack = swarmStack({ runId: 'r1', image: 'img', hosts, network: 'overlay' }) as {
      version: string;
      services: Record<string, Service>;
      networks: Record<string, { driver?: string; labels?: Record<string, string> }>;
      volumes: Record<string, { labels: Record<string, string> }>;
    };
    expect(stack.version).toBe('3.8');
    expect(Object.keys(stack.services)).toEqual(['node0', 'node1']);
    const node1 = stack.services.node1!;
    expect(node1.deploy.placement.constraints).toEqual(['node.id == bbb']);
    expect(node1.deploy.restart_policy.condition).toBe('any');
    expect(node1.ports?.map((p) => [p.target, p.published, p.mode])).toEqual([
      [26657, 26657, 'host'],
      [26660, 26660, 'host'],
    ]);
    expect(node1.environment.REFNODE_PEERS).toBe('node0@node0:26656,node1@node1:26656');
    expect(node1.hostname).toBe('node1');
    expect(node1.healthcheck).toEqual({ disable: true });
    expect(node1.labels['meshbench.run']).toBe('r1');
    expect(stack.networks.default).toMatchObject({ driver: 'overlay', labels: { 'meshbench.run': 'r1' } });
    expect(stack.volumes['node1-data']!.labels['meshbench.node']).toBe('node1');
  });

  it("on the hosts' network: peers at the hosts' addresses, no published ports", () => {
    const stack = swarmStack({ runId: 'r1', image: 'img', hosts, network: 'host' }) as {
      services: Record<string, Service>;
      networks: Record<string, unknown>;
    };
    const node0 = stack.services.node0!;
    expect(node0.environment.REFNODE_PEERS).toBe('node0@10.0.0.1:26656,node1@10.0.0.2:26656');
    expect(node0.ports).toBeUndefined();
    expect(node0.hostname).toBeUndefined();
    expect(node0.networks).toEqual(['hostnet']);
    expect(stack.networks).toEqual({ hostnet: { external: true, name: 'host' } });
  });

  it('names the stack and its services after the run', () => {
    expect(stackName('r1')).toBe('meshbench-r1');
    expect(serviceName('r1', 'node2')).toBe('meshbench-r1_node2');
  });
});
