import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import { isMeshbenchError } from '../../../src/common/errors.js';
import {
  BENCHMARK_SETTINGS,
  benchmarkPlanFromSettings,
  resolveBenchmarkSettings,
} from '../../../src/cli/benchmark-config.js';
import { runBenchmarkCommand, type BenchmarkCommandDeps } from '../../../src/cli/benchmark-command.js';
import { addBenchmarkOptions, type BenchmarkArgs } from '../../../src/cli/benchmark-options.js';
import type { Asker } from '../../../src/cli/benchmark-wizard.js';
import { envVarName } from '../../../src/cli/config-pipeline.js';
import { nearestName } from '../../../src/cli/flag-values.js';
import { runCli, type CliDefinition } from '../../../src/cli/run-cli.js';
import type { Testbed } from '../../../src/testbed/testbed.js';
import { fakeLoadResult } from '../bench/fixtures.js';
import { localEnvironment, remoteEnvironment } from '../../support/environments.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function argsOf(argv: string[]): Promise<BenchmarkArgs> {
  return (await addBenchmarkOptions(yargs(argv)).exitProcess(false).strict().parseAsync()) as BenchmarkArgs;
}

async function planOf(argv: string[], env: Record<string, string> = {}, cwd = dir) {
  const resolved = await resolveBenchmarkSettings(await argsOf(argv), { env, cwd });
  return benchmarkPlanFromSettings(resolved, { env, cwd });
}

async function errorOf(argv: string[], env: Record<string, string> = {}) {
  try {
    await planOf(argv, env);
  } catch (error) {
    if (!isMeshbenchError(error)) throw error;
    return { message: `${error.message}; ${error.hint ?? ''}`, exitCode: error.exitCode, code: error.code };
  }
  throw new Error(`expected ${argv.join(' ')} to be rejected`);
}

