/**
 * The compose project as the compose tool itself resolves it: `docker-compose config`
 * (v1, YAML) or `docker compose config --format json` (v2). Compose merges the files,
 * applies anchors, merge keys, `extends`, `env_file` and `.env`, and interpolates; we
 * read its answer and never re-implement those rules.
 *
 * Asking costs a compose start-up (about 0.4-1 s for v1's Python), so the answer is
 * cached under `<cacheDir>/compose-config/`, keyed by everything it depends on: the
 * compose CLI and its version, the project directory, the content of every compose
 * file, of every file they pull in (`extends.file`, `env_file`, the project's `.env`),
 * and the environment. A file that cannot be read for the key just skips the cache.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { MeshbenchError } from '../../common/errors.js';
import { composeErrorLine, runCommand, type ComposeCli } from './compose-cli.js';
import { loadYaml } from '../../common/yaml.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The project name `config` runs under; v2 writes it into default names, which are taken out again. */
const RESOLVE_PROJECT = 'meshbench-resolve';
/** Cache entries kept; the oldest go first. */
const CACHE_ENTRIES = 64;

export interface ResolvedCompose {
  /** The resolved project (plain data; strings keep compose's `$$` escapes). */
  readonly project: Record<string, unknown>;
  /** Whether it came from the cache. */
  readonly cached: boolean;
}

export interface ResolveComposeOptions {
  readonly cli: ComposeCli;
  /** The user's compose files, in order (absolute or relative to the working directory). */
  readonly files: readonly string[];
  /** Defaults to the first file's folder, as compose does. */
  readonly projectDirectory?: string;
  readonly env?: Env;
  /** Parent of the cache folder; undefined turns the cache off. */
  readonly cacheDir?: string | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `config` failed: compose's own words, on one line, naming the files. */
function refused(cli: ComposeCli, files: readonly string[], stderr: string): MeshbenchError {
  const problem = composeErrorLine(stderr);
  const names = files.join(', ');
  return new MeshbenchError(
    'COMPOSE_FILE',
    `${cli.command.join(' ')} config refused ${names}: ${problem || 'no reason given'}`,
    {
      hint: `fix the file; check it with: ${cli.command.join(' ')} ${files.map((f) => `-f ${f}`).join(' ')} config`,
    },
  );
}

async function contentOf(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw error;
  }
}

/** Files a compose file pulls in (`extends.file`, `env_file`), resolved against its folder, recursively. */
async function referencedFiles(file: string, seen: Set<string>): Promise<void> {
  if (seen.has(file)) return;
  seen.add(file);
  const text = await contentOf(file);
  if (text === null) return;
  const { parseDocument } = await loadYaml();
  const document = parseDocument(text, { merge: true });
  if (document.errors.length > 0) throw new Error(`${file}: not YAML`);
  const root: unknown = document.toJS({ maxAliasCount: 10_000 });
  if (!isRecord(root) || !isRecord(root.services)) return;
  const base = dirname(file);
  for (const service of Object.values(root.services)) {
    if (!isRecord(service)) continue;
    const envFiles = Array.isArray(service.env_file) ? service.env_file : [service.env_file];
    for (const entry of envFiles) {
      const path = typeof entry === 'string' ? entry : isRecord(entry) ? entry.path : undefined;
      if (typeof path === 'string') seen.add(resolve(base, path));
    }
    const extendsFile = isRecord(service.extends) ? service.extends.file : undefined;
    if (typeof extendsFile === 'string') await referencedFiles(resolve(base, extendsFile), seen);
  }
}

