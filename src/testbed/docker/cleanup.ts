/**
 * Removal by label, the same for both testbeds: every container (with its anonymous
 * volumes), network and, when asked, named volume a selector matches, and images that
 * nothing uses any more. Idempotent; it collects errors instead of stopping at the first.
 */
import type Docker from 'dockerode';
import type { ContainerInfo } from 'dockerode';
import { engineMessage, statusOf } from './connection.js';
import { IMAGE_ID_LABEL, type LabelSelector } from './labels.js';

/** What one removal did: the objects it removed itself (not those another removal took first). */
export interface RemovalReport {
  readonly containers: number;
  readonly networks: number;
  readonly volumes: number;
  readonly images: number;
  readonly errors: readonly string[];
  /** Containers, networks and volumes the pass listed, removed by it or by someone else meanwhile. */
  readonly found: number;
  /** What it removed, by id (volumes by name): a caller that removes again counts each once. */
  readonly removed: {
    readonly containers: readonly string[];
    readonly networks: readonly string[];
    readonly volumes: readonly string[];
  };
}

export interface RemovalOptions {
  /** Also the named volumes (node data). */
  readonly volumes: boolean;
  /**
   * Images to remove when no container (ours or anyone's) still uses them: these, and with
   * `labelledImages` the image each removed container names in `meshbench.image-id`.
   */
  readonly images?: readonly string[];
  readonly labelledImages?: boolean;
}

const gone = (error: unknown) => statusOf(error) === 404;

async function each(
  items: Iterable<string>,
  errors: string[],
  describe: (item: string) => string,
  remove: (item: string) => Promise<unknown>,
  ignorable: (error: unknown) => boolean = gone,
): Promise<string[]> {
  const removed: string[] = [];
  await Promise.all(
    [...items].map(async (item) => {
      try {
        await remove(item);
        removed.push(item);
      } catch (error) {
        // gone, or being removed by another caller (which counts it): not this removal's
        if (!ignorable(error)) errors.push(`${describe(item)}: ${engineMessage(error)}`);
      }
    }),
  );
  return removed;
}

/** The containers matching any alternative of the selector (and a status, if given), newest first. */
export async function labelledContainers(
  docker: Docker,
  selector: LabelSelector,
  options: { status?: string } = {},
): Promise<ContainerInfo[]> {
  const byId = new Map<string, ContainerInfo>();
  for (const labels of selector) {
    const filters = { label: [...labels], ...(options.status ? { status: [options.status] } : {}) };
    for (const container of await docker.listContainers({ all: true, filters }))
      byId.set(container.Id, container);
  }
  return [...byId.values()].sort((a, b) => b.Created - a.Created);
}

export async function containerIds(
  docker: Docker,
  selector: LabelSelector,
  options: { status?: string } = {},
): Promise<string[]> {
  return (await labelledContainers(docker, selector, options)).map((container) => container.Id);
}

export async function removeLabelled(
  docker: Docker,
  selector: LabelSelector,
  options: RemovalOptions,
): Promise<RemovalReport> {
  const errors: string[] = [];
  const found = await labelledContainers(docker, selector);
  const ids = found.map((container) => container.Id);
  const images = new Set(options.images ?? []);
  if (options.labelledImages) {
    for (const container of found) {
      const imageId = container.Labels?.[IMAGE_ID_LABEL];
      if (imageId?.startsWith('sha256:')) images.add(imageId);
    }
  }
  // like `docker rm -f -v`: anonymous volumes go with their container; 409: removal already under way
  const containers = await each(
    ids,
    errors,
    (id) => `container ${id.slice(0, 12)}`,
    (id) => docker.getContainer(id).remove({ force: true, v: true }),
    (error) => gone(error) || statusOf(error) === 409,
  );

  const networkIds = new Set<string>();
  for (const labels of selector) {
    for (const network of await docker.listNetworks({ filters: { label: [...labels] } }))
      networkIds.add(network.Id);
  }
  const networks = await each(
    networkIds,
    errors,
    (id) => `network ${id.slice(0, 12)}`,
    (id) => docker.getNetwork(id).remove(),
  );

  let volumes: string[] = [];
  const names = new Set<string>();
  if (options.volumes) {
    for (const labels of selector) {
      const listed = await docker.listVolumes({ filters: { label: [...labels] } });
      for (const volume of listed.Volumes ?? []) names.add(volume.Name);
    }
    volumes = await each(
      names,
      errors,
      (name) => `volume ${name}`,
      (name) => docker.getVolume(name).remove({ force: true }),
    );
  }

  let imagesRemoved = 0;
  for (const image of images) {
    try {
      await docker.getImage(image).inspect();
    } catch (error) {
      if (!gone(error)) errors.push(`image ${image.slice(0, 19)}: ${engineMessage(error)}`);
      continue;
    }
    // Only when no container (ours or anyone's) still uses it.
    const users = await docker.listContainers({ all: true, filters: { ancestor: [image] } });
    if (users.length > 0) continue;
    try {
      await docker.getImage(image).remove({ force: true });
      imagesRemoved += 1;
    } catch (error) {
      if (!gone(error)) errors.push(`image ${image.slice(0, 19)}: ${engineMessage(error)}`);
    }
  }
  return {
    containers: containers.length,
    networks: networks.length,
    volumes: volumes.length,
    images: imagesRemoved,
    errors,
    found: ids.length + networkIds.size + names.size,
    removed: { containers, networks, volumes },
  };
}