async function configFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('config pipeline: defaults < file < environment < flags', () => {
  it('takes every layer, each overriding the one below key by key, and records the sources', async () => {
    const file = await configFile('layers.yaml', 'duration: 40\nruns: 3\ncommittee: 7\nloads: [10, 20]\n');
    const plan = await planOf(['--config', file, '--runs', '5', '--output-dir', dir], {
      MESHBENCH_DURATION: '50',
      MESHBENCH_RUNS: '4',
    });
    expect(plan.committee).toBe(7); // file
    expect(plan.durationSecs).toBe(50); // environment over file
    expect(plan.runs).toBe(5); // flag over environment and file
    expect(plan.networks).toEqual([{ kind: 'local', loads: [10, 20] }]);
    expect(plan.transactionSizeBytes).toBe(512); // default
    expect(plan.configSources).toEqual({
      committee: `${file}:committee`,
      loads: `${file}:loads`,
      duration: 'MESHBENCH_DURATION',
      runs: '--runs',
      'output-dir': '--output-dir',
    });
  });

  it('with no file and no variables, is exactly the flags-only plan', async () => {
    const plan = await planOf(['--loads', '10', '--duration', '9']);
    expect(plan.durationSecs).toBe(9);
    expect(plan.configSources).toEqual({ loads: '--loads', duration: '--duration' });
    const { configSources: _sources, ...rest } = plan;
    const { buildBenchmarkPlan } = await import('../../../src/bench/plan.js');
    expect(rest).toEqual(await buildBenchmarkPlan({ loads: '10', duration: '9' }, { env: {}, cwd: dir }));
  });

  it('accepts camelCase and kebab-case keys, JSON as well as YAML, lists as YAML lists or strings', async () => {
    const json = await configFile(
      'camel.json',
      JSON.stringify({ loadSearch: true, 'load-search-max': 500, minEfficiency: 90, transactionSize: 64 }),
    );
    const plan = await planOf(['--config', json]);
    expect(plan.loadSearch).toMatchObject({ maxLoad: 500, minEfficiency: 0.9 });
    expect(plan.transactionSizeBytes).toBe(64);
    const lists = await configFile(
      'lists.yaml',
      'local-loads: "1,2"\nremote-loads: [3]\nnetwork-type: both\n',
    );
    const both = await planOf(['--config', lists], { MYSTICETI_NODE0_HOST: 'h' });
    expect(both.networks).toEqual([
      { kind: 'local', loads: [1, 2] },
      { kind: 'remote', loads: [3] },
    ]);
  });

  it('reads booleans from a file and the environment, and --no-<flag> overrides them', async () => {
    const file = await configFile('bools.yaml', 'cleanup: true\nconsole-output: false\n');
    expect((await planOf(['--config', file])).cleanup).toBe(true);
    expect((await planOf(['--config', file])).consoleOutput).toBe(false);
    expect((await planOf(['--config', file, '--no-cleanup'])).cleanup).toBe(false);
    expect((await planOf([], { MESHBENCH_FRESH_NETWORK: 'true' })).freshNetwork).toBe(true);
    expect((await planOf(['--no-fresh-network'], { MESHBENCH_FRESH_NETWORK: 'true' })).freshNetwork).toBe(
      false,
    );
  });

  it('finds the file through MESHBENCH_CONFIG (a --config flag wins) and treats empty variables as unset', async () => {
    const a = await configFile('a.yaml', 'duration: 11\n');
    const b = await configFile('b.yaml', 'duration: 12\n');
    expect((await planOf([], { MESHBENCH_CONFIG: a })).durationSecs).toBe(11);
    expect((await planOf(['--config', b], { MESHBENCH_CONFIG: a })).durationSecs).toBe(12);
    expect((await planOf(['--config', b], { MESHBENCH_DURATION: '' })).durationSecs).toBe(12);
  });

  it('maps every setting to MESHBENCH_<FLAG_NAME>, and knows no flag-only names as settings', () => {
    expect(envVarName(BENCHMARK_SETTINGS, 'transaction-size')).toBe('MESHBENCH_TRANSACTION_SIZE');
    expect(BENCHMARK_SETTINGS.names).toContain('loads');
    expect(BENCHMARK_SETTINGS.names).toContain('etcd-zipf-exponent');
    expect(BENCHMARK_SETTINGS.names).toContain('p99-bound-ms');
    expect(BENCHMARK_SETTINGS.names).not.toContain('config');
    expect(BENCHMARK_SETTINGS.names).not.toContain('interactive');
  });

  it('runs examples/bench.yaml through the pipeline', async () => {
    const plan = await planOf(['--config', 'examples/bench.yaml'], {}, repoRoot);
    expect(plan).toMatchObject({
      networkType: 'local',
      networks: [{ kind: 'local', loads: [100, 200] }],
      committee: 4,
      durationSecs: 20,
      warmupSecs: 0,
      transactionSizeBytes: 512,
      runs: 1,
      protocol: { kind: 'cometbft', broadcastMode: 'async' },
      confirm: 'commit',
      settleTimeoutSecs: 30,
      outputDir: join(repoRoot, 'benchmarks'),
      cleanup: true,
    });
    expect(plan.configSources?.duration).toBe('examples/bench.yaml:duration');
    // The environment and flags still win over it.
    const over = await planOf(
      ['--config', 'examples/bench.yaml', '--loads', '5'],
      { MESHBENCH_DURATION: '8' },
      repoRoot,
    );
    expect(over.networks).toEqual([{ kind: 'local', loads: [5] }]);
    expect(over.durationSecs).toBe(8);
  });
});

