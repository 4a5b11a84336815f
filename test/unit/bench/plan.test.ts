import { chmod, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMeshbenchError } from '../../../src/common/errors.js';
import { buildBenchmarkPlan, parseLoadList, type BenchmarkInput } from '../../../src/bench/plan.js';
import { faultsOf } from '../../../src/faults/plugin.js';
import {
  addBenchmarkOptions,
  benchmarkPlanFromArgs,
  type BenchmarkArgs,
} from '../../../src/cli/benchmark-options.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-plan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function planFromArgv(argv: string[], env: Record<string, string> = {}) {
  const args = (await addBenchmarkOptions(yargs(argv))
    .exitProcess(false)
    .strict()
    .parseAsync()) as BenchmarkArgs;
  return benchmarkPlanFromArgs(args, { env, cwd: dir });
}

async function errorOf(
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ message: string; exitCode: number }> {
  try {
    await planFromArgv(argv, env);
  } catch (error) {
    if (!isMeshbenchError(error)) throw error;
    return { message: error.message, exitCode: error.exitCode };
  }
  throw new Error(`expected ${argv.join(' ')} to be rejected`);
}

describe('benchmark plan: defaults', () => {
  it('has the original defaults', async () => {
    const plan = await planFromArgv([]);
    expect(plan.networkType).toBe('local');
    expect(plan.networks).toEqual([{ kind: 'local', loads: [100, 200, 500] }]);
    expect(plan.outputDir).toBe(join(dir, 'benchmarks'));
    expect(plan.consoleOutput).toBe(true);
    expect(plan.fileOutput).toBe(true);
    expect(plan.committee).toBe(4);
    expect(plan.durationSecs).toBe(180);
    expect(plan.warmupSecs).toBe(5);
    expect(plan.transactionSizeBytes).toBe(512);
    expect(plan.runs).toBe(1);
    expect(plan.protocol).toEqual({ kind: 'cometbft', broadcastMode: 'async' });
    expect(plan.confirm).toBe('commit');
    expect(plan.cleanup).toBe(false);
    expect(plan.loadSearch).toBeUndefined();
    expect(faultsOf(plan).faults).toBe(0);
  });

  it('is frozen, deeply', async () => {
    const plan = await planFromArgv(['--loads', '10,20']);
    expect(Object.isFrozen(plan)).toBe(true);
    expect(Object.isFrozen(plan.networks[0]?.loads)).toBe(true);
    expect(() => (plan.networks[0]?.loads as number[]).push(1)).toThrow();
  });

  it('applies --loads to both network types and the original lists otherwise', async () => {
    const both = await planFromArgv(['--network-type', 'both', '--loads', '10,20'], {
      MYSTICETI_NODE0_HOST: 'h',
    });
    expect(both.networks).toEqual([
      { kind: 'local', loads: [10, 20] },
      { kind: 'remote', loads: [10, 20] },
    ]);
    const lists = await planFromArgv(
      ['--network-type', 'both', '--local-loads', '1,2', '--remote-loads', '3'],
      {
        MYSTICETI_NODE0_HOST: 'h',
      },
    );
    expect(lists.networks).toEqual([
      { kind: 'local', loads: [1, 2] },
      { kind: 'remote', loads: [3] },
    ]);
  });

  it('accepts remote with a readable hosts file', async () => {
    const hosts = join(dir, 'hosts.env');
    await writeFile(hosts, 'MYSTICETI_NODE0_HOST=127.0.0.1\n');
    const plan = await planFromArgv(['--network-type', 'remote', '--hosts-file', hosts]);
    expect(plan.hostsFile).toBe(hosts);
    expect(plan.networks).toEqual([{ kind: 'remote', loads: [50, 100, 200] }]);
  });

  it('attaches with --endpoints', async () => {
    const plan = await planFromArgv(['--endpoints', 'http://127.0.0.1:1,http://127.0.0.1:2', '--loads', '5']);
    expect(plan.networkType).toBe('endpoints');
    expect(plan.networks).toEqual([
      { kind: 'endpoints', loads: [5], urls: ['http://127.0.0.1:1', 'http://127.0.0.1:2'] },
    ]);
    // named as the nodes name themselves; a URL with = in its query is no name
    const named = await planFromArgv(['--endpoints', 'node0=http://127.0.0.1:1, kv-1=https://h:2/?a=b']);
    expect(named.networks[0]).toMatchObject({
      urls: ['http://127.0.0.1:1', 'https://h:2/?a=b'],
      names: ['node0', 'kv-1'],
    });
    const query = await planFromArgv(['--endpoints', 'http://h:1/?a=b']);
    expect(query.networks[0]).toEqual({
      kind: 'endpoints',
      loads: [100, 200, 500],
      urls: ['http://h:1/?a=b'],
    });
    await expect(planFromArgv(['--endpoints', 'node0=http://h:1,http://h:2'])).rejects.toThrow(
      /name every endpoint \(node0=http:\/\/…,node1=http:\/\/…\) or none/,
    );
    await expect(planFromArgv(['--endpoints', 'a=http://h:1,a=http://h:2'])).rejects.toThrow(
      /each name once/,
    );
  });

  it('records fault settings and the load search', async () => {
    const plan = await planFromArgv([
      '--committee',
      '7',
      '--faults',
      '2',
      '--crash-recovery',
      '--crash-interval',
      '30',
      '--load-search',
      '--p99-bound-ms',
      '250',
    ]);
    expect(faultsOf(plan).faults).toBe(2);
    expect(faultsOf(plan).crashRecovery).toBe(true);
    expect(faultsOf(plan).crashIntervalSecs).toBe(30);
    expect(plan.loadSearch).toMatchObject({ p99BoundMs: 250, minEfficiency: 0.95, startLoad: 100 });
  });

  it('takes any number of faults below the committee, past a third of it too (the run warns)', async () => {
    expect(faultsOf(await planFromArgv(['--committee', '64', '--faults', '40'])).faults).toBe(40);
    await expect(planFromArgv(['--committee', '4', '--faults', 'abc'])).rejects.toThrow(
      /^--faults "abc" is not valid: a whole number of nodes, 0 or more/,
    );
  });

  it('uses no warm-up for short runs unless asked', async () => {
    expect((await planFromArgv(['--duration', '10'])).warmupSecs).toBe(0);
    expect((await planFromArgv(['--duration', '10', '--warmup', '2'])).warmupSecs).toBe(2);
  });

  it('--cleanup-thorough implies --cleanup', async () => {
    const plan = await planFromArgv(['--cleanup-thorough']);
    expect(plan.cleanup).toBe(true);
    expect(plan.cleanupThorough).toBe(true);
  });
});

