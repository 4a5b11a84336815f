/**
 * Checks before anything starts: the engine answers, the images exist. They use the
 * light EngineApi (../docker/engine-reads.ts: no dockerode on the start-up path).
 */
import { REFNODE_IMAGE_NAME } from '../../common/defaults.js';
import { MeshbenchError } from '../../common/errors.js';
import { ensureImage, imageStale, shippedImage } from '../docker/ensure-image.js';
import { dockerHostOf, type EngineApi } from '../docker/engine-reads.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface EngineFacts {
  readonly engineVersion: string;
  readonly apiVersion: string;
  readonly os: string;
  readonly cpus: number;
  readonly memoryBytes: number;
}

/** Throws DOCKER_UNAVAILABLE (one line, with the fix) when the engine does not answer. */
export async function checkEngine(api: EngineApi, env: Env = process.env): Promise<EngineFacts> {
  try {
    const [version, info] = await Promise.all([api.version(), api.info()]);
    return {
      engineVersion: version.Version,
      apiVersion: version.ApiVersion,
      os: `${version.Os}/${version.Arch}`,
      cpus: Number(info.NCPU ?? 0),
      memoryBytes: Number(info.MemTotal ?? 0),
    };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const host = dockerHostOf(env);
    const problem =
      code === 'EACCES'
        ? `permission denied on the Docker engine at ${host}`
        : `the Docker engine is not running (no answer at ${host}${code ? `: ${code}` : ''})`;
    const hint =
      code === 'EACCES'
        ? 'add your user to the docker group (sudo usermod -aG docker $USER, then log in again) or run as root'
        : 'start it (sudo systemctl start docker, or run npm run setup), then retry';
    throw new MeshbenchError('DOCKER_UNAVAILABLE', problem, { hint, cause: error });
  }
}

export interface ImageNeed {
  readonly service: string;
  readonly image: string | undefined;
  readonly hasBuild: boolean;
}

/** Image id per image name. Throws IMAGE_MISSING for an image that is neither present nor buildable. */
export async function checkImages(
  api: EngineApi,
  needs: readonly ImageNeed[],
  log: (line: string) => void = () => undefined,
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  const names = [
    ...new Set(needs.filter((need) => need.image !== undefined).map((need) => need.image as string)),
  ];
  await Promise.all(
    names.map(async (name) => {
      try {
        const info = await api.inspectImage(name);
        const shipped = shippedImage(name);
        if (shipped !== undefined && imageStale(shipped, info.Config?.Labels)) {
          // meshbench's own image, built from an earlier meshbench's files: built again
          await ensureImage(name, { log, stale: true });
          ids[name] = (await api.inspectImage(name)).Id;
          return;
        }
        ids[name] = info.Id;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
        const buildable = needs.some((need) => need.image === name && need.hasBuild);
        if (buildable) return;
        if (shippedImage(name) !== undefined) {
          // meshbench's own image: built here on first use
          await ensureImage(name, { log });
          const built = await api.inspectImage(name).catch((again: unknown) => {
            if ((again as { statusCode?: number }).statusCode !== 404) throw again;
            return undefined; // another engine than the docker CLI's: refused below
          });
          if (built) {
            ids[name] = built.Id;
            return;
          }
        }
        const service = needs.find((need) => need.image === name)?.service ?? '?';
        const hint = name.startsWith(REFNODE_IMAGE_NAME)
          ? 'build it with: npm run build && npm run images'
          : `pull or build it first (docker pull ${name})`;
        throw new MeshbenchError('IMAGE_MISSING', `image ${name} (service ${service}) is missing`, { hint });
      }
    }),
  );
  return ids;
}
