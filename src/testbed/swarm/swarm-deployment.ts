/** A network running as a Swarm stack: its endpoints and node handles, and its removal. */
import { MeshbenchError } from '../../common/errors.js';
import { closeAll, type HostProgress } from '../remote/connect.js';
import { removedMessage } from '../remote/cleanup.js';
import { RemoteHostFiles } from '../remote/host-files.js';
import type { LocalImage } from '../remote/image-transfer.js';
import type { RemoteHostAgent } from '../remote/remote-host.js';
import type { DestroyOptions, Deployment, Endpoint, HostHandle, NodeHandle } from '../testbed.js';
import { leaveSwarm, type Swarm } from './membership.js';
import { removeStack } from './stack-removal.js';
import type { SwarmEnvironment } from './swarm-testbed.js';

export class SwarmDeployment implements Deployment {
  readonly kind = 'remote' as const;
  private destroyed = false;
  readonly hosts: readonly HostHandle[];

  constructor(
    readonly runId: string,
    readonly endpoints: readonly Endpoint[],
    readonly nodes: readonly NodeHandle[],
    readonly environment: SwarmEnvironment,
    readonly readyAfterMs: number,
    readonly agents: readonly RemoteHostAgent[],
    readonly swarm: Swarm,
    private readonly image: LocalImage | undefined,
    private readonly onProgress?: (progress: HostProgress) => void,
  ) {
    this.hosts = agents.map((agent) => new RemoteHostFiles(agent.host.name, agent.session));
  }

  /**
   * Removes the stack (with `thorough`, its volumes and the shipped image too), then the swarm
   * membership this run created: the workers it joined leave, then the manager if it formed the swarm.
   */
  async destroy(options: DestroyOptions = {}): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const thorough = options.thorough ?? false;
    const manager = this.agents[this.swarm.managerIndex]!;
    let failure: unknown;
    try {
      const removed = await removeStack(this.agents, manager, this.runId, {
        volumes: thorough,
        ...(this.image ? { imageId: this.image.id } : {}),
      });
      for (const summary of removed)
        this.onProgress?.({
          host: summary.host,
          stage: 'cleanup',
          message: removedMessage(summary, thorough),
        });
    } catch (error) {
      failure = error;
    }
    const errors = await leaveSwarm(this.agents, this.swarm);
    const joined = this.swarm.members.filter((m) => m.joinedByRun).length;
    this.onProgress?.({
      host: manager.host.name,
      stage: 'cleanup',
      message:
        this.swarm.mode === 'formed'
          ? `swarm dissolved (${joined} host(s) left it)`
          : `adopted swarm kept (${joined} host(s) this run joined left it)`,
    });
    closeAll(this.agents);
    if (failure !== undefined) throw failure;
    if (errors.length > 0)
      throw new MeshbenchError('REMOTE_COMMAND', `leaving the swarm failed: ${errors[0]}`, {
        hint: 'run `docker swarm leave --force` on that host',
      });
  }

  /** Closes the SSH connections and leaves the stack and the swarm running (`--down` removes them). */
  async release(): Promise<void> {
    this.destroyed = true;
    closeAll(this.agents);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}
