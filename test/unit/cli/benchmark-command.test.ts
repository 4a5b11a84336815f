import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runBenchmarkCommand, type BenchmarkCommandDeps } from '../../../src/cli/benchmark-command.js';
import { loadRecords } from '../../../src/cli/compare-command.js';
import { addCompareOptions, type CompareArgs } from '../../../src/cli/compare-options.js';
import { addBenchmarkOptions, type BenchmarkArgs } from '../../../src/cli/benchmark-options.js';
import { inquirerAsker, runBenchmarkWizard, type Asker } from '../../../src/cli/benchmark-wizard.js';
import { runCli, type CliDefinition } from '../../../src/cli/run-cli.js';
import type { Testbed } from '../../../src/testbed/testbed.js';
import { fakeLoadResult } from '../bench/fixtures.js';
import { localEnvironment, remoteEnvironment } from '../../support/environments.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-command-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

function deps(log: string[]): BenchmarkCommandDeps {
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
        async destroy() {
          log.push(`destroy ${kind}`);
        },
        async release() {
          log.push(`release ${kind}`);
        },
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
        commitP50Ms: options.runId.includes('remote') ? 120 : 40,
      });
    },
    cwd: dir,
    env: { MYSTICETI_NODE0_HOST: 'h' },
    sleep: async () => {},
    fetch: async () => new Response(JSON.stringify({ result: { n_txs: '0' } })),
  };
}

function definition(log: string[]): CliDefinition<BenchmarkArgs & CompareArgs> {
  return {
    name: 'benchmark',
    positionals: true,
    usage: '$0 [options]',
    // the command's own flags, compare's too (benchmarkCommand's options)
    options: (argv) => addCompareOptions(addBenchmarkOptions(argv)),
    run: (args, context) => runBenchmarkCommand(args, context, deps(log)),
  };
}

async function cli(argv: string[]) {
  const log: string[] = [];
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  const code = await runCli(definition(log), argv);
  vi.restoreAllMocks();
  return { code, log, out: out.join(''), err: err.join('') };
}

