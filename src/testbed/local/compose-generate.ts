/**
 * Generates the compose project for a committee of N reference nodes
 * (`local-network --committee N`). `systems/refnode/docker-compose.yml` is this output for
 * N = 4 with the seed port layout (a unit test keeps the two in step).
 */
import { METRICS_PORT_LABEL, PROTOCOL_LABEL, ROLE_LABEL, RPC_PORT_LABEL } from '../../common/labels.js';
import { REFNODE_TEMPLATE, type NodeTemplate } from '../node-template.js';
import { topologyEnvironment, type TopologySpec } from '../topology.js';
import { loadYaml } from '../../common/yaml.js';

export { REFNODE_IMAGE } from '../../common/defaults.js';
export const REFNODE_RPC_PORT = REFNODE_TEMPLATE.ports.rpc;
export const REFNODE_P2P_PORT = REFNODE_TEMPLATE.ports.p2p;
export const REFNODE_METRICS_PORT = REFNODE_TEMPLATE.ports.metrics as number;
/** Seed layout: node i's RPC on 26657+i, its Prometheus metrics on 26670+i. */
export const SEED_RPC_BASE_PORT = 26657;
export const SEED_METRICS_BASE_PORT = 26670;

export interface RefnodeComposeOptions {
  readonly committee: number;
  readonly image?: string;
  /** The system whose nodes are generated (`--system`); default the reference node. */
  readonly system?: NodeTemplate;
  /** Host port per node for RPC and for metrics (same length as the committee; metrics unused when the system serves them on its RPC port). */
  readonly rpcHostPorts: readonly number[];
  readonly metricsHostPorts: readonly number[];
  /** Host address the ports are published on. */
  readonly hostIp?: string;
  /** Extra REFNODE_* environment for every node. */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Who connects to whom (--topology): each node gets REFNODE_CONNECT (not for full),
   * MESHBENCH_PEERS and MESHBENCH_BOOTSTRAP. Absent: today's full mesh, without those variables.
   */
  readonly topology?: TopologySpec;
}

export function refnodeNodeId(index: number): string {
  return `node${index}`;
}

/** The ids of a generated network of `count` nodes, in order: node0, node1, … */
export function refnodeNodeIds(count: number): string[] {
  return Array.from({ length: count }, (_, index) => refnodeNodeId(index));
}

/** The seed port layout for `committee` nodes (valid while the two ranges do not overlap). */
export function seedPortLayout(committee: number): { rpc: number[]; metrics: number[] } {
  const rpc = Array.from({ length: committee }, (_, index) => SEED_RPC_BASE_PORT + index);
  const metricsBase = Math.max(SEED_METRICS_BASE_PORT, SEED_RPC_BASE_PORT + committee);
  const metrics = Array.from({ length: committee }, (_, index) => metricsBase + index);
  return { rpc, metrics };
}

/**
 * The healthcheck command of a node image that has node but no curl (the lean images). Each
 * check starts a node process in the node's container, so its cost is the nodes' cost: `http.get`
 * is a third of `fetch`'s CPU (about 0.16 s of a core against 0.5 s on this 2-core machine: fetch
 * loads undici; a bare `node -e 0` is 0.14 s). With fetch every 5 s, a 4-node refnode network's
 * checks at rest used about 0.4 of a core, four times the refnodes' own 0.1.
 */
export function nodeHealthcheck(port: number, path: string): string[] {
  return [
    'CMD',
    '/usr/local/bin/node',
    '-e',
    `require('http').get('http://127.0.0.1:${port}${path}', (r) => process.exit(r.statusCode >= 200 && r.statusCode < 300 ? 0 : 1)).on('error', () => process.exit(1))`,
  ];
}
export const REFNODE_HEALTHCHECK = nodeHealthcheck(REFNODE_RPC_PORT, '/health');

/** A generated node's `healthcheck` entry, as its template says (NodeTemplate.healthcheck). */
function healthcheckOf(system: NodeTemplate): { healthcheck?: Record<string, unknown> } {
  const check = system.healthcheck ?? 'node';
  if (check === 'none') return {};
  const test = check === 'node' ? nodeHealthcheck(system.ports.rpc, system.health) : [...check];
  return { healthcheck: { test, ...NODE_HEALTHCHECK_TIMING } };
}

/**
 * How often the engine runs it: Docker's default interval, 30 s. meshbench waits on the nodes'
 * RPC itself and never on this status (it is for `docker ps` and the user's own tooling), and a
 * check every 5 s took 4 nodes × 0.16 s / 5 s, 13 % of a core, from the machine the nodes are
 * measured on (as much again as 4 refnodes at rest). A node shows `health: starting` for its
 * first 30 s.
 */
export const NODE_HEALTHCHECK_TIMING = {
  interval: '30s',
  timeout: '3s',
  retries: 3,
  start_period: '10s',
} as const;

/** Whether the system serves its metrics on a port of their own (then each node publishes two). */
export function separateMetricsPort(system: NodeTemplate = REFNODE_TEMPLATE): boolean {
  return system.ports.metrics !== undefined && system.ports.metrics !== system.ports.rpc;
}

export function refnodeCompose(options: RefnodeComposeOptions): Record<string, unknown> {
  const { committee } = options;
  if (!Number.isInteger(committee) || committee < 1)
    throw new Error(`committee must be >= 1, got ${committee}`);
  if (options.rpcHostPorts.length !== committee || options.metricsHostPorts.length !== committee) {
    throw new Error('one RPC and one metrics host port per node are needed');
  }
  const system = options.system ?? REFNODE_TEMPLATE;
  const hostIp = options.hostIp ?? '127.0.0.1';
  const ids = refnodeNodeIds(committee);
  const peers = ids.map((id) => `${id}@${id}:${system.ports.p2p}`).join(',');
  const spec = options.topology ?? (system.peersAlways ? { kind: 'full' as const } : undefined);
  const topology = spec
    ? topologyEnvironment(
        spec,
        ids.map((id) => ({ id, address: `${id}:${system.ports.p2p}` })),
      )
    : undefined;
  const metricsPort = system.ports.metrics ?? system.ports.rpc;
  const services: Record<string, unknown> = {};
  ids.forEach((id, index) => {
    const own = Object.fromEntries(
      Object.entries(system.environment).map(([key, value]) => [
        key,
        value.replaceAll('{id}', id).replaceAll('{peers}', peers),
      ]),
    );
    services[id] = {
      image: options.image ?? system.image,
      hostname: id,
      environment: {
        ...own,
        ...topology?.[index],
        ...options.environment,
      },
      ports: [
        `${hostIp}:${options.rpcHostPorts[index]}:${system.ports.rpc}`,
        ...(separateMetricsPort(system)
          ? [`${hostIp}:${options.metricsHostPorts[index]}:${metricsPort}`]
          : []),
      ],
      labels: {
        [ROLE_LABEL]: 'node',
        [PROTOCOL_LABEL]: system.protocol,
        [RPC_PORT_LABEL]: String(system.ports.rpc),
        [METRICS_PORT_LABEL]: String(metricsPort),
      },
      ...healthcheckOf(system),
      stop_grace_period: '5s',
    };
  });
  return { services };
}

/** The project as compose YAML under a comment header (yaml loads here, off the start-up path). */
export async function renderCompose(project: Record<string, unknown>, header: string): Promise<string> {
  const { stringify } = await loadYaml();
  const comment = header
    .split('\n')
    .map((line) => (line ? `# ${line}` : '#'))
    .join('\n');
  return `${comment}\n${stringify(project, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