describe('config pipeline: errors name their source, exit 2', () => {
  it('a bad value in the file: file and key, the rule, the fix', async () => {
    const file = await configFile('bad.yaml', 'duration: abc\n');
    const error = await errorOf(['--config', file]);
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('BAD_CONFIG');
    expect(error.message).toBe(
      `${file}: duration: "abc" is not valid (--duration): a whole number of seconds from 1 to 604800; fix duration in ${file}, or override it with --duration`,
    );
  });

  it('a bad value in the environment: the variable, the rule, the fix', async () => {
    const error = await errorOf([], { MESHBENCH_LOADS: '100,0' });
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('BAD_ENV');
    expect(error.message).toMatch(/^MESHBENCH_LOADS="100,0" is not valid \(--loads\): "0" is not a load/);
    expect(error.message).toMatch(/fix or unset MESHBENCH_LOADS, or override it with --loads$/);
  });

  it('a bad flag stays a flag error, even over a good file value', async () => {
    const file = await configFile('ok.yaml', 'duration: 30\n');
    const error = await errorOf(['--config', file, '--duration', 'x']);
    expect(error.code).toBe('BAD_FLAG');
    expect(error.message).toMatch(/^--duration "x" is not valid/);
  });

  it('a flag overrides a bad value below it, which is then never judged', async () => {
    const file = await configFile('bad-runs.yaml', 'runs: zero\n');
    expect((await planOf(['--config', file, '--runs', '2'], { MESHBENCH_RUNS: 'x' })).runs).toBe(2);
  });

  it('cross-field rules name the source of the setting they reject', async () => {
    const file = await configFile('remote.yaml', 'network-type: remote\n');
    const error = await errorOf(['--config', file]);
    expect(error.message).toMatch(
      /remote.yaml: network-type: "remote" is not valid \(--network-type\): remote needs hosts/,
    );
  });

  const fileErrors: [string, string, RegExp][] = [
    [
      'an unknown key, with the nearest flag',
      'duraton: 10\n',
      /unknown key "duraton" \(did you mean "duration"\?\)/,
    ],
    [
      'a camelCase typo',
      'loadSerchMax: 10\n',
      /unknown key "loadSerchMax" \(did you mean "load-search-max"\?\)/,
    ],
    [
      'a key far from any flag',
      'colour: blue\n',
      /unknown key "colour"; the keys are benchmark's long flag names/,
    ],
    [
      'a flag that is no setting',
      'interactive: true\n',
      /"interactive" is not a setting; give --interactive on the command line/,
    ],
    [
      'a list for a single value',
      'committee: [4, 7]\n',
      /committee: \[4,7\] is a list; --committee takes one value/,
    ],
    ['a key without a value', 'duration:\n', /duration: has no value; give one, or remove duration/],
    ['a mapping as a value', 'loads: { a: 1 }\n', /loads: \{"a":1\} is not a value --loads takes/],
    [
      'one setting twice',
      'loadSearch: true\nload-search: true\n',
      /"loadSearch" and "load-search" are the same setting/,
    ],
    ['a list, not a mapping', '- duration\n', /the file holds a list, not settings/],
    ['broken YAML', 'loads: [1\n', /not valid YAML or JSON: .* at line \d+, column \d+; fix the file/],
  ];
  for (const [name, text, pattern] of fileErrors) {
    it(`${name}: one line, exit 2`, async () => {
      const file = await configFile(`error-${name.replaceAll(' ', '-')}.yaml`, text);
      const error = await errorOf(['--config', file]);
      expect(error.exitCode).toBe(2);
      expect(error.message).toMatch(pattern);
      expect(error.message).not.toContain('\n');
    });
  }

  it('a missing file: says which, from where', async () => {
    const error = await errorOf(['--config', 'nope.yaml']);
    expect(error.message).toMatch(
      /^--config "nope.yaml": cannot read .*nope.yaml \(ENOENT\); give an existing YAML or JSON file/,
    );
    const fromEnv = await errorOf([], { MESHBENCH_CONFIG: 'gone.yml' });
    expect(fromEnv.message).toMatch(/^MESHBENCH_CONFIG "gone.yml": cannot read/);
    expect(fromEnv.exitCode).toBe(2);
  });

  it('suggests only names that are close', () => {
    expect(nearestName('wrkers', ['workers', 'runs'])).toBe('workers');
    expect(nearestName('xyz', ['workers', 'runs'])).toBeUndefined();
    expect(nearestName('load', ['loads', 'load-search'])).toBe('loads');
  });
});

// ---- the command: --verbose, run.json, the wizard ----

function deps(log: string[], env: Record<string, string> = {}): BenchmarkCommandDeps {
  const testbed = (kind: 'local' | 'remote'): Testbed => ({
    kind,
    async deploy() {
      log.push(`deploy ${kind}`);
      return {
        runId: 'n',
        kind,
        endpoints: [{ nodeId: 'node0', rpcUrl: 'http://127.0.0.1:9' }],
        nodes: [],
        environment: kind === 'local' ? localEnvironment() : remoteEnvironment(),
        readyAfterMs: 1,
        async destroy() {},
        async release() {},
        async [Symbol.asyncDispose]() {},
      };
    },
  });
  return {
    createTestbed: (kind) => testbed(kind),
    runLoad: async (options) => {
      log.push(`load ${options.shape.kind === 'fixed' ? options.shape.rate : '?'}`);
      return fakeLoadResult({
        rate: options.shape.kind === 'fixed' ? options.shape.rate : 1,
        durationSecs: 2,
      });
    },
    cwd: dir,
    env,
    sleep: async () => {},
    fetch: async () => new Response(JSON.stringify({ result: { n_txs: '0' } })),
  };
}

