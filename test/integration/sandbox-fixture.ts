/**
 * A sandbox of emulated SSH hosts shared by the remote integration tests:
 * hosts 0..3 with Docker, host 4 without (so the install path runs for real).
 * Reused when it is already up (state file + running containers), so several
 * test files pay for it once; `releaseSandboxes()` removes them unless
 * MESHBENCH_KEEP_SANDBOX=1.
 *
 * The integration tier runs two files at a time, and a remote file owns its hosts while it
 * runs (`remote-network --down` takes every remote network off them). So a file claims a
 * sandbox slot that no running file holds (a lock file naming its process; a lock whose
 * process is gone is free) and uses that slot's sandbox: at most one sandbox per file running
 * at once, each kept for the next file in its slot.
 */
import { linkSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { spawnBin } from './run-bin.js';
import { TEST_SANDBOX_BASE } from './sandbox-slots.js';
import { processAlive } from '../../src/common/process-alive.js';
import {
  docker,
  readSandboxState,
  sandboxDown,
  sandboxUp,
  writeHostsEnv,
  type SandboxHost,
  type SandboxState,
} from '../../src/testbed/sandbox/sandbox.js';

export const DOCKER_HOSTS = 4;
/** More slots than files can run at once (the tier's maxWorkers), so a claim always finds one. */
const SLOTS = 8;

const slotDir = (slot: number) => (slot === 1 ? TEST_SANDBOX_BASE : `${TEST_SANDBOX_BASE}-${slot}`);

/** Takes `lock` for this process when it is free or held by a process that is gone. */
function tryLock(lock: string): boolean {
  const mine = `${lock}.${process.pid}`;
  writeFileSync(mine, String(process.pid));
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(mine, lock); // atomic: fails when the lock exists
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let holder: number;
      try {
        holder = Number(readFileSync(lock, 'utf8'));
      } catch {
        continue; // released meanwhile: try to take it again
      }
      if (holder === process.pid) return true;
      if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) return false;
      removeDeadLock(lock, holder, mine); // left by a file that ended: free
    }
    return false;
  } finally {
    rmSync(mine, { force: true });
  }
}

/**
 * Removes `lock` if `holder`, a process that is gone, still holds it. Two files finding the
 * same dead holder at once would otherwise both remove the lock, the later one removing what
 * the earlier had just taken, and both would use the slot. So a take-over is locked too
 * (`<lock>.takeover`, taken by link as the lock is) and the holder read again under it. A
 * take-over lock left by a process that died inside it keeps that slot's dead lock: claims go
 * on to the next slot.
 */
