/**
 * The images meshbench ships (the reference node, the network helper, the load client, the
 * etcd example's and the P2P systems') are
 * built on first use: a feature that needs one and finds it missing on this machine's engine
 * builds it here with scripts/build-images.sh (the one recipe), with one progress line, and
 * then uses or ships it. Where it cannot be built (no Docker CLI, no mmdebstrap or gcc and no
 * root with apt-get to install them, no bundle), one line says so and names the command.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CRDT_IMAGE,
  ETCD_IMAGE,
  LIBP2P_IMAGE,
  LOADCLIENT_IMAGE,
  NETHELPER_IMAGE,
  REFNODE_IMAGE,
} from '../../common/defaults.js';
import { MeshbenchError } from '../../common/errors.js';
import { runInOwnGroup } from '../../common/group-child.js';
import { shutdownSignal } from '../../common/shutdown.js';
import { onPath } from '../../common/on-path.js';
import { packageRoot } from '../../common/package-root.js';

/** An image set of scripts/build-images.sh that meshbench builds on first use. */
export interface ShippedImage {
  /** The argument of `npm run images SET`. */
  readonly set: 'refnode' | 'nethelper' | 'loadclient' | 'etcd' | 'libp2p' | 'crdt';
  /** The environment variable that names another tag for it (the script reads it too). */
  readonly tagEnv: string;
  /** Rough build time on a fresh machine, for the progress line. */
  readonly aboutSecs: number;
  /** Commands the recipe needs that the script installs with apt-get only when root. */
  readonly tools: readonly string[];
  /** Files of the package the recipe needs (built by npm run build). */
  readonly files: readonly string[];
  /** A system under test built from its own sources (systems/NAME): what its meshbench.app hashes. */
  readonly sources?: string;
}

const SETS: readonly ShippedImage[] = [
  {
    set: 'refnode',
    tagEnv: 'MESHBENCH_REFNODE_IMAGE',
    aboutSecs: 30,
    tools: [],
    files: ['dist/refnode/refnode.js'],
  },
  {
    set: 'nethelper',
    tagEnv: 'MESHBENCH_NETHELPER_IMAGE',
    aboutSecs: 40,
    tools: ['mmdebstrap', 'gcc'],
    files: [],
  },
  {
    set: 'loadclient',
    tagEnv: 'MESHBENCH_LOADCLIENT_IMAGE',
    aboutSecs: 10,
    tools: [],
    files: ['dist/loadclient/loadclient.js', 'dist/loadclient/worker.js'],
  },
  {
    // the etcd example's image: etcd and etcdctl from this machine's Debian packages
    set: 'etcd',
    tagEnv: 'MESHBENCH_ETCD_IMAGE',
    aboutSecs: 60,
    tools: ['etcd', 'etcdctl', 'mmdebstrap'],
    files: [],
  },
  {
    // the P2P systems: npm ci in their folder (their lock files), a bundle, the lean base
    set: 'libp2p',
    tagEnv: 'MESHBENCH_LIBP2P_IMAGE',
    aboutSecs: 60,
    tools: ['npm'],
    files: [],
    sources: 'systems/libp2p-gossipsub',
  },
  {
    set: 'crdt',
    tagEnv: 'MESHBENCH_CRDT_IMAGE',
    aboutSecs: 20,
    tools: ['npm'],
    files: [],
    sources: 'systems/crdt-sync',
  },
];

/** The image set that builds `image` (by the tags in use now), or undefined when it is not meshbench's. */
export function shippedImage(image: string): ShippedImage | undefined {
  const tags: Record<ShippedImage['set'], string> = {
    refnode: REFNODE_IMAGE,
    nethelper: NETHELPER_IMAGE,
    loadclient: LOADCLIENT_IMAGE,
    etcd: ETCD_IMAGE,
    libp2p: LIBP2P_IMAGE,
    crdt: CRDT_IMAGE,
  };
  return SETS.find((entry) => tags[entry.set] === image);
}

