/**
 * The compose CLI for up/down: `docker compose` (v2 plugin) when present,
 * `docker-compose` (v1) otherwise. MESHBENCH_COMPOSE overrides the choice
 * (e.g. `MESHBENCH_COMPOSE=docker-compose`).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { MeshbenchError } from '../../common/errors.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface ComposeCli {
  /** argv prefix, e.g. `['docker', 'compose']` or `['docker-compose']`. */
  readonly command: readonly string[];
  readonly kind: 'v2' | 'v1';
  readonly version: string;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * What a child with piped stdio prints and how it ends (127 when it could not start).
 * Its stdin is left to the caller; a child that exits before reading it is not an error.
 */
function collectResult(child: ChildProcessWithoutNullStreams): Promise<CommandResult> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on('error', () => {});
  return new Promise((resolve) => {
    child.on('error', (error) =>
      resolve({
        code: 127,
        stdout: '',
        stderr: `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`,
      }),
    );
    child.on('close', (code) =>
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      }),
    );
  });
}

export function runCommand(
  argv: readonly string[],
  options: { env?: Env; cwd?: string; input?: string } = {},
): Promise<CommandResult> {
  const [file, ...args] = argv;
  const child = spawn(file ?? '', args, {
    env: options.env as NodeJS.ProcessEnv,
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const result = collectResult(child);
  child.stdin.end(options.input ?? '');
  return result;
}

/** Where the v2 plugin lives (the docker CLI's own search list). */
function pluginDirs(env: Env): string[] {
  const config = env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker');
  return [
    join(config, 'cli-plugins'),
    '/usr/local/lib/docker/cli-plugins',
    '/usr/local/libexec/docker/cli-plugins',
    '/usr/lib/docker/cli-plugins',
    '/usr/libexec/docker/cli-plugins',
  ];
}

/** Sync on purpose: a few dozen access() calls take well under 1 ms; awaiting each costs an event-loop turn. */
function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findExecutable(candidates: readonly string[]): string | undefined {
  return candidates.find(executable);
}

function inPath(name: string, env: Env): string[] {
  return (env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, name));
}

/** Per PATH/HOME/DOCKER_CONFIG, so a changed environment is looked at afresh. */
const detected = new Map<string, Promise<ComposeCli>>();

/**
 * Finds the compose CLI once per process, from the file system (starting docker-compose v1
 * just to ask its version costs a Python start-up, about 0.4 s on an idle machine); the
 * version is read from a cache keyed by the binary, or asked once and cached.
 */
export function detectCompose(env: Env = process.env, cacheDir = '.meshbench/cache'): Promise<ComposeCli> {
  if (env.MESHBENCH_COMPOSE) return probe(env.MESHBENCH_COMPOSE.split(/\s+/), env);
  const key = [env.PATH, env.HOME, env.DOCKER_CONFIG, cacheDir].join('|');
  const known = detected.get(key);
  if (known) return known;
  const detection = (async (): Promise<ComposeCli> => {
    const plugin = findExecutable(inPath('docker', env))
      ? findExecutable(pluginDirs(env).map((dir) => join(dir, 'docker-compose')))
      : undefined;
    const standalone = plugin ? undefined : findExecutable(inPath('docker-compose', env));
    const binary = plugin ?? standalone;
    if (binary) {
      const command = plugin ? ['docker', 'compose'] : ['docker-compose'];
      const version = await cachedVersion(binary, command, env, cacheDir);
      if (version !== undefined) return { command, kind: plugin ? 'v2' : kindOf(command, version), version };
    }
    // Not found where expected (or it did not answer): ask each in turn.
    const tried: string[] = [];
    for (const command of [['docker', 'compose'], ['docker-compose']]) {
      try {
        return await probe(command, env);
      } catch (error) {
        tried.push(`${command.join(' ')}: ${(error as Error).message}`);
      }
    }
    detected.delete(key);
    throw new MeshbenchError('DOCKER_UNAVAILABLE', `no compose CLI found (tried ${tried.join('; ')})`, {
      hint: 'install the Docker Compose plugin (docker compose) or docker-compose (apt-get install docker-compose)',
    });
  })();
  detected.set(key, detection);
  return detection;
}

function kindOf(command: readonly string[], version: string): 'v1' | 'v2' {
  return command.length === 2 || /^2\./.test(version) ? 'v2' : 'v1';
}

async function cachedVersion(
  binary: string,
  command: readonly string[],
  env: Env,
  cacheDir: string,
): Promise<string | undefined> {
  const info = statSync(binary);
  const key = `${binary}:${info.size}:${Math.round(info.mtimeMs)}`;
  const file = join(cacheDir, 'compose-version.json');
  try {
    const entries = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    if (entries[key]) return entries[key];
  } catch {
    // no cache yet
  }
  try {
    const { version } = await probe(command, env);
    let entries: Record<string, string> = {};
    try {
      entries = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
    } catch {
      // first entry
    }
    entries[key] = version;
    await writeFileAtomic(file, JSON.stringify(entries)).catch(() => undefined);
    return version;
  } catch {
    return undefined;
  }
}

async function probe(command: readonly string[], env: Env): Promise<ComposeCli> {
  const result = await runCommand([...command, 'version', '--short'], { env });
  if (result.code !== 0) throw new Error(firstLine(result.stderr) || `exit ${result.code}`);
  const version = result.stdout.trim().replace(/^v/, '');
  return { command, kind: kindOf(command, version), version };
}

export function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line.length > 0) ?? ''
  );
}

