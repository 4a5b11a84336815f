/**
 * What the swarm integration files share (remote-swarm.test.ts, remote-swarm-benchmark.test.ts):
 * the shared sandbox's 4 Docker hosts, each made to leave any swarm after the file's tests (the
 * sandbox itself stays up for the next file; the integration tier's global teardown removes it),
 * and the CLI in a child process with a callback on its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { SandboxHost, SandboxState } from '../../src/testbed/sandbox/sandbox.js';
import { ROOT } from './run-bin.js';
import { DOCKER_HOSTS, innerDocker, useSandbox, type CliRun } from './sandbox-fixture.js';

export interface SwarmSuite {
  readonly sandbox: SandboxState;
  readonly hosts: SandboxHost[];
}

/** The sandbox for one swarm file: up (or reused) before its tests; its hosts leave any swarm after them. */
export function swarmSuite(): SwarmSuite {
  const suite: { sandbox?: SandboxState; hosts?: SandboxHost[] } = {};
  beforeAll(async () => {
    suite.sandbox = await useSandbox();
    suite.hosts = suite.sandbox.hosts.slice(0, DOCKER_HOSTS);
  }, 300_000);
  afterAll(async () => {
    for (const host of suite.hosts ?? [])
      await innerDocker(host, ['swarm', 'leave', '--force']).catch(() => undefined);
  }, 120_000);
  return {
    get sandbox() {
      if (!suite.sandbox) throw new Error('the sandbox is not up yet: read it inside a test');
      return suite.sandbox;
    },
    get hosts() {
      if (!suite.hosts) throw new Error('the sandbox is not up yet: read it inside a test');
      return suite.hosts;
    },
  };
}

export const swarmState = (host: SandboxHost) =>
  innerDocker(host, ['info', '--format', '{{.Swarm.LocalNodeState}}']);

/** The CLI in a child process, with a callback on each output chunk (to act mid-run, e.g. Ctrl-C). */
export function runSwarm(
  args: readonly string[],
  onOutput: (text: string, child: ChildProcess) => void,
  command: 'remote-network' | 'benchmark' = 'remote-network',
): Promise<CliRun> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', `${command}.js`), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onOutput(stdout + stderr, child);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onOutput(stdout + stderr, child);
    });
    child.on('close', (exitCode) => resolvePromise({ exitCode: exitCode ?? 1, stdout, stderr }));
  });
}

export async function taskContainer(host: SandboxHost, service: string): Promise<string> {
  return innerDocker(host, ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`]);
}
