/**
 * The nodes on remote hosts: the container each placement runs (the same labels as every
 * container meshbench makes, ../docker/labels.ts), its handle (the shared container handle,
 * with errors that name the host), and the readiness probe they are waited on with.
 */
import { MeshbenchError } from '../../common/errors.js';
import { cometbftProbe, probeForProtocol, type Probe } from '../readiness.js';
import { REFNODE_TEMPLATE, type NodeTemplate } from '../node-template.js';
import type { ContainerSpec } from '../docker/container-spec.js';
import { IMAGE_ID_LABEL, remoteNodeLabels, remoteSidecarLabels } from '../docker/labels.js';
import { hostPortsLabel, hostPortsOf } from './port-claims.js';
import { ContainerNodeHandle } from '../docker/node-handle.js';
import type { Endpoint } from '../testbed.js';
import type { RemoteHostAgent } from './remote-host.js';
import { containerName, type NodePlacement } from './placement.js';

/**
 * The container of one placed node: host network, the system's environment (`{id}` and `{peers}`
 * filled in), its ports in the system's port variables (REFNODE_RPC_PORT…), a labelled data volume.
 */
export function nodeContainerSpec(init: {
  runId: string;
  placement: NodePlacement;
  peers: string;
  image: string;
  /** What the node is (`--system`); default the reference node. */
  system?: NodeTemplate;
  /** The shipped image's ID, labelled so a thorough cleanup removes it. */
  imageId?: string;
  nodeEnv?: Readonly<Record<string, string>>;
}): ContainerSpec {
  const { runId, placement } = init;
  const name = containerName(runId, placement.nodeId);
  const labels = { ...remoteNodeLabels(runId, placement.nodeId), ...hostPortsLabel(hostPortsOf(placement)) };
  return {
    name,
    image: init.image,
    labels: { ...labels, ...(init.imageId ? { [IMAGE_ID_LABEL]: init.imageId } : {}) },
    env: { ...systemEnvironment(init.system ?? REFNODE_TEMPLATE, placement, init.peers), ...init.nodeEnv },
    networkMode: 'host',
    // the data volume is created with the container, labelled like it (one round trip)
    volume: { name, target: '/data', labels },
  };
}

/** A node's own environment from its system: the template's, then the port variables. */
function systemEnvironment(
  system: NodeTemplate,
  placement: NodePlacement,
  peers: string,
): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(system.environment).map(([name, value]) => [
      name,
      value.replaceAll('{id}', placement.nodeId).replaceAll('{peers}', peers),
    ]),
  );
  for (const kind of ['rpc', 'p2p', 'metrics'] as const) {
    const variable = system.portVariables?.[kind];
    if (variable !== undefined) env[variable] = String(placement.ports[kind]);
  }
  return env;
}

/** Where a system's nodes listen on a host that runs only one of them: its own ports. */
export function systemBasePorts(system: NodeTemplate): { p2p: number; rpc: number; metrics: number } {
  return { rpc: system.ports.rpc, p2p: system.ports.p2p, metrics: system.ports.metrics ?? system.ports.rpc };
}

/**
 * Several nodes on a host share its network, so each port of the system must move: refused,
 * naming the port, when the system declares no variable for it.
 */
export function checkNodesPerHost(system: NodeTemplate, nodesPerHost: number): void {
  if (nodesPerHost <= 1) return;
  const ports = systemBasePorts(system);
  const fixed = (['rpc', 'p2p', 'metrics'] as const).filter(
    (kind) =>
      system.portVariables?.[kind] === undefined &&
      // a metrics port that is the RPC port moves with it (and is no port of its own to name)
      !(kind === 'metrics' && ports.metrics === ports.rpc),
  );
  const named = fixed.length > 1 ? `${fixed.slice(0, -1).join(', ')} and ${fixed.at(-1)}` : fixed.join('');
  if (fixed.length > 0)
    throw new MeshbenchError(
      'BAD_FLAG',
      `${system.name}: ${nodesPerHost} nodes per host need its ${named} port${fixed.length === 1 ? '' : 's'} to move, and its system.json names no variable for ${fixed.length === 1 ? 'it' : 'them'}`,
      {
        hint: 'run one node per host, or declare portVariables in its system.json (docs/architecture.md, "A system under test")',
      },
    );
}

/** The readiness probe of a system's node: CometBFT's peers first, else its protocol's own. */
export function systemProbe(system: NodeTemplate, expectedPeers: number): Probe {
  return system.protocol === 'cometbft'
    ? peersFirstProbe(expectedPeers)
    : probeForProtocol(system.protocol, expectedPeers);
}

/** The handle of a node on a host: engine errors become one line naming the host. */
export function remoteNodeHandle(
  agent: RemoteHostAgent,
  runId: string,
  placement: NodePlacement,
  endpoint: Endpoint,
  /** The node at its host's own address, when `endpoint` is a tunnel (a host behind a jump host). */
  onHost?: Endpoint,
): ContainerNodeHandle {
  return new ContainerNodeHandle({
    docker: agent.docker,
    nodeId: placement.nodeId,
    endpoint,
    ...(onHost && onHost.rpcUrl !== endpoint.rpcUrl ? { sidecarEndpoint: onHost } : {}),
    containerId: containerName(runId, placement.nodeId),
    sidecarLabels: remoteSidecarLabels(runId),
    host: agent.host.name,
    onFailure: (what, error) => agent.failure(what, error),
  });
}

/**
 * The CometBFT readiness checks, peers first: while a node's peers are still connecting (most of
 * the wait) a poll costs one request (/net_info) instead of three; once they are all there, the
 * full probe (health, not catching up, peers) decides. Every poll is a request the node serves, on
 * hosts that may share their CPUs.
 */
export function peersFirstProbe(expectedPeers: number): Probe {
  const full = cometbftProbe(expectedPeers);
  if (expectedPeers === 0) return full;
  return async (target, http) => {
    try {
      const reply = await http(`${target.rpcUrl}/net_info`);
      if (reply.status === 200) {
        const peers = Number((JSON.parse(reply.body) as { result?: { n_peers?: unknown } }).result?.n_peers);
        if (peers < expectedPeers)
          return { ready: false, detail: `net_info: ${peers} of ${expectedPeers} peers`, peers };
      }
    } catch (error) {
      // not listening yet: one refused connection per poll is enough
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string') return { ready: false, detail: code };
      // not JSON, a timeout…: the full probe says what is wrong
    }
    return full(target, http);
  };
}
