/**
 * `remote-network --engine swarm` on 4 sandbox hosts: the hosts form a swarm, the nodes run as a
 * stack (one per host), a node's container is crashed from outside during the load and Swarm
 * starts a new task, the run completes, and --cleanup leaves no stack, service, container,
 * network, volume or swarm membership. A host already in another swarm is refused.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost, SandboxState } from '../../src/testbed/sandbox/sandbox.js';
import {
  DOCKER_HOSTS,
  errorLines,
  hostsFile,
  innerDocker,
  leftovers,
  releaseSandbox,
  runCliModule,
  useSandbox,
  type CliRun,
} from './sandbox-fixture.js';

let sandbox: SandboxState;
let hosts: SandboxHost[];

beforeAll(async () => {
  sandbox = await useSandbox();
  hosts = sandbox.hosts.slice(0, DOCKER_HOSTS);
}, 300_000);

afterAll(async () => {
  for (const host of hosts ?? [])
    await innerDocker(host, ['swarm', 'leave', '--force']).catch(() => undefined);
  await releaseSandbox();
}, 120_000);

const swarmState = (host: SandboxHost) =>
  innerDocker(host, ['info', '--format', '{{.Swarm.LocalNodeState}}']);

/** The CLI in a child process, with a callback on each output chunk (to act mid-run). */
function runSwarm(args: readonly string[], onOutput: (text: string) => void): Promise<CliRun> {
  const code = `import { main } from './src/cli/remote-network.ts'; process.exitCode = await main(JSON.parse(process.env.MESHBENCH_TEST_ARGS));`;
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      env: { ...process.env, MESHBENCH_TEST_ARGS: JSON.stringify(args) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onOutput(stdout + stderr);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onOutput(stdout + stderr);
    });
    child.on('close', (exitCode) => resolvePromise({ exitCode: exitCode ?? 1, stdout, stderr }));
  });
}

async function taskContainer(host: SandboxHost, service: string): Promise<string> {
  return innerDocker(host, ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`]);
}

describe('remote-network --engine swarm on 4 sandbox hosts', () => {
  it('deploys a stack, survives the crash of one node, and --cleanup removes the stack and the swarm', async () => {
    const file = await hostsFile(sandbox, 'swarm-four', hosts);
    const output = await mkdtemp(join(tmpdir(), 'meshbench-swarm-'));
    let crash: Promise<{ before: string; after: string }> | undefined;
    const run = await runSwarm(
      [
        '--engine',
        'swarm',
        '--hosts-file',
        file,
        '--num-transactions',
        '300',
        '--transaction-rate',
        '15',
        '--startup-wait',
        '180',
        '--cleanup',
        '--output',
        output,
      ],
      (output) => {
        const ready = /run (\S+): deploying/.exec(output);
        if (crash || !ready || !/all 4 nodes ready/.test(output)) return;
        // a crash of node1's container on host1 while the load runs; Swarm must start a new task
        const service = `meshbench-${ready[1]}_node1`;
        crash = (async () => {
          const before = await taskContainer(hosts[1]!, service);
          await innerDocker(hosts[1]!, ['kill', before]);
          for (let attempt = 0; attempt < 120; attempt++) {
            const after = await taskContainer(hosts[1]!, service);
            if (after && after !== before) return { before, after };
            await new Promise((r) => setTimeout(r, 500));
          }
          return { before, after: '' };
        })();
      },
    );
    expect(run.exitCode, run.stderr).toBe(0);
    expect(crash, 'the run never became ready').toBeDefined();
    const { before, after } = await crash!;
    expect(before).not.toBe('');
    expect(after, 'Swarm started no new task for node1').not.toBe('');
    expect(run.stderr).toContain('swarm dissolved');
    const [runDir] = await readdir(output);
    const record = JSON.parse(await readFile(join(output, runDir!, 'remote-benchmark-1.json'), 'utf8'));
    const environment = record.remote_network.environment;
    expect(environment.engine).toBe('swarm');
    expect(environment.swarm.mode).toBe('formed');
    expect(['overlay', 'host']).toContain(environment.swarm.network);
    expect(record.results.successful_transactions).toBeGreaterThan(0);
    for (const host of hosts) {
      expect(await swarmState(host)).toBe('inactive');
      expect((await leftovers(host)).containers).toEqual([]);
      const networks = await innerDocker(host, ['network', 'ls', '-q', '--filter', 'label=meshbench.run']);
      expect(networks).toBe('');
    }
  }, 900_000);

  it('refuses a host already in another swarm, names it and how to leave, and leaves the others untouched', async () => {
    const file = await hostsFile(sandbox, 'swarm-four', hosts);
    const other = hosts[3]!;
    await innerDocker(other, ['swarm', 'init', '--advertise-addr', other.address]);
    try {
      const run = await runCliModule('remote-network', [
        '--engine',
        'swarm',
        '--hosts-file',
        file,
        '--num-transactions',
        '10',
        '--cleanup',
      ]);
      expect(run.exitCode).not.toBe(0);
      const lines = errorLines(run);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`${other.name} (`);
      expect(lines[0]).toContain('already in another swarm');
      expect(lines[0]).toContain('docker swarm leave --force');
      expect(run.stderr).not.toMatch(/\n\s+at /);
      for (const host of hosts.slice(0, 3)) expect(await swarmState(host)).toBe('inactive');
      expect(await swarmState(other)).toBe('active');
    } finally {
      await innerDocker(other, ['swarm', 'leave', '--force']);
    }
  }, 600_000);
});
