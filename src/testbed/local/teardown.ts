/**
 * Removal by label: every container, network and volume of a run, found by
 * `meshbench.run=<id>` or by its compose project. Used by Deployment.destroy and
 * by `local-network --down`. Only objects of local-network runs are touched
 * (`meshbench.testbed=local`, or the run's own compose project).
 */
import type Docker from 'dockerode';
import { RUN_LABEL, TESTBED_LABEL } from '../../common/labels.js';

export const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';

export function projectNameOf(runId: string): string {
  return `meshbench-${runId}`;
}

export interface RemovalReport {
  readonly containers: number;
  readonly networks: number;
  readonly volumes: number;
  readonly errors: readonly string[];
}

type Selector = Record<string, string[]>;

function selectorsFor(runId: string): Selector[] {
  return [
    { label: [`${RUN_LABEL}=${runId}`] },
    { label: [`${COMPOSE_PROJECT_LABEL}=${projectNameOf(runId)}`] },
  ];
}

const ignorable = (error: unknown) => {
  const status = (error as { statusCode?: number }).statusCode;
  return status === 404 || status === 409;
};

/**
 * Removes the run's containers (with their anonymous volumes) and networks; with
 * `volumes`, also its named volumes. Idempotent; collects errors instead of stopping.
 */
export async function removeRun(
  docker: Docker,
  runId: string,
  options: { volumes: boolean },
): Promise<RemovalReport> {
  const errors: string[] = [];
  const selectors = selectorsFor(runId);

  const containerIds = new Set<string>();
  for (const filters of selectors) {
    for (const container of await docker.listContainers({ all: true, filters }))
      containerIds.add(container.Id);
  }
  await Promise.all(
    [...containerIds].map(async (id) => {
      try {
        await docker.getContainer(id).remove({ force: true, v: true });
      } catch (error) {
        if (!ignorable(error)) errors.push(`container ${id.slice(0, 12)}: ${(error as Error).message}`);
      }
    }),
  );

  const networkIds = new Set<string>();
  for (const filters of selectors) {
    for (const network of await docker.listNetworks({ filters })) networkIds.add(network.Id);
  }
  await Promise.all(
    [...networkIds].map(async (id) => {
      try {
        await docker.getNetwork(id).remove();
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) {
          errors.push(`network ${id.slice(0, 12)}: ${(error as Error).message}`);
        }
      }
    }),
  );

  let volumes = 0;
  if (options.volumes) {
    const names = new Set<string>();
    for (const filters of selectors) {
      const listed = await docker.listVolumes({ filters });
      for (const volume of listed.Volumes ?? []) names.add(volume.Name);
    }
    await Promise.all(
      [...names].map(async (name) => {
        try {
          await docker.getVolume(name).remove();
          volumes += 1;
        } catch (error) {
          if ((error as { statusCode?: number }).statusCode !== 404) {
            errors.push(`volume ${name}: ${(error as Error).message}`);
          }
        }
      }),
    );
  }
  return { containers: containerIds.size, networks: networkIds.size, volumes, errors };
}

/** Run ids of local-network runs that still have a container, network or volume. */
export async function listLocalRuns(docker: Docker): Promise<string[]> {
  const filters: Selector = { label: [TESTBED_LABEL + '=local'] };
  const runIds = new Set<string>();
  const add = (labels: Record<string, string> | undefined) => {
    const id = labels?.[RUN_LABEL];
    if (id) runIds.add(id);
  };
  for (const container of await docker.listContainers({ all: true, filters })) add(container.Labels);
  for (const network of await docker.listNetworks({ filters })) add(network.Labels);
  for (const volume of (await docker.listVolumes({ filters })).Volumes ?? []) add(volume.Labels ?? undefined);
  return [...runIds].sort();
}
