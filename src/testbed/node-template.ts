/**
 * What a generated network's nodes are made of (a system's system.json, read and checked by
 * system-template.ts), and the reference node's. Apart from the manifest's schema, so that
 * generating the refnode's compose file loads no schema library (start-up: issue 31).
 */
import { REFNODE_IMAGE } from '../common/defaults.js';
import { findProtocol, isProtocolModule } from '../protocols/registry.js';

export interface NodeTemplate {
  /** The system's name (`refnode`, `libp2p-gossipsub`…), recorded with the network. */
  readonly name: string;
  readonly image: string;
  /** The protocol its nodes speak (the `meshbench.protocol` label). */
  readonly protocol: string;
  /** Container ports: the protocol's RPC, peer-to-peer, and Prometheus metrics (may equal rpc). */
  readonly ports: { readonly rpc: number; readonly p2p: number; readonly metrics?: number };
  /** Each node's environment; `{id}` is its id (node0…), `{peers}` every node's `id@id:p2p`. */
  readonly environment: Readonly<Record<string, string>>;
  /** The path its RPC answers 200 on when the node is up (HTTP, on the RPC port). */
  readonly health: string;
  /**
   * The container's own health check (for `docker ps` and the user's tooling; meshbench waits on
   * the RPC itself): `node` fetches `health` with the image's /usr/local/bin/node (meshbench's
   * lean images have no shell or curl), `none` sets none, or compose's `test` form as given.
   * Absent: `node`.
   */
  readonly healthcheck?: 'node' | 'none' | readonly string[];
  /** Whether nodes get MESHBENCH_PEERS/MESHBENCH_BOOTSTRAP even in a full mesh (P2P apps dial them). */
  readonly peersAlways: boolean;
  /**
   * The environment variables that move its ports (`MESH_RPC_PORT`…): on remote hosts every node
   * shares its host's network, so a second node on a host needs other ports. A port without one
   * stays where the image puts it (one node per host then).
   */
  readonly portVariables?: { readonly rpc?: string; readonly p2p?: string; readonly metrics?: string };
}

/** The reference node, as `local-network --committee N` always generated it. */
export const REFNODE_TEMPLATE: NodeTemplate = {
  name: 'refnode',
  image: REFNODE_IMAGE,
  protocol: 'cometbft',
  ports: { rpc: 26657, p2p: 26656, metrics: 26660 },
  environment: { REFNODE_ID: '{id}', REFNODE_PEERS: '{peers}', REFNODE_DATA_DIR: '/data' },
  health: '/health',
  healthcheck: 'node',
  peersAlways: false,
  portVariables: { rpc: 'REFNODE_RPC_PORT', p2p: 'REFNODE_P2P_PORT', metrics: 'REFNODE_METRICS_PORT' },
};

/**
 * Whether a load of protocol `kind` can reach nodes made of `template`: their own protocol, one
 * that reaches any HTTP service as its settings say (`http`), or a user's protocol module (which
 * may be written for them). Not so, an etcd or mesh load sent to reference nodes would have every
 * transaction refused, and only after the deploy.
 */
export function answersProtocol(template: NodeTemplate, kind: string): boolean {
  if (kind === template.protocol || isProtocolModule(kind)) return true;
  const definition = findProtocol(kind);
  return definition === undefined || definition.anyService === true;
}
