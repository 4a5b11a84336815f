/**
 * remote-network against real sshd and real Docker engines in sandbox hosts: a run and its
 * --down, Ctrl-C, installing Docker. Bad input (keys, an unreachable host, a changed host key,
 * a full disk): remote-network-input.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resultValidator } from '../../src/results/validate.js';
import { hostsFromVariables } from '../../src/testbed/remote/hosts.js';
import { connectAll } from '../../src/testbed/remote/remote-testbed.js';
import { docker, type SandboxHost } from '../../src/testbed/sandbox/sandbox.js';
import {
  DOCKER_HOSTS,
  errorLines,
  hostsFile,
  innerDocker,
  leftovers,
  runCliModule,
  sandboxSuite,
} from './sandbox-fixture.js';

const suite = sandboxSuite('remote');

const validateRecord = resultValidator();

async function resultOf(outputDir: string): Promise<{
  results: { successful_transactions: number; outcomes: { committed: number } };
  remote_network: { environment: Record<string, unknown> };
}> {
  const [runDir] = await readdir(outputDir);
  const record = JSON.parse(await readFile(join(outputDir, runDir!, 'remote-benchmark-1.json'), 'utf8'));
  // The same per-benchmark format as every other command's result files.
  expect(validateRecord(record), JSON.stringify(validateRecord.errors)).toBe(true);
  return record;
}

// First: the image it ships stays for the next test, whose --down --cleanup-thorough removes it.
describe('runs left running', () => {
  it("hold their hosts' ports: the next run there is refused in one line naming the run, and --down RUN_ID removes that run only", async () => {
    const dockerHosts = suite.sandbox.hosts.slice(0, DOCKER_HOSTS);
    const file = await hostsFile(suite.sandbox, 'held', dockerHosts);
    const pair = (name: string, hosts: typeof dockerHosts) => hostsFile(suite.sandbox, name, hosts);
    const [first, second] = [
      await pair('held-a', dockerHosts.slice(0, 2)),
      await pair('held-b', dockerHosts.slice(2, 4)),
    ];
    const output = await mkdtemp(join(suite.dir, 'output-'));
    const start = async (hosts: string) => {
      const run = await runCliModule('remote-network', [
        '--hosts-file',
        hosts,
        '--num-transactions',
        '10',
        '--output',
        output,
      ]);
      expect(run.exitCode, run.stderr).toBe(0);
      return /^run (\S+):/m.exec(run.stdout + run.stderr)?.[1] as string;
    };
    // one run on each pair of hosts, started together
    const [left, other] = await Promise.all([start(first), start(second)]);
    // the same hosts again: its nodes could not listen, and the old run's would have answered
    const refused = await runCliModule('remote-network', [
      '--hosts-file',
      first,
      '--num-transactions',
      '10',
      '--output',
      output,
    ]);
    expect(refused.exitCode).toBe(1);
    expect(errorLines(refused)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^remote-network: error: host\\d: node\\d of run ${left} still runs there and holds port 2665\\d, which node\\d of this run needs .*remote-network --down ${left}`,
        ),
      ),
    ]);
    for (const host of dockerHosts.slice(0, 2))
      expect((await leftovers(host, left)).containers).toHaveLength(1);
    // one run's id removes that run, on every host of the file
    const down = await runCliModule('remote-network', ['--hosts-file', file, '--down', left]);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stdout).toContain(`of run ${left}`);
    for (const host of dockerHosts) expect((await leftovers(host, left)).containers).toEqual([]);
    for (const host of dockerHosts.slice(2, 4))
      expect((await leftovers(host, other)).containers).toHaveLength(1);
    const all = await runCliModule('remote-network', ['--hosts-file', file, '--down']);
    expect(all.exitCode, all.stderr).toBe(0);
    for (const host of dockerHosts) expect(await leftovers(host)).toEqual({ containers: [], volumes: [] });
  });
});

describe('remote-network on 4 sandbox hosts', () => {
  it('commits all 200 transactions and --cleanup leaves no container; --down --cleanup-thorough removes volumes and the image', async () => {
    const dockerHosts = suite.sandbox.hosts.slice(0, DOCKER_HOSTS);
    const file = await hostsFile(suite.sandbox, 'four', dockerHosts);
    const output = await mkdtemp(join(suite.dir, 'output-'));
    const run = await runCliModule('remote-network', [
      '--hosts-file',
      file,
      '--num-transactions',
      '200',
      '--transaction-rate',
      '50',
      '--cleanup',
      '--output',
      output,
    ]);
    expect(run.stderr + run.stdout).toContain('Committed:                200');
    expect(run.exitCode, run.stderr).toBe(0);
    const result = await resultOf(output);
    expect(result.results.successful_transactions).toBe(200);
    expect(result.results.outcomes.committed).toBe(200);
    for (const host of dockerHosts) expect((await leftovers(host)).containers).toEqual([]);
    // every host got a node (one per host) and the image by ID
    const hosts = result.remote_network.environment.hosts as { image: string; dockerAccess: string }[];
    expect(hosts).toHaveLength(4);
    expect(hosts.every((h) => h.image === 'shipped' || h.image === 'present')).toBe(true);
    // root may use Docker: the Engine API over the SSH connection, no docker command on the hosts
    expect(hosts.map((h) => h.dockerAccess)).toEqual(['api', 'api', 'api', 'api']);

    const down = await runCliModule('remote-network', ['--hosts-file', file, '--down', '--cleanup-thorough']);
    expect(down.exitCode, down.stderr).toBe(0);
    for (const host of dockerHosts) {
      expect(await leftovers(host)).toEqual({ containers: [], volumes: [] });
      expect(await innerDocker(host, ['images', '-q', 'meshbench/refnode'])).toBe('');
    }
  });
});

describe('Ctrl-C', () => {
  it('during deployment stops, removes what the run created on every host and exits 130', async () => {
    const [fast, slow] = suite.sandbox.hosts.slice(0, 2) as [SandboxHost, SandboxHost];
    // host0 has the image and starts its node at once; host1 lacks it and is still receiving it
    // when Ctrl-C comes (each host runs its steps on its own).
    const imageId = execFileSync(
      'docker',
      ['image', 'inspect', '--format', '{{.Id}}', 'meshbench/refnode:latest'],
      {
        encoding: 'utf8',
      },
    ).trim();
    execFileSync('sh', [
      '-c',
      'docker save meshbench/refnode:latest | docker exec -i "$1" docker load -q',
      'sh',
      fast.container,
    ]);
    await docker(['exec', slow.container, 'docker', 'image', 'rm', '-f', imageId]);
    const file = await hostsFile(suite.sandbox, 'interrupt', [fast, slow]);
    const run = await runCliModule(
      'remote-network',
      ['--hosts-file', file, '--num-transactions', '1000', '--transaction-rate', '10'],
      {},
      { interruptWhen: /\[host0\] start: node0 started/ },
    );
    expect(run.exitCode, run.stderr).toBe(130);
    expect(run.stderr).not.toMatch(/\[host1\] start/);
    const runId = /run (\S+): deploying/.exec(run.stdout)?.[1];
    expect(runId).toBeTruthy();
    for (const host of [fast, slow])
      expect(await leftovers(host, runId)).toEqual({ containers: [], volumes: [] });
  });

  it('while a host starts its node reports the interruption, not a failure of that host', async () => {
    const hosts = suite.sandbox.hosts.slice(0, 2);
    for (const host of hosts)
      execFileSync('sh', [
        '-c',
        'docker save meshbench/refnode:latest | docker exec -i "$1" docker load -q',
        'sh',
        host.container,
      ]);
    const file = await hostsFile(suite.sandbox, 'interrupt-start', hosts);
    // the image is there: right after this line the host creates and starts its node
    const run = await runCliModule(
      'remote-network',
      ['--hosts-file', file, '--num-transactions', '1000', '--transaction-rate', '10'],
      {},
      { interruptWhen: /\[host0\] image: / },
    );
    expect(run.exitCode, run.stderr).toBe(130);
    // it was "starting node0 failed: socket hang up; fix the cause on that host", exit 1
    expect(errorLines(run)).toEqual([]);
    expect(run.stderr).toMatch(/interrupted/);
    for (const host of hosts)
      expect(await leftovers(host), run.stderr).toEqual({ containers: [], volumes: [] });
  });

  it('during the load prints the partial summary and, with --cleanup, leaves the hosts clean', async () => {
    const hosts = suite.sandbox.hosts.slice(0, 2);
    const file = await hostsFile(suite.sandbox, 'interrupt-load', hosts);
    const run = await runCliModule(
      'remote-network',
      [
        '--hosts-file',
        file,
        '--num-transactions',
        '1000',
        '--transaction-rate',
        '10',
        '--cleanup',
        '--verbose',
        '--output',
        await mkdtemp(join(suite.dir, 'output-')),
      ],
      {},
      { interruptWhen: /sent \d+, ok/ },
    );
    expect(run.stdout, run.stderr.slice(-1500)).toContain('PARTIAL RESULT (interrupted)');
    expect(run.exitCode).toBe(130);
    for (const host of hosts) expect((await leftovers(host)).containers).toEqual([]);
  });
});

describe('Docker install', () => {
  it('refuses clearly when the user has no sudo, then installs Docker with sudo, idempotently', async () => {
    const bare = suite.sandbox.hosts[DOCKER_HOSTS]!;
    expect(bare.docker).toBe(false);
    const noSudo = await runCliModule('remote-network', [
      '--hosts-file',
      await hostsFile(suite.sandbox, 'nosudo', [bare], { user: 'nosudo' }),
      '--num-transactions',
      '5',
    ]);
    expect(noSudo.exitCode).toBe(1);
    expect(errorLines(noSudo)).toHaveLength(1);
    expect(errorLines(noSudo)[0]).toMatch(
      /host0 \(nosudo@.*Docker is missing.*cannot use sudo without a password; .*NOPASSWD/,
    );

    const file = await hostsFile(suite.sandbox, 'bare', [bare], { user: 'meshbench' });
    const output = await mkdtemp(join(suite.dir, 'output-'));
    const run = await runCliModule('remote-network', [
      '--hosts-file',
      file,
      '--num-transactions',
      '20',
      '--transaction-rate',
      '20',
      '--cleanup-thorough',
      '--output',
      output,
    ]);
    expect(run.stderr).toMatch(/\[host0\] docker: installed Docker/);
    expect(run.exitCode, run.stderr).toBe(0);
    const installed = await resultOf(output);
    expect(installed.results.outcomes.committed).toBe(20);
    // a sudo-only user cannot open the engine's socket: docker commands over SSH
    expect((installed.remote_network.environment.hosts as { dockerAccess: string }[])[0]!.dockerAccess).toBe(
      'ssh',
    );
    const version = await docker([
      'exec',
      bare.container,
      'docker',
      'version',
      '--format',
      '{{.Server.Version}}',
    ]);
    expect(version.exitCode).toBe(0);
    expect(await leftovers(bare)).toEqual({ containers: [], volumes: [] });

    // a second run finds it (idempotent)
    const config = hostsFromVariables({
      MYSTICETI_NODE0_HOST: bare.address,
      MYSTICETI_NODE0_SSH_USER: 'meshbench',
      MYSTICETI_NODE0_SSH_KEY: suite.sandbox.keyPath,
    });
    const [agent] = await connectAll(config, {
      strictHostKeyChecking: 'yes',
      knownHostsPath: suite.sandbox.knownHostsPath,
      concurrency: 1,
    });
    try {
      const report = await agent!.ensureDocker();
      expect(report).toMatchObject({ installed: false, started: false, access: 'ssh' });
      expect(agent!.usesApi).toBe(false);
    } finally {
      agent!.session.close();
    }
  });
});
