import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { runBenchmarkCommand } from '../../../src/cli/benchmark-command.js';
import { addBenchmarkOptions, type BenchmarkArgs } from '../../../src/cli/benchmark-options.js';
import { runCli } from '../../../src/cli/run-cli.js';
import { registerPlugin } from '../../../src/bench/registry.js';
import type { Testbed } from '../../../src/testbed/testbed.js';
import { fakeLoadResult } from '../bench/fixtures.js';
import { localEnvironment } from '../../support/environments.js';

// A plug-in defined here, registered by one line: no core file names it.
let unregister: () => void;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-plugin-'));
  unregister = registerPlugin({
    name: 'tally',
    group: 'Tally (a test plug-in):',
    flags: [{ name: 'tally-label', type: 'string', describe: 'Label of the tally block' }],
    settings: z.object({ tallyLabel: z.string().min(2, { message: 'two letters or more' }).optional() }),
    section: (settings) => (settings.tallyLabel === undefined ? undefined : { label: settings.tallyLabel }),
    observer: (section) => ({
      name: 'tally',
      onLoadEnd: (_level, load, context) => context.block('tally', { label: section.label, sent: load.sent }),
    }),
    runBlock: { name: 'tally', schema: z.object({ label: z.string(), sent: z.number() }) },
  });
});
afterAll(async () => {
  unregister();
  await rm(dir, { recursive: true, force: true });
});

const testbed: Testbed = {
  kind: 'local',
  async deploy() {
    return {
      runId: 'n',
      kind: 'local',
      endpoints: [{ nodeId: 'node0', rpcUrl: 'http://127.0.0.1:9' }],
      nodes: [],
      environment: localEnvironment(),
      readyAfterMs: 1,
      async destroy() {},
      async release() {},
      async [Symbol.asyncDispose]() {},
    };
  },
};

async function benchmark(argv: string[], env: Record<string, string> = {}) {
  const err: string[] = [];
  const out: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  vi.spyOn(console, 'log').mockImplementation((...line: unknown[]) => void out.push(line.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...line: unknown[]) => void err.push(line.join(' ')));
  const code = await runCli<BenchmarkArgs>(
    {
      name: 'benchmark',
      usage: '$0 [options]',
      options: (yargs) => addBenchmarkOptions(yargs),
      run: (args, context) =>
        runBenchmarkCommand(args, context, {
          createTestbed: () => testbed,
          runLoad: async (options) =>
            fakeLoadResult({
              rate: options.shape.kind === 'fixed' ? options.shape.rate : 1,
              durationSecs: 2,
            }),
          cwd: dir,
          env,
          sleep: async () => {},
          fetch: async () => new Response(JSON.stringify({ result: { n_txs: '0' } })),
        }),
    },
    argv,
  );
  vi.restoreAllMocks();
  return { code, out: out.join(''), err: err.join('') };
}

it('a plug-in from one registration: its flag in --help, its setting from flag or env, its block in the record', async () => {
  const help = await benchmark(['--help']);
  expect(help.out).toMatch(/Tally \(a test plug-in\):\s+--tally-label\s+Label of the tally block/);

  const bad = await benchmark(['--tally-label', 'x', '--output-dir', dir]);
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/--tally-label "x" is not valid: two letters or more/);

  const out = join(dir, 'out');
  const run = await benchmark(
    ['--loads', '5', '--duration', '2', '--monitor', 'false', '--output-dir', out],
    { MESHBENCH_TALLY_LABEL: 'from-env' },
  );
  expect(run.err).toBe('');
  expect(run.code).toBe(0);
  const files = (await readdir(out, { recursive: true })).filter((f) => /benchmark-\d+\.json$/.test(f));
  expect(files.length).toBeGreaterThan(0);
  const record = JSON.parse(await readFile(join(out, files[0] as string), 'utf8'));
  expect(record.plan.plugins.tally).toEqual({ label: 'from-env' });
  expect(record.plan.configSources['tally-label']).toBe('MESHBENCH_TALLY_LABEL');
  expect(record.runs[0].blocks.tally).toMatchObject({ label: 'from-env' });
});
