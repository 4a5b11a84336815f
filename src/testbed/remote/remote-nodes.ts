/**
 * The nodes on remote hosts: the container each placement runs (the same labels as every
 * container meshbench makes, ../docker/labels.ts), its handle (the shared container handle,
 * with errors that name the host), and the readiness probe they are waited on with.
 */
import { cometbftProbe, type Probe } from '../readiness.js';
import type { ContainerSpec } from '../docker/container-spec.js';
import { IMAGE_ID_LABEL, remoteNodeLabels, remoteSidecarLabels } from '../docker/labels.js';
import { ContainerNodeHandle } from '../docker/node-handle.js';
import type { Endpoint } from '../testbed.js';
import type { RemoteHostAgent } from './remote-host.js';
import { containerName, type NodePlacement } from './placement.js';

/** The container of one placed node: host network, its ports in REFNODE_*, a labelled data volume. */
export function nodeContainerSpec(init: {
  runId: string;
  placement: NodePlacement;
  peers: string;
  image: string;
  /** The shipped image's ID, labelled so a thorough cleanup removes it. */
  imageId?: string;
  nodeEnv?: Readonly<Record<string, string>>;
}): ContainerSpec {
  const { runId, placement } = init;
  const name = containerName(runId, placement.nodeId);
  const labels = remoteNodeLabels(runId, placement.nodeId);
  return {
    name,
    image: init.image,
    labels: { ...labels, ...(init.imageId ? { [IMAGE_ID_LABEL]: init.imageId } : {}) },
    env: {
      REFNODE_ID: placement.nodeId,
      REFNODE_PEERS: init.peers,
      REFNODE_RPC_PORT: String(placement.ports.rpc),
      REFNODE_P2P_PORT: String(placement.ports.p2p),
      REFNODE_METRICS_PORT: String(placement.ports.metrics),
      REFNODE_DATA_DIR: '/data',
      ...init.nodeEnv,
    },
    networkMode: 'host',
    // the data volume is created with the container, labelled like it (one round trip)
    volume: { name, target: '/data', labels },
  };
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
          return { ready: false, detail: `net_info: ${peers} of ${expectedPeers} peers` };
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
