/**
 * Removal by label (shared with the remote testbed: ../docker/cleanup.ts): every container,
 * network and volume of a run, found by `meshbench.run=<id>` or by its compose project.
 * Used by Deployment.destroy and by `local-network --down`. Only objects of local-network
 * runs are touched (`meshbench.testbed=local`, or the run's own compose project).
 */
import type Docker from 'dockerode';
import { removeLabelled, type RemovalReport } from '../docker/cleanup.js';
import { RUN_LABEL, runSelector, testbedSelector } from '../docker/labels.js';

export { COMPOSE_PROJECT_LABEL, projectNameOf } from '../docker/labels.js';
export type { RemovalReport } from '../docker/cleanup.js';

/**
 * Removes the run's containers (with their anonymous volumes) and networks; with
 * `volumes`, also its named volumes. Idempotent; collects errors instead of stopping.
 */
export function removeRun(
  docker: Docker,
  runId: string,
  options: { volumes: boolean },
): Promise<RemovalReport> {
  return removeLabelled(docker, runSelector(runId, 'local'), { volumes: options.volumes });
}

/** Run ids of local-network runs that still have a container, network or volume. */
export async function listLocalRuns(docker: Docker): Promise<string[]> {
  const [labels = []] = testbedSelector('local');
  const filters = { label: [...labels] };
  const runIds = new Set<string>();
  const add = (labels: Record<string, string> | null | undefined) => {
    const id = labels?.[RUN_LABEL];
    if (id) runIds.add(id);
  };
  for (const container of await docker.listContainers({ all: true, filters })) add(container.Labels);
  for (const network of await docker.listNetworks({ filters })) add(network.Labels);
  for (const volume of (await docker.listVolumes({ filters })).Volumes ?? []) add(volume.Labels);
  return [...runIds].sort();
}
