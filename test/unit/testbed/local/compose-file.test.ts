import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/** What compose's `config` prints is plain data; these tests give the model that data directly. */
function parseComposeFile(
  text: string,
  path: string,
  options: { protocol?: string; activeProfiles?: string[] } = {},
) {
  return readComposeModel(parse(text) as unknown, path, options);
}
import { MeshbenchError } from '../../../../src/common/errors.js';
import {
  labelComposeProject,
  labelsOf,
  nodeContainerCount,
  parsePortEntry,
  readComposeModel,
  serviceIsActive,
} from '../../../../src/testbed/local/compose-file.js';
import {
  refnodeCompose,
  renderCompose,
  seedPortLayout,
} from '../../../../src/testbed/local/compose-generate.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof MeshbenchError ? error.code : 'other';
  }
  return undefined;
}

describe('parsePortEntry', () => {
  it('reads the short syntax forms', () => {
    expect(parsePortEntry('s', '127.0.0.1:26657:26657')).toEqual([
      { service: 's', hostIp: '127.0.0.1', hostPort: 26657, containerPort: 26657, protocol: 'tcp' },
    ]);
    expect(parsePortEntry('s', '8080:80/udp')[0]).toMatchObject({
      hostIp: '',
      hostPort: 8080,
      protocol: 'udp',
    });
    expect(parsePortEntry('s', '80')[0]).toMatchObject({ hostPort: undefined, containerPort: 80 });
    expect(parsePortEntry('s', 80)[0]).toMatchObject({ hostPort: undefined, containerPort: 80 });
    expect(parsePortEntry('s', '127.0.0.1::26657')[0]).toMatchObject({
      hostIp: '127.0.0.1',
      hostPort: undefined,
    });
    expect(parsePortEntry('s', '[::1]:9000:90')[0]).toMatchObject({
      hostIp: '::1',
      hostPort: 9000,
      containerPort: 90,
    });
    expect(parsePortEntry('s', '9000-9001:90-91').map((p) => [p.hostPort, p.containerPort])).toEqual([
      [9000, 90],
      [9001, 91],
    ]);
  });

  it('reads the long syntax', () => {
    expect(parsePortEntry('s', { target: 26657, published: '30001', host_ip: '127.0.0.1' })[0]).toMatchObject(
      {
        hostPort: 30001,
        containerPort: 26657,
        hostIp: '127.0.0.1',
      },
    );
    expect(parsePortEntry('s', { target: 26657 })[0]).toMatchObject({ hostPort: undefined });
  });

  it('rejects what is not a port', () => {
    expect(() => parsePortEntry('s', 'abc')).toThrow(/invalid container port/);
    expect(() => parsePortEntry('s', '70000:80')).toThrow(/invalid host port/);
    expect(() => parsePortEntry('s', { published: 1 })).toThrow(/target/);
  });
});

describe('labels', () => {
  it('reads both label forms', () => {
    expect(labelsOf({ a: 'b', n: 1 })).toEqual({ a: 'b', n: '1' });
    expect(labelsOf(['a=b', 'c=d=e', 'flag'])).toEqual({ a: 'b', c: 'd=e', flag: '' });
  });
});

describe('parseComposeFile', () => {
  it('finds nodes by label, with their protocol and RPC port', () => {
    const model = parseComposeFile(
      `
services:
  validator-a:
    image: x/y:1
    labels: { meshbench.role: node, meshbench.protocol: http, meshbench.rpc-port: "8080" }
    ports: ["127.0.0.1:31000:8080"]
  sidecar:
    image: busybox
    ports: ["26657:26657"]
volumes:
  data: {}
  ext: { external: true }
networks:
  net: {}
`,
      'f.yml',
    );
    expect(model.nodeRule).toBe('label');
    expect(model.nodes.map((node) => [node.service, node.protocol, node.rpcContainerPort])).toEqual([
      ['validator-a', 'http', 8080],
    ]);
    expect(model.volumes).toEqual(['data']);
    expect(model.networks).toEqual(['net']);
    expect(model.publishedPorts.map((port) => port.hostPort)).toEqual([31000, 26657]);
  });

  it('falls back to the services that publish port 26657', () => {
    const model = parseComposeFile(
      'services:\n  a: { image: i, ports: ["40001:26657"] }\n  b: { image: i, ports: ["9999:80"] }\n',
      'f.yml',
    );
    expect(model.nodeRule).toBe('rpc-port');
    expect(model.nodes.map((node) => node.service)).toEqual(['a']);
  });

  it('says what is wrong with a project, with code COMPOSE_FILE', () => {
    expect(codeOf(() => parseComposeFile('version: "3"\n', 'f.yml'))).toBe('COMPOSE_FILE');
    expect(() => parseComposeFile('version: "3"\n', 'f.yml')).toThrow(/compose file f.yml has no services/);
    expect(() => parseComposeFile('services:\n  a: { image: i, ports: ["80"] }\n', 'f.yml')).toThrow(
      /has no node services/,
    );
    expect(() => parseComposeFile('services:\n  a: { ports: ["26657"] }\n', 'f.yml')).toThrow(
      /neither image nor build/,
    );
  });

  it('keeps labelled nodes that publish nothing (they are reached at their container address)', () => {
    const model = parseComposeFile(
      'services:\n  a: { image: i, labels: ["meshbench.role=node"] }\n',
      'f.yml',
    );
    expect(model.nodes.map((node) => [node.service, node.publishesRpc])).toEqual([['a', false]]);
  });

  it("reads label values with compose's $$ escape undone", () => {
    const model = parseComposeFile(
      'services:\n  a: { image: "i", ports: ["26657"], labels: { note: "a$$b" } }\n',
      'f.yml',
    );
    expect(model.nodes[0]?.labels.note).toBe('a$b');
  });

  it('leaves out services whose profiles are not active, as compose up does', () => {
    const text =
      'services:\n  a: { image: i, ports: ["26657"] }\n  b: { image: i, ports: ["26657"], profiles: [extra] }\n';
    expect(parseComposeFile(text, 'f.yml').nodes.map((node) => node.service)).toEqual(['a']);
    expect(
      parseComposeFile(text, 'f.yml', { activeProfiles: ['extra'] }).nodes.map((node) => node.service),
    ).toEqual(['a', 'b']);
    expect(serviceIsActive(['x'], ['*'])).toBe(true);
    expect(serviceIsActive([], [])).toBe(true);
    expect(serviceIsActive(['x'], ['y'])).toBe(false);
  });
});

