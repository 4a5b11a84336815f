/**
 * A network running as a Swarm stack: a remote deployment (endpoints, node handles, the hosts'
 * files, release) whose removal is the stack's and then the swarm membership this run created.
 */
import { MeshbenchError } from '../../common/errors.js';
import { closeAll, type HostProgress } from '../remote/connect.js';
import { removedMessage } from '../remote/cleanup.js';
import { RemoteDeployment } from '../remote/deployment.js';
import type { LocalImage } from '../remote/image-transfer.js';
import type { RemoteHostAgent } from '../remote/remote-host.js';
import type { DestroyOptions, Endpoint, NodeHandle } from '../testbed.js';
import { leaveSwarm, type Swarm } from './membership.js';
import { removeStack } from './stack-removal.js';
import type { SwarmEnvironment } from './swarm-testbed.js';

export class SwarmDeployment extends RemoteDeployment {
  declare readonly environment: SwarmEnvironment;
  #destroyed = false;

  constructor(
    runId: string,
    endpoints: readonly Endpoint[],
    nodes: readonly NodeHandle[],
    environment: SwarmEnvironment,
    readyAfterMs: number,
    agents: readonly RemoteHostAgent[],
    readonly swarm: Swarm,
    private readonly shippedImage: LocalImage | undefined,
    concurrency: number,
    private readonly progress?: (progress: HostProgress) => void,
  ) {
    super(runId, endpoints, nodes, environment, readyAfterMs, agents, shippedImage, concurrency, progress);
  }

  /**
   * Removes the stack (with `thorough`, its volumes and the shipped image too), then the swarm
   * membership this run created: the workers it joined leave, then the manager if it formed the swarm.
   */
  override async destroy(options: DestroyOptions = {}): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const thorough = options.thorough ?? false;
    const manager = this.agents[this.swarm.managerIndex]!;
    let failure: unknown;
    try {
      const removed = await removeStack(this.agents, manager, this.runId, {
        volumes: true,
        ...(this.shippedImage ? { imageId: this.shippedImage.id } : {}),
      });
      for (const summary of removed)
        this.progress?.({ host: summary.host, stage: 'cleanup', message: removedMessage(summary, thorough) });
    } catch (error) {
      failure = error;
    }
    const errors = await leaveSwarm(this.agents, this.swarm);
    const joined = this.swarm.members.filter((m) => m.joinedByRun).length;
    this.progress?.({
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
  override async release(): Promise<void> {
    this.#destroyed = true;
    await super.release();
  }
}