async function cli(argv: string[], env: Record<string, string> = {}) {
  const log: string[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const definition: CliDefinition<BenchmarkArgs> = {
    name: 'benchmark',
    usage: '$0 [options]',
    options: (argv) => addBenchmarkOptions(argv),
    run: (args, context) => runBenchmarkCommand(args, context, deps(log, env)),
  };
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  const code = await runCli(definition, argv);
  vi.restoreAllMocks();
  return { code, log, out: out.join(''), err: err.join('') };
}

describe('benchmark --config through the command', () => {
  it('runs the merged settings, prints them with --verbose, and stores their sources in run.json and each record', async () => {
    const output = join(dir, 'runs-verbose');
    const file = await configFile('cmd.yaml', `loads: [10, 20]\nduration: 2\noutput-dir: ${output}\n`);
    const result = await cli(['--config', file, '--verbose', '--runs', '1'], {
      MESHBENCH_TRANSACTION_SIZE: '64',
    });
    expect(result.code).toBe(0);
    expect(result.log).toEqual(['deploy local', 'load 10', 'load 20']);
    expect(result.err).toContain('benchmark: settings (defaults < --config file < MESHBENCH_* < flags):');
    expect(result.err).toContain(`  loads = 10,20  (${file}:loads)`);
    expect(result.err).toContain('  transaction-size = 64  (MESHBENCH_TRANSACTION_SIZE)');
    expect(result.err).toContain('  runs = 1  (--runs)');
    const [runDir] = await readdir(output);
    const runJson = JSON.parse(await readFile(join(output, runDir ?? '', 'run.json'), 'utf8'));
    const sources = {
      loads: `${file}:loads`,
      duration: `${file}:duration`,
      'output-dir': `${file}:output-dir`,
      'transaction-size': 'MESHBENCH_TRANSACTION_SIZE',
      runs: '--runs',
    };
    expect(runJson.plan.configSources).toEqual(sources);
    expect(runJson.plan.transactionSizeBytes).toBe(64);
    const record = JSON.parse(await readFile(join(output, runDir ?? '', 'local-benchmark-1.json'), 'utf8'));
    expect(record.plan.configSources).toEqual(sources);
    expect(record.parameters.transaction_size).toBe(64);
  });

  it('a bad file value: one line on stderr, exit 2, nothing deployed', async () => {
    const file = await configFile('cmd-bad.yaml', 'committee: lots\n');
    const result = await cli(['--config', file]);
    expect(result.code).toBe(2);
    expect(result.err.trim().split('\n')).toHaveLength(1);
    expect(result.err).toMatch(
      /^benchmark: error: .*cmd-bad.yaml: committee: "lots" is not valid \(--committee\)/,
    );
    expect(result.log).toEqual([]);
  });

  it('the wizard starts from the merged settings and records what its answers changed', async () => {
    const file = await configFile('wizard.yaml', `duration: 25\nlocal-loads: [7, 8]\nfile-output: false\n`);
    const answers: (string | boolean)[] = ['', '', '', '', '', '3', false, true];
    const asked: string[] = [];
    const asker: Asker = {
      async text(message, defaultValue) {
        const answer = String(answers.shift());
        asked.push(`${message} [${defaultValue}]`);
        return answer === '' ? defaultValue : answer;
      },
      async choose(_message, _choices, defaultValue) {
        const answer = String(answers.shift());
        return answer === '' ? defaultValue : answer;
      },
      async yesNo() {
        return answers.shift() as boolean;
      },
    };
    const log: string[] = [];
    let planSeen: unknown;
    const code = await runBenchmarkCommand(
      { interactive: true, config: file },
      {
        shutdown: { signal: new AbortController().signal, onForce: () => () => true, dispose() {} },
        stdout: () => {},
        stderr: () => {},
        verbose: false,
      },
      { ...deps(log), asker, reporters: [], onOutcome: (_outcome, plan) => (planSeen = plan) },
    );
    expect(code).toBe(0);
    expect(asked).toContain('Duration per load level, seconds [25]');
    expect(asked).toContain('Local loads, tx/s (comma-separated) [7,8]');
    expect(log).toEqual(['deploy local', 'load 7', 'load 7', 'load 7', 'load 8', 'load 8', 'load 8']);
    const plan = planSeen as { runs: number; durationSecs: number; configSources: Record<string, string> };
    expect(plan.durationSecs).toBe(25);
    expect(plan.runs).toBe(3);
    expect(plan.configSources['file-output']).toBe(`${file}:file-output`);
    expect(plan.configSources.runs).toBe('interactive');
  });
});
