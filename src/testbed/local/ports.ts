/**
 * Host ports: is a port free, and if not, who holds it (a container, or a process
 * found through /proc). Also picks free ports for a generated committee.
 */
import { createServer } from 'node:net';
import { readFile, readdir, readlink } from 'node:fs/promises';
import type { ContainerInfo } from 'dockerode';
import { RUN_LABEL } from '../../common/labels.js';

export interface PortNeed {
  readonly hostIp: string;
  readonly hostPort: number;
  readonly protocol: 'tcp' | 'udp';
  readonly service: string;
}

export interface PortConflict extends PortNeed {
  /** Who holds it, in words: `container meshbench-x-node0-1 (run …)` or `pid 123 (node)`. */
  readonly holder: string;
}

/** True when nothing listens on host:port (checked by binding it for a moment). */
export function isPortFree(port: number, host = ''): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: host === '' ? '0.0.0.0' : host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** A container's host port bindings as configured (bound again when it starts). */
export interface ContainerPortConfig {
  readonly HostConfig?: {
    readonly PortBindings?: Record<string, readonly { readonly HostPort?: string }[] | null> | null;
  };
}

/** What is needed of an engine client here (the light EngineApi, or dockerode through `engineLister`). */
export interface ContainerLister {
  listContainers(options?: { all?: boolean }): Promise<ContainerInfo[]>;
  inspectContainer(id: string): Promise<ContainerPortConfig>;
}

/** A dockerode client as a ContainerLister. */
export function engineLister(docker: {
  listContainers(options?: { all?: boolean }): Promise<ContainerInfo[]>;
  getContainer(id: string): { inspect(): Promise<ContainerPortConfig> };
}): ContainerLister {
  return {
    listContainers: (options) => docker.listContainers(options),
    inspectContainer: (id) => docker.getContainer(id).inspect(),
  };
}

interface PublishedByContainer {
  readonly name: string;
  readonly runId: string | undefined;
  readonly port: number;
}

const nameOf = (container: ContainerInfo) =>
  (container.Names?.[0] ?? container.Id.slice(0, 12)).replace(/^\//, '');

/** Host ports the listed containers publish (a stopped container lists none). */
function publishedBy(containers: readonly ContainerInfo[]): PublishedByContainer[] {
  return containers.flatMap((container) =>
    (container.Ports ?? [])
      .filter((port) => port.PublicPort !== undefined)
      .map((port) => ({
        name: nameOf(container),
        runId: container.Labels?.[RUN_LABEL],
        port: port.PublicPort,
      })),
  );
}

/**
 * Host ports that meshbench's stopped containers will bind again when started: a node a fault
 * crashed (`docker kill`) holds none until its restart, and a network generated meanwhile (a
 * second run on this engine) must not take them, or the restart fails with "port is already
 * allocated" (seen beside a second test lane).
 */
async function stoppedNodePorts(
  docker: ContainerLister,
  containers: readonly ContainerInfo[],
): Promise<number[]> {
  const stopped = containers.filter(
    (container) => container.State !== 'running' && container.Labels?.[RUN_LABEL] !== undefined,
  );
  const configs = await Promise.all(
    stopped.map((container) => docker.inspectContainer(container.Id).catch(() => undefined)),
  );
  return configs.flatMap((config) =>
    Object.values(config?.HostConfig?.PortBindings ?? {}).flatMap((bindings) =>
      (bindings ?? []).map((binding) => Number(binding.HostPort)).filter((port) => port > 0),
    ),
  );
}

/** Finds the process listening on a TCP port through /proc (Linux); undefined when unknown. */
export async function processHoldingPort(port: number): Promise<string | undefined> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is "IP:PORT", st 0A = LISTEN, inode is field 9.
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A' && fields[9]) inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = await readlink(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match?.[1] && inodes.has(match[1])) {
        const command = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?');
        return `pid ${pid} (${command.trim()})`;
      }
    }
  }
  return 'a process this user cannot see (try: sudo ss -ltnp)';
}

/**
 * The needed host ports that are taken, each with its holder. Checks both a bind
 * (anything listening) and the engine's published ports (which may not listen on the host).
 */
export async function findPortConflicts(
  docker: ContainerLister,
  needs: readonly PortNeed[],
): Promise<PortConflict[]> {
  if (needs.length === 0) return [];
  const published = publishedBy(await docker.listContainers());
  const conflicts: PortConflict[] = [];
  await Promise.all(
    needs.map(async (need) => {
      const byContainer = published.find((entry) => entry.port === need.hostPort);
      if (byContainer) {
        const run = byContainer.runId ? ` of meshbench run ${byContainer.runId}` : '';
        conflicts.push({ ...need, holder: `container ${byContainer.name}${run}` });
        return;
      }
      if (need.protocol === 'udp') return;
      if (await isPortFree(need.hostPort, need.hostIp)) return;
      const holder = (await processHoldingPort(need.hostPort)) ?? 'another process';
      conflicts.push({ ...need, holder });
    }),
  );
  return conflicts.sort((a, b) => a.hostPort - b.hostPort);
}

/**
 * `count` ports that are free now, from `start` upward, skipping `taken`, any port a running
 * container publishes and any port a stopped meshbench container will bind again.
 */
export async function pickFreePorts(
  docker: ContainerLister,
  count: number,
  start: number,
  taken: ReadonlySet<number> = new Set(),
  host = '127.0.0.1',
): Promise<number[]> {
  const containers = await docker.listContainers({ all: true });
  const published = new Set([
    ...publishedBy(containers).map((entry) => entry.port),
    ...(await stoppedNodePorts(docker, containers)),
  ]);
  const ports: number[] = [];
  for (let port = start; ports.length < count && port <= 65535; port++) {
    if (taken.has(port) || published.has(port)) continue;
    if (await isPortFree(port, host)) ports.push(port);
  }
  if (ports.length < count)
    throw new Error(`only ${ports.length} free ports from ${start} upward, need ${count}`);
  return ports;
}