/** What the build may use on this machine (tests pass their own). */
export interface BuildHost {
  readonly root: boolean;
  readonly has: (command: string) => boolean;
  readonly packageDir: string | undefined;
  readonly fileExists: (path: string) => boolean;
}

/** Why `entry` cannot be built on this host, in a few words; undefined when it can. */
export function buildBlocker(entry: ShippedImage, host: BuildHost): string | undefined {
  if (host.packageDir === undefined || !host.fileExists(join(host.packageDir, 'scripts/build-images.sh')))
    return "meshbench's scripts/build-images.sh is not here";
  if (!host.has('docker')) return 'the docker CLI is missing';
  const missingFiles = entry.files.filter((file) => !host.fileExists(join(host.packageDir as string, file)));
  if (missingFiles.length > 0) return `${missingFiles.join(', ')} is missing (npm run build makes it)`;
  const missingTools = entry.tools.filter((tool) => !host.has(tool));
  if (missingTools.length > 0 && !(host.root && host.has('apt-get')))
    return `${missingTools.join(' and ')} ${missingTools.length > 1 ? 'are' : 'is'} missing and ${host.root ? 'apt-get is not here' : 'this is not root'} to install ${missingTools.length > 1 ? 'them' : 'it'}`;
  return undefined;
}

/** The one-line refusal when `image` is missing and cannot be built. */
export function cannotBuildError(image: string, entry: ShippedImage, reason: string): MeshbenchError {
  const tag = process.env[entry.tagEnv] === undefined ? '' : `${entry.tagEnv}=${image} `;
  return new MeshbenchError(
    'IMAGE_MISSING',
    `${image} is not on this machine's Docker engine and cannot be built here: ${reason}`,
    {
      hint: `build it with: ${tag}npm run images ${entry.set}`,
    },
  );
}

function thisHost(): BuildHost {
  return {
    root: process.getuid?.() === 0,
    has: (command) => onPath(command) !== undefined,
    packageDir: packageRoot(),
    fileExists: existsSync,
  };
}

/** Whether this machine's engine has `image`. */
export async function imagePresent(image: string): Promise<boolean> {
  return (await imageLabels(image)) !== undefined;
}

/** The labels scripts/build-images.sh gives an image: which set, and the package files it holds. */
export const IMAGE_LABEL = 'meshbench.image';
export const APP_LABEL = 'meshbench.app';

