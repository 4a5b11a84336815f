/** Where each node runs: which host, which ports, which container name, which endpoint. */
import type { Endpoint } from '../testbed.js';
import type { RemoteHost } from './hosts.js';

export const BASE_PORTS = { p2p: 26656, rpc: 26657, metrics: 26660 } as const;
/** Port offset between nodes on the same host. */
export const PORT_STRIDE = 10;

export interface NodePlacement {
  readonly nodeId: string;
  readonly hostIndex: number;
  readonly slot: number;
  readonly ports: { readonly p2p: number; readonly rpc: number; readonly metrics: number };
}

/**
 * node i runs on host i mod H (slot i div H): one node per host first, then a second round…
 * Ports start at `base` (the system's own; the reference node's by default), +10 per slot.
 */
export function placeNodes(
  hostCount: number,
  nodesPerHost: number,
  base: { readonly p2p: number; readonly rpc: number; readonly metrics: number } = BASE_PORTS,
): NodePlacement[] {
  const placements: NodePlacement[] = [];
  for (let slot = 0; slot < nodesPerHost; slot++) {
    for (let hostIndex = 0; hostIndex < hostCount; hostIndex++) {
      const offset = slot * PORT_STRIDE;
      placements.push({
        nodeId: `node${placements.length}`,
        hostIndex,
        slot,
        ports: { p2p: base.p2p + offset, rpc: base.rpc + offset, metrics: base.metrics + offset },
      });
    }
  }
  return placements;
}

export function containerName(runId: string, nodeId: string): string {
  return `meshbench-${runId}-${nodeId}`;
}

/** `node0@10.0.0.1:26656,…`: every node's P2P address, as each node is told its peers. */
export function peerList(placements: readonly NodePlacement[], hosts: readonly RemoteHost[]): string {
  return placements.map((p) => `${p.nodeId}@${hosts[p.hostIndex]!.address}:${p.ports.p2p}`).join(',');
}

/** How this machine reaches a placed node: its host's address and the node's ports. */
export function endpointOf(placement: NodePlacement, host: RemoteHost): Endpoint {
  const hostPart = host.address.includes(':') ? `[${host.address}]` : host.address;
  return {
    nodeId: placement.nodeId,
    rpcUrl: `http://${hostPart}:${placement.ports.rpc}`,
    wsUrl: `ws://${hostPart}:${placement.ports.rpc}/websocket`,
    metricsUrl: `http://${hostPart}:${placement.ports.metrics}/metrics`,
    host: host.name,
  };
}
