/**
 * `remote-network --engine swarm` on 4 sandbox hosts: the hosts form a swarm, the nodes run as a
 * stack (one per host), a node's container is crashed from outside during the load and Swarm
 * starts a new task, the run completes, and --cleanup leaves no stack, service, container,
 * network, volume or swarm membership. `benchmark --engine swarm` runs the user's compose file as
 * the stack with a crash fault (recovery measured from the crash, as Swarm restarts the node) and
 * a delay condition, and `--engine swarm --down` then removes the stack and the swarm it formed;
 * an adopted swarm outlives `--down`. A host already in another swarm, and a manager the others
 * cannot reach, are refused with one line each.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, type SandboxHost, type SandboxState } from '../../src/testbed/sandbox/sandbox.js';
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
function runSwarm(
  args: readonly string[],
  onOutput: (text: string) => void,
  command: 'remote-network' | 'benchmark' = 'remote-network',
): Promise<CliRun> {
  const code = `import { main } from './src/cli/${command}.ts'; process.exitCode = await main(JSON.parse(process.env.MESHBENCH_TEST_ARGS));`;
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

  it("benchmark --engine swarm: the user's compose file as the stack, a crash Swarm recovers from, a delay; --down removes stack and swarm", async () => {
    const file = await hostsFile(sandbox, 'swarm-four', hosts);
    const dir = await mkdtemp(join(tmpdir(), 'meshbench-swarm-bench-'));
    const peers = [0, 1, 2, 3].map((i) => `node${i}@node${i}:26656`).join(',');
    // the user's own file: an anchor, a restart policy and a published RPC port, as compose reads them
    await writeFile(
      join(dir, 'compose.yml'),
      [
        'x-node: &node',
        '  image: meshbench/refnode:latest',
        '  restart: unless-stopped',
        '  labels: { meshbench.role: node, meshbench.rpc-port: "26657", meshbench.metrics-port: "26660" }',
        '  ports: ["26657:26657"]',
        'services:',
        ...[0, 1, 2, 3].map(
          (i) =>
            `  node${i}: { <<: *node, hostname: node${i}, environment: { REFNODE_ID: node${i}, REFNODE_PEERS: "${peers}", REFNODE_DATA_DIR: /data } }`,
        ),
        '',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'scenario.yaml'),
      [
        'events:',
        '  - { at: 3s, action: crash, nodes: [node1] }',
        '  - { from: 5s, to: 10s, action: delay, nodes: [node2], delay: 50ms }',
        '',
      ].join('\n'),
    );
    const run = await runSwarm(
      [
        '--network-type',
        'remote',
        '--engine',
        'swarm',
        '--hosts-file',
        file,
        '--docker-compose-path',
        join(dir, 'compose.yml'),
        '--scenario',
        join(dir, 'scenario.yaml'),
        '--loads',
        '20',
        '--duration',
        '14',
        '--warmup',
        '1',
        '--startup-wait',
        '180',
        '--output-dir',
        join(dir, 'out'),
      ],
      () => undefined,
      'benchmark',
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const [runDir] = await readdir(join(dir, 'out'));
    const record = JSON.parse(await readFile(join(dir, 'out', runDir!, 'remote-benchmark-1.json'), 'utf8'));
    const environment = record.environment.testbed;
    expect(environment.engine).toBe('swarm');
    expect(environment.swarm).toMatchObject({ mode: 'formed', network: 'overlay' });
    expect(environment.swarm.composeFile).toContain('compose.yml');
    // the same prologue as plain hosts: clocks measured, stages timed
    expect(Object.keys(environment.stageMs)).toEqual(
      expect.arrayContaining(['connect', 'clock', 'archive', 'hosts', 'swarm', 'ready']),
    );
    expect(environment.hosts[0].clock).toBeDefined();
    const blocks = record.runs[0].blocks;
    // the crash: Swarm started a new task; its recovery is measured from the crash
    const crash = blocks.faults.faults.find((fault: { action: string }) => fault.action === 'kill');
    expect(crash.nodes).toEqual(['node1']);
    const fromCrash = crash.resync.find((r: { after?: string }) => r.after === 'crash');
    expect(fromCrash, JSON.stringify(crash.resync)).toBeDefined();
    expect(fromCrash.answering_ms).toBeGreaterThan(0);
    expect(crash.summary).toContain('restarted by the engine');
    // the delay on node2's links, through the helper in the node's namespace (as on plain hosts)
    expect(blocks.network.windows[0].what).toContain('delay 50ms');
    const delayed = blocks.network.nfq_delay ?? [];
    const applied =
      delayed.some((entry: { stats?: { delayed?: number } }) => (entry.stats?.delayed ?? 0) > 0) ||
      blocks.network.namespaces.some(
        (ns: { mechanisms?: { delay?: string } }) => ns.mechanisms?.delay === 'netem',
      );
    expect(applied, JSON.stringify(blocks.network.namespaces)).toBe(true);
    expect(record.results.successful_transactions).toBeGreaterThan(0);
    // without --cleanup the stack and the swarm stay; --down removes both
    expect(await swarmState(hosts[0]!)).toBe('active');
    const down = await runCliModule('remote-network', ['--engine', 'swarm', '--hosts-file', file, '--down']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stderr).toMatch(/removed stack of run/);
    expect(down.stderr).toMatch(/left the swarm meshbench formed/);
    for (const host of hosts) {
      expect(await swarmState(host)).toBe('inactive');
      expect((await leftovers(host)).containers).toEqual([]);
      // no helper, no rule: the nodes' namespaces are gone with their containers
      expect(await innerDocker(host, ['ps', '-aq', '--filter', 'label=meshbench.run'])).toBe('');
    }
  }, 900_000);

  it('--down removes the stack from an adopted swarm and leaves the swarm', async () => {
    const pair = hosts.slice(0, 2);
    const file = await hostsFile(sandbox, 'swarm-two', pair);
    await innerDocker(pair[0]!, ['swarm', 'init', '--advertise-addr', pair[0]!.address]);
    try {
      const token = await innerDocker(pair[0]!, ['swarm', 'join-token', '-q', 'worker']);
      await innerDocker(pair[1]!, ['swarm', 'join', '--token', token, `${pair[0]!.address}:2377`]);
      const up = await runCliModule('remote-network', [
        '--engine',
        'swarm',
        '--hosts-file',
        file,
        '--num-transactions',
        '20',
        '--transaction-rate',
        '10',
        '--startup-wait',
        '180',
        '--output',
        await mkdtemp(join(tmpdir(), 'meshbench-swarm-adopted-')),
      ]);
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stderr).toContain('adopted swarm');
      expect(await innerDocker(pair[0]!, ['service', 'ls', '-q'])).not.toBe('');
      const down = await runCliModule('remote-network', [
        '--engine',
        'swarm',
        '--hosts-file',
        file,
        '--down',
      ]);
      expect(down.exitCode, down.stderr).toBe(0);
      expect(down.stderr).toMatch(/removed stack of run/);
      expect(down.stderr).not.toMatch(/left the swarm/);
      expect(await innerDocker(pair[0]!, ['service', 'ls', '-q'])).toBe('');
      for (const host of pair) {
        expect(await swarmState(host)).toBe('active');
        expect((await leftovers(host)).containers).toEqual([]);
      }
    } finally {
      await innerDocker(pair[1]!, ['swarm', 'leave', '--force']).catch(() => undefined);
      await innerDocker(pair[0]!, ['swarm', 'leave', '--force']).catch(() => undefined);
    }
  }, 600_000);

  it('a manager the others cannot reach: one line naming both, and no swarm left behind', async () => {
    const pair = hosts.slice(0, 2);
    const file = await hostsFile(sandbox, 'swarm-two', pair);
    const manager = pair[0]!;
    const block = ['INPUT', '-p', 'tcp', '--dport', '2377', '-j', 'REJECT', '--reject-with', 'tcp-reset'];
    const iptables = (action: '-I' | '-D') =>
      docker(['exec', manager.container, 'iptables', action, ...block]).then((result) => {
        if (result.exitCode !== 0) throw new Error(result.stderr);
      });
    await iptables('-I');
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
      expect(lines[0]).toContain(`${pair[1]!.name} (`);
      expect(lines[0]).toContain(`its manager ${manager.address}:2377 is unreachable`);
      expect(lines[0]).toContain('TCP 2377');
      expect(run.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await iptables('-D');
    }
    for (const host of pair) expect(await swarmState(host)).toBe('inactive');
  }, 300_000);
});