describe('benchmark plan: etcd key patterns', () => {
  // nodes that speak etcd (the generated reference nodes do not)
  const etcdNodes = ['--endpoints', 'http://127.0.0.1:2379'];

  it('etcd writes unique keys by default', async () => {
    const plan = await planFromArgv([...etcdNodes, '--protocol', 'etcd']);
    expect(plan.protocol).toEqual({ kind: 'etcd', keys: { kind: 'unique' } });
    expect(plan.confirm).toBe('none');
  });

  it('takes a key-space pattern with its settings', async () => {
    const plan = await planFromArgv([
      ...etcdNodes,
      '--protocol',
      'etcd',
      '--etcd-key-prefix',
      'kv/',
      '--etcd-key-pattern',
      'zipfian',
      '--etcd-key-space',
      '1000',
      '--etcd-key-size',
      '16',
      '--etcd-zipf-exponent',
      '1.2',
    ]);
    expect(plan.protocol).toEqual({
      kind: 'etcd',
      keyPrefix: 'kv/',
      keys: { kind: 'zipfian', keySpace: 1000, keySizeBytes: 16, exponent: 1.2 },
    });
  });

  it('leaves unset settings to the defaults', async () => {
    const plan = await planFromArgv([...etcdNodes, '--protocol', 'etcd', '--etcd-key-pattern', 'sequential']);
    expect(plan.protocol).toEqual({ kind: 'etcd', keys: { kind: 'sequential' } });
  });
});

