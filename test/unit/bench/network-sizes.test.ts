/**
 * --committees, --host-counts and --topology: the flags' rules (one line each), the sweep
 * over network sizes (one network per size, in turn, records numbered on), and the
 * scaling report (figures and resources against N).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMeshbenchError } from '../../../src/common/errors.js';
import {
  addBenchmarkOptions,
  benchmarkPlanFromArgs,
  type BenchmarkArgs,
} from '../../../src/cli/benchmark-options.js';
import { runBenchmark } from '../../../src/results/run.js';
import type { BenchmarkPlan } from '../../../src/bench/plan.js';
import type { Deployment, NodeHandle, Testbed } from '../../../src/testbed/testbed.js';
import { defaultReporters } from '../../../src/report/reporters.js';
import { renderScalingText, scalingOf } from '../../../src/report/scaling.js';
import type { BenchmarkRecord } from '../../../src/results/record.js';
import { firstHosts } from '../../../src/bench/remote-testbeds.js';
import { fakeLoadResult } from './fixtures.js';
import { remoteEnvironment } from '../../support/environments.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-sizes-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function planFromArgv(argv: string[], env: Record<string, string> = {}): Promise<BenchmarkPlan> {
  const args = (await addBenchmarkOptions(yargs(argv))
    .exitProcess(false)
    .strict()
    .parseAsync()) as BenchmarkArgs;
  return benchmarkPlanFromArgs(args, { env, cwd: dir, skipFileChecks: true });
}

async function errorOf(argv: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    await planFromArgv(argv, env);
  } catch (error) {
    if (!isMeshbenchError(error)) throw error;
    expect(error.message).not.toContain('\n');
    return error.message;
  }
  throw new Error(`expected ${argv.join(' ')} to be rejected`);
}

const remoteEnv = { MYSTICETI_NODE0_HOST: 'h' };

describe('flags: --committees, --host-counts, --topology', () => {
  it('reads the lists and the topology into the plan', async () => {
    const plan = await planFromArgv(['--committees', '4,8,16', '--topology', 'star']);
    expect(plan.committees).toEqual([4, 8, 16]);
    expect(plan.committee).toBe(4);
    expect(plan.topology).toEqual({ kind: 'star' });
    const random = await planFromArgv(['--topology', 'random:2', '--topology-seed', '42']);
    expect(random.topology).toEqual({ kind: 'random', degree: 2, seed: 42 });
    const seeded = await planFromArgv(['--topology', 'random:2']);
    expect(seeded.topology?.seed).toEqual(expect.any(Number));
    const remote = await planFromArgv(['--network-type', 'remote', '--host-counts', '2,4'], remoteEnv);
    expect(remote.hostCounts).toEqual([2, 4]);
    const plain = await planFromArgv([]);
    expect(plain.topology).toBeUndefined();
    expect(plain.committees).toBeUndefined();
  });

  it('refuses bad values and clashes, one line each', async () => {
    expect(await errorOf(['--committees', '4,8', '--committee', '4'])).toMatch(
      /--committees.*give --committees or --committee, not both/,
    );
    expect(await errorOf(['--committees', '4,x'])).toMatch(/--committees.*"x" is not one/);
    expect(await errorOf(['--committees', '4,4'])).toMatch(/4 appears twice/);
    expect(await errorOf(['--committees', '0'])).toMatch(/from 1 to 100/);
    expect(await errorOf(['--committees', '4', '--network-type', 'remote'], remoteEnv)).toMatch(
      /for remote hosts give --host-counts/,
    );
    expect(await errorOf(['--committees', '4', '--endpoints', 'http://127.0.0.1:1'])).toMatch(/attach mode/);
    // a remote network is its hosts times --nodes-per-host: --committee would be ignored there
    expect(await errorOf(['--committee', '4', '--network-type', 'remote'], remoteEnv)).toMatch(
      /--committee "4" is not valid: sizes the local network; a remote network is its hosts .* times --nodes-per-host/,
    );
    expect(await errorOf(['--committee', '3', '--endpoints', 'http://127.0.0.1:1'])).toMatch(
      /--committee "3".*attach mode/,
    );
    expect((await planFromArgv(['--network-type', 'both', '--committee', '3'], remoteEnv)).committee).toBe(3);
    expect(await errorOf(['--host-counts', '2'])).toMatch(
      /--host-counts.*applies to --network-type remote or both/,
    );
    expect(await errorOf(['--topology', 'mesh'])).toMatch(/--topology.*full, star, ring or random:K/);
    expect(await errorOf(['--topology', 'random:4', '--committee', '4'])).toMatch(
      /random:4 needs more than 4 nodes/,
    );
    expect(await errorOf(['--topology', 'random:3', '--committees', '4,3'])).toMatch(
      /random:3 needs more than 3/,
    );
    expect(await errorOf(['--topology-seed', '3'])).toMatch(/--topology-seed.*needs --topology random:K/);
    expect(await errorOf(['--topology', 'ring', '--topology-seed', '3'])).toMatch(
      /applies to --topology random:K/,
    );
    expect(await errorOf(['--topology', 'star', '--endpoints', 'http://127.0.0.1:1'])).toMatch(/attach mode/);
  });

  it('--committees: settings that name nodes are judged against every size before the first runs', async () => {
    // each size after the first, whichever is smaller
    expect(await errorOf(['--committees', '3,2', '--faults', '1', '--fault-nodes', '2'])).toMatch(
      /^--fault-nodes "2" is not valid: node 2 is not in the local network of 2 nodes \(0 to 1\)/,
    );
    expect(await errorOf(['--committees', '3,2', '--capture', 'node2'])).toMatch(
      /^--capture "node2" is not valid: no node node2 in the local network \(nodes: node0, node1\)/,
    );
    const scenario = join(dir, 'crash-node2.yaml');
    await writeFile(scenario, 'events:\n  - { from: 1s, to: 2s, action: crash, nodes: [node2] }\n');
    expect(await errorOf(['--committees', '4,2', '--scenario', scenario])).toMatch(
      /crash-node2\.yaml: line 2: events\[0\]: no node "node2" in the local network \(nodes: node0, node1\)/,
    );
    // the first size is the one the sections see; the default --committee is none of them
    expect(await errorOf(['--committees', '2,3', '--capture', 'node3'])).toMatch(
      /no node node3 in this network \(nodes: node0, node1\)/,
    );
    expect((await planFromArgv(['--committees', '8,16', '--faults', '5'])).plugins?.['faults']).toMatchObject(
      {
        faults: 5,
      },
    );
    expect(await errorOf(['--committees', '8,16', '--faults', '8'])).toMatch(
      /fewer than the committee \(8 nodes\)/,
    );
  });

  it("--mesh-delivery K above a network's nodes: refused for every network whose size is known", async () => {
    const mesh = ['--protocol', 'mesh', '--system', 'crdt-sync'];
    const never = 'so no message would ever count as committed';
    expect(await errorOf([...mesh, '--committee', '3', '--mesh-delivery', '4'])).toBe(
      `mesh delivery to 4 nodes: this network has 3, ${never}`,
    );
    expect(await errorOf([...mesh, '--committees', '4,3', '--mesh-delivery', '4'])).toBe(
      `mesh delivery to 4 nodes: the local network has 3, ${never}`,
    );
    expect(
      await errorOf([
        '--endpoints',
        'http://127.0.0.1:1,http://127.0.0.1:2',
        '--protocol',
        'mesh',
        '--mesh-delivery',
        '3',
      ]),
    ).toBe(`mesh delivery to 3 nodes: the attached network has 2, ${never}`);
    const fits = await planFromArgv([...mesh, '--committees', '4,3', '--mesh-delivery', '3']);
    expect(fits.protocol).toMatchObject({ kind: 'mesh', delivery: 3 });
  });

  it('--nodes-per-host: remote containers only, in the plan and the view the plug-ins judge by', async () => {
    const remote = ['--network-type', 'remote'];
    expect((await planFromArgv([...remote, '--nodes-per-host', '3'], remoteEnv)).nodesPerHost).toBe(3);
    expect(
      (
        await planFromArgv(
          ['--network-type', 'both', '--nodes-per-host', '2', '--host-counts', '1'],
          remoteEnv,
        )
      ).nodesPerHost,
    ).toBe(2);
    // one is the default, and no field
    expect(
      (await planFromArgv([...remote, '--nodes-per-host', '1'], remoteEnv)).nodesPerHost,
    ).toBeUndefined();
    expect((await planFromArgv(remote, remoteEnv)).nodesPerHost).toBeUndefined();
    expect(await errorOf(['--nodes-per-host', '2'])).toMatch(
      /^--nodes-per-host "2" is not valid: places nodes on remote hosts; use --network-type remote or both/,
    );
    expect(await errorOf(['--nodes-per-host', '2', '--endpoints', 'http://127.0.0.1:1'])).toMatch(
      /--nodes-per-host "2".*attach mode/,
    );
    for (const bad of ['0', '51', '1.5', 'two'])
      expect(await errorOf([...remote, '--nodes-per-host', bad], remoteEnv)).toMatch(
        /--nodes-per-host .* is not valid: a whole number of nodes from 1 to 50/,
      );
    expect(await errorOf([...remote, '--engine', 'swarm', '--nodes-per-host', '2'], remoteEnv)).toMatch(
      /--nodes-per-host "2" is not valid: 1 with --engine swarm/,
    );
    // a system whose ports cannot move is refused before anything is deployed
    await mkdir(join(dir, 'fixed-ports'), { recursive: true });
    await writeFile(
      join(dir, 'fixed-ports', 'system.json'),
      JSON.stringify({
        image: 'mine:1',
        protocol: 'mesh',
        ports: { rpc: 8080, p2p: 4001 },
        health: '/health',
      }),
    );
    expect(
      await errorOf([...remote, '--system', join(dir, 'fixed-ports'), '--nodes-per-host', '2'], remoteEnv),
    ).toMatch(/fixed-ports: 2 nodes per host need its rpc and p2p ports to move/);
    // nodes on one host share its network namespace: no network condition can apply there
    expect(
      await errorOf([...remote, '--nodes-per-host', '2', '--zones', join(dir, 'zones.csv')], remoteEnv),
    ).toMatch(
      /^--nodes-per-host 2 is not valid: --zones needs each node in its own network namespace, .*or leave out --zones/,
    );
    expect(await errorOf([...remote, '--nodes-per-host', '2', '--capture', 'all'], remoteEnv)).toMatch(
      /--capture needs each node in its own network namespace/,
    );
  });

  it('judges every remote network against the hosts file before anything runs', async () => {
    // 3 node hosts and 1 client host, read (no connection made) when the plan is built
    const inventory = join(dir, 'inventory.yaml');
    await writeFile(
      inventory,
      'hosts:\n  - { name: n1, host: 10.0.1.1 }\n  - { name: n2, host: 10.0.1.2 }\n  - { name: n3, host: 10.0.1.3 }\n  - { name: c1, host: 10.0.2.1, role: client }\n',
    );
    const checked = async (argv: string[]): Promise<BenchmarkPlan> => {
      const args = (await addBenchmarkOptions(yargs(argv))
        .exitProcess(false)
        .strict()
        .parseAsync()) as BenchmarkArgs;
      return benchmarkPlanFromArgs(args, { env: {}, cwd: dir });
    };
    const refusal = async (argv: string[]): Promise<string> => {
      const error = await checked(argv).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      if (!isMeshbenchError(error))
        throw new Error(`expected ${argv.join(' ')} to be refused, got ${String(error)}`);
      expect(error.message).not.toContain('\n');
      return error.message;
    };
    const remote = ['--network-type', 'remote', '--hosts-file', inventory, '--output-dir', join(dir, 'out')];
    // the third count is more than the file has: found before the first network runs
    expect(await refusal([...remote, '--host-counts', '1,2,5'])).toMatch(
      /^--host-counts 5 is not valid: .*inventory\.yaml has 3 hosts; give counts up to 3/,
    );
    // random:3 over 3 nodes: found before a `both` run's local part (4 nodes there is fine)
    expect(await refusal([...remote.slice(2), '--network-type', 'both', '--topology', 'random:3'])).toBe(
      '--topology "random:3" is not valid: random:3 needs more than 3 nodes (got 3); give K below 3 (the nodes on 3 hosts), or use more hosts',
    );
    expect(await refusal([...remote, '--host-counts', '2,3', '--topology', 'random:2'])).toMatch(
      /random:2 needs more than 2 nodes \(got 2\); give K below 2 \(the nodes on 2 hosts\), or use more hosts/,
    );
    expect(await refusal([...remote, '--load-clients', 'dedicated:2'])).toMatch(
      /^--load-clients "dedicated:2" is not valid: .*inventory\.yaml marks 1 host role: client \(c1\)/,
    );
    // a scenario's node names against each network's nodes (node0… of a generated network)
    const scenario = join(dir, 'crash-node3.yaml');
    await writeFile(scenario, 'events:\n  - { from: 1s, to: 2s, action: crash, nodes: [node3] }\n');
    expect(await refusal([...remote, '--scenario', scenario])).toMatch(
      /crash-node3\.yaml: .*no node "node3" in the remote network \(nodes: node0, node1, node2\)/,
    );
    expect(
      (await checked([...remote, '--scenario', scenario, '--nodes-per-host', '2'])).scenario,
    ).toBeDefined();
    // the plug-ins' node names and counts too (faults, capture, zones), for each network known
    // before it is deployed: the remote ones, and a `both` run's local one
    const both = [...remote.slice(2), '--network-type', 'both'];
    expect(await refusal([...remote, '--faults', '3'])).toBe(
      '--faults 3 is not valid: the remote network has 3 nodes; give --faults below 3',
    );
    expect(await refusal([...remote, '--faults', '1', '--fault-nodes', '3'])).toMatch(
      /^--fault-nodes "3" is not valid: node 3 is not in the remote network of 3 nodes \(0 to 2\)/,
    );
    expect(await refusal([...both, '--committee', '2', '--faults', '2'])).toMatch(
      /^--faults 2 is not valid: the local network has 2 nodes/,
    );
    expect(await refusal([...remote, '--capture', 'node0,node3'])).toMatch(
      /^--capture "node0,node3" is not valid: no node node3 in the remote network \(nodes: node0, node1, node2\)/,
    );
    const zones = join(dir, 'zones.csv');
    await writeFile(zones, 'from/to,a,b\na,0ms,20ms\nb,20ms,0ms\n');
    const zoneOf = ['--zones', zones, '--zone-of', 'node0=a,node1=b,node2=a,node3=b'];
    // node3 is the local network's (4 nodes) but not the remote one's
    expect(await refusal([...both, ...zoneOf])).toMatch(
      /^--zone-of "node0=a,node1=b,node2=a,node3=b" is not valid: zones: no node node3 in the remote network \(nodes: node0, node1, node2\)/,
    );
    expect(await refusal([...both, '--committee', '3', ...zoneOf, '--zones-on', 'local'])).toMatch(
      /no node node3 in the local network/,
    );
    expect(
      (await checked([...both, ...zoneOf, '--zones-on', 'local', '--faults', '2', '--fault-nodes', '0,2']))
        .plugins?.['conditions'],
    ).toBeDefined();
    expect(
      await refusal([...remote, '--protocol', 'mesh', '--system', 'crdt-sync', '--mesh-delivery', '4']),
    ).toMatch(/^mesh delivery to 4 nodes: the remote network has 3/);
    // the scenario's zones are judged alike, as the scenario's
    const zonedScenario = join(dir, 'zoned.yaml');
    await writeFile(
      zonedScenario,
      `events: []\nzones:\n  matrix: ${zones}\n  nodes: { node0: a, node1: b, node2: a, node3: b }\n`,
    );
    expect(await refusal([...remote, '--scenario', zonedScenario])).toMatch(
      /zoned\.yaml: zones: no node node3 in the remote network/,
    );
    // two nodes a host: 6 nodes take random:3; the client host is no node's
    const packed = await checked([...remote, '--nodes-per-host', '2', '--topology', 'random:3']);
    expect(packed.nodesPerHost).toBe(2);
    expect(
      (await checked([...remote, '--host-counts', '1,3', '--load-clients', 'dedicated:1'])).hostCounts,
    ).toEqual([1, 3]);
  });

  it('--host-counts takes the first k hosts, and names the file when it has fewer', () => {
    const hosts = {
      hosts: [1, 2, 3].map((i) => ({ name: `h${i}`, address: `10.0.0.${i}` })),
      sshTimeoutMs: 1,
      source: 'hosts.env',
    } as unknown as Parameters<typeof firstHosts>[0];
    expect(firstHosts(hosts, 2).hosts.map((host) => host.name)).toEqual(['h1', 'h2']);
    expect(firstHosts(hosts, undefined)).toBe(hosts);
    expect(() => firstHosts(hosts, 5)).toThrow(/hosts.env has 3 hosts; give counts up to 3/);
  });
});

function fakeTestbed(plan: BenchmarkPlan, log: string[]): Testbed {
  return {
    kind: 'local',
    async deploy() {
      const size = plan.committee;
      log.push(`deploy ${size}`);
      const endpoints = Array.from({ length: size }, (_, i) => ({
        nodeId: `node${i}`,
        rpcUrl: 'http://127.0.0.1:1',
      }));
      const deployment: Deployment = {
        runId: `net-${size}`,
        kind: 'local',
        endpoints,
        nodes: endpoints.map((endpoint) => ({ nodeId: endpoint.nodeId, endpoint }) as unknown as NodeHandle),
        environment: remoteEnvironment({ imageId: 'sha256:abc' }),
        readyAfterMs: 1,
        async destroy() {
          log.push(`destroy ${size}`);
        },
        async release() {
          log.push(`release ${size}`);
        },
        async [Symbol.asyncDispose]() {},
      };
      return deployment;
    },
  };
}

describe('a sweep over committee sizes', () => {
  it("asks a later remote network's hosts to answer before anything runs (both, or several host counts)", async () => {
    const runWith = async (argv: string[]) => {
      const plan = await planFromArgv(
        [
          ...argv,
          '--loads',
          '10',
          '--duration',
          '2',
          '--output-dir',
          join(dir, 'preflight'),
          '--console-output',
          'false',
        ],
        remoteEnv,
      );
      const log: string[] = [];
      const outcome = runBenchmark(plan, {
        createTestbed: (kind, sized) => {
          const testbed = fakeTestbed(sized, log);
          return kind === 'local'
            ? testbed
            : {
                ...testbed,
                kind: 'remote',
                async preflight() {
                  log.push(`preflight ${sized.hostCount ?? 'all'}`);
                  throw new Error('host0 (root@10.0.0.1:22): connect ECONNREFUSED');
                },
              };
        },
        runLoad: async () => {
          throw new Error('no load expected');
        },
        reporters: defaultReporters(),
        stdout: () => undefined,
        stderr: () => undefined,
        sleep: async () => {},
      });
      await expect(outcome).rejects.toThrow(/ECONNREFUSED/);
      return log;
    };
    // both: the remote hosts before the local network is deployed
    expect(await runWith(['--network-type', 'both'])).toEqual(['preflight all']);
    // several host counts: the largest count's hosts before the first network
    expect(await runWith(['--network-type', 'remote', '--host-counts', '1,3,2'])).toEqual(['preflight 3']);
    // nothing was written
    await expect(readdir(join(dir, 'preflight'))).rejects.toThrow(/ENOENT/);
  });

  it('deploys, sweeps and removes one network per size in turn, and writes the scaling report', async () => {
    const plan = await planFromArgv([
      '--committees',
      '4,6',
      '--loads',
      '10,20',
      '--duration',
      '2',
      '--settle-timeout',
      '0',
      '--settle-secs',
      '0',
      '--cleanup',
      '--output-dir',
      dir,
      '--console-output',
      'false',
    ]);
    const log: string[] = [];
    const outcome = await runBenchmark(plan, {
      createTestbed: (_kind, sized) => fakeTestbed(sized, log),
      runLoad: async (options) => {
        const rate = options.shape.kind === 'fixed' ? options.shape.rate : 0;
        log.push(`load ${options.endpoints.length}×${rate}`);
        return fakeLoadResult({
          rate,
          durationSecs: 2,
          nodes: options.endpoints.length,
          runId: options.runId,
        });
      },
      reporters: defaultReporters(),
      stdout: () => undefined,
      stderr: () => undefined,
      sleep: async () => {},
    });
    expect(log).toEqual([
      'deploy 4',
      'load 4×10',
      'load 4×20',
      'destroy 4',
      'deploy 6',
      'load 6×10',
      'load 6×20',
      'destroy 6',
    ]);
    const runDir = outcome.runDir as string;
    const records = await Promise.all(
      [1, 2, 3, 4].map(
        async (n) =>
          JSON.parse(await readFile(join(runDir, `local-benchmark-${n}.json`), 'utf8')) as BenchmarkRecord,
      ),
    );
    expect(records.map((record) => record.parameters.nodes)).toEqual([4, 4, 6, 6]);
    const scaling = JSON.parse(await readFile(join(runDir, 'scaling.json'), 'utf8')) as ReturnType<
      typeof scalingOf
    >;
    expect(scaling.series.map((entry) => [entry.load, entry.rows.map((row) => row.nodes)])).toEqual([
      [10, [4, 6]],
      [20, [4, 6]],
    ]);
    expect(await readFile(join(runDir, 'scaling.txt'), 'utf8')).toMatch(
      /throughput .* with 4 nodes, .* with 6/,
    );
    const index = JSON.parse(await readFile(join(runDir, 'run.json'), 'utf8')) as { scaling?: string };
    expect(index.scaling).toBe('scaling.json');
  });
});

describe('the scaling report', () => {
  function record(nodes: number, throughput: number, cpu: (node: string) => number): BenchmarkRecord {
    const nodeIds = Array.from({ length: nodes }, (_, i) => `node${i}`);
    return {
      network_type: 'local',
      benchmark_number: nodes,
      parameters: { nodes, load: 100 },
      results: {
        throughput,
        efficiency: 1,
        latency_stage: 'commit',
        latency_percentiles_ms: { p50: nodes * 2, p99: nodes * 5 },
      },
      environment: { testbed: { topology: { name: 'star', hub: 'node0' } } },
      runs: [
        {
          blocks: {
            resources: {
              nodes: nodeIds.map((id) => ({
                node_id: id,
                cpu_percent: { mean: cpu(id) },
                memory_bytes: { mean: 50e6 },
                net_tx_bytes_per_s: { mean: 1000 },
              })),
            },
          },
        },
      ],
    } as unknown as BenchmarkRecord;
  }

  it('puts the hub beside the leaves, per N, in a table and sentences', () => {
    const hubCpu = (n: number) => (id: string) => (id === 'node0' ? n * 3 : 2);
    const scaling = scalingOf([
      record(4, 100, hubCpu(4)),
      record(8, 90, hubCpu(8)),
      record(16, 80, hubCpu(16)),
    ]);
    const rows = scaling.series[0]?.rows ?? [];
    expect(rows.map((row) => row.nodes)).toEqual([4, 8, 16]);
    expect(rows[2]?.resources?.hub).toMatchObject({ node_id: 'node0', cpu_percent: 48 });
    expect(rows[2]?.resources?.others?.cpu_percent).toBe(2);
    expect(scaling.findings).toContain(
      'local at 100 tx/s: throughput 100.00 tx/s with 4 nodes, 80.00 tx/s with 16 (0.80×)',
    );
    expect(scaling.findings.some((f) => /16 nodes \(star\): node0 uses 48.0 % CPU/.test(f))).toBe(true);
    const text = renderScalingText(scaling);
    expect(text).toMatch(/hub cpu %/);
    expect(text.split('\n').filter((line) => /^\s+16\s+star/.test(line))).toHaveLength(1);
  });

  it('leaves resources out when the records have none', () => {
    const plain = record(4, 100, () => 1) as unknown as { runs: unknown[] };
    plain.runs = [{}];
    const scaling = scalingOf([plain as unknown as BenchmarkRecord, record(8, 90, () => 1)]);
    expect(scaling.series[0]?.rows[0]?.resources).toBeUndefined();
    expect(renderScalingText(scaling)).toMatch(/cpu %\/node/);
  });

  it("carries the nodes' own series (a connection gauge): the hub's against the others', served ones only", () => {
    const withSeries = (nodes: number): BenchmarkRecord => {
      const base = record(nodes, 100, () => 1) as unknown as { runs: { blocks: Record<string, unknown> }[] };
      const ids = Array.from({ length: nodes }, (_, i) => `node${i}`);
      base.runs[0]!.blocks.metrics = {
        nodes: Object.fromEntries(
          ids.map((id) => [
            id,
            {
              libp2p_connection_manager_connections:
                id === 'node0' ? [null, nodes - 1, nodes - 1] : [1, 1, null],
              refnode_height: [null, null, null],
            },
          ]),
        ),
      };
      return base as unknown as BenchmarkRecord;
    };
    const scaling = scalingOf([withSeries(3), withSeries(9)]);
    const rows = scaling.series[0]?.rows ?? [];
    expect(rows[1]?.node_series).toEqual({
      libp2p_connection_manager_connections: { per_node: 1.778, hub: 8, others: 1 },
    });
    expect(scaling.findings).toContain(
      'local at 100 tx/s, 9 nodes (star): libp2p_connection_manager_connections 8.0 on node0, 1.0 on the others on average',
    );
  });
});
