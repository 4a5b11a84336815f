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

/**
 * After an interrupted start-up: removes the run again and again until a pass has found
 * nothing for `quietMs`, or `deadlineMs` passed. Killing `compose up` does not cancel what
 * it already asked the engine for: a network or container it was creating can appear after
 * the first pass listed what to remove (the single-Ctrl-C network leak CI saw on a busy
 * machine). 2.5 s by default: with 1 s, CI on a loaded machine (load 6) once saw a forced exit
 * during compose up leave 2 of 4 containers and the network, created after both removals had
 * been quiet for 1 s (local-sigint.test.ts). Returns the sum of what every pass removed itself (a container still being removed
 * when the next pass lists it is counted once), and the last pass's errors.
 */
export async function removeRunUntilQuiet(
  docker: Docker,
  runId: string,
  options: { volumes: boolean; quietMs?: number; deadlineMs?: number },
): Promise<RemovalReport> {
  const quietMs = options.quietMs ?? 2_500;
  const deadline = performance.now() + (options.deadlineMs ?? 6_000);
  const removed = { containers: new Set<string>(), networks: new Set<string>(), volumes: new Set<string>() };
  let images = 0;
  let found = 0;
  let errors: readonly string[] = [];
  const total = (): RemovalReport => ({
    containers: removed.containers.size,
    networks: removed.networks.size,
    volumes: removed.volumes.size,
    images,
    errors,
    found,
    removed: {
      containers: [...removed.containers],
      networks: [...removed.networks],
      volumes: [...removed.volumes],
    },
  });
  let lastFoundMs = performance.now();
  for (;;) {
    const report = await removeRun(docker, runId, { volumes: options.volumes });
    // The engine may accept a forced removal of a container still being removed, which the
    // next pass lists again: each id counts once.
    for (const id of report.removed.containers) removed.containers.add(id);
    for (const id of report.removed.networks) removed.networks.add(id);
    for (const name of report.removed.volumes) removed.volumes.add(name);
    images += report.images;
    errors = report.errors;
    found += report.found;
    const now = performance.now();
    // anything listed, even what another removal was taking: not quiet yet
    if (report.found > 0 || report.errors.length > 0) lastFoundMs = now;
    else if (now - lastFoundMs >= quietMs) return total();
    if (now > deadline) return total();
    await new Promise((done) => setTimeout(done, 250));
  }
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
