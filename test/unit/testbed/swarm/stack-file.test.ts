import { describe, expect, it } from 'vitest';
import { readComposeModel } from '../../../../src/testbed/local/compose-file.js';
import {
  serviceName,
  stackName,
  swarmStack,
  userSwarmStack,
} from '../../../../src/testbed/swarm/stack-file.js';

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
    expect(node1.labels['meshbench.host-ports']).toBe('26657,26660');
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
    expect(node0.labels['meshbench.host-ports']).toBe('26657,26656,26660');
    expect(stack.networks).toEqual({ hostnet: { external: true, name: 'host' } });
  });

  it('names the stack and its services after the run', () => {
    expect(stackName('r1')).toBe('meshbench-r1');
    expect(serviceName('r1', 'node2')).toBe('meshbench-r1_node2');
  });

  it("turns the user's resolved compose project into a stack: one node per host, host-mode ports, the run's labels", () => {
    // as `docker compose config` prints it: files merged, anchors and variables resolved
    const project = {
      services: {
        a: {
          image: 'chain:1',
          labels: {
            'meshbench.role': 'node',
            'meshbench.rpc-port': '8545',
            'meshbench.metrics-port': '9100',
          },
          ports: [{ published: 18545, target: 8545 }],
          restart: 'unless-stopped',
          depends_on: ['b'],
          container_name: 'a',
          networks: ['chain'],
        },
        b: {
          image: 'chain:1',
          labels: ['meshbench.role=node', 'meshbench.rpc-port=8545'],
          environment: ['X=1'],
          deploy: { placement: { constraints: ['node.labels.ssd == true'] } },
          networks: ['chain'],
        },
        prom: { image: 'prom:2', ports: ['9090:9090'] },
        db: { image: 'db:1' },
        lb: { image: 'lb:1', deploy: { endpoint_mode: 'vip' } },
      },
      networks: { chain: { driver: 'bridge' }, outside: { external: true } },
      volumes: { data: {} },
    };
    const model = readComposeModel(project, 'compose.yml');
    const { stack, nodes } = userSwarmStack(project, model, {
      runId: 'r1',
      hosts,
      nodeEnv: { MESHBENCH_INGEST_URL: 'http://x' },
    }) as unknown as {
      stack: {
        version: string;
        services: Record<string, Record<string, unknown> & { deploy: Record<string, unknown> }>;
        networks: Record<string, Record<string, unknown>>;
        volumes: Record<string, { labels: Record<string, string> }>;
      };
      nodes: {
        nodeId: string;
        hostIndex: number;
        rpcPort: number;
        metricsPort?: number;
        hostPorts: number[];
      }[];
    };
    expect(stack.version).toBe('3.8');
    expect(nodes).toEqual([
      { nodeId: 'a', hostIndex: 0, rpcPort: 18545, metricsPort: 9100, hostPorts: [18545, 9100] },
      { nodeId: 'b', hostIndex: 1, rpcPort: 8545, hostPorts: [8545] },
    ]);
    const a = stack.services.a!;
    expect(a.ports).toEqual([
      { target: 8545, published: 18545, protocol: 'tcp', mode: 'host' },
      { target: 9100, published: 9100, protocol: 'tcp', mode: 'host' },
    ]);
    expect(a.depends_on).toBeUndefined();
    expect(a.container_name).toBeUndefined();
    expect(a.restart).toBeUndefined();
    expect(a.deploy).toMatchObject({
      // its name resolves to its task's own address: no virtual IP, no IPVS hop between peers
      endpoint_mode: 'dnsrr',
      replicas: 1,
      placement: { constraints: ['node.id == aaa'] },
      restart_policy: { condition: 'any' },
      labels: { 'meshbench.run': 'r1', 'meshbench.stack': 'meshbench-r1' },
    });
    expect(a.labels).toMatchObject({
      'meshbench.role': 'node',
      'meshbench.run': 'r1',
      'meshbench.node': 'a',
      // what a later run on this host checks before it deploys (port-claims.ts)
      'meshbench.host-ports': '18545,9100',
    });
    expect(a.environment).toEqual({ MESHBENCH_INGEST_URL: 'http://x' });
    const b = stack.services.b!;
    // the user's own constraint stays; ours pins it to its host
    expect((b.deploy.placement as { constraints: string[] }).constraints).toEqual([
      'node.labels.ssd == true',
      'node.id == bbb',
    ]);
    expect(b.deploy.restart_policy).toEqual({ condition: 'none', delay: '1s' });
    expect(b.ports).toEqual([{ target: 8545, published: 8545, protocol: 'tcp', mode: 'host' }]);
    expect(b.environment).toEqual({ X: '1', MESHBENCH_INGEST_URL: 'http://x' });
    // other services run where Swarm places them, with the run's labels
    const prom = stack.services.prom!;
    expect(prom.ports).toEqual(['9090:9090']);
    expect(prom.deploy).toMatchObject({ labels: { 'meshbench.run': 'r1' } });
    // a port published through the routing mesh needs the virtual IP; one set by the file stays
    expect(prom.deploy.endpoint_mode).toBeUndefined();
    expect(stack.services.db!.deploy.endpoint_mode).toBe('dnsrr');
    expect(stack.services.lb!.deploy.endpoint_mode).toBe('vip');
    expect(b.deploy.endpoint_mode).toBe('dnsrr');
    expect(stack.networks.chain).toMatchObject({
      driver: 'overlay',
      attachable: true,
      labels: { 'meshbench.run': 'r1' },
    });
    expect(stack.networks.default).toMatchObject({ driver: 'overlay' });
    expect(stack.networks.outside).toEqual({ external: true });
    expect(stack.volumes.data!.labels['meshbench.run']).toBe('r1');
  });
});
