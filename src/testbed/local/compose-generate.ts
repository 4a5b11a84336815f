/**
 * Generates the compose project for a committee of N reference nodes
 * (`local-network --committee N`). `systems/refnode/docker-compose.yml` is this output for
 * N = 4 with the seed port layout (a unit test keeps the two in step).
 */
import { stringify } from 'yaml';
import { REFNODE_IMAGE } from '../../common/defaults.js';
import { METRICS_PORT_LABEL, PROTOCOL_LABEL, ROLE_LABEL, RPC_PORT_LABEL } from '../../common/labels.js';
import { topologyEnvironment, type TopologySpec } from '../topology.js';

export { REFNODE_IMAGE } from '../../common/defaults.js';
export const REFNODE_RPC_PORT = 26657;
export const REFNODE_P2P_PORT = 26656;
export const REFNODE_METRICS_PORT = 26660;
/** Seed layout: node i's RPC on 26657+i, its Prometheus metrics on 26670+i. */
export const SEED_RPC_BASE_PORT = 26657;
export const SEED_METRICS_BASE_PORT = 26670;

export interface RefnodeComposeOptions {
  readonly committee: number;
  readonly image?: string;
  /** Host port per node for RPC and for metrics (same length as the committee). */
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

/** The seed port layout for `committee` nodes (valid while the two ranges do not overlap). */
export function seedPortLayout(committee: number): { rpc: number[]; metrics: number[] } {
  const rpc = Array.from({ length: committee }, (_, index) => SEED_RPC_BASE_PORT + index);
  const metricsBase = Math.max(SEED_METRICS_BASE_PORT, SEED_RPC_BASE_PORT + committee);
  const metrics = Array.from({ length: committee }, (_, index) => metricsBase + index);
  return { rpc, metrics };
}

/** The healthcheck command: the image has node but no curl. */
export const REFNODE_HEALTHCHECK = [
  'CMD',
  '/usr/local/bin/node',
  '-e',
  `fetch('http://127.0.0.1:${REFNODE_RPC_PORT}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
];

export function refnodeCompose(options: RefnodeComposeOptions): Record<string, unknown> {
  const { committee } = options;
  if (!Number.isInteger(committee) || committee < 1)
    throw new Error(`committee must be >= 1, got ${committee}`);
  if (options.rpcHostPorts.length !== committee || options.metricsHostPorts.length !== committee) {
    throw new Error('one RPC and one metrics host port per node are needed');
  }
  const hostIp = options.hostIp ?? '127.0.0.1';
  const ids = Array.from({ length: committee }, (_, index) => refnodeNodeId(index));
  const peers = ids.map((id) => `${id}@${id}:${REFNODE_P2P_PORT}`).join(',');
  const topology = options.topology
    ? topologyEnvironment(
        options.topology,
        ids.map((id) => ({ id, address: `${id}:${REFNODE_P2P_PORT}` })),
      )
    : undefined;
  const services: Record<string, unknown> = {};
  ids.forEach((id, index) => {
    services[id] = {
      image: options.image ?? REFNODE_IMAGE,
      hostname: id,
      environment: {
        REFNODE_ID: id,
        REFNODE_PEERS: peers,
        REFNODE_DATA_DIR: '/data',
        ...topology?.[index],
        ...options.environment,
      },
      ports: [
        `${hostIp}:${options.rpcHostPorts[index]}:${REFNODE_RPC_PORT}`,
        `${hostIp}:${options.metricsHostPorts[index]}:${REFNODE_METRICS_PORT}`,
      ],
      labels: {
        [ROLE_LABEL]: 'node',
        [PROTOCOL_LABEL]: 'cometbft',
        [RPC_PORT_LABEL]: String(REFNODE_RPC_PORT),
        [METRICS_PORT_LABEL]: String(REFNODE_METRICS_PORT),
      },
      healthcheck: {
        test: REFNODE_HEALTHCHECK,
        interval: '5s',
        timeout: '3s',
        retries: 3,
        start_period: '10s',
      },
      stop_grace_period: '5s',
    };
  });
  return { services };
}

export function renderCompose(project: Record<string, unknown>, header: string): string {
  const comment = header
    .split('\n')
    .map((line) => (line ? `# ${line}` : '#'))
    .join('\n');
  return `${comment}\n${stringify(project, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