const TELLING =
  /error|denied|invalid|unsupported|not found|no such|failed|allocated|in use|refused|cannot|can't|conflict/i;
/** Compose v1's last line after any failure: it names nothing. */
const GENERIC = /^Encountered errors while bringing up the project\.?$/i;

/**
 * The lines of compose's stderr that say what went wrong (every one of them, in order,
 * once). Where compose marks its errors (`ERROR:` from v1, `Error` from v2) only those
 * count; v1's `ERROR: for <name>  ` prefix, which repeats one reason per container and
 * per service, is dropped.
 */
export function composeErrorLines(stderr: string): string[] {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !GENERIC.test(line));
  const marked = lines
    .filter((line) => /^(ERROR|Error)\b/.test(line))
    .map((line) => line.replace(/^ERROR: for \S+\s+/, 'ERROR: '));
  const telling = marked.length > 0 ? marked : lines.filter((line) => TELLING.test(line));
  return [...new Set(telling.length > 0 ? telling : lines.slice(-1))];
}

/** What went wrong, on one line: every telling line of compose's stderr. */
export function composeErrorLine(stderr: string): string {
  return composeErrorLines(stderr).join(' | ').replace(/\s+/g, ' ').slice(0, 600);
}

export interface ComposeProjectRef {
  readonly projectName: string;
  readonly files: readonly string[];
  /** Project directory (relative paths in the first file resolve against it). */
  readonly projectDirectory: string;
}

export function composeArgs(cli: ComposeCli, project: ComposeProjectRef, args: readonly string[]): string[] {
  return [
    ...cli.command,
    '--project-name',
    project.projectName,
    '--project-directory',
    project.projectDirectory,
    ...project.files.flatMap((file) => ['--file', file]),
    ...args,
  ];
}

/**
 * compose up processes still running, each the leader of its own process group (so `sh -c 'cat |
 * compose'` and compose go together). An interrupt stops them before removing by label: a
 * compose up left running would create containers and the network after the removal.
 */
const runningUps = new Set<ChildProcessWithoutNullStreams>();

function trackUp(child: ChildProcessWithoutNullStreams): void {
  runningUps.add(child);
  child.once('exit', () => runningUps.delete(child));
  child.once('error', () => runningUps.delete(child));
}

/** Kills every compose up this process started that is still running, and waits until each is gone (at most `timeoutMs`). */
export async function stopComposeUps(timeoutMs = 3_000): Promise<number> {
  const children = [...runningUps];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(resolve, timeoutMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          try {
            process.kill(-(child.pid ?? 0), 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }),
    ),
  );
  return children.length;
}

