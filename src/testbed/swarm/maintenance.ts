/**
 * `remote-network --engine swarm --down | --status | --show-logs`. Status and logs are the plain
 * hosts' (the stack's task containers carry the same labels). `--down` first removes the stacks
 * meshbench deployed (found by their services' label on a manager among the hosts), so Swarm
 * restarts nothing behind the removal, then dissolves a swarm meshbench formed (its manager
 * carries a node label saying so): the workers leave, then the managers. With a run id, only once
 * no service is left on it. An adopted swarm stays.
 */
import { RUN_LABEL } from '../../common/labels.js';
import { engineMessage } from '../docker/connection.js';
import { RemoteMaintenance, type RemoteMaintenanceOptions } from '../remote/maintenance.js';
import type { RemoteHostAgent } from '../remote/remote-host.js';
import type { RemovalSummary } from '../testbed.js';
import { FORMED_BY_LABEL } from './membership.js';
import { STACK_LABEL } from './stack-file.js';
import { removeStack } from './stack-removal.js';

/** `--engine`: plain hosts (a container per node) or a Docker Swarm. */
export type Engine = 'docker' | 'swarm';
export const ENGINE_VALUES: readonly Engine[] = ['docker', 'swarm'];

async function dockerAnswers(agent: RemoteHostAgent): Promise<boolean> {
  try {
    await agent.ensureDockerQuiet();
    return true;
  } catch {
    return false;
  }
}

export class SwarmMaintenance extends RemoteMaintenance {
  private readonly swarmOptions: RemoteMaintenanceOptions;

  private constructor(agents: readonly RemoteHostAgent[], options: RemoteMaintenanceOptions) {
    super(agents, {
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.image !== undefined ? { image: options.image } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    this.swarmOptions = options;
  }

  static override async connect(options: RemoteMaintenanceOptions): Promise<SwarmMaintenance> {
    const plain = await RemoteMaintenance.connect(options);
    return new SwarmMaintenance(plain.agents, options);
  }

  override async down(options: { runId?: string; thorough: boolean }): Promise<RemovalSummary[]> {
    const states = await Promise.all(
      this.agents.map(async (agent) => {
        // A host whose Docker does not answer is in no swarm here; the plain removal below
        // reports it after cleaning the others (plain --down takes this path too).
        if (!(await dockerAnswers(agent))) return undefined;
        try {
          return (
            (await agent.docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } }
          ).Swarm;
        } catch (error) {
          throw agent.failure('reading its swarm state', error);
        }
      }),
    );
    const managerIndex = states.findIndex((state) => state?.ControlAvailable === true);
    const stacks: RemovalSummary[] = [];
    const say = (host: string, message: string) =>
      this.swarmOptions.onProgress?.({ host, stage: 'cleanup', message });
    if (managerIndex >= 0) {
      const manager = this.agents[managerIndex]!;
      const services = (await manager.docker.listServices({ filters: { label: [STACK_LABEL] } })) as {
        Spec?: { Labels?: Record<string, string> };
      }[];
      const runs = new Set(
        services.map((service) => service.Spec?.Labels?.[RUN_LABEL] ?? '').filter(Boolean),
      );
      for (const runId of runs) {
        if (options.runId && runId !== options.runId) continue;
        const removed = await removeStack(this.agents, manager, runId, { volumes: options.thorough });
        stacks.push(...removed);
        const containers = removed.reduce((sum, summary) => sum + summary.containers, 0);
        say(manager.host.name, `removed stack of run ${runId} (${containers} container(s))`);
      }
      const nodes = (await manager.docker.listNodes()) as { Spec?: { Labels?: Record<string, string> } }[];
      const formed = nodes.some((node) => node.Spec?.Labels?.[FORMED_BY_LABEL] !== undefined);
      // --down RUN_ID dissolves a swarm meshbench formed too once nothing else runs on it (the
      // run it was formed for, left running, then removed by its id: it stayed behind before)
      const dissolve =
        formed &&
        (options.runId === undefined || ((await manager.docker.listServices()) as unknown[]).length === 0);
      if (dissolve) {
        const order = this.agents
          .map((agent, index) => ({
            agent,
            manager: states[index]?.ControlAvailable === true,
            active: states[index]?.LocalNodeState === 'active',
          }))
          .filter((entry) => entry.active);
        const leave = async (agent: RemoteHostAgent) => {
          try {
            await agent.docker.swarmLeave({ force: true });
            say(agent.host.name, 'left the swarm meshbench formed');
          } catch (error) {
            say(agent.host.name, `docker swarm leave failed: ${engineMessage(error)}`);
          }
        };
        // the workers at once (each leave took about 1 s on sandbox hosts: one by one, 16 hosts
        // would take 16 s), then the managers one by one, the swarm's raft losing one at a time
        await Promise.all(order.filter((entry) => !entry.manager).map((entry) => leave(entry.agent)));
        for (const entry of order.filter((entry) => entry.manager)) await leave(entry.agent);
      }
    }
    // the stacks' summaries too: their containers were gone before the plain removal looked
    return [...stacks, ...(await super.down({ ...options, afterStacks: stacks.length > 0 }))];
  }
}