describe('benchmark plan: bad input, one line naming flag, value and rule, exit 2', () => {
  const cases: [string, string[], RegExp, Record<string, string>?][] = [
    ['--loads abc', ['--loads', 'abc'], /^--loads "abc" is not valid: "abc" is not a load; .*> 0/],
    ['--loads 0', ['--loads', '0'], /^--loads "0" is not valid: .*> 0/],
    ['a negative load', ['--loads=-5'], /^--loads "-5" is not valid: .*> 0/],
    [
      'a negative load in a list',
      ['--loads', '100,-5'],
      /^--loads "100,-5" is not valid: "-5" is not a load/,
    ],
    [
      'duplicate loads',
      ['--loads', '100,200,100'],
      /^--loads "100,200,100" is not valid: load 100 appears twice/,
    ],
    ['an empty load list', ['--loads', ','], /^--loads "," is not valid/],
    ['bad --local-loads', ['--local-loads', 'x'], /^--local-loads "x" is not valid/],
    [
      'bad --remote-loads',
      ['--network-type', 'remote', '--remote-loads', '0'],
      /^--remote-loads "0"/,
      { MYSTICETI_NODE0_HOST: 'h' },
    ],
    [
      '--network-type mars',
      ['--network-type', 'mars'],
      /^--network-type "mars" is not valid: one of local, remote, both$/,
    ],
    [
      'remote without hosts',
      ['--network-type', 'remote'],
      /^--network-type "remote" is not valid: remote needs hosts: give --hosts-file/,
    ],
    [
      'both without hosts',
      ['--network-type', 'both'],
      /^--network-type "both" is not valid: remote needs hosts/,
    ],
    [
      'a duration below the warm-up',
      ['--duration', '10', '--warmup', '20'],
      /^--duration "10" is not valid: must be longer than the warm-up \(--warmup 20 s\)/,
    ],
    [
      'a duration equal to the warm-up',
      ['--duration', '5', '--warmup', '5'],
      /^--duration "5" is not valid: must be longer than the warm-up/,
    ],
    [
      'a non-numeric duration',
      ['--duration', 'abc'],
      /^--duration "abc" is not valid: a whole number of seconds from 1/,
    ],
    [
      'a zero transaction size',
      ['--transaction-size', '0'],
      /^--transaction-size "0" is not valid: a whole number of bytes from 1 to 16777216/,
    ],
    [
      'as many faults as nodes',
      ['--faults', '4'],
      /^--faults "4" is not valid: fewer than the committee \(4 nodes\)/,
    ],
    [
      'fault nodes of the wrong count',
      ['--faults', '1', '--fault-nodes', '1,2'],
      /^--fault-nodes "1,2" is not valid: as many nodes as --faults \(1\), got 2/,
    ],
    [
      'a fault node outside the committee',
      ['--faults', '1', '--fault-nodes', '7'],
      /^--fault-nodes "7" is not valid: node 7 is not in a committee of 4 \(0 to 3\)/,
    ],
    ['crash-recovery without faults', ['--crash-recovery'], /^--crash-recovery .* needs --faults f/],
    [
      'node faults in attach mode',
      ['--endpoints', 'http://127.0.0.1:26657', '--faults', '1'],
      /^--faults "1" is not valid: node faults need control of the nodes/,
    ],
    ['zero runs', ['--runs', '0'], /^--runs "0" is not valid/],
    [
      'zero workers',
      ['--workers', '0'],
      /^--workers "0" is not valid: a whole number of worker threads from 1 to 64/,
    ],
    [
      'an unknown protocol',
      ['--protocol', 'grpc'],
      /^--protocol "grpc" is not valid: one of cometbft, etcd, http/,
    ],
    [
      'commit confirmation on etcd',
      ['--protocol', 'etcd', '--confirm', 'commit'],
      /^--confirm "commit" is not valid: .*cometbft/,
    ],
    [
      'an etcd key flag with another protocol',
      ['--etcd-key-pattern', 'uniform'],
      /^--etcd-key-pattern "uniform" is not valid: applies to --protocol etcd only \(got cometbft\)/,
    ],
    [
      'an unknown etcd key pattern',
      ['--protocol', 'etcd', '--confirm', 'none', '--etcd-key-pattern', 'random'],
      /^--etcd-key-pattern "random" is not valid: one of unique, sequential, uniform, zipfian/,
    ],
    [
      'a key space with unique keys',
      ['--protocol', 'etcd', '--etcd-key-space', '100'],
      /^--etcd-key-space "100" is not valid: applies to --etcd-key-pattern sequential\|uniform\|zipfian only \(got unique\); unique keys are/,
    ],
    [
      'a zipf exponent with uniform keys',
      ['--protocol', 'etcd', '--etcd-key-pattern', 'uniform', '--etcd-zipf-exponent', '1.2'],
      /^--etcd-zipf-exponent "1.2" is not valid: applies to --etcd-key-pattern zipfian only \(got uniform\)/,
    ],
    [
      'a zero key space',
      ['--protocol', 'etcd', '--etcd-key-pattern', 'uniform', '--etcd-key-space', '0'],
      /^--etcd-key-space "0" is not valid: a whole number of keys from 1 to 1000000000000000/,
    ],
    [
      'a key size too small for the key space',
      [
        '--protocol',
        'etcd',
        '--etcd-key-pattern',
        'sequential',
        '--etcd-key-space',
        '100000',
        '--etcd-key-size',
        '4',
      ],
      /^--etcd-key-size "4" is not valid: 100000 keys need 5 digits after the prefix; give a key size of at least 5 or a smaller key space/,
    ],
    [
      'a zipf exponent of 0',
      ['--protocol', 'etcd', '--etcd-key-pattern', 'zipfian', '--etcd-zipf-exponent', '0'],
      /^--etcd-zipf-exponent "0" is not valid: a number of the exponent s > 0 and at most 100/,
    ],
    [
      '--loads with --load-search',
      ['--load-search', '--loads', '100'],
      /^--loads "100" is not valid: --load-search chooses/,
    ],
    ['a bad endpoint URL', ['--endpoints', 'not a url'], /^--endpoints "not a url" is not valid/],
    [
      'endpoints with remote',
      ['--endpoints', 'http://127.0.0.1:1', '--network-type', 'remote'],
      /^--network-type "remote" is not valid: --endpoints attaches/,
    ],
    [
      'a missing hosts file',
      ['--network-type', 'remote', '--hosts-file', 'nope.env'],
      /^--hosts-file "nope.env" is not valid: cannot read .*nope.env \(ENOENT\)/,
    ],
    [
      'a missing compose file',
      ['--docker-compose-path', 'nope.yml'],
      /^--docker-compose-path "nope.yml" is not valid: cannot read/,
    ],
  ];
  for (const [name, argv, pattern, env] of cases) {
    it(name, async () => {
      const { message, exitCode } = await errorOf(argv, env);
      expect(message).toMatch(pattern);
      expect(message).not.toContain('\n');
      expect(exitCode).toBe(2);
    });
  }

  it('an output dir that is a file', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const { message } = await errorOf(['--output-dir', file]);
    expect(message).toMatch(
      /^--output-dir ".*a-file" is not valid: .*is not a folder; give a writable folder$/,
    );
  });

  it('an output dir under a file', async () => {
    const file = join(dir, 'b-file');
    await writeFile(file, 'x');
    const { message } = await errorOf(['--output-dir', join(file, 'out')]);
    expect(message).toMatch(/^--output-dir ".*b-file\/out" is not valid: /);
  });

  it('an output dir on a read-only file system', async () => {
    const { message } = await errorOf(['--output-dir', '/proc/meshbench-results']);
    expect(message).toMatch(/^--output-dir "\/proc\/meshbench-results" is not valid: .*not writable/);
  });

  it.skipIf(process.getuid?.() === 0)('an output dir without write permission', async () => {
    const locked = join(dir, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o500);
    const { message } = await errorOf(['--output-dir', join(locked, 'out')]);
    expect(message).toMatch(/not writable/);
  });

  it('skips the output dir check when files are off', async () => {
    const plan = await planFromArgv(['--output-dir', '/proc/x', '--file-output', 'false']);
    expect(plan.fileOutput).toBe(false);
  });
});

