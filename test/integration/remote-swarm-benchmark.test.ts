/**
 * `benchmark --engine swarm` on 4 sandbox hosts: the user's compose file as the stack, with a
 * crash fault (recovery measured from the crash, as Swarm restarts the node) and a delay
 * condition; `remote-network --engine swarm --down` then removes the stack and the swarm it
 * formed. (remote-swarm.test.ts: remote-network on a swarm it forms, an adopted swarm that
 * outlives `--down`, and the refusals; the adopted swarm's test moved there so that neither
 * file nears the 4-minute budget: this one took 223 s beside a second lane.)
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostsFile, innerDocker, leftovers, note, runCliModule } from './sandbox-fixture.js';
import { runSwarm, swarmState, swarmSuite } from './remote-swarm-fixture.js';

const suite = swarmSuite();
/** The test's folder (its compose file, scenario and output) is a folder of its own in here; removed after the file's tests. */
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshbench-swarm-bench-'));
});

afterAll(async () => {
  // nothing else reads it: --down and the suite's swarm leave work on the hosts, not on the compose file
  if (root) await rm(root, { recursive: true, force: true });
});

describe('benchmark --engine swarm and --down on 4 sandbox hosts', () => {
  it("benchmark --engine swarm: the user's compose file as the stack, a crash Swarm recovers from, a delay; --down removes stack and swarm", async () => {
    const file = await hostsFile(suite.sandbox, 'swarm-four', suite.hosts);
    const dir = await mkdtemp(join(root, 'bench-'));
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
    const started = performance.now();
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
    // where a slow run spent its time, for whoever reads the log next
    note(
      `swarm benchmark took ${((performance.now() - started) / 1000).toFixed(0)} s; stages (ms): ${JSON.stringify(environment.stageMs)}`,
    );
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
    expect(await swarmState(suite.hosts[0]!)).toBe('active');
    const downStarted = performance.now();
    const down = await runCliModule('remote-network', ['--engine', 'swarm', '--hosts-file', file, '--down']);
    note(`--down took ${((performance.now() - downStarted) / 1000).toFixed(0)} s`);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stderr).toMatch(/removed stack of run/);
    expect(down.stderr).toMatch(/left the swarm meshbench formed/);
    for (const host of suite.hosts) {
      expect(await swarmState(host)).toBe('inactive');
      expect((await leftovers(host)).containers).toEqual([]);
      // no helper, no rule: the nodes' namespaces are gone with their containers
      expect(await innerDocker(host, ['ps', '-aq', '--filter', 'label=meshbench.run'])).toBe('');
    }
  }, 900_000);
});