/** The cache key, or undefined when it cannot be made (then the cache is skipped). */
async function cacheKey(
  options: ResolveComposeOptions,
  files: readonly string[],
  projectDirectory: string,
  env: Env,
): Promise<string | undefined> {
  try {
    const seen = new Set<string>([join(projectDirectory, '.env')]);
    for (const file of files) await referencedFiles(file, seen);
    const contents = await Promise.all([...seen].sort().map(async (path) => [path, await contentOf(path)]));
    const environment = Object.entries(env)
      .filter(([, value]) => value !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return createHash('sha256')
      .update(
        JSON.stringify({
          cli: [options.cli.command, options.cli.version],
          projectDirectory,
          files,
          contents,
          environment,
        }),
      )
      .digest('hex')
      .slice(0, 32);
  } catch {
    return undefined;
  }
}

/** v2 writes the project name into the default names of networks and volumes; take those out. */
function withoutResolveNames(project: Record<string, unknown>): Record<string, unknown> {
  const { name: _name, ...rest } = project;
  for (const section of ['networks', 'volumes'] as const) {
    const objects = rest[section];
    if (!isRecord(objects)) continue;
    rest[section] = Object.fromEntries(
      Object.entries(objects).map(([key, value]) => {
        if (!isRecord(value) || value.name !== `${RESOLVE_PROJECT}_${key}`) return [key, value];
        const { name: _default, ...kept } = value;
        return [key, kept];
      }),
    );
  }
  return rest;
}

/**
 * Services in the order the user's files name them (first appearance across the files),
 * not compose's (v1 sorts them by name: node10 before node2); any others after, as given.
 */
async function inFileOrder(
  project: Record<string, unknown>,
  files: readonly string[],
): Promise<Record<string, unknown>> {
  if (!isRecord(project.services)) return project;
  const order: string[] = [];
  const { parseDocument } = await loadYaml();
  for (const file of files) {
    try {
      const root: unknown = parseDocument(await readFile(file, 'utf8'), { merge: true }).toJS({
        maxAliasCount: 10_000,
      });
      if (isRecord(root) && isRecord(root.services)) order.push(...Object.keys(root.services));
    } catch {
      // compose read it; the order is only cosmetic
    }
  }
  const services = project.services;
  const names = [...new Set([...order.filter((name) => name in services), ...Object.keys(services)])];
  return { ...project, services: Object.fromEntries(names.map((name) => [name, services[name]])) };
}

async function pruneCache(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.json'));
  if (names.length <= CACHE_ENTRIES) return;
  const aged = await Promise.all(
    names.map(async (name) => ({ name, mtimeMs: (await stat(join(dir, name))).mtimeMs })),
  );
  aged.sort((a, b) => a.mtimeMs - b.mtimeMs);
  await Promise.all(
    aged.slice(0, aged.length - CACHE_ENTRIES).map(({ name }) => rm(join(dir, name), { force: true })),
  );
}

/**
 * Asks the compose tool for the resolved project (or reads the cached answer). A file
 * compose refuses gives MeshbenchError('COMPOSE_FILE') with compose's own reason.
 */
export async function resolveComposeProject(options: ResolveComposeOptions): Promise<ResolvedCompose> {
  const env = options.env ?? process.env;
  const files = options.files.map((file) => resolve(file));
  const first = files[0];
  if (first === undefined) throw new Error('resolveComposeProject needs at least one file');
  const projectDirectory = resolve(options.projectDirectory ?? dirname(first));
  const key =
    options.cacheDir === undefined ? undefined : await cacheKey(options, files, projectDirectory, env);
  const cacheFolder = options.cacheDir === undefined ? undefined : join(options.cacheDir, 'compose-config');
  const cacheFile = key !== undefined && cacheFolder ? join(cacheFolder, `${key}.json`) : undefined;
  if (cacheFile) {
    const text = await contentOf(cacheFile).catch(() => null);
    if (text !== null) {
      try {
        const project: unknown = JSON.parse(text);
        if (isRecord(project)) return { project, cached: true };
      } catch {
        // a broken entry is asked again
      }
    }
  }
  const args = [
    ...options.cli.command,
    '--project-name',
    RESOLVE_PROJECT,
    '--project-directory',
    projectDirectory,
    ...files.flatMap((file) => ['--file', file]),
    'config',
    ...(options.cli.kind === 'v2' ? ['--format', 'json'] : []),
  ];
  const result = await runCommand(args, { env });
  if (result.code !== 0) throw refused(options.cli, options.files, result.stderr);
  let parsed: unknown;
  try {
    // YAML from v1, JSON from v2 (JSON is YAML).
    parsed = (await loadYaml()).parse(result.stdout, { maxAliasCount: -1 });
  } catch (error) {
    throw new MeshbenchError(
      'COMPOSE_FILE',
      `cannot read what ${options.cli.command.join(' ')} config printed`,
      {
        hint: 'report this with the output of the config command',
        cause: error,
      },
    );
  }
  if (!isRecord(parsed)) throw refused(options.cli, options.files, 'it printed no project');
  const project = await inFileOrder(withoutResolveNames(parsed), files);
  if (cacheFile && cacheFolder) {
    await writeFileAtomic(cacheFile, JSON.stringify(project))
      .then(() => pruneCache(cacheFolder))
      .catch(() => undefined);
  }
  return { project, cached: false };
}

/**
 * The active compose profiles: `COMPOSE_PROFILES` from the environment, else from the
 * project's `.env` (compose reads its own settings there too). v2's `config` already
 * leaves out inactive services, so every service it lists counts as active.
 */
export async function activeComposeProfiles(
  cli: ComposeCli,
  projectDirectory: string,
  env: Env = process.env,
): Promise<string[]> {
  if (cli.kind === 'v2') return ['*'];
  let value = env.COMPOSE_PROFILES;
  if (value === undefined) {
    const dotEnv = await contentOf(join(projectDirectory, '.env')).catch(() => null);
    const line = dotEnv
      ?.split('\n')
      .map((text) => text.trim())
      .findLast((text) => text.startsWith('COMPOSE_PROFILES='));
    value = line?.slice('COMPOSE_PROFILES='.length).replace(/^(['"])(.*)\1$/, '$2');
  }
  return (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}
