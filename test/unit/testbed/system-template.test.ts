/**
 * `--system`: a generated network of another system from its folder's system.json (the real
 * files in systems/), and one line for each way the flag or the file can be wrong.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBenchmarkPlan } from '../../../src/bench/plan.js';
import { refnodeCompose } from '../../../src/testbed/local/compose-generate.js';
import { REFNODE_TEMPLATE } from '../../../src/testbed/node-template.js';
import { loadSystemTemplate } from '../../../src/testbed/system-template.js';
import { placeNodes } from '../../../src/testbed/remote/placement.js';
import {
  checkNodesPerHost,
  nodeContainerSpec,
  systemBasePorts,
} from '../../../src/testbed/remote/remote-nodes.js';

const made: string[] = [];
afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

async function folder(manifest: string | undefined): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshbench-system-'));
  made.push(dir);
  await mkdir(join(dir, 'mine'));
  if (manifest !== undefined) await writeFile(join(dir, 'mine', 'system.json'), manifest);
  return join(dir, 'mine');
}

describe('--system', () => {
  it("reads meshbench's systems by name, and the refnode is the built-in template", () => {
    expect(loadSystemTemplate('refnode')).toBe(REFNODE_TEMPLATE);
    for (const name of ['libp2p-gossipsub', 'crdt-sync']) {
      const system = loadSystemTemplate(name);
      expect(system).toMatchObject({
        name,
        protocol: 'mesh',
        ports: { rpc: 8080, p2p: 26656 },
        peersAlways: true,
      });
      expect(system.image).toBe(`meshbench/${name}:latest`);
    }
  });

  it('generates its nodes: its image, ports, labels, id and every peer even in a full mesh', () => {
    const system = loadSystemTemplate('libp2p-gossipsub');
    const project = refnodeCompose({
      committee: 3,
      system,
      rpcHostPorts: [1, 2, 3],
      metricsHostPorts: [1, 2, 3],
    }) as {
      services: Record<
        string,
        {
          image: string;
          ports: string[];
          labels: Record<string, string>;
          environment: Record<string, string>;
          healthcheck: { test: string[] };
        }
      >;
    };
    const node1 = project.services.node1!;
    expect(node1.image).toBe('meshbench/libp2p-gossipsub:latest');
    expect(node1.ports).toEqual(['127.0.0.1:2:8080']);
    expect(node1.labels).toMatchObject({
      'meshbench.protocol': 'mesh',
      'meshbench.rpc-port': '8080',
      'meshbench.metrics-port': '8080',
    });
    expect(node1.environment).toMatchObject({
      MESHBENCH_NODE_ID: 'node1',
      MESHBENCH_PEERS: 'node0:26656,node2:26656',
    });
    expect(node1.healthcheck.test.at(-1)).toContain("get('http://127.0.0.1:8080/health'");
    expect(node1.environment.REFNODE_ID).toBeUndefined();
  });

  it('takes a folder of yours, and says what is wrong with it in one line', async () => {
    const good = await folder('{"image":"me/app:1","protocol":"http","ports":{"rpc":9000,"p2p":9001}}');
    expect(loadSystemTemplate(good)).toMatchObject({ name: 'mine', image: 'me/app:1', health: '/health' });
    expect(() => loadSystemTemplate('no-such-system')).toThrow(/--system no-such-system: no such system/);
    // each system named once (refnode is built in and has a folder of its own)
    try {
      loadSystemTemplate('no-such-system');
    } catch (error) {
      const hint = (error as { hint?: string }).hint ?? '';
      const names = /give one of (.*), or a folder/.exec(hint)?.[1]?.split(', ') ?? [];
      expect(names).toContain('refnode');
      expect(names).toContain('crdt-sync');
      expect(new Set(names).size).toBe(names.length);
    }
    await expect(folder(undefined).then((dir) => loadSystemTemplate(dir))).rejects.toThrow(
      /system\.json is missing/,
    );
    await expect(folder('{').then((dir) => loadSystemTemplate(dir))).rejects.toThrow(/is not JSON/);
    await expect(
      folder('{"image":"x","protocol":"mesh","ports":{"rpc":99999,"p2p":1}}').then((dir) =>
        loadSystemTemplate(dir),
      ),
    ).rejects.toThrow(/ports\.rpc: /);
  });

  it("gives a node of yours a health check only where it can run: node in meshbench's images, or the one you name", async () => {
    type Service = { healthcheck?: { test: string[]; interval: string } };
    const services = (dir: string) =>
      (
        refnodeCompose({
          committee: 1,
          system: loadSystemTemplate(dir),
          rpcHostPorts: [1],
          metricsHostPorts: [1],
        }) as { services: Record<string, Service> }
      ).services.node0!;
    const base = '"image":"me/etcd:3.4","protocol":"etcd","ports":{"rpc":2379,"p2p":2380}';
    // an image of yours may have no /usr/local/bin/node: a check with it never passed (docker ps said unhealthy)
    expect(services(await folder(`{${base}}`)).healthcheck).toBeUndefined();
    expect(services(await folder(`{${base},"healthcheck":"none"}`)).healthcheck).toBeUndefined();
    const node = services(await folder(`{${base},"healthcheck":"node","health":"/ready"}`)).healthcheck;
    expect(node?.test.at(-1)).toContain("get('http://127.0.0.1:2379/ready'");
    const own = services(
      await folder(`{${base},"healthcheck":["CMD","etcdctl","endpoint","health"]}`),
    ).healthcheck;
    expect(own?.test).toEqual(['CMD', 'etcdctl', 'endpoint', 'health']);
    expect(own?.interval).toBe('30s'); // meshbench's timing (NODE_HEALTHCHECK_TIMING), as for its own
    // meshbench's own systems keep theirs (their images have node)
    expect(loadSystemTemplate('crdt-sync').healthcheck).toBe('node');
    await expect(
      folder(`{${base},"healthcheck":["etcdctl","endpoint","health"]}`).then((dir) =>
        loadSystemTemplate(dir),
      ),
    ).rejects.toThrow(/healthcheck: .*starts with CMD or CMD-SHELL/);
  });

  it("makes the system's protocol the default, and refuses another or a compose file", async () => {
    const context = { skipFileChecks: true };
    const plan = await buildBenchmarkPlan({ system: 'crdt-sync' }, context);
    expect(plan.protocol.kind).toBe('mesh');
    expect(plan.system?.name).toBe('crdt-sync');
    await expect(buildBenchmarkPlan({ system: 'crdt-sync', protocol: 'etcd' }, context)).rejects.toThrow(
      /--system crdt-sync speaks mesh/,
    );
    await expect(
      buildBenchmarkPlan({ system: 'crdt-sync', dockerComposePath: 'x.yml' }, context),
    ).rejects.toThrow(/your compose file already names its images/);
    const remote = await buildBenchmarkPlan(
      { system: 'crdt-sync', networkType: 'remote', hostsFile: 'hosts.example.env' },
      context,
    );
    expect(remote.system?.name).toBe('crdt-sync');
    await expect(
      buildBenchmarkPlan(
        { system: 'crdt-sync', networkType: 'remote', hostsFile: 'hosts.example.env', engine: 'swarm' },
        context,
      ),
    ).rejects.toThrow(/--docker-compose-path systems\/crdt-sync\/docker-compose.yml/);
    await expect(
      buildBenchmarkPlan({ system: 'crdt-sync', endpoints: 'http://127.0.0.1:1' }, context),
    ).rejects.toThrow(/--endpoints runs against nodes already running/);
  });
});

describe('--system on remote hosts', () => {
  it("starts each node with the system's environment, peers and ports moved by its port variables", () => {
    const system = loadSystemTemplate('libp2p-gossipsub');
    const placements = placeNodes(2, 2, systemBasePorts(system));
    expect(placements.map((p) => [p.nodeId, p.ports.rpc, p.ports.p2p, p.ports.metrics])).toEqual([
      ['node0', 8080, 26656, 8080],
      ['node1', 8080, 26656, 8080],
      ['node2', 8090, 26666, 8090],
      ['node3', 8090, 26666, 8090],
    ]);
    const spec = nodeContainerSpec({
      runId: 'r1',
      placement: placements[3]!,
      peers: 'node0@10.0.0.1:26656',
      image: system.image,
      system,
      nodeEnv: { MESHBENCH_PEERS: '10.0.0.1:26656' },
    });
    expect(spec.image).toBe('meshbench/libp2p-gossipsub:latest');
    expect(spec.env).toEqual({
      MESHBENCH_NODE_ID: 'node3',
      MESH_RPC_PORT: '8090',
      MESH_P2P_PORT: '26666',
      MESHBENCH_PEERS: '10.0.0.1:26656',
    });
    expect(spec.networkMode).toBe('host');
  });

  it('starts the reference node as before: its id, peers, data folder and every port', () => {
    const [placement] = placeNodes(1, 1);
    const spec = nodeContainerSpec({
      runId: 'r1',
      placement: placement!,
      peers: 'node0@h:26656',
      image: 'x',
    });
    expect(spec.env).toEqual({
      REFNODE_ID: 'node0',
      REFNODE_PEERS: 'node0@h:26656',
      REFNODE_DATA_DIR: '/data',
      REFNODE_RPC_PORT: '26657',
      REFNODE_P2P_PORT: '26656',
      REFNODE_METRICS_PORT: '26660',
    });
  });

  it('refuses several nodes per host for a system whose ports cannot move, naming them', async () => {
    const fixed = loadSystemTemplate(
      await folder('{"image":"me/app:1","protocol":"http","ports":{"rpc":9000,"p2p":9001,"metrics":9002}}'),
    );
    expect(() => checkNodesPerHost(fixed, 1)).not.toThrow();
    expect(() => checkNodesPerHost(fixed, 2)).toThrow(
      /mine: 2 nodes per host need its rpc, p2p and metrics ports to move/,
    );
    // a metrics port that is the RPC port is not named apart from it
    const shared = loadSystemTemplate(
      await folder('{"image":"me/app:1","protocol":"http","ports":{"rpc":9000,"p2p":9001,"metrics":9000}}'),
    );
    expect(() => checkNodesPerHost(shared, 2)).toThrow(
      /need its rpc and p2p ports to move, and its system.json names no variable for them$/,
    );
    // a metrics port that is the RPC port moves with it
    expect(() => checkNodesPerHost(loadSystemTemplate('crdt-sync'), 3)).not.toThrow();
    expect(() => checkNodesPerHost(REFNODE_TEMPLATE, 3)).not.toThrow();
    await expect(
      folder('{"image":"x","protocol":"mesh","ports":{"rpc":1,"p2p":2},"portVariables":{"rpc":"1BAD"}}').then(
        (dir) => loadSystemTemplate(dir),
      ),
    ).rejects.toThrow(/portVariables\.rpc: an environment variable name/);
  });
});
