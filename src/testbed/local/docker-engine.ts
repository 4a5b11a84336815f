/**
 * The Docker engine through dockerode: connecting, checking it answers, checking
 * images exist, and small helpers on containers (log demultiplexing).
 */
import Docker from 'dockerode';
import { MeshbenchError } from '../../common/errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Where the engine is, from DOCKER_HOST (as the docker CLI reads it). */
export function dockerHostOf(env: Env): string {
  return env.DOCKER_HOST && env.DOCKER_HOST !== '' ? env.DOCKER_HOST : 'unix:///var/run/docker.sock';
}

export function createDocker(env: Env = process.env): Docker {
  const host = dockerHostOf(env);
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return new Docker({ host: url.hostname, port: Number(url.port || 2375) });
}

export interface EngineFacts {
  readonly engineVersion: string;
  readonly apiVersion: string;
  readonly os: string;
  readonly cpus: number;
  readonly memoryBytes: number;
}

/** Throws DOCKER_UNAVAILABLE (one line, with the fix) when the engine does not answer. */
export async function checkEngine(docker: Docker, env: Env = process.env): Promise<EngineFacts> {
  try {
    const [version, info] = await Promise.all([
      docker.version(),
      docker.info() as Promise<Record<string, unknown>>,
    ]);
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
  docker: Docker,
  needs: readonly ImageNeed[],
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  const names = [
    ...new Set(needs.filter((need) => need.image !== undefined).map((need) => need.image as string)),
  ];
  await Promise.all(
    names.map(async (name) => {
      try {
        const info = await docker.getImage(name).inspect();
        ids[name] = info.Id;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
        const buildable = needs.some((need) => need.image === name && need.hasBuild);
        if (buildable) return;
        const service = needs.find((need) => need.image === name)?.service ?? '?';
        const hint = name.startsWith('meshbench/refnode')
          ? 'build it with: npm run build && npm run images'
          : `pull or build it first (docker pull ${name})`;
        throw new MeshbenchError('IMAGE_MISSING', `image ${name} (service ${service}) is missing`, { hint });
      }
    }),
  );
  return ids;
}

/**
 * Splits the engine's multiplexed stdout/stderr stream (8-byte frame headers) as returned
 * for a container without a TTY. A buffer that is not multiplexed is returned as stdout.
 */
export function demuxDockerBuffer(buffer: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const kind = buffer[offset];
    if ((kind !== 0 && kind !== 1 && kind !== 2) || buffer[offset + 1] !== 0 || buffer[offset + 2] !== 0) {
      return { stdout: buffer.toString('utf8'), stderr: '' };
    }
    const size = buffer.readUInt32BE(offset + 4);
    const chunk = buffer.subarray(offset + 8, offset + 8 + size);
    (kind === 2 ? err : out).push(chunk);
    offset += 8 + size;
  }
  if (offset < buffer.length && offset === 0) return { stdout: buffer.toString('utf8'), stderr: '' };
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** The last `tailLines` lines of a container's logs (stdout and stderr interleaved by frame). */
export async function containerLogs(
  docker: Docker,
  containerId: string,
  tailLines?: number,
): Promise<string> {
  const buffer = (await docker.getContainer(containerId).logs({
    stdout: true,
    stderr: true,
    follow: false,
    ...(tailLines === undefined ? {} : { tail: tailLines }),
  })) as unknown as Buffer;
  const frames: string[] = [];
  let offset = 0;
  const raw = Buffer.isBuffer(buffer) ? buffer : Buffer.from(String(buffer));
  while (offset + 8 <= raw.length) {
    const kind = raw[offset];
    if ((kind !== 1 && kind !== 2) || raw[offset + 1] !== 0) return raw.toString('utf8');
    const size = raw.readUInt32BE(offset + 4);
    frames.push(raw.subarray(offset + 8, offset + 8 + size).toString('utf8'));
    offset += 8 + size;
  }
  return frames.length > 0 || raw.length === 0 ? frames.join('') : raw.toString('utf8');
}