/** Every file under `dir` (relative to `root`), in byte order as `find | LC_ALL=C sort` lists them. */
function filesUnder(root: string, dir: string): string[] {
  const found: string[] = [];
  for (const item of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${item.name}`;
    if (item.isDirectory()) found.push(...filesUnder(root, path));
    else found.push(path);
  }
  return found.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * The hash scripts/build-images.sh puts in an image's meshbench.app label: sha256 of the set's
 * package files one after the other, its first 16 hex digits (`cat FILES | sha256sum`); for a
 * system under test, of its sources (every file under src/, then its lock file: p2p_app_key).
 * Undefined when the set has no such files or one is missing here (not built, not shipped).
 */
export function appKey(
  entry: ShippedImage,
  packageDir: string | undefined = packageRoot(),
): string | undefined {
  if (packageDir === undefined) return undefined;
  let files = entry.files;
  if (entry.sources !== undefined) {
    try {
      files = [...filesUnder(packageDir, `${entry.sources}/src`), `${entry.sources}/package-lock.json`];
    } catch {
      return undefined;
    }
  }
  if (files.length === 0) return undefined;
  const hash = createHash('sha256');
  for (const file of files) {
    try {
      hash.update(readFileSync(join(packageDir, file)));
    } catch {
      return undefined;
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Whether an image of meshbench's that the engine has was built from other package files than
 * these (an earlier meshbench's refnode, say): it is then built again before use. Only images
 * the script made (their meshbench.image label) are judged; an image of the user's own under
 * the same tag is left alone, as is a set whose files are not here.
 */
export function imageStale(
  entry: ShippedImage,
  labels: Readonly<Record<string, string>> | null | undefined,
  packageDir?: string,
): boolean {
  if (labels?.[IMAGE_LABEL] === undefined) return false;
  const key = appKey(entry, packageDir);
  return key !== undefined && labels[APP_LABEL] !== key;
}

/** The labels of `image` on this machine's engine; undefined when it is not there. */
function imageLabels(image: string): Promise<Record<string, string> | null | undefined> {
  return new Promise((resolve) =>
    execFile(
      'docker',
      ['image', 'inspect', '--format', '{{json .Config.Labels}}', image],
      (error, stdout) => {
        if (error) return resolve(undefined);
        try {
          resolve(JSON.parse(stdout) as Record<string, string> | null);
        } catch {
          resolve(null);
        }
      },
    ),
  );
}

const building = new Map<string, Promise<void>>();

export interface EnsureImageOptions {
  /** The progress line goes here (once, when a build starts). */
  readonly log: (line: string) => void;
  /** Tests pass their own. */
  readonly host?: BuildHost;
  /** The caller found the image present but stale (imageStale): build it again. */
  readonly stale?: boolean;
  /** Stops the build (default: the running command's, shutdownSignal). */
  readonly signal?: AbortSignal;
}

/**
 * Makes sure `image` is on this machine's engine: present, or one of meshbench's images
 * built now with scripts/build-images.sh (once per process, however many callers ask).
 * An image that is not meshbench's is left to the engine (its error names it).
 */
export function ensureImage(image: string, options: EnsureImageOptions): Promise<void> {
  const entry = shippedImage(image);
  if (entry === undefined) return Promise.resolve();
  let pending = building.get(image);
  if (pending === undefined) {
    pending = buildIfMissing(image, entry, options);
    building.set(image, pending);
    // a failure may be fixed by the user in the same process (tests); forget it
    pending.catch(() => building.delete(image));
  }
  return pending;
}

/**
 * Why a stale image is built again: a system under test's own sources changed (the user
 * edited systems/NAME), or meshbench's files did (an earlier meshbench built it).
 */
export function staleWhy(entry: ShippedImage): string {
  return entry.sources !== undefined
    ? `was built from other sources than ${entry.sources}/ has now`
    : 'was built from an earlier meshbench';
}

async function buildIfMissing(
  image: string,
  entry: ShippedImage,
  options: EnsureImageOptions,
): Promise<void> {
  const host = options.host ?? thisHost();
  const signal = options.signal ?? shutdownSignal();
  const labels = options.stale ? undefined : await imageLabels(image);
  const stale = options.stale === true || imageStale(entry, labels, host.packageDir);
  if (labels !== undefined && !stale) return;
  const reason = buildBlocker(entry, host);
  if (reason !== undefined) {
    if (stale) {
      options.log(`${image} ${staleWhy(entry)} and cannot be built again here (${reason}): using it`);
      return;
    }
    throw cannotBuildError(image, entry, reason);
  }
  options.log(
    stale
      ? `building ${image} again: it ${staleWhy(entry)} (about ${entry.aboutSecs} s)`
      : `building ${image} (once, about ${entry.aboutSecs} s)`,
  );
  const packageDir = host.packageDir as string;
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((line) => line.trim() !== ''),
    );
    output.splice(0, Math.max(0, output.length - 20));
  };
  // in a process group of its own: a stop ends the script and the docker build under it
  const { code, interrupted } = await runInOwnGroup(
    'bash',
    [join(packageDir, 'scripts/build-images.sh'), entry.set],
    { cwd: packageDir, env: { ...process.env, [entry.tagEnv]: image }, onOutput: keep, signal },
  );
  if (interrupted)
    throw new MeshbenchError(
      'INTERRUPTED',
      `interrupted while building ${image}: it was not built (the next run that needs it builds it)`,
    );
  if (code !== 0 || !(await imagePresent(image))) {
    const last = output.at(-1)?.replace(/^meshbench images: (error: )?/, '') ?? `exit code ${code}`;
    throw new MeshbenchError('IMAGE_MISSING', `building ${image} failed: ${last}`, {
      hint: `run npm run images ${entry.set} to see the whole build`,
    });
  }
}