describe('parseLoadList', () => {
  it('takes lists, repeated flags and numbers', () => {
    expect(parseLoadList('loads', '100, 200,500')).toEqual([100, 200, 500]);
    expect(parseLoadList('loads', ['100', '200'])).toEqual([100, 200]);
    expect(parseLoadList('loads', 7)).toEqual([7]);
    expect(parseLoadList('loads', '0.5')).toEqual([0.5]);
  });
});

describe("benchmark plan: a compose file's protocol labels", () => {
  const compose = async (labelled: string | undefined, input: BenchmarkInput) => {
    await writeFile(join(dir, 'nodes.yml'), 'services: {}\n');
    const asked: (readonly string[])[] = [];
    const plan = await buildBenchmarkPlan(
      { dockerComposePath: 'nodes.yml', fileOutput: false, ...input },
      {
        env: {},
        cwd: dir,
        composeProtocol: async (files) => {
          asked.push(files);
          return labelled;
        },
      },
    );
    return { plan, asked };
  };

  it('given no --protocol, the nodes load with the protocol their labels name', async () => {
    const { plan, asked } = await compose('etcd', {});
    expect(asked).toEqual([[join(dir, 'nodes.yml')]]);
    expect(plan.protocol.kind).toBe('etcd');
    // the default that follows the protocol: etcd cannot confirm commits
    expect(plan.confirm).toBe('none');
    expect(plan.configSources).toEqual({ protocol: "the compose file's meshbench.protocol labels" });
    // the protocol's own settings apply then
    const withKeys = await compose('etcd', { etcdKeyPattern: 'sequential' });
    expect(withKeys.plan.protocol.kind).toBe('etcd');
  });

  it('a --protocol given wins, and the labels are not read; no label keeps the default', async () => {
    const given = await compose('etcd', { protocol: 'http' });
    expect(given.asked).toEqual([]);
    expect(given.plan.protocol.kind).toBe('http');
    const none = await compose(undefined, {});
    expect(none.plan.protocol.kind).toBe('cometbft');
    expect(none.plan.configSources).toBeUndefined();
  });

  it('a remote network of containers runs reference nodes: the file is refused there, and in both when it speaks another protocol', async () => {
    await writeFile(join(dir, 'hosts.env'), 'MYSTICETI_NODE0_HOST=127.0.0.1\n');
    const remote = { hostsFile: 'hosts.env' };
    await expect(compose('etcd', { ...remote, networkType: 'remote' })).rejects.toThrow(
      /--docker-compose-path .*a remote network of containers runs reference nodes, not your compose file; add --engine swarm/,
    );
    await expect(compose(undefined, { ...remote, networkType: 'remote' })).rejects.toThrow(
      /add --engine swarm/,
    );
    await expect(compose('etcd', { ...remote, networkType: 'both' })).rejects.toThrow(
      /--docker-compose-path "nodes.yml" is not valid: its nodes are labelled meshbench.protocol=etcd, and the remote network runs reference nodes \(cometbft\); add --engine swarm to run your compose file on the hosts too/,
    );
    // the same with the protocol given rather than labelled (the labels are not read then)
    await expect(compose(undefined, { ...remote, networkType: 'both', protocol: 'etcd' })).rejects.toThrow(
      /--protocol "etcd" is not valid: the remote network runs reference nodes \(cometbft\), which do not answer etcd; add --engine swarm/,
    );
    // refnodes of the user's own file beside generated ones, and the file as the stack on the hosts: fine
    expect((await compose('cometbft', { ...remote, networkType: 'both' })).plan.networkType).toBe('both');
    expect(
      (await compose('etcd', { ...remote, networkType: 'both', engine: 'swarm' })).plan.protocol.kind,
    ).toBe('etcd');
  });
});