describe('benchmark command through runCli', () => {
  const bad: [string, string[], RegExp][] = [
    ['--loads abc', ['--loads', 'abc'], /--loads "abc" is not valid/],
    ['--loads 0', ['--loads', '0'], /--loads "0" is not valid/],
    ['negative loads', ['--loads=-1'], /--loads "-1" is not valid/],
    ['duplicate loads', ['--loads', '5,5'], /--loads "5,5" is not valid: load 5 appears twice/],
    [
      '--network-type mars',
      ['--network-type', 'mars'],
      /--network-type "mars" is not valid: one of local, remote, both/,
    ],
    [
      'a duration below the warm-up',
      ['--duration', '4', '--warmup', '9'],
      /--duration "4" is not valid: must be longer than the warm-up/,
    ],
    [
      'an unwritable output dir',
      ['--output-dir', '/proc/nope'],
      /--output-dir "\/proc\/nope" is not valid: .*not writable/,
    ],
  ];
  for (const [name, argv, pattern] of bad) {
    it(`${name}: one line on stderr, exit 2, nothing deployed`, async () => {
      const result = await cli(argv.includes('--output-dir') ? argv : [...argv, '--output-dir', dir]);
      expect(result.code).toBe(2);
      expect(result.err).toMatch(pattern);
      expect(result.err.trim().split('\n')).toHaveLength(1);
      expect(result.err).toMatch(/^benchmark: error: /);
      expect(result.log).toEqual([]);
    });
  }

  it('remote without hosts: one line, exit 2, nothing deployed', async () => {
    const log: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
    const code = await runCli(
      {
        ...definition(log),
        run: (args, context) => runBenchmarkCommand(args, context, { ...deps(log), env: {} }),
      },
      ['--network-type', 'remote', '--output-dir', dir],
    );
    vi.restoreAllMocks();
    expect(code).toBe(2);
    expect(err.join('')).toMatch(/--network-type "remote" is not valid: remote needs hosts/);
    expect(log).toEqual([]);
  });

  it('runs a sweep and then compares two run folders', async () => {
    const local = await cli(['--loads', '10,20', '--duration', '2', '--output-dir', dir, '--cleanup']);
    expect(local.code).toBe(0);
    expect(local.log).toEqual(['deploy local', 'load 10', 'load 20', 'destroy local']);
    expect(local.out).toContain('BENCHMARK RESULT #2');
    const remote = await cli([
      '--network-type',
      'remote',
      '--loads',
      '10',
      '--duration',
      '2',
      '--output-dir',
      dir,
      '--cleanup',
    ]);
    expect(remote.code).toBe(0);
    const runs = (await readdir(dir)).filter((name) => name.startsWith('run-')).sort();
    expect(runs).toHaveLength(2);
    const localDir = runs.find((name) => !name.endsWith('compare')) as string;
    const folders = await Promise.all(
      runs.map(async (name) => ({ name, files: await readdir(join(dir, name)) })),
    );
    const localRun = folders.find((f) => f.files.includes('local-benchmark-2.json'))?.name as string;
    const remoteRun = folders.find((f) => f.files.includes('remote-benchmark-1.json'))?.name as string;
    expect(localDir).toBeDefined();

    const compared = await cli([
      'compare',
      join(dir, localRun),
      join(dir, remoteRun, 'remote-benchmark-1.json'),
      '--output-dir',
      dir,
    ]);
    expect(compared.code).toBe(0);
    expect(compared.out).toContain('at 10 tx/s remote p50 latency is 3.0× local (120.00 ms vs 40.00 ms)');
    const compareDir = (await readdir(dir)).find((name) => name.endsWith('-compare')) as string;
    const json = JSON.parse(await readFile(join(dir, compareDir, 'comparison.json'), 'utf8'));
    expect(json.loads.map((l: { load: number }) => l.load)).toEqual([10]);
    expect(json.only_in_baseline).toEqual([20]);
    expect(await readFile(join(dir, compareDir, 'comparison.txt'), 'utf8')).toContain(
      'meshbench comparison: remote vs local',
    );
  });

  it('no transaction accepted at any level of a network: one line saying why, exit 1; one level with some is a result', async () => {
    const refusedAt = async (refused: (rate: number, remote: boolean) => boolean, args: string[] = []) => {
      const log: string[] = [];
      const err: string[] = [];
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
      vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const base = deps(log);
      const code = await runCli(
        {
          ...definition(log),
          run: (args, context) =>
            runBenchmarkCommand(args, context, {
              ...base,
              runLoad: async (options) => {
                const rate = options.shape.kind === 'fixed' ? options.shape.rate : 1;
                const result = fakeLoadResult({ rate, durationSecs: 2 });
                if (!refused(rate, options.runId.includes('remote'))) return result;
                const outcomes = { ...result.outcomes, ok: 0, committed: 0, commitTimeout: 0 };
                return { ...result, outcomes: { ...outcomes, httpError: { '400': result.scheduled } } };
              },
            }),
        },
        ['--loads', '10,20', '--duration', '2', '--output-dir', dir, '--cleanup', ...args],
      );
      vi.restoreAllMocks();
      return {
        code,
        errors: err
          .join('')
          .split('\n')
          .filter((line) => line.startsWith('benchmark: error:')),
      };
    };
    const none = await refusedAt(() => true);
    expect(none.code).toBe(1);
    expect(none.errors).toEqual([
      'benchmark: error: no transaction was accepted (60 HTTP 400): the nodes refused what the load sent as cometbft; give the protocol they speak with --protocol (docs/protocols.md)',
    ]);
    const some = await refusedAt((rate) => rate === 20);
    expect(some).toEqual({ code: 0, errors: [] });
    // --network-type both: a remote network that accepted nothing fails the run, and is named
    const remoteNone = await refusedAt((_rate, remote) => remote, ['--network-type', 'both']);
    expect(remoteNone.code).toBe(1);
    expect(remoteNone.errors).toEqual([
      'benchmark: error: remote: no transaction was accepted (60 HTTP 400): the nodes refused what the load sent as cometbft; give the protocol they speak with --protocol (docs/protocols.md)',
    ]);
    expect(await refusedAt((rate, remote) => remote && rate === 10, ['--network-type', 'both'])).toEqual({
      code: 0,
      errors: [],
    });
  });

  it('compares attach-mode files too (no fault parameters)', async () => {
    const runs = (await readdir(dir)).filter((name) => name.startsWith('run-') && !name.endsWith('-compare'));
    const folders = await Promise.all(
      runs.map(async (name) => ({ name, files: await readdir(join(dir, name)) })),
    );
    const localRun = folders.find((f) => f.files.includes('local-benchmark-1.json'))?.name as string;
    const record = JSON.parse(await readFile(join(dir, localRun, 'local-benchmark-1.json'), 'utf8'));
    const attach = {
      ...record,
      network_type: 'endpoints',
      parameters: { nodes: 4, load: record.parameters.load, duration: 2, transaction_size: 512 },
    };
    delete attach.plan;
    delete attach.runs;
    const attachFile = join(dir, 'attach.json');
    await writeFile(attachFile, JSON.stringify(attach));
    const compared = await cli(['compare', join(dir, localRun), attachFile, '--file-output', 'false']);
    expect(compared.code).toBe(0);
    expect(compared.out).toContain('at 10 tx/s endpoints p50 latency is 1.0× local');
  });

  it('takes --threshold before the run it checks, one value per flag', async () => {
    const runs = (await readdir(dir)).filter((name) => name.startsWith('run-') && !name.endsWith('-compare'));
    const folders = await Promise.all(
      runs.map(async (name) => ({ name, files: await readdir(join(dir, name)) })),
    );
    const run = join(dir, folders.find((f) => f.files.includes('local-benchmark-1.json'))?.name as string);
    // a list option read the run after it as a second threshold: "compare: no runs given"
    const kept = await cli(['compare', '--threshold', 'efficiency>=0', run, '--file-output', 'false']);
    expect(kept.err).toBe('');
    expect(kept.code).toBe(0);
    // one line per level the threshold was checked at
    expect(kept.out).toMatch(/ok {3}efficiency>=0 at local .*10 tx\/s/);
    expect(kept.out).toMatch(/verdict: ok \(0 checks, 2 thresholds/);
    const failed = await cli([
      'compare',
      '--threshold',
      'p99_ms<0.001',
      '--threshold',
      'efficiency>=0',
      run,
      '--file-output',
      'false',
    ]);
    expect(failed.code).toBe(3);
    expect(failed.out).toMatch(/FAIL p99_ms<0\.001 at local/);
    expect(failed.out).toMatch(/ok {3}efficiency>=0 at local/);
  });

  it('compare with a missing or foreign input says which and why', async () => {
    const missing = await cli(['compare', join(dir, 'nope'), join(dir, 'nope2'), '--output-dir', dir]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/compare A ".*nope": not found \(ENOENT\)/);
    const foreign = join(dir, 'foreign.json');
    await writeFile(foreign, JSON.stringify({ hello: 1 }));
    const bad = await cli(['compare', foreign, foreign, '--output-dir', dir]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/compare A ".*foreign.json": not a meshbench result: \/network_type is missing/);
    const empty = join(dir, 'empty');
    await mkdir(empty);
    await expect(loadRecords('B', empty)).rejects.toThrow(/holds no <network>-benchmark-<n>.json files/);
    const usage = await cli(['compare', 'only-one']);
    expect(usage.code).toBe(1);
    expect(usage.err).toMatch(/one run given .* and no --threshold/);
    const extra = await cli(['compare', 'a', 'b', 'c']);
    expect(extra.code).toBe(1);
    expect(extra.err).toMatch(
      /^benchmark: error: compare a b c: 3 runs given; give a baseline and a current run; benchmark compare BASELINE CURRENT/,
    );
    const none = await cli(['compare']);
    expect(none.err).toMatch(/^benchmark: error: compare: no runs given; give a baseline and a current run;/);
  });

  it('takes --dashboard alone (its port 5665) where every other string flag needs its value', async () => {
    const alone = await cli(['--dashboard', '--loads', 'x']);
    expect(alone.code).toBe(2);
    expect(alone.err).toMatch(/^benchmark: error: --loads "x" is not valid/);
    const missing = await cli(['--output-dir']);
    expect(missing.err).toBe(
      'benchmark: error: --output-dir needs a value after it (see benchmark --help)\n',
    );
  });

  it('report without its run folder, or with two, says so and how to call it (exit 2)', async () => {
    const none = await cli(['report']);
    expect(none.code).toBe(2);
    expect(none.err).toBe(
      'benchmark: error: report: no run folder given; benchmark report RUN_DIR, with one run folder (benchmarks/run-<id>)\n',
    );
    const two = await cli(['report', 'a', 'b']);
    expect(two.code).toBe(2);
    expect(two.err).toMatch(/^benchmark: error: report a b: 2 run folders given;/);
  });
});

/** Scripted answers; records every question and every rejected answer. */
function scriptedAsker(answers: (string | boolean)[], transcript: string[]): Asker {
  const next = (message: string) => {
    if (answers.length === 0) throw new Error(`no answer left for: ${message}`);
    return answers.shift() as string | boolean;
  };
  return {
    async text(message, defaultValue, validate) {
      for (;;) {
        const raw = String(next(message));
        const value = raw === '' ? defaultValue : raw;
        const verdict = validate(value);
        if (verdict === true) {
          transcript.push(`${message}: ${value}`);
          return value;
        }
        transcript.push(`${message}: ${value} -> ${verdict}`);
      }
    },
    async choose(message, choices, defaultValue) {
      const raw = String(next(message));
      const value = raw === '' ? defaultValue : raw;
      if (!choices.includes(value)) throw new Error(`bad choice ${value}`);
      transcript.push(`${message}: ${value}`);
      return value;
    },
    async yesNo(message, defaultValue) {
      const raw = next(message);
      const value = raw === '' ? defaultValue : Boolean(raw);
      transcript.push(`${message}: ${value}`);
      return value;
    },
  };
}

describe('benchmark --interactive wizard', () => {
  it('takes defaults on empty input, re-asks after invalid answers, shows a summary, and returns the plan', async () => {
    const transcript: string[] = [];
    const said: string[] = [];
    const outcome = await runBenchmarkWizard({
      asker: scriptedAsker(
        ['', '', '0', 'abc', '30', 'abc', '100,100', '10,20', '', '', true, true],
        transcript,
      ),
      say: (text) => said.push(text),
      env: {},
      cwd: dir,
    });
    expect(outcome.kind).toBe('run');
    if (outcome.kind !== 'run') return;
    expect(outcome.plan.networkType).toBe('local');
    expect(outcome.plan.committee).toBe(4);
    expect(outcome.plan.durationSecs).toBe(30);
    expect(outcome.plan.networks[0]?.loads).toEqual([10, 20]);
    expect(outcome.plan.cleanup).toBe(true);
    expect(transcript).toContain(
      'Duration per load level, seconds: 0 -> enter a whole number of seconds from 1 to 604800',
    );
    expect(
      transcript.some((line) => line.includes('100,100 -> load 100 appears twice; a comma-separated list')),
    ).toBe(true);
    expect(said.join('\n')).toContain('Configuration:');
    expect(said.join('\n')).toContain('local loads:       10, 20 tx/s');
  });

  it('cancels on "no" without running anything', async () => {
    const log: string[] = [];
    const out: string[] = [];
    const context = {
      shutdown: { signal: new AbortController().signal, onForce: () => () => true, dispose() {} },
      stdout: (text: string) => out.push(text),
      stderr: () => {},
      verbose: false,
    };
    const code = await runBenchmarkCommand({ interactive: true }, context, {
      ...deps(log),
      asker: scriptedAsker(['local', '', '', '', '', '', false, false], []),
    });
    expect(code).toBe(0);
    expect(log).toEqual([]);
    expect(out.join('\n')).toContain('Cancelled; nothing was deployed.');
  });

  it('without a terminal to ask on, refuses at once (exit 2) rather than drawing a prompt and exiting 130', async () => {
    const log: string[] = [];
    const context = {
      shutdown: { signal: new AbortController().signal, onForce: () => () => true, dispose() {} },
      stdout: () => {},
      stderr: () => {},
      verbose: false,
    };
    const isTTY = process.stdin.isTTY;
    Object.defineProperty(process.stdin, 'isTTY', { value: undefined, configurable: true });
    try {
      await expect(runBenchmarkCommand({ interactive: true }, context, deps(log))).rejects.toThrow(
        '--interactive needs a terminal, and standard input is not one',
      );
    } finally {
      Object.defineProperty(process.stdin, 'isTTY', { value: isTTY, configurable: true });
    }
    expect(log).toEqual([]);
  });

  it('asks remote questions and checks the hosts file', async () => {
    const hosts = join(dir, 'hosts.env');
    await writeFile(hosts, 'MYSTICETI_NODE0_HOST=127.0.0.1\n');
    const transcript: string[] = [];
    const outcome = await runBenchmarkWizard({
      asker: scriptedAsker(
        ['remote', 'missing.env', hosts, '51', '2', '20', '', '', '', false, true],
        transcript,
      ),
      say: () => {},
      env: {},
      cwd: dir,
    });
    expect(outcome.kind).toBe('run');
    if (outcome.kind !== 'run') return;
    expect(outcome.plan.networks).toEqual([{ kind: 'remote', loads: [50, 100, 200] }]);
    expect(outcome.plan.hostsFile).toBe(hosts);
    expect(outcome.plan.nodesPerHost).toBe(2);
    expect(transcript).toContain('Hosts file: missing.env -> no file at missing.env');
    expect(transcript).toContain('Nodes per remote host: 51 -> enter a whole number of nodes from 1 to 50');
  });

  it('drives real inquirer prompts through streams', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let screen = '';
    output.on('data', (chunk) => (screen += String(chunk)));
    const asker = inquirerAsker({ input, output });
    const feed = async (keys: string) => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      input.write(keys);
    };
    const answer = asker.text('Duration', '180', (value) => (value === 'abc' ? 'enter a number' : true));
    await feed('abc\r');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(screen).toContain('enter a number');
    await feed('\u0015'); // clear the line
    await feed('42\r');
    expect(await answer).toBe('42');
    const yes = asker.yesNo('Go?', true);
    await feed('\r');
    expect(await yes).toBe(true);
  });
});
