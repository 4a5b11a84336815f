/**
 * Every command exits on its own, in every mode (issue 12, part 1): local-network,
 * remote-network and benchmark (local, remote, both, --endpoints), each with and without
 * --cleanup, run as a user runs them (node bin/<command>.js, child processes). Each must
 * exit by itself soon after its last line; the test never ends a process that is still
 * working, and kills one only once it has stayed alive past the bound, to report it.
 *
 * MESHBENCH_CHECK_HANDLES=1 makes a command that returned but cannot exit name what holds
 * it (src/common/active-handles.ts), so a failure here says which socket or timer it was.
 *
 * Networks left running without --cleanup are removed afterwards with the commands
 * meant for it (local-network --down ID, remote-network --down), which must exit too;
 * nothing labelled meshbench.run may remain. Kept cheap: 2 nodes, 20 transactions or
 * one 2 s level of 10 tx/s, and the shared sandbox of SSH hosts.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_LABEL } from '../../src/common/labels.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { removeRun } from '../../src/testbed/local/teardown.js';
import type { SandboxState } from '../../src/testbed/sandbox/sandbox.js';
import { hostsFile, leftovers, useSandbox } from './sandbox-fixture.js';

const root = resolve(import.meta.dirname, '../..');
const docker = createDocker();

/** Longest time from a command's last line to its exit. */
const EXIT_BOUND_MS = 10_000;
/** A command silent this long is stuck (every phase prints progress well within it). */
const SILENCE_LIMIT_MS = 120_000;

type Command = 'local-network' | 'remote-network' | 'benchmark';

interface Exit {
  readonly command: string;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** False when the test had to kill it. */
  readonly exitedAlone: boolean;
  /** From its last byte of output to its exit. */
  readonly afterLastLineMs: number;
  readonly totalMs: number;
}

const timings: { readonly command: string; readonly totalMs: number; readonly afterLastLineMs: number }[] =
  [];

function runToExit(command: Command, args: readonly string[]): Promise<Exit> {
  const started = performance.now();
  const shown = `${command} ${args.join(' ')}`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin', `${command}.js`), ...args], {
      cwd: root,
      env: { ...process.env, MESHBENCH_CHECK_HANDLES: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let lastOutput = performance.now();
    let killed = false;
    let watchdog: NodeJS.Timeout | undefined;
    const arm = () => {
      lastOutput = performance.now();
      clearTimeout(watchdog);
      // Once the handle check has spoken, the command has returned: it gets the bound, no more.
      const limit = /still running \d+ ms after the command finished/.test(stderr)
        ? EXIT_BOUND_MS
        : SILENCE_LIMIT_MS;
      watchdog = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, limit);
    };
    arm();
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      arm();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      arm();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(watchdog);
      const ended = performance.now();
      const exit: Exit = {
        command: shown,
        code,
        stdout,
        stderr,
        exitedAlone: !killed,
        afterLastLineMs: Math.round(ended - lastOutput),
        totalMs: Math.round(ended - started),
      };
      timings.push({ command: shown, totalMs: exit.totalMs, afterLastLineMs: exit.afterLastLineMs });
      resolvePromise(exit);
    });
  });
}

/** It exited by itself, in time, with 0, and nothing was left holding it. */
function expectCleanExit(exit: Exit): void {
  const report = `${exit.command}\n--- stdout (end)\n${exit.stdout.slice(-1500)}\n--- stderr (end)\n${exit.stderr.slice(-3000)}`;
  expect(exit.stderr, report).not.toMatch(/still running \d+ ms after the command finished/);
  expect(exit.exitedAlone, `did not exit by itself: ${report}`).toBe(true);
  expect(exit.afterLastLineMs, report).toBeLessThan(EXIT_BOUND_MS);
  expect(exit.code, report).toBe(0);
  expect(exit.stderr, report).not.toMatch(/: error: /);
}

