/**
 * `npm run bench:startup` — the commands' own start-up against a reference build, side by side:
 * this tree's build (`this`) and the build of `--ref REV` (`ref`: a git worktree made in the
 * system's temp folder, its dependencies and `npm run build` there, removed at the end:
 * lib/ref-worktree.ts), each command run
 * through its bin/ shim (the bundle), alternating rounds. Per command and side:
 *
 *   - `spawnMs`: from process spawn to `compose up` spawned (MESHBENCH_TRACE's
 *     "deploy: compose up spawned"), what the command does before the network can start;
 *   - `readyMs`: from process spawn to every node ready ("deploy: all ready");
 *   - `cpuMs`: the command's whole CPU time (user + system, `/usr/bin/time`), compose excluded
 *     (its own process).
 *
 * The commands: `local-network --cleanup --num-transactions 10`, `benchmark --local-loads 50
 * --duration 1 --cleanup` (the seed network, 4 nodes), and `benchmark --help` (CPU only). Both
 * sides use this engine's images (`npm run images`): the reference's refnode source may differ;
 * its start-up code is what is compared. Issue 31 measures start-up against a hand-run compose
 * with bench:local; this script shows what a change did to the commands themselves.
 *
 * A declaration on the bench harness (lib/harness.ts): `ref` and `this` are the sides, `--pairs`
 * the rounds (the order turned each pair); each figure is compared only when every pair agrees,
 * the ranges do not overlap and the machine was quiet (lib/verdict.ts).
 *
 * Usage: npm run build && npm run bench:startup -- --ref 3459106 [--pairs 6]
 * Writes benchmarks/results/startup-<timestamp>.json.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runBench } from './lib/harness.js';
import { makeRefWorktree, type RefWorktree } from './lib/ref-worktree.js';

process.chdir(resolve(import.meta.dirname, '../..'));
const ROOT = process.cwd();
const TIME = '/usr/bin/time';

interface Args {
  readonly ref: string;
}

interface Shared {
  /** The reference's checkout (its own node_modules and dist/). */
  readonly worktree: RefWorktree;
  /** Where the benchmark runs write their folders (removed at the end). */
  readonly outputDir: string;
}

interface CommandFigures {
  readonly spawnMs?: number;
  readonly readyMs?: number;
  readonly cpuMs: number;
}

type Round = Readonly<Record<string, CommandFigures>>;

const COMMANDS: Readonly<Record<string, (outputDir: string) => readonly string[]>> = {
  'local-network': (output) => [
    'bin/local-network.js',
    '--cleanup',
    '--num-transactions',
    '10',
    '--output',
    output,
  ],
  benchmark: (output) => [
    'bin/benchmark.js',
    '--local-loads',
    '50',
    '--duration',
    '1',
    '--cleanup',
    '--output-dir',
    output,
  ],
  'benchmark --help': () => ['bin/benchmark.js', '--help'],
};

/** One command of one side: its trace marks and its CPU time. */
function runCommand(cwd: string, argv: readonly string[]): Promise<CommandFigures> {
  return new Promise((done, fail) => {
    const child = spawn(TIME, ['-f', 'CPU %U %S', process.execPath, ...argv], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MESHBENCH_TRACE: '1' },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      const mark = (event: string) => {
        const match = new RegExp(`\\[trace (\\d+)\\] deploy: ${event}`).exec(output);
        return match ? Number(match[1]) : undefined;
      };
      const cpu = /^CPU ([\d.]+) ([\d.]+)$/m.exec(output);
      if (code !== 0 || !cpu) {
        fail(new Error(`${argv.join(' ')} in ${cwd} failed (exit ${code}):\n${output.slice(-2000)}`));
        return;
      }
      const spawnMs = mark('compose up spawned');
      const readyMs = mark('all ready');
      done({
        ...(spawnMs !== undefined ? { spawnMs } : {}),
        ...(readyMs !== undefined ? { readyMs } : {}),
        cpuMs: Math.round((Number(cpu[1]) + Number(cpu[2])) * 1000),
      });
    });
  });
}

const figures: Record<string, (round: Round) => number | undefined> = {};
for (const command of Object.keys(COMMANDS)) {
  figures[`${command} cpuMs`] = (round) => round[command]?.cpuMs;
  if (command !== 'benchmark --help') {
    figures[`${command} spawnMs`] = (round) => round[command]?.spawnMs;
    figures[`${command} readyMs`] = (round) => round[command]?.readyMs;
  }
}

await runBench({
  usage: {
    name: 'bench:startup',
    summary:
      "The commands' start-up (to compose spawned, to all nodes ready, and their CPU) against the\n" +
      'build of a git revision, side by side. Needs the images (npm run build && npm run images).',
    notes: ['Writes benchmarks/results/startup-<timestamp>.json.'],
  },
  flags: {
    ref: {
      type: 'string',
      valueName: 'REV',
      default: 'HEAD',
      description: 'the git revision to compare with (built in a temporary worktree)',
    },
  },
  defaultPairs: 6,
  args: (values): Args => ({ ref: values.ref ?? 'HEAD' }),
  file: 'startup',
  setup: async ({ ref }, { log }): Promise<Shared> => {
    if (!existsSync(TIME)) throw new Error(`${TIME} is missing: install GNU time (apt-get install time)`);
    if (!existsSync('dist/bundle/local-network.js'))
      throw new Error('this tree is not built: run npm run build');
    const worktree = makeRefWorktree(ref, { prefix: 'startup', build: true, log });
    const outputDir = mkdtempSync(join(tmpdir(), 'meshbench-startup-runs-'));
    // one warm-up of each side (page cache, compose's first start), not counted
    for (const cwd of [worktree.dir, ROOT])
      await runCommand(cwd, COMMANDS['local-network']?.(outputDir) ?? []);
    return { worktree, outputDir };
  },
  teardown: async ({ worktree, outputDir }) => {
    worktree.remove();
    rmSync(outputDir, { recursive: true, force: true });
  },
  sides: ['ref', 'this'],
  round: async (side, { shared }) => {
    const cwd = side === 'ref' ? shared.worktree.dir : ROOT;
    const round: Record<string, CommandFigures> = {};
    for (const [command, argv] of Object.entries(COMMANDS))
      round[command] = await runCommand(cwd, argv(shared.outputDir));
    return round;
  },
  describe: (round) =>
    Object.entries(round)
      .map(
        ([command, f]) =>
          `${command}: ${f.spawnMs !== undefined ? `compose at ${f.spawnMs} ms, ` : ''}${f.readyMs !== undefined ? `ready at ${f.readyMs} ms, ` : ''}CPU ${f.cpuMs} ms`,
      )
      .join('; '),
  figures,
  extra: (_bySide, args, _after, shared) => ({
    ref: { rev: args.ref, commit: shared.worktree.commit },
    this: {
      commit: shared.worktree.thisCommit,
      note: 'the working tree as built, uncommitted changes included',
    },
  }),
});
