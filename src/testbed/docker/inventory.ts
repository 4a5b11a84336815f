/** What is running, and its logs: `--status` and `--logs`, the same for both testbeds. */
import type Docker from 'dockerode';
import type { ContainerLog, ContainerStatus } from '../testbed.js';
import { labelledContainers } from './cleanup.js';
import { COMPOSE_SERVICE_LABEL, NODE_LABEL, RUN_LABEL, type LabelSelector } from './labels.js';
import { containerLogs } from './logs.js';

/** The selector's containers on one engine, newest first (as `docker ps -a` lists them). */
export async function containerStatuses(
  docker: Docker,
  selector: LabelSelector,
  host: string,
): Promise<ContainerStatus[]> {
  return (await labelledContainers(docker, selector)).map((container) => ({
    host,
    id: container.Id,
    name: (container.Names?.[0] ?? container.Id.slice(0, 12)).replace(/^\//, ''),
    node: container.Labels?.[NODE_LABEL] ?? container.Labels?.[COMPOSE_SERVICE_LABEL] ?? '',
    runId: container.Labels?.[RUN_LABEL] ?? '',
    state: container.State,
    status: container.Status,
  }));
}

/** The last `tailLines` log lines of each container (stdout and stderr interleaved). */
export async function tailLogs(
  docker: Docker,
  containers: readonly ContainerStatus[],
  tailLines: number,
): Promise<ContainerLog[]> {
  return Promise.all(
    containers.map(async (container) => ({
      host: container.host,
      name: container.name,
      text: await containerLogs(docker, container.id, tailLines),
    })),
  );
}
