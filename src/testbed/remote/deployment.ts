/** A network running on remote hosts: its endpoints and node handles, and its removal. */
import type {
  ClientHostHandle,
  DestroyOptions,
  Deployment,
  Endpoint,
  HostHandle,
  NodeHandle,
  RemoteEnvironment,
} from '../testbed.js';
import { firstFailure, mapSettled } from './concurrency.js';
import { cleanHost, removedMessage } from './cleanup.js';
import { closeAll, type HostProgress } from './connect.js';
import type { LocalImage } from './image-transfer.js';
import { RemoteHostFiles } from './host-files.js';
import type { RemoteHostAgent } from './remote-host.js';

export class RemoteDeployment implements Deployment {
  readonly kind = 'remote' as const;
  private destroyed = false;
  /** Each host, for monitors: its files read over its SSH connection. */
  readonly hosts: readonly HostHandle[];
  /** Hosts that run load clients and no node (--load-clients dedicated:N). */
  readonly clientHosts: readonly ClientHostHandle[];
  /** Their SSH connections: cleaned and closed with the node hosts'. */
  readonly #clientAgents: readonly RemoteHostAgent[];

  constructor(
    readonly runId: string,
    readonly endpoints: readonly Endpoint[],
    readonly nodes: readonly NodeHandle[],
    readonly environment: RemoteEnvironment,
    readonly readyAfterMs: number,
    readonly agents: readonly RemoteHostAgent[],
    private readonly image: LocalImage | undefined,
    private readonly concurrency: number,
    private readonly onProgress?: (progress: HostProgress) => void,
    clients?: { agents: readonly RemoteHostAgent[]; handles: readonly ClientHostHandle[] },
  ) {
    this.hosts = agents.map((agent) => new RemoteHostFiles(agent.host.name, agent.session));
    this.clientHosts = clients?.handles ?? [];
    this.#clientAgents = clients?.agents ?? [];
  }

  /** Removes this run's containers (and with `thorough`, volumes and the shipped image) on every host. */
  async destroy(options: DestroyOptions = {}): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const thorough = options.thorough ?? false;
    const all = [...this.agents, ...this.#clientAgents];
    const results = await mapSettled(all, this.concurrency, async (agent) => {
      const removed = await cleanHost(agent, {
        runId: this.runId,
        thorough,
        ...(this.image ? { imageId: this.image.id } : {}),
      });
      this.onProgress?.({
        host: agent.host.name,
        stage: 'cleanup',
        message: removedMessage(removed, thorough),
      });
    });
    closeAll(all);
    const { error } = firstFailure(results);
    if (error !== undefined) throw error;
  }

  /** Closes the SSH connections and leaves the nodes running (`--down` removes them later). */
  async release(): Promise<void> {
    this.destroyed = true;
    closeAll([...this.agents, ...this.#clientAgents]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}