describe('node containers', () => {
  it('counts every container of a node service: scale, deploy.replicas, else one', () => {
    const model = parseComposeFile(
      [
        'services:',
        '  a: { image: i, scale: 3, labels: { meshbench.role: node } }',
        '  b: { image: i, deploy: { replicas: 2 }, labels: { meshbench.role: node } }',
        '  c: { image: i, labels: { meshbench.role: node } }',
        '  side: { image: j, scale: 5 }',
      ].join('\n'),
      'scaled.yml',
    );
    expect(model.nodes.map((node) => [node.service, node.replicas])).toEqual([
      ['a', 3],
      ['b', 2],
      ['c', 1],
    ]);
    expect(nodeContainerCount(model)).toBe(6);
  });
});

describe('labelComposeProject', () => {
  it('labels every service, the default network and declared networks and volumes, and changes nothing else', () => {
    const resolved = parse(
      [
        'version: "3.8"',
        'services:',
        '  a: { image: i, ports: ["26657"], labels: ["keep=1"], networks: { n: { ipv4_address: 10.9.0.2 } } }',
        '  b: { image: j }',
        'volumes: { v: {}, ev: { external: true } }',
        'networks:',
        '  n: { driver: bridge, ipam: { driver: default, config: [{ subnet: 10.9.0.0/24 }] } }',
        '  e: { external: true }',
      ].join('\n'),
    ) as Record<string, unknown>;
    const before = structuredClone(resolved);
    const labels = { 'meshbench.run': 'RUN1', 'meshbench.testbed': 'local' };
    expect(labelComposeProject(resolved, 'RUN1')).toEqual({
      version: '3.8',
      services: {
        a: {
          image: 'i',
          ports: ['26657'],
          labels: { keep: '1', ...labels },
          networks: { n: { ipv4_address: '10.9.0.2' } },
        },
        b: { image: 'j', labels },
      },
      networks: {
        default: { labels },
        n: { driver: 'bridge', ipam: { driver: 'default', config: [{ subnet: '10.9.0.0/24' }] }, labels },
        e: { external: true },
      },
      volumes: { v: { labels }, ev: { external: true } },
    });
    expect(resolved).toEqual(before);
  });
});

describe('generated committee and the seed file', () => {
  it('systems/refnode/docker-compose.yml is the generator output for 4 nodes', async () => {
    const layout = seedPortLayout(4);
    const generated = refnodeCompose({
      committee: 4,
      rpcHostPorts: layout.rpc,
      metricsHostPorts: layout.metrics,
    });
    const file = parse(await readFile('systems/refnode/docker-compose.yml', 'utf8')) as unknown;
    expect(file).toEqual(generated);
    const model = parseComposeFile(await renderCompose(generated, 'x'), 'gen');
    expect(model.nodes.every((node) => node.publishesRpc)).toBe(true);
    expect(model.nodes.map((node) => node.service)).toEqual(['node0', 'node1', 'node2', 'node3']);
    expect(model.publishedPorts.map((port) => `${port.hostPort}:${port.containerPort}`)).toEqual([
      '26657:26657',
      '26670:26660',
      '26658:26657',
      '26671:26660',
      '26659:26657',
      '26672:26660',
      '26660:26657',
      '26673:26660',
    ]);
  });

  it('gives every node the full peer list and non-overlapping ports at any size', () => {
    const layout = seedPortLayout(16);
    expect(new Set([...layout.rpc, ...layout.metrics]).size).toBe(32);
    const project = refnodeCompose({
      committee: 3,
      rpcHostPorts: [1, 2, 3],
      metricsHostPorts: [4, 5, 6],
    }) as {
      services: Record<string, { environment: Record<string, string> }>;
    };
    expect(project.services.node2?.environment).toMatchObject({
      REFNODE_ID: 'node2',
      REFNODE_PEERS: 'node0@node0:26656,node1@node1:26656,node2@node2:26656',
    });
    expect(() => refnodeCompose({ committee: 0, rpcHostPorts: [], metricsHostPorts: [] })).toThrow(/>= 1/);
  });
});

describe('RPC port by protocol', () => {
  it('finds etcd nodes by their client port 2379 when the protocol is etcd', () => {
    const text =
      'services:\n  e0: { image: etcd, ports: ["127.0.0.1::2379"] }\n  x: { image: i, ports: ["26657"] }\n';
    expect(parseComposeFile(text, 'f.yml', { protocol: 'etcd' }).nodes.map((node) => node.service)).toEqual([
      'e0',
    ]);
    expect(parseComposeFile(text, 'f.yml').nodes.map((node) => node.service)).toEqual(['x']);
    const labelled =
      'services:\n  e0: { image: etcd, labels: { meshbench.protocol: etcd }, ports: ["2379"] }\n';
    expect(parseComposeFile(labelled, 'f.yml').nodes[0]?.rpcContainerPort).toBe(2379);
  });
});