async function localContainers(runId: string): Promise<string[]> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${RUN_LABEL}=${runId}`] },
  });
  return containers.map((container) => container.Names.join(','));
}

let dir: string;
let sandbox: SandboxState;
let hosts: string;
/** Local runs left running, removed in afterAll if a test failed before its own --down. */
const leftLocal = new Set<string>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-exit-it-'));
  sandbox = await useSandbox();
  hosts = await hostsFile(sandbox, 'exit-matrix', sandbox.hosts.slice(0, 2));
}, 900_000);

afterAll(async () => {
  for (const runId of leftLocal) await removeRun(docker, runId, { volumes: true }).catch(() => undefined);
  if (hosts) {
    const left = await Promise.all(
      sandbox.hosts.slice(0, 2).map((host) => leftovers(host).catch(() => ({ containers: ['?'] }))),
    );
    if (left.some((host) => host.containers.length > 0)) {
      await runToExit('remote-network', ['--hosts-file', hosts, '--down']).catch(() => undefined);
    }
  }
  await rm(dir, { recursive: true, force: true });
  const table = timings
    .map(
      (t) => `  ${(t.totalMs / 1000).toFixed(1).padStart(6)} s  exit +${t.afterLastLineMs} ms  ${t.command}`,
    )
    .join('\n');
  process.stderr.write(`cli-exit matrix timings:\n${table}\n`);
}, 300_000);

/** local-network --down ID: exits by itself and leaves nothing of the run. */
async function downLocal(runId: string): Promise<void> {
  const down = await runToExit('local-network', ['--down', runId]);
  expectCleanExit(down);
  expect(await localContainers(runId)).toEqual([]);
  leftLocal.delete(runId);
}

/** remote-network --down: exits by itself and leaves no remote-network container on the hosts. */
async function downRemote(): Promise<void> {
  const down = await runToExit('remote-network', ['--hosts-file', hosts, '--down']);
  expectCleanExit(down);
  for (const host of sandbox.hosts.slice(0, 2)) expect((await leftovers(host)).containers).toEqual([]);
}

/** The run id a command printed (`run ID: …` or `network ID left running`). */
function runIdOf(text: string, pattern: RegExp): string {
  const match = pattern.exec(text);
  expect(match, `no run id matching ${pattern} in:\n${text}`).not.toBeNull();
  return match?.[1] as string;
}

/** Notes a local network a command left running, before any assertion can stop the test. */
function noteLeftLocal(text: string): void {
  const match = /\[local\] network (\S+) left running|run (\S+): starting/.exec(text);
  const runId = match?.[1] ?? match?.[2];
  if (runId) leftLocal.add(runId);
}

const LOCAL_NETWORK = ['--committee', '2', '--num-transactions', '20', '--transaction-rate', '20'];
const REMOTE_NETWORK = ['--num-transactions', '20', '--transaction-rate', '20', '--startup-wait', '120'];
const SWEEP = ['--loads', '10', '--duration', '2', '--settle-timeout', '10'];
/** A benchmark's sweep on the sandbox's two hosts (read inside a test: the hosts file is made in beforeAll). */
const onHosts = () => ['--hosts-file', hosts, '--startup-wait', '120', ...SWEEP, '--output-dir', dir];

// Two chains side by side (each a describe.concurrent of it.sequential tests): the local commands,
// and the commands that use the sandbox's two hosts (remote and both), which must not overlap
// each other since each ends by checking that the hosts are empty. The local chain's runs have
// their own run ids and ports, so nothing it does is seen by the other.
describe('every command exits by itself', () => {
  describe.concurrent('on this machine', () => {
    it.sequential('local-network --cleanup', async () => {
      const exit = await runToExit('local-network', [...LOCAL_NETWORK, '--cleanup', '--output', dir]);
      expectCleanExit(exit);
      expect(await localContainers(runIdOf(exit.stdout, /run (\S+): starting/))).toEqual([]);
    });

    it.sequential(
      'local-network without --cleanup; benchmark --endpoints on its nodes, with and without --cleanup',
      async () => {
        const exit = await runToExit('local-network', [...LOCAL_NETWORK, '--output', dir]);
        noteLeftLocal(exit.stdout);
        expectCleanExit(exit);
        const runId = runIdOf(exit.stdout, /run (\S+): starting/);
        expect(exit.stdout).toMatch(/the network is still running/);
        const ready = exit.stdout.split('\n').find((line) => /nodes ready after/.test(line)) ?? '';
        const urls = [...ready.matchAll(/https?:\/\/[^\s,)]+/g)].map((match) => match[0]);
        expect(urls, ready).toHaveLength(2);

        for (const cleanup of [[], ['--cleanup']]) {
          const attached = await runToExit('benchmark', [
            '--endpoints',
            urls.join(','),
            ...SWEEP,
            ...cleanup,
            '--output-dir',
            dir,
          ]);
          expectCleanExit(attached);
          expect(attached.stdout).toMatch(/wrote \d+ files/);
        }
        // attach mode never removes what it did not start
        expect(await localContainers(runId)).toHaveLength(2);
        await downLocal(runId);
      },
    );

    for (const cleanup of [true, false]) {
      const flags = cleanup ? ['--cleanup'] : [];
      const named = cleanup ? ' --cleanup' : ' without --cleanup';
      it.sequential(`benchmark (local)${named}`, async () => {
        const exit = await runToExit('benchmark', [
          '--committee',
          '2',
          ...SWEEP,
          ...flags,
          '--output-dir',
          dir,
        ]);
        noteLeftLocal(exit.stdout);
        expectCleanExit(exit);
        expect(exit.stdout).toMatch(/wrote \d+ files/);
        if (!cleanup) {
          await downLocal(runIdOf(exit.stdout, /\[local\] network (\S+) left running/));
        }
      });
    }
  });

  describe.concurrent('on the sandbox hosts', () => {
    it.sequential('remote-network --cleanup', async () => {
      const exit = await runToExit('remote-network', [
        '--hosts-file',
        hosts,
        ...REMOTE_NETWORK,
        '--cleanup',
        '--output',
        dir,
      ]);
      expectCleanExit(exit);
      for (const host of sandbox.hosts.slice(0, 2)) expect((await leftovers(host)).containers).toEqual([]);
    });

    it.sequential('remote-network without --cleanup', async () => {
      const exit = await runToExit('remote-network', [
        '--hosts-file',
        hosts,
        ...REMOTE_NETWORK,
        '--output',
        dir,
      ]);
      expectCleanExit(exit);
      expect(exit.stdout).toMatch(/the network is still running/);
      await downRemote();
    });

    for (const cleanup of [true, false]) {
      const flags = cleanup ? ['--cleanup'] : [];
      const named = cleanup ? ' --cleanup' : ' without --cleanup';

      it.sequential(`benchmark --network-type remote${named}`, async () => {
        const exit = await runToExit('benchmark', ['--network-type', 'remote', ...onHosts(), ...flags]);
        expectCleanExit(exit);
        expect(exit.stdout).toMatch(/wrote \d+ files/);
        if (!cleanup) {
          expect(exit.stdout).toMatch(/\[remote\] network \S+ left running/);
          await downRemote();
        }
      });

      it.sequential(`benchmark --network-type both${named}`, async () => {
        const exit = await runToExit('benchmark', [
          '--network-type',
          'both',
          '--committee',
          '2',
          ...onHosts(),
          ...flags,
        ]);
        noteLeftLocal(exit.stdout);
        expectCleanExit(exit);
        expect(exit.stdout).toMatch(/Local vs remote/);
        if (!cleanup) {
          await downLocal(runIdOf(exit.stdout, /\[local\] network (\S+) left running/));
          await downRemote();
        }
      });
    }
  });
});
