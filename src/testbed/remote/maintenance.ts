/**
 * `remote-network --down | --status | --show-logs`: the networks earlier calls left on the
 * hosts, through the Docker client on each host (the same code as the local testbed's,
 * ../docker/). Nothing is installed; a host where Docker does not answer is an error.
 */
import type { HostsConfig } from './hosts.js';
import { testbedSelector } from '../docker/labels.js';
import { containerStatuses, tailLogs } from '../docker/inventory.js';
import type { ContainerLog, ContainerStatus, RemovalSummary, TestbedMaintenance } from '../testbed.js';
import { firstFailure, mapSettled } from './concurrency.js';
import { cleanHost, removedMessage } from './cleanup.js';
import {
  closeAll,
  connectAll,
  DEFAULT_REMOTE_CONCURRENCY,
  defaultKnownHostsPath,
  type HostProgress,
} from './connect.js';
import type { StrictHostKeyChecking } from './known-hosts.js';
import type { RemoteHostAgent } from './remote-host.js';

export type RemoteContainerStatus = ContainerStatus;

export interface RemoteMaintenanceOptions {
  readonly hosts: HostsConfig;
  readonly strictHostKeyChecking?: StrictHostKeyChecking;
  readonly knownHostsPath?: string;
  readonly concurrency?: number;
  /** The image `down --thorough` removes when nothing uses it (a reference or an ID). */
  readonly image?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: HostProgress) => void;
}

async function onHosts<R>(
  agents: readonly RemoteHostAgent[],
  concurrency: number,
  task: (agent: RemoteHostAgent) => Promise<R>,
): Promise<R[]> {
  const { values, error } = firstFailure(
    await mapSettled(agents, concurrency, async (agent) => {
      await agent.ensureDockerQuiet();
      return task(agent);
    }),
  );
  if (error !== undefined) throw error;
  return values;
}

/** The remote testbed's maintenance over connected hosts. */
export class RemoteMaintenance implements TestbedMaintenance {
  private closed = false;

  constructor(
    readonly agents: readonly RemoteHostAgent[],
    private readonly options: {
      concurrency?: number;
      image?: string;
      onProgress?: (progress: HostProgress) => void;
    } = {},
  ) {}

  /** Connects to every host (nothing else yet). */
  static async connect(options: RemoteMaintenanceOptions): Promise<RemoteMaintenance> {
    const env = options.env ?? process.env;
    const agents = await connectAll(options.hosts, {
      strictHostKeyChecking: options.strictHostKeyChecking ?? 'accept-new',
      knownHostsPath: options.knownHostsPath ?? options.hosts.knownHostsPath ?? defaultKnownHostsPath(env),
      concurrency: options.concurrency ?? DEFAULT_REMOTE_CONCURRENCY,
      env,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return new RemoteMaintenance(agents, {
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.image !== undefined ? { image: options.image } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  }

  private get concurrency(): number {
    return this.options.concurrency ?? DEFAULT_REMOTE_CONCURRENCY;
  }

  /**
   * One summary per host; every host's error but the first is reported as progress. `afterStacks`:
   * swarm stacks were removed just before (their containers counted there), so a host with
   * nothing more says so instead of "removed 0 container(s)" under the stack's line.
   */
  down(options: { runId?: string; thorough: boolean; afterStacks?: boolean }): Promise<RemovalSummary[]> {
    return onHosts(this.agents, this.concurrency, async (agent) => {
      const removed = await cleanHost(agent, {
        thorough: options.thorough,
        ...(options.runId ? { runId: options.runId } : {}),
        ...(this.options.image ? { imageId: this.options.image } : {}),
      });
      const nothing = removed.containers + removed.volumes + removed.images === 0;
      this.options.onProgress?.({
        host: agent.host.name,
        stage: 'cleanup',
        message:
          options.afterStacks && nothing
            ? 'nothing more to remove (the stack took its containers)'
            : removedMessage(removed, options.thorough),
      });
      return removed;
    });
  }

  /** Every remote-network container on every host, each host's newest first. */
  async status(): Promise<ContainerStatus[]> {
    const perHost = await onHosts(this.agents, this.concurrency, async (agent) => {
      try {
        return await containerStatuses(agent.docker, testbedSelector('remote'), agent.host.name);
      } catch (error) {
        throw agent.failure('listing containers', error);
      }
    });
    return perHost.flat();
  }

  /** The last lines of every remote-network container's log, fetched from all hosts in parallel. */
  async logs(tailLines: number): Promise<ContainerLog[]> {
    const perHost = await onHosts(this.agents, this.concurrency, async (agent) => {
      try {
        const containers = await containerStatuses(agent.docker, testbedSelector('remote'), agent.host.name);
        return await tailLogs(agent.docker, containers, tailLines);
      } catch (error) {
        throw agent.failure('reading logs', error);
      }
    });
    return perHost.flat();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeAll(this.agents);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Connects to the hosts and removes every remote meshbench container (and with `thorough`, volumes and images). */
export async function downRemote(
  options: RemoteMaintenanceOptions & { thorough: boolean },
): Promise<{ containers: number; volumes: number; images: number }> {
  const maintenance = await RemoteMaintenance.connect(options);
  let removed: RemovalSummary[];
  try {
    removed = await maintenance.down({ thorough: options.thorough });
  } finally {
    await maintenance.close();
  }
  return removed.reduce(
    (sum, r) => ({
      containers: sum.containers + r.containers,
      volumes: sum.volumes + r.volumes,
      images: sum.images + r.images,
    }),
    { containers: 0, volumes: 0, images: 0 },
  );
}

/** Lists remote meshbench containers on every host. */
export function statusRemote(
  agents: readonly RemoteHostAgent[],
  concurrency = DEFAULT_REMOTE_CONCURRENCY,
): Promise<ContainerStatus[]> {
  return new RemoteMaintenance(agents, { concurrency }).status();
}

/** The last lines of every remote meshbench container's log, fetched from all hosts in parallel. */
export function logsRemote(
  agents: readonly RemoteHostAgent[],
  tailLines: number,
  concurrency = DEFAULT_REMOTE_CONCURRENCY,
): Promise<ContainerLog[]> {
  return new RemoteMaintenance(agents, { concurrency }).logs(tailLines);
}