/**
 * compose up processes a meshbench that is gone left running (a SIGKILLed one cannot stop
 * its compose up, which runs in its own process group): of `projectName`, or with none given,
 * every one of a meshbench-… project whose parent has gone (re-parented to init). Killed with
 * their process group, so `local-network --down` removes the run after them and nothing is
 * created behind the removal. Linux (/proc) only; elsewhere none is found. Returns the count.
 */
export async function stopOrphanComposeUps(projectName?: string): Promise<number> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  } catch {
    return 0;
  }
  let stopped = 0;
  for (const pid of pids) {
    let args: string[];
    let stat: string;
    try {
      args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    const project = args[args.indexOf('--project-name') + 1];
    if (!args.includes('--project-name') || !args.includes('up') || project === undefined) continue;
    if (projectName !== undefined ? project !== projectName : !project.startsWith('meshbench-')) continue;
    // stat: pid (comm) state ppid pgrp …; comm may hold spaces, so read after its closing paren
    const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (projectName === undefined && ppid !== '1') continue;
    try {
      process.kill(-Number(pgrp), 'SIGKILL');
      stopped++;
    } catch {
      try {
        process.kill(Number(pid), 'SIGKILL');
        stopped++;
      } catch {
        // already gone
      }
    }
  }
  return stopped;
}

export async function composeUp(
  cli: ComposeCli,
  project: ComposeProjectRef,
  env: Env = process.env,
  options: { readonly build?: boolean } = {},
): Promise<CommandResult> {
  const args = [
    ...(cli.kind === 'v2' ? ['up', '--detach', '--quiet-pull'] : ['up', '--detach', '--no-color']),
    ...(options.build ? ['--build'] : []),
  ];
  const [file, ...rest] = composeArgs(cli, project, args);
  // its own process group: a terminal's Ctrl-C reaches meshbench, which stops it (stopComposeUps)
  const child = spawn(file ?? '', rest, {
    env: { ...env, COMPOSE_IGNORE_ORPHANS: 'true' } as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  trackUp(child);
  const result = collectResult(child);
  child.stdin.end('');
  return result;
}

/** compose up, started before its input is known and held until `release` (see startGatedComposeUp). */
export interface GatedComposeUp {
  /** Hands compose the piped file's text and lets it go on; resolves when it exits. */
  release(text: string): Promise<CommandResult>;
  /**
   * Stops it while it still waits for its input: the pipe closes empty, compose refuses the
   * empty file and exits without having touched the engine. Resolves when it has exited.
   */
  cancel(): Promise<void>;
}

/** Where a gated compose up reads its piped file (a real pipe: see startGatedComposeUp). */
export const PIPED_COMPOSE_FILE = '/dev/stdin';

/** Only v1 is slow to start; the gate needs a POSIX shell and /dev/stdin. */
export function canGateComposeUp(cli: ComposeCli): boolean {
  return cli.kind === 'v1' && process.platform !== 'win32';
}

/**
 * compose v1 is a Python program that spends about 0.3 s starting before it reads its
 * files, and it reads every file before it talks to the engine. Started early with one
 * of its files (PIPED_COMPOSE_FILE in project.files) on a pipe, it does that start-up
 * while our checks run, then waits on the pipe: `release` writes the file (the same text
 * as the copy on disk), `cancel` closes it empty. The pipe is made by `sh -c 'cat | …'`:
 * Node's stdio pipes are socket pairs, which /dev/stdin cannot open.
 */
export function startGatedComposeUp(
  cli: ComposeCli,
  project: ComposeProjectRef,
  env: Env = process.env,
): GatedComposeUp {
  const argv = composeArgs(cli, project, ['up', '--detach', '--no-color']);
  const child = spawn('/bin/sh', ['-c', 'cat | "$@"', 'sh', ...argv], {
    env: { ...env, COMPOSE_IGNORE_ORPHANS: 'true' } as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  trackUp(child);
  // compose may exit before reading the pipe (a bad file): writing it then is not an error here.
  const exited = collectResult(child);
  let released = false;
  return {
    release(text) {
      if (released) throw new Error('compose up was already released');
      released = true;
      child.stdin.end(text);
      return exited;
    },
    async cancel() {
      if (released) return;
      released = true;
      child.stdin.end();
      await exited;
    },
  };
}
