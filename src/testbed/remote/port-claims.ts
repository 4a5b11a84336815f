/**
 * Remote nodes run on their host's network (or, with --engine swarm, publish their ports in
 * host mode), so two runs on one host want the same ports. A run that another left running
 * (remote-network without --cleanup) holds them: the new run's nodes could not listen and
 * exited (or Swarm left their tasks pending), while its readiness polls reached the old run's
 * nodes at those ports and the load measured them. Before any node starts on a host, the nodes
 * of other runs still running there are compared with the ports this run places there (each
 * node container is labelled with its ports); one that holds one stops the run, naming it and
 * how to remove it.
 */
import { MeshbenchError } from '../../common/errors.js';
import { HOST_PORTS_LABEL, NODE_LABEL, RUN_LABEL, testbedSelector } from '../docker/labels.js';
import type { NodePlacement } from './placement.js';
import type { RemoteHostAgent } from './remote-host.js';

/** A node's host ports, each once (a system may serve metrics on its RPC port). */
export function hostPortsOf(placement: Pick<NodePlacement, 'ports'>): number[] {
  const { rpc, p2p, metrics } = placement.ports;
  return [...new Set([rpc, p2p, metrics])];
}

/** The ports label of a node's container (a remote node's, a Swarm task's), which `firstClaim` reads. */
export function hostPortsLabel(ports: readonly number[]): Record<string, string> {
  return { [HOST_PORTS_LABEL]: ports.join(',') };
}

/** A node of this run and the host ports it needs on its host. */
export interface PortWant {
  readonly nodeId: string;
  readonly hostPorts: readonly number[];
}

/** What placed nodes need: their ports. */
export function wantsOf(placements: readonly Pick<NodePlacement, 'nodeId' | 'ports'>[]): PortWant[] {
  return placements.map((placement) => ({ nodeId: placement.nodeId, hostPorts: hostPortsOf(placement) }));
}

/** A running container of another run and the port of this run's it holds. */
export interface PortClaim {
  readonly runId: string;
  readonly nodeId: string;
  readonly port: number;
  /** This run's node that needs it. */
  readonly wantedBy: string;
}

/**
 * The first port of `wants` (this run's nodes on one host) that a running node of another run
 * holds, from the containers' labels. A node without the ports label (made before it existed)
 * is taken to hold them all: it ran on the same base ports.
 */
export function firstClaim(
  runId: string,
  wants: readonly PortWant[],
  containers: readonly { readonly Labels?: Readonly<Record<string, string>> | null }[],
): PortClaim | undefined {
  const wanted = new Map<number, string>();
  for (const want of wants) for (const port of want.hostPorts) wanted.set(port, want.nodeId);
  if (wanted.size === 0) return undefined;
  for (const container of containers) {
    const labels = container.Labels ?? {};
    const other = labels[RUN_LABEL];
    if (other === undefined || other === runId) continue;
    const held = labels[HOST_PORTS_LABEL]?.split(',').map(Number) ?? [...wanted.keys()];
    const port = held.find((candidate) => wanted.has(candidate));
    if (port === undefined) continue;
    return { runId: other, nodeId: labels[NODE_LABEL] ?? '?', port, wantedBy: wanted.get(port) as string };
  }
  return undefined;
}

/** Refuses to start this run's nodes on `agent`'s host while another run's node holds one of their ports. */
export async function refuseClaimedPorts(
  agent: RemoteHostAgent,
  runId: string,
  wants: readonly PortWant[],
): Promise<void> {
  if (wants.length === 0) return;
  let containers: { Labels?: Record<string, string> | null }[];
  try {
    containers = await agent.docker.listContainers({
      // remote nodes, Swarm's tasks too (sidecars and load clients carry no node label)
      filters: {
        label: [...(testbedSelector('remote')[0] ?? []), NODE_LABEL],
        status: ['running', 'restarting'],
      },
    });
  } catch (error) {
    throw agent.failure('listing containers', error);
  }
  const claim = firstClaim(runId, wants, containers);
  if (claim === undefined) return;
  throw new MeshbenchError(
    'PORT_IN_USE',
    `${agent.host.name}: ${claim.nodeId} of run ${claim.runId} still runs there and holds port ${claim.port}, which ${claim.wantedBy} of this run needs (remote nodes take their host's ports)`,
    {
      hint: `remove that run with remote-network --down ${claim.runId} and the same hosts, or use other hosts`,
    },
  );
}
