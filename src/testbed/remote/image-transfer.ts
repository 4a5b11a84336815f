/**
 * Getting the node image onto remote hosts:
 *  - `ship`: `docker save` here once, gzip, cached by image ID; streamed over SSH
 *    into `gzip -dc | docker load` on each host that lacks that image ID;
 *  - `pull`: `docker pull` on each host, from a registry.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { REFNODE_IMAGE_NAME } from '../../common/defaults.js';
import { MeshbenchError } from '../../common/errors.js';
import { describeHost, lastLine } from './ssh-session.js';
import { STREAM_IDLE_TIMEOUT_MS } from '../docker/connection.js';
import type { RemoteHostAgent } from './remote-host.js';
import { processAlive } from '../../common/process-alive.js';
import { makeDirs } from '../../common/make-dirs.js';

export type ImageTransfer = 'ship' | 'pull';
export const IMAGE_TRANSFER_VALUES: readonly ImageTransfer[] = ['ship', 'pull'];

export interface LocalImage {
  readonly reference: string;
  readonly id: string;
  readonly sizeBytes: number;
}

export interface ImageArchive {
  readonly path: string;
  readonly compressedBytes: number;
  /** Time spent making the archive in this call (0 when it came from the cache). */
  readonly saveMs: number;
  /**
   * Ends this run's lease on the archive: until then no run's pruning removes it (a lease
   * of a process that is gone counts for nothing). Idempotent.
   */
  release(): Promise<void>;
}

export interface HostImageReport {
  readonly host: string;
  /** `present`: the host had the image ID; `shipped`; `pulled`. */
  readonly action: 'present' | 'shipped' | 'pulled';
  readonly bytes: number;
  readonly durationMs: number;
}

export async function inspectLocalImage(reference: string): Promise<LocalImage> {
  return new Promise((resolve, reject) => {
    execFile('docker', ['image', 'inspect', '--format', '{{.Id}} {{.Size}}', reference], (error, stdout) => {
      if (error) {
        reject(
          new MeshbenchError('IMAGE_MISSING', `image ${reference} is not on this machine's Docker engine`, {
            hint: reference.startsWith(REFNODE_IMAGE_NAME)
              ? 'build it with npm run build && npm run images refnode'
              : `build or pull ${reference} first, or use --image-transfer pull`,
          }),
        );
        return;
      }
      const [id, size] = stdout.trim().split(' ');
      resolve({ reference, id: id ?? '', sizeBytes: Number(size) });
    });
  });
}

/** `docker save | gzip` into the cache, once per image ID. */
export async function imageArchive(image: LocalImage, cacheDir: string): Promise<ImageArchive> {
  await makeDirs(cacheDir);
  // keyed by image ID and reference: the archive carries the reference as its tag
  const referenceKey = createHash('sha256').update(image.reference).digest('hex').slice(0, 8);
  const path = join(
    cacheDir,
    `image-${image.id.replace(/^sha256:/, '').slice(0, 32)}-${referenceKey}.tar.gz`,
  );
  // Leased before anything else: another run's pruning leaves it alone from now on.
  const release = await lease(path);
  try {
    const existing = await stat(path);
    if (existing.size > 0) {
      // Used now: the newest for the pruning of archives nobody leases.
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
      return { path, compressedBytes: existing.size, saveMs: 0, release };
    }
  } catch {
    // not cached yet
  }
  try {
    return await saveArchive(image, cacheDir, path, release);
  } catch (error) {
    await release();
    throw error;
  }
}