describe('benchmark plan: generated networks run reference nodes', () => {
  const plan = (input: BenchmarkInput) =>
    buildBenchmarkPlan(
      { fileOutput: false, ...input },
      { env: { MYSTICETI_NODE0_HOST: '127.0.0.1' }, cwd: dir },
    );

  it('refuses a protocol they do not answer before anything is deployed, naming nodes that speak it', async () => {
    // the default network: etcd's compose file is the way to etcd nodes (named from the cwd)
    const etcd = plan({ protocol: 'etcd' }).catch((error: unknown) => error as Error);
    const message = String(await etcd);
    expect(message).toMatch(
      /--protocol "etcd" is not valid: the local network runs reference nodes \(cometbft\), which do not answer etcd; run nodes that speak etcd: --docker-compose-path \S*systems\/etcd\/docker-compose.yml \(or a compose file of yours\), a running network \(--endpoints\)/,
    );
    // mesh: the systems that speak it by name; on hosts a compose file needs swarm, and there is no --endpoints
    await expect(plan({ protocol: 'mesh', networkType: 'remote' })).rejects.toThrow(
      /the remote network runs reference nodes \(cometbft\), which do not answer mesh; run nodes that speak mesh: --system crdt-sync or libp2p-gossipsub, a compose file of them \(--docker-compose-path with --engine swarm\)$/,
    );
    await expect(plan({ protocol: 'mesh', networkType: 'both' })).rejects.toThrow(
      /both networks run reference nodes/,
    );
    await expect(plan({ protocol: 'etcd', networkType: 'remote', engine: 'swarm' })).rejects.toThrow(
      /the remote network runs reference nodes/,
    );
  });

  it('lets through what can reach them: their own protocol, http (any path), a system or compose file of other nodes, attach mode', async () => {
    expect((await plan({})).protocol.kind).toBe('cometbft');
    expect((await plan({ protocol: 'http', networkType: 'both' })).protocol.kind).toBe('http');
    expect((await plan({ system: 'crdt-sync' })).protocol.kind).toBe('mesh');
    expect((await plan({ system: 'crdt-sync', networkType: 'remote' })).protocol.kind).toBe('mesh');
    expect((await plan({ endpoints: 'http://127.0.0.1:2379', protocol: 'etcd' })).protocol.kind).toBe('etcd');
    await writeFile(join(dir, 'etcd.yml'), 'services: {}\n');
    expect((await plan({ dockerComposePath: 'etcd.yml', protocol: 'etcd' })).protocol.kind).toBe('etcd');
    expect(
      (
        await plan({
          dockerComposePath: 'etcd.yml',
          protocol: 'etcd',
          networkType: 'remote',
          engine: 'swarm',
        })
      ).protocol.kind,
    ).toBe('etcd');
  });
});

describe('buildBenchmarkPlan from programmatic input', () => {
  it('takes numbers and booleans (the wizard hands these in)', async () => {
    const input: BenchmarkInput = {
      duration: 20,
      warmup: 2,
      loads: [10, 20],
      cleanup: true,
      fileOutput: false,
    };
    const plan = await buildBenchmarkPlan(input, { env: {} });
    expect(plan.durationSecs).toBe(20);
    expect(plan.networks[0]?.loads).toEqual([10, 20]);
    expect(plan.cleanup).toBe(true);
  });
});
