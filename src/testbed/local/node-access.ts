/**
 * How this machine reaches a local node: at the container's own address on its compose
 * network (`direct`), or through a port published on the host (`published`), where every
 * request and reply passes through Docker's userland proxy (`docker-proxy`, one process
 * per published port), which is not part of the system under test and costs CPU.
 *
 * Direct works where the engine runs on this machine and the network is a bridge this
 * host has an interface on (Linux). Docker Desktop, rootless engines (their bridge lives
 * in another namespace) and remote engines give no such interface: published is the
 * fallback there, and the user's choice with `--node-access published`.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export type NodeAccessMode = 'auto' | 'direct' | 'published';
export type NodeAccess = 'direct' | 'published';
export const NODE_ACCESS_MODES: readonly NodeAccessMode[] = ['auto', 'direct', 'published'];

type Env = Readonly<Record<string, string | undefined>>;
type Interfaces = Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>;

function ipv4ToInt(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const byte = Number(part);
    if (byte > 255) return undefined;
    value = value * 256 + byte;
  }
  return value;
}

/** Whether `address` is on a subnet one of this host's own interfaces is on (and is not that interface). */
export function onLocalSubnet(address: string, interfaces: Interfaces = networkInterfaces()): boolean {
  const target = ipv4ToInt(address);
  if (target === undefined) return false;
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      if (entry.family !== 'IPv4' || entry.internal) continue;
      const own = ipv4ToInt(entry.address);
      const mask = ipv4ToInt(entry.netmask);
      if (own === undefined || mask === undefined || own === target) continue;
      // Unsigned 32-bit AND (the bitwise operators work on signed 32-bit integers).
      if ((own & mask) >>> 0 === (target & mask) >>> 0) return true;
    }
  }
  return false;
}

/** The engine runs on this machine (a unix socket, the default), so its bridges can be local. */
export function engineIsLocal(env: Env): boolean {
  const host = env.DOCKER_HOST;
  return host === undefined || host === '' || host.startsWith('unix://');
}

export interface NodeAddresses {
  readonly nodeId: string;
  /** The container's IPv4 address on each of its networks. */
  readonly addresses: readonly string[];
}

export interface AccessChoice {
  readonly access: NodeAccess;
  /** Per node, the address to use when direct. */
  readonly directAddress: ReadonlyMap<string, string>;
  /** Why this access was chosen (recorded). */
  readonly reason: string;
}

/**
 * Direct when every node has an address this host routes to (and the mode allows it),
 * else published. `direct` asked for but impossible is an error the caller reports.
 */
export function chooseNodeAccess(
  mode: NodeAccessMode,
  nodes: readonly NodeAddresses[],
  options: { env?: Env; interfaces?: Interfaces } = {},
): AccessChoice | { readonly error: string } {
  if (mode === 'published') {
    return { access: 'published', directAddress: new Map(), reason: 'asked for (--node-access published)' };
  }
  const env = options.env ?? process.env;
  const interfaces = options.interfaces ?? networkInterfaces();
  const local = engineIsLocal(env);
  const directAddress = new Map<string, string>();
  const missing: string[] = [];
  if (local) {
    for (const node of nodes) {
      const address = node.addresses.find((candidate) => onLocalSubnet(candidate, interfaces));
      if (address) directAddress.set(node.nodeId, address);
      else missing.push(node.nodeId);
    }
  }
  if (local && missing.length === 0) {
    return {
      access: 'direct',
      directAddress,
      reason: 'this host routes to the compose network: container addresses, no docker-proxy',
    };
  }
  const why = local
    ? `this host has no interface on the network of ${missing.join(', ')}`
    : `the engine is not on this machine (DOCKER_HOST=${env.DOCKER_HOST})`;
  if (mode === 'direct') return { error: why };
  return { access: 'published', directAddress: new Map(), reason: `published ports: ${why}` };
}