async function saveArchive(
  image: LocalImage,
  cacheDir: string,
  path: string,
  release: () => Promise<void>,
): Promise<ImageArchive> {
  const started = Date.now();
  const temporary = `${path}.${process.pid}.tmp`;
  const child = spawn('docker', ['save', image.reference], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  await pipeline(child.stdout, createGzip({ level: 1 }), createWriteStream(temporary));
  const code = await exited;
  if (code !== 0) {
    throw new MeshbenchError('IMAGE_MISSING', `docker save ${image.reference} failed: ${lastLine(stderr)}`, {
      hint: 'check the image and free disk space here',
    });
  }
  await rename(temporary, path);
  await pruneArchives(cacheDir);
  return { path, compressedBytes: (await stat(path)).size, saveMs: Date.now() - started, release };
}

const ARCHIVE_NAME = /^image-[0-9a-f-]+\.tar\.gz$/;
/** `<archive>.lease-<pid>-<random>`: a run (process) is using the archive. */
const LEASE_NAME = /^(image-[0-9a-f-]+\.tar\.gz)\.lease-(\d+)-[0-9a-f]+$/;
/** `<archive>.<pid>.tmp`: a `docker save` under way (or one a killed process left). */
const TEMPORARY_NAME = /^image-[0-9a-f-]+\.tar\.gz\.(\d+)\.tmp$/;

/** Marks the archive as in use by this process until the returned release is called. */
async function lease(path: string): Promise<() => Promise<void>> {
  const file = `${path}.lease-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(file, '');
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    await rm(file, { force: true });
  };
}

/**
 * Keeps the newest `keepCount` archives nobody leases (the image is rebuilt often during
 * development) and every leased one, so runs sharing the cache never remove each other's
 * archive mid-shipment; removes the rest, and the leases and half-written archives of
 * processes that are gone.
 */
export async function pruneArchives(cacheDir: string, keepCount = 2): Promise<void> {
  const names = await readdir(cacheDir);
  const leased = new Set<string>();
  const gone: string[] = [];
  for (const name of names) {
    const held = LEASE_NAME.exec(name);
    const partial = TEMPORARY_NAME.exec(name);
    if (held?.[1] && held[2]) {
      if (processAlive(Number(held[2]))) leased.add(held[1]);
      else gone.push(name);
    } else if (partial?.[1] && !processAlive(Number(partial[1]))) gone.push(name);
  }
  const files = await Promise.all(
    names
      .filter((name) => ARCHIVE_NAME.test(name) && !leased.has(name))
      .map(async (name) => ({
        path: join(cacheDir, name),
        mtimeMs: await stat(join(cacheDir, name)).then(
          (info) => info.mtimeMs,
          () => Number.POSITIVE_INFINITY,
        ),
      })),
  );
  files.sort((a, b) => b.mtimeMs - a.mtimeMs);
  const stale = files.slice(keepCount).map((file) => file.path);
  await Promise.all(
    [...stale, ...gone.map((name) => join(cacheDir, name))].map((path) => rm(path, { force: true })),
  );
}

export async function remoteHasImage(agent: RemoteHostAgent, imageId: string): Promise<boolean> {
  return agent.hasImage(imageId);
}

const DISK_FULL = /no space left on device|disk quota exceeded/i;

/**
 * How long `docker load` may take to end once it has read the whole archive (the engine unpacks
 * the layers meanwhile, printing nothing with -q): the engine requests' silence bound, or the
 * unpacked size at 5 MB/s when that is longer.
 */
export function loadBoundMs(unpackedBytes: number): number {
  return Math.max(STREAM_IDLE_TIMEOUT_MS, Math.ceil(unpackedBytes / 5_000));
}

/** Ships the archive to one host unless it already has the image ID. */
export async function shipImage(
  agent: RemoteHostAgent,
  image: LocalImage,
  archive: ImageArchive,
  signal?: AbortSignal,
): Promise<HostImageReport> {
  const started = Date.now();
  if (await remoteHasImage(agent, image.id)) {
    return { host: agent.host.name, action: 'present', bytes: 0, durationMs: Date.now() - started };
  }
  const result = await agent.session.execLine(agent.dockerPipeline([['gzip', '-dc']], ['load', '-q']), {
    stdin: createReadStream(archive.path),
    // an engine that stops reading the image: said after as long as a silent engine request
    inputIdleMs: STREAM_IDLE_TIMEOUT_MS,
    // or that stops once it has read it all, while it unpacks the layers (at 5 MB/s, a slow disk)
    afterInputMs: loadBoundMs(image.sizeBytes),
    ...(signal ? { signal } : {}),
  });
  if (result.exitCode !== 0) {
    const detail = lastLine(result.stderr) || lastLine(result.stdout) || `exit code ${result.exitCode}`;
    if (DISK_FULL.test(result.stderr) || DISK_FULL.test(result.stdout)) {
      const mb = (image.sizeBytes / 1e6).toFixed(0);
      throw new MeshbenchError(
        'DISK_FULL',
        `${describeHost(agent.host)}: disk full while loading image ${image.reference} (${mb} MB unpacked)`,
        {
          hint: `free at least ${mb} MB under Docker's data root on that host (docker system df there) and re-run`,
        },
      );
    }
    throw new MeshbenchError(
      'REMOTE_COMMAND',
      `${describeHost(agent.host)}: docker load of ${image.reference} failed: ${detail}`,
      {
        hint: 'check Docker and free disk space on that host',
      },
    );
  }
  if (!(await remoteHasImage(agent, image.id))) {
    throw new MeshbenchError(
      'REMOTE_COMMAND',
      `${describeHost(agent.host)}: docker load finished but image ${image.id.slice(0, 19)} is not there`,
      {
        hint: 'check Docker on that host',
      },
    );
  }
  return {
    host: agent.host.name,
    action: 'shipped',
    bytes: archive.compressedBytes,
    durationMs: Date.now() - started,
  };
}

export async function pullImage(
  agent: RemoteHostAgent,
  reference: string,
  signal?: AbortSignal,
): Promise<HostImageReport> {
  const started = Date.now();
  const result = await agent.dockerCommand(['pull', '-q', reference], {
    timeoutMs: 900_000,
    ...(signal ? { signal } : {}),
  });
  if (result.exitCode !== 0) {
    const detail = lastLine(result.stderr) || `exit code ${result.exitCode}`;
    const full = DISK_FULL.test(result.stderr);
    throw new MeshbenchError(
      full ? 'DISK_FULL' : 'REMOTE_COMMAND',
      `${describeHost(agent.host)}: docker pull ${reference} failed: ${detail}`,
      {
        hint: full
          ? 'free disk space under Docker on that host'
          : 'check that the host can reach the registry, or use --image-transfer ship',
      },
    );
  }
  return { host: agent.host.name, action: 'pulled', bytes: 0, durationMs: Date.now() - started };
}
