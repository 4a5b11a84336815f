/**
 * A node that is a Swarm service: its container is whichever task Swarm runs now, so every call
 * resolves the service's running task container on its host (through that host's Docker client)
 * and hands it to the shared container handle. After Swarm replaces a crashed task, the next call
 * finds the new container, so faults, conditions and monitors keep working.
 *
 * kill and pause act on the container (a crash Swarm restarts; a freeze it does not see); stop
 * and start scale the service to 0 and back to 1, so Swarm does not undo a stop; start also
 * waits for a running task, which is what the fault injector's restore needs after a kill.
 */
import type Docker from 'dockerode';
import { sleep } from '../../common/sleep.js';
import type { ExecResult } from '../../common/exec-result.js';
import { remoteSidecarLabels } from '../docker/labels.js';
import { ContainerNodeHandle } from '../docker/node-handle.js';
import type { RemoteHostAgent } from '../remote/remote-host.js';
import type {
  Endpoint,
  NodeHandle,
  NodeReading,
  NodeStats,
  ReadingStream,
  Sidecar,
  SidecarSpec,
} from '../testbed.js';

export const SERVICE_NAME_LABEL = 'com.docker.swarm.service.name';
/** Longest wait for Swarm to run a task of a service again (start, restart). */
const TASK_WAIT_MS = 60_000;

/** The containers of a service's tasks on one engine, newest first. */
export async function taskContainers(
  docker: Docker,
  service: string,
  status?: 'running',
): Promise<{ id: string; state: string }[]> {
  const containers = await docker.listContainers({
    all: status === undefined,
    filters: { label: [`${SERVICE_NAME_LABEL}=${service}`], ...(status ? { status: [status] } : {}) },
  });
  return containers
    .sort((a, b) => b.Created - a.Created)
    .map((container) => ({ id: container.Id, state: container.State }));
}

export class SwarmNodeHandle implements NodeHandle {
  /** Swarm starts a new task after a crash (restart_policy), without meshbench asking. */
  readonly restartsAfterCrash = true;
  #current: ContainerNodeHandle | undefined;

  constructor(
    private readonly agent: RemoteHostAgent,
    private readonly manager: RemoteHostAgent,
    private readonly runId: string,
    /** The Swarm service (`<stack>_<node>`). */
    readonly service: string,
    readonly nodeId: string,
    readonly endpoint: Endpoint,
  ) {}

  /** The task container running now; with `waitMs`, waits for Swarm to start one. */
  async container(waitMs = 0): Promise<ContainerNodeHandle> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const running = await taskContainers(this.agent.docker, this.service, 'running').catch(
        (error: unknown) => {
          throw this.agent.failure(`listing the tasks of ${this.nodeId}`, error);
        },
      );
      const id = running[0]?.id;
      if (id !== undefined) return this.#handle(id);
      if (Date.now() >= deadline) break;
      await sleep(250);
    }
    if (waitMs > 0)
      throw this.agent.failure(
        `waiting for Swarm to run ${this.nodeId}`,
        new Error(`no running task of ${this.service} after ${waitMs} ms`),
      );
    // none running (between a crash and its replacement): the newest, so its state can be read
    const newest = (await taskContainers(this.agent.docker, this.service))[0]?.id;
    if (newest === undefined)
      throw this.agent.failure(`finding ${this.nodeId}`, new Error(`no task container of ${this.service}`));
    return this.#handle(newest);
  }

  #handle(containerId: string): ContainerNodeHandle {
    if (this.#current?.containerId !== containerId) {
      this.#current = new ContainerNodeHandle({
        docker: this.agent.docker,
        nodeId: this.nodeId,
        endpoint: this.endpoint,
        containerId,
        service: this.service,
        sidecarLabels: remoteSidecarLabels(this.runId),
        host: this.agent.host.name,
        onFailure: (what, error) => this.agent.failure(what, error),
      });
    }
    return this.#current;
  }

  async #scale(replicas: number): Promise<void> {
    try {
      const service = this.manager.docker.getService(this.service);
      const spec = (await service.inspect()) as {
        Version: { Index: number };
        Spec: { Mode?: { Replicated?: { Replicas?: number } } } & Record<string, unknown>;
      };
      if (spec.Spec.Mode?.Replicated?.Replicas === replicas) return;
      await service.update({
        version: spec.Version.Index,
        ...spec.Spec,
        Mode: { Replicated: { Replicas: replicas } },
      });
    } catch (error) {
      throw this.manager.failure(`scaling ${this.service} to ${replicas}`, error);
    }
  }

  async kill(signal = 'SIGKILL'): Promise<void> {
    await (await this.container()).kill(signal);
  }

  async stop(timeoutSeconds?: number): Promise<void> {
    await this.#scale(0);
    // Swarm stops the task with the service's grace period; wait until it has
    const deadline = Date.now() + ((timeoutSeconds ?? 10) + 20) * 1000;
    while (Date.now() < deadline) {
      if ((await taskContainers(this.agent.docker, this.service, 'running')).length === 0) return;
      await sleep(250);
    }
  }

  async start(): Promise<void> {
    await this.#scale(1);
    await this.container(TASK_WAIT_MS);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async pause(): Promise<void> {
    await (await this.container()).pause();
  }

  async unpause(): Promise<void> {
    await (await this.container()).unpause();
  }

  async exec(command: readonly string[]): Promise<ExecResult> {
    return (await this.container()).exec(command);
  }

  async logs(options: { tailLines?: number } = {}): Promise<string> {
    return (await this.container()).logs(options);
  }

  async stats(): Promise<NodeStats> {
    return (await this.container()).stats();
  }

  /** The stream of the task running now; it ends when Swarm replaces the task (the monitor's onEnd). */
  async statsStream(
    onReading: (reading: NodeReading) => void,
    onEnd?: (error?: unknown) => void,
  ): Promise<ReadingStream> {
    return (await this.container()).statsStream(onReading, onEnd);
  }

  async sidecar(spec: SidecarSpec): Promise<Sidecar> {
    return (await this.container()).sidecar(spec);
  }
}
