/**
 * Where the local network's files are when none are named: the compose file (the working
 * directory's own, else meshbench's seed network in systems/refnode/), where meshbench's own
 * compose files moved, and the run and cache folders.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../common/package-root.js';

/** A project's own network, when the working directory has one. */
export const DEFAULT_COMPOSE_PATH = 'compose/docker-compose.yml';
/** meshbench's own seed network: the reference node's compose file, in its system folder. */
export const SEED_COMPOSE_PATH = 'systems/refnode/docker-compose.yml';

/**
 * The compose file when none is named: compose/docker-compose.yml in the working directory
 * when there is one, else meshbench's own (the 4-node seed network,
 * systems/refnode/docker-compose.yml), so the commands work from any folder.
 */
export function defaultComposePath(cwd: string = process.cwd()): string {
  if (existsSync(resolve(cwd, DEFAULT_COMPOSE_PATH))) return DEFAULT_COMPOSE_PATH;
  if (existsSync(resolve(cwd, SEED_COMPOSE_PATH))) return SEED_COMPOSE_PATH;
  const root = packageRoot();
  const own = root === undefined ? undefined : join(root, SEED_COMPOSE_PATH);
  return own !== undefined && existsSync(own) ? own : DEFAULT_COMPOSE_PATH;
}

/** meshbench's compose files that moved into their systems' folders, by their old path. */
const MOVED_COMPOSE_FILES: Readonly<Record<string, string>> = {
  'compose/docker-compose.yml': SEED_COMPOSE_PATH,
  'compose/examples/etcd-3-members.yml': 'systems/etcd/docker-compose.yml',
};

/** Where a missing meshbench compose file went, when `path` names one by its old place (and it is there). */
export function movedComposeFile(path: string): string | undefined {
  const normal = path.replaceAll('\\', '/');
  for (const [old, now] of Object.entries(MOVED_COMPOSE_FILES)) {
    if (normal !== old && !normal.endsWith(`/${old}`)) continue;
    const there = normal.slice(0, -old.length) + now;
    return existsSync(there) ? there : undefined;
  }
  return undefined;
}
export const DEFAULT_RUNS_DIR = '.meshbench/runs';
export const DEFAULT_CACHE_DIR = '.meshbench/cache';
