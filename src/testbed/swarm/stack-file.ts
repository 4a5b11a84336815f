/**
 * The stack file a swarm run deploys: the compose project `local-network --committee N`
 * generates (../local/compose-generate.ts), turned into a Swarm stack: one node per host by a
 * placement constraint on the swarm node's ID, its RPC and metrics ports published in host mode
 * (clients reach each node at its host's address), a restart policy so Swarm replaces a crashed
 * node, a labelled data volume per node (local to its host, so a replaced task keeps its data),
 * and every container, volume and network labelled with the run. Pure: a plain model in and out.
 *
 * The nodes' P2P traffic goes over the stack's overlay network (peers by service name, as in
 * local-network), or, with `network: 'host'`, over the hosts' own network (peers at the hosts'
 * addresses, as on plain hosts): the fallback where an overlay cannot work.
 */
import { NODE_LABEL, REMOTE_LABEL, RUN_LABEL, TESTBED_LABEL } from '../../common/labels.js';
import {
  REFNODE_METRICS_PORT,
  REFNODE_P2P_PORT,
  REFNODE_RPC_PORT,
  refnodeCompose,
  refnodeNodeId,
} from '../local/compose-generate.js';
import { topologyEnvironment, type TopologySpec } from '../topology.js';

/** How the nodes reach each other: Swarm's overlay (VXLAN), or the hosts' network namespaces. */
export type SwarmNetwork = 'overlay' | 'host';

/** The service label a swarm run puts on its services, so `--down` finds its stacks. */
export const STACK_LABEL = 'meshbench.stack';
/** The Compose file version Docker's `stack deploy` reads (20.10 needs one). */
export const STACK_FILE_VERSION = '3.8';

export interface SwarmStackOptions {
  readonly runId: string;
  readonly image: string;
  /** One per node, in node order: the swarm node ID it is placed on and the host's address. */
  readonly hosts: readonly { readonly nodeId: string; readonly address: string }[];
  readonly network: SwarmNetwork;
  readonly topology?: TopologySpec;
  /** Extra environment for every node (e.g. MESHBENCH_INGEST_URL). */
  readonly nodeEnv?: Readonly<Record<string, string>>;
}

export function stackName(runId: string): string {
  return `meshbench-${runId}`;
}

/** The service Swarm names for node `nodeId` of a stack (`<stack>_<service>`). */
export function serviceName(runId: string, nodeId: string): string {
  return `${stackName(runId)}_${nodeId}`;
}

function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** The stack file as a plain object (render it with `renderCompose`). */
export function swarmStack(options: SwarmStackOptions): Record<string, unknown> {
  const committee = options.hosts.length;
  const ids = Array.from({ length: committee }, (_, index) => refnodeNodeId(index));
  const hostNetwork = options.network === 'host';
  // on the hosts' network each node's peers are at their hosts' addresses, as on plain hosts
  const hostPeers = ids
    .map((id, index) => `${id}@${hostPart(options.hosts[index]!.address)}:${REFNODE_P2P_PORT}`)
    .join(',');
  const hostTopology =
    hostNetwork && options.topology
      ? topologyEnvironment(
          options.topology,
          ids.map((id, index) => ({
            id,
            address: `${hostPart(options.hosts[index]!.address)}:${REFNODE_P2P_PORT}`,
          })),
        )
      : undefined;
  const generated = refnodeCompose({
    committee,
    image: options.image,
    rpcHostPorts: ids.map(() => REFNODE_RPC_PORT),
    metricsHostPorts: ids.map(() => REFNODE_METRICS_PORT),
    ...(options.topology && !hostNetwork ? { topology: options.topology } : {}),
    ...(options.nodeEnv ? { environment: options.nodeEnv } : {}),
  }) as { services: Record<string, Record<string, unknown>> };
  const runLabels = { [RUN_LABEL]: options.runId, [TESTBED_LABEL]: 'remote', [REMOTE_LABEL]: '1' };
  const services: Record<string, unknown> = {};
  const volumes: Record<string, unknown> = {};
  ids.forEach((id, index) => {
    const service = generated.services[id]!;
    const environment = { ...(service.environment as Record<string, string>) };
    if (hostNetwork) {
      environment.REFNODE_PEERS = hostPeers;
      Object.assign(environment, hostTopology?.[index]);
    }
    const volume = `${id}-data`;
    volumes[volume] = { labels: { ...runLabels, [NODE_LABEL]: id } };
    const { ports: _ports, hostname, healthcheck: _healthcheck, ...rest } = service;
    services[id] = {
      ...rest,
      // Swarm replaces a task whose health check fails (Compose does not): on a busy host that
      // restarts healthy nodes; readiness is meshbench's own probe, and a crash still restarts
      healthcheck: { disable: true },
      // a host-network container takes its host's name; on the overlay it answers to its own
      ...(hostNetwork ? {} : { hostname }),
      environment,
      labels: { ...(service.labels as Record<string, string>), ...runLabels, [NODE_LABEL]: id },
      volumes: [{ type: 'volume', source: volume, target: '/data' }],
      ...(hostNetwork
        ? { networks: ['hostnet'] }
        : {
            ports: [REFNODE_RPC_PORT, REFNODE_METRICS_PORT].map((port) => ({
              target: port,
              published: port,
              protocol: 'tcp',
              mode: 'host',
            })),
          }),
      deploy: {
        replicas: 1,
        placement: { constraints: [`node.id == ${options.hosts[index]!.nodeId}`] },
        restart_policy: { condition: 'any', delay: '1s' },
        labels: { [RUN_LABEL]: options.runId, [STACK_LABEL]: stackName(options.runId) },
      },
    };
  });
  return {
    version: STACK_FILE_VERSION,
    services,
    volumes,
    networks: hostNetwork
      ? { hostnet: { external: true, name: 'host' } }
      : { default: { driver: 'overlay', labels: runLabels } },
  };
}