function removeDeadLock(lock: string, holder: number, mine: string): void {
  const takeover = `${lock}.takeover`;
  try {
    linkSync(mine, takeover);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  try {
    let current: number;
    try {
      current = Number(readFileSync(lock, 'utf8'));
    } catch {
      return; // released meanwhile
    }
    if (Object.is(current, holder)) rmSync(lock, { force: true });
  } finally {
    rmSync(takeover, { force: true });
  }
}

let claimed: string | undefined;

/** This file's sandbox folder: the first slot no running file holds (claimed once per file). */
export function testSandboxDir(): string {
  if (claimed) return claimed;
  mkdirSync(dirname(TEST_SANDBOX_BASE), { recursive: true });
  for (let slot = 1; slot <= SLOTS; slot++) {
    const dir = slotDir(slot);
    const lock = `${dir}.lock`;
    if (!tryLock(lock)) continue;
    claimed = dir;
    process.once('exit', () => {
      try {
        if (Number(readFileSync(lock, 'utf8')) === process.pid) unlinkSync(lock);
      } catch {
        // gone already
      }
    });
    return dir;
  }
  throw new Error(`every test sandbox slot (${SLOTS}) is held by a running test file`);
}

/** The ids of a sandbox's host containers in one state (`running`, `paused`). */
async function hostIds(state: SandboxState, status: 'running' | 'paused'): Promise<string[]> {
  const listed = await docker([
    'ps',
    '-q',
    '--filter',
    `label=meshbench.run=${state.runId}`,
    '--filter',
    `status=${status}`,
  ]);
  return listed.stdout.trim().split('\n').filter(Boolean);
}

async function healthy(state: SandboxState): Promise<boolean> {
  return (await hostIds(state, 'running')).length === state.hosts.length;
}

/** The sandbox this file's tests used, paused after them (below). */
let used: SandboxState | undefined;

export async function useSandbox(): Promise<SandboxState> {
  const dir = testSandboxDir();
  const existing = await readSandboxState(dir);
  if (existing) {
    const paused = await hostIds(existing, 'paused');
    if (paused.length > 0) await docker(['unpause', ...paused]);
    if ((await healthy(existing)) && (await removeEarlierRuns(existing))) return (used = existing);
    await sandboxDown({ dir });
  }
  return (used = await sandboxUp({ hosts: DOCKER_HOSTS + 1, withoutDocker: 1, dir }));
}

/**
 * What an earlier file in this slot left on the hosts (a test that failed before its --down or
 * --cleanup): removed before this file's tests, and said, so that one file's failure is not
 * every later file's (a run left there holds the hosts' ports). False when a host's engine did
 * not answer within 60 s: the sandbox is then made anew.
 */
async function removeEarlierRuns(state: SandboxState): Promise<boolean> {
  const script =
    'c=$(docker ps -aq --filter label=meshbench.remote=1) || exit 1; [ -z "$c" ] || docker rm -f -v $c >/dev/null; ' +
    'v=$(docker volume ls -q --filter label=meshbench.remote=1); [ -z "$v" ] || docker volume rm -f $v >/dev/null; ' +
    'echo $c | wc -w';
  const answered = await Promise.all(
    state.hosts.slice(0, DOCKER_HOSTS).map(async (host) => {
      const result = await docker(['exec', host.container, 'sh', '-c', script], { timeoutMs: 60_000 });
      if (result.exitCode !== 0) {
        note(
          `sandbox: ${host.name}'s engine did not answer (${result.stderr.trim() || 'timed out'}): a new sandbox`,
        );
        return false;
      }
      const removed = Number(result.stdout.trim());
      if (removed > 0) note(`sandbox: removed ${removed} container(s) an earlier file left on ${host.name}`);
      return true;
    }),
  );
  return answered.every(Boolean);
}

// Between two files in its slot, a sandbox is paused (its hosts' sshd and Docker engines frozen,
// `docker pause`) and the next file in the slot unpauses it: idle, one sandbox's hosts took 0.04
// of a core here, about 100 cpu-s over a CI run with two slots, on a machine the integration tier
// keeps busy. The hook is registered as a test file imports this module, so it runs after the
// file's own afterAll hooks (the last registered runs first) and before the file's process exits
// and frees the slot; the tier's global teardown removes paused hosts as it does running ones.
afterAll(async () => {
  if (!used) return;
  const running = await hostIds(used, 'running');
  if (running.length > 0) await docker(['pause', ...running]);
});

/** What a test file on the shared sandbox holds, filled in before its first test. */
export interface SandboxSuite {
  /** A scratch folder of its own, removed after its tests. */
  readonly dir: string;
  readonly sandbox: SandboxState;
}

/**
 * The shared sandbox and a scratch folder for one test file: made (or reused) before its
 * tests; the folder is removed after them, the sandbox kept for the next file. Call at the top
 * level of the file; read the fields in tests.
 */
export function sandboxSuite(name: string): SandboxSuite {
  const suite: { dir: string; sandbox: SandboxState | undefined } = { dir: '', sandbox: undefined };
  beforeAll(async () => {
    suite.dir = await mkdtemp(join(tmpdir(), `meshbench-${name}-it-`));
    suite.sandbox = await useSandbox();
  }, 600_000);
  afterAll(async () => {
    if (suite.dir) await rm(suite.dir, { recursive: true, force: true });
    // the sandbox stays up for the next file (13 s to start, and every image shipped again);
    // the integration tier's global teardown removes it
  });
  return {
    get dir() {
      return suite.dir;
    },
    get sandbox() {
      if (!suite.sandbox) throw new Error('the sandbox is not up yet: read it inside a test');
      return suite.sandbox;
    },
  };
}

/** A line in the test output (figures a run measured, for the reader of the log). */
export function note(line: string): void {
  process.stdout.write(`    ${line}\n`);
}

/** Writes a hosts env file for some of the sandbox hosts; returns its path. */
export async function hostsFile(
  state: SandboxState,
  name: string,
  hosts: readonly SandboxHost[],
  options: {
    user?: string;
    keyPath?: string | null;
    sshTimeoutSeconds?: number;
    addresses?: readonly string[];
  } = {},
): Promise<string> {
  const path = resolve(testSandboxDir(), `${name}.env`);
  const entries = hosts.map((host, index) => ({
    name: host.name,
    address: options.addresses?.[index] ?? host.address,
  }));
  await writeHostsEnv(path, state, entries, options);
  return path;
}

/** `docker …` inside a sandbox host (its own engine). */
export async function innerDocker(host: SandboxHost, args: readonly string[]): Promise<string> {
  const result = await docker(['exec', host.container, 'docker', ...args]);
  if (result.exitCode !== 0) throw new Error(`docker ${args.join(' ')} on ${host.name}: ${result.stderr}`);
  return result.stdout.trim();
}

/** What a sandbox host runs for meshbench (of one run, or of any remote run): containers and volumes. */
export async function leftovers(
  host: SandboxHost,
  runId?: string,
): Promise<{ containers: string[]; volumes: string[] }> {
  const filter = runId ? `label=meshbench.run=${runId}` : 'label=meshbench.remote=1';
  const containers = (await innerDocker(host, ['ps', '-aq', '--filter', filter])).split('\n').filter(Boolean);
  const volumes = (await innerDocker(host, ['volume', 'ls', '-q', '--filter', filter]))
    .split('\n')
    .filter(Boolean);
  return { containers, volumes };
}

export interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command (`remote-network`, `sandbox`) in a child process, as a user would: its bin/
 * shim, so the built bundle (tsx from src/ cost 2.4 s of CPU per start against 0.8 s).
 */
export async function runCliModule(
  module: 'remote-network' | 'sandbox',
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  options: { interruptWhen?: RegExp } = {},
): Promise<CliRun> {
  const run = await spawnBin(module, args, { env, ...options });
  return { exitCode: run.code ?? 1, stdout: run.stdout, stderr: run.stderr };
}

/** The lines of stderr that are errors (`remote-network: error: …`). */
export function errorLines(run: CliRun): string[] {
  return run.stderr.split('\n').filter((line) => /: error: /.test(line));
}
