/**
 * Removing a swarm run's stack: `docker stack rm` through the manager's CLI, a wait until its
 * task containers are gone from every host, then the shared removal by label on each host
 * (../remote/cleanup.ts: what is left of the run's containers and networks; with `volumes`, the
 * node data volumes and the shipped image).
 */
import { MeshbenchError } from '../../common/errors.js';
import { RUN_LABEL } from '../../common/labels.js';
import { sleep } from '../../common/sleep.js';
import { trace } from '../../common/trace.js';
import { firstFailure, mapSettled } from '../remote/concurrency.js';
import { cleanHost } from '../remote/cleanup.js';
import type { RemoteHostAgent } from '../remote/remote-host.js';
import { describeHost, lastLine } from '../remote/ssh-session.js';
import type { RemovalSummary } from '../testbed.js';
import { stackName } from './stack-file.js';

/** Longest wait for Swarm to stop a removed stack's containers. */
const STACK_GONE_WAIT_MS = 60_000;
/** Longest time `docker stack rm` is asked again while a network's tasks are still stopping. */
const STACK_NETWORK_RETRY_MS = 30_000;

export async function removeStack(
  agents: readonly RemoteHostAgent[],
  manager: RemoteHostAgent,
  runId: string,
  options: { volumes?: boolean; imageId?: string } = {},
): Promise<RemovalSummary[]> {
  // the stack's task containers go with `docker stack rm`, before the removal by label below
  // sees them: counted first, so the summary says what the removal took
  const selector = [`${RUN_LABEL}=${runId}`];
  const before = await Promise.all(agents.map((agent) => agent.containerIds(selector).catch(() => [])));
  const remove = () => manager.dockerCommand(['stack', 'rm', stackName(runId)], { timeoutMs: 60_000 });
  let result = await remove();
  trace(`swarm stack rm ${stackName(runId)}: exit ${result.exitCode}`);
  // `docker stack rm` removes the services, then their networks; a network whose tasks are still
  // stopping is refused ("network … is in use by task …", seen in CI). Asking again once they
  // have stopped removes it (the command is idempotent).
  const retryUntil = Date.now() + STACK_NETWORK_RETRY_MS;
  while (
    result.exitCode !== 0 &&
    /is in use by task/i.test(result.stderr + result.stdout) &&
    Date.now() < retryUntil
  ) {
    await sleep(1000);
    result = await remove();
  }
  if (result.exitCode !== 0 && !/nothing found in stack/i.test(result.stderr + result.stdout))
    throw new MeshbenchError(
      'REMOTE_COMMAND',
      `${describeHost(manager.host)}: docker stack rm ${stackName(runId)} failed: ${lastLine(result.stderr) || `exit ${result.exitCode}`}`,
      {
        hint: 'remove it there with `docker stack rm`, then re-run with remote-network --engine swarm --down',
      },
    );
  const results = await mapSettled(agents, agents.length, async (agent, index) => {
    // Swarm stops the tasks on its own schedule: wait, so nothing restarts behind the removal
    const deadline = Date.now() + STACK_GONE_WAIT_MS;
    while (Date.now() < deadline) {
      const left = await agent.containerIds(selector, 'running');
      // the stack's networks go after its tasks: removing them by label before that races Swarm
      const networks =
        left.length === 0 ? await agent.docker.listNetworks({ filters: { label: selector } }) : [1];
      if (networks.length === 0) break;
      await sleep(250);
    }
    trace(`swarm ${agent.host.name}: the stack's containers and networks are gone`);
    const left = await agent.containerIds(selector).catch(() => []);
    const removed = await cleanHost(agent, {
      runId,
      thorough: options.volumes ?? false,
      ...(options.imageId ? { imageId: options.imageId } : {}),
    });
    // what Swarm removed (there before, gone now) and what the removal by label took
    const stillThere = new Set(left);
    const gone = (before[index] ?? []).filter((id) => !stillThere.has(id)).length;
    return { ...removed, containers: gone + removed.containers };
  });
  const { values, error } = firstFailure(results);
  if (error !== undefined) throw error;
  return values;
}
