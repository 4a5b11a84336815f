/**
 * Orchestrator overhead between load levels (issue 6): a real `benchmark` sweep on
 * the local 4-node refnode network at the default settings (loads 100,200,500,
 * 180 s each, 512-byte txs, confirm commit, runs 1), timed per level:
 *
 *   overhead = level wall time − configured duration − settle wait
 *
 * i.e. everything added to the load itself. It has two parts, reported apart:
 *   - the generator's tail (runLoad wall − duration: its start and its wait for the
 *     commits of the last transactions, which grows with the nodes' commit latency);
 *   - the orchestrator's own share (the rest: mempool polling, building the record,
 *     writing the files, printing). Target: < 2 s per level; both are reported.
 *
 * For a reference in the same run, the same loads are also driven by calling `runLoad`
 * directly back to back on a fresh network (no orchestrator): its own wall − duration is the
 * generator's share, so the rest is the orchestrator's.
 *
 * A declaration on the bench harness (lib/harness.ts): the sweep and the reference are its
 * sides, without a comparison (the reference is a figure beside the sweep, not a rival);
 * `--pairs` (default 1) runs both that many times. Each level is one sample of the
 * orchestrator's share: the target is met or missed only when every level agrees on a quiet
 * machine, else "inconclusive" (lib/verdict.ts). Exit code 1 only when it is missed (the figure
 * with the generator's tail is judged too, as advisory).
 *
 * Usage: npm run bench:overhead [-- --duration 180 --loads 100,200,500 --no-reference]
 * (`-- --help` lists every flag). Writes benchmarks/results/overhead-<timestamp>.json.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { numberFlag, numberListFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';
import { judgeThreshold, spread } from './lib/verdict.js';

type BenchmarkPlan = import('../../src/bench/plan.js').BenchmarkPlan;

interface Args {
  readonly duration: number;
  readonly loads: readonly number[];
  readonly reference: boolean;
}
interface Shared {
  readonly plan: BenchmarkPlan;
  readonly stamp: string;
}
interface SweepLevel {
  readonly load: number;
  readonly level_ms: number;
  readonly load_call_ms: number;
  readonly settle_ms: number;
  readonly generator_tail_ms_recorded: number;
  readonly overhead_ms: number;
  readonly orchestrator_ms: number;
}
interface ReferenceLevel {
  readonly load: number;
  readonly wall_ms: number;
  readonly tail_ms: number;
}
type Round =
  | { readonly side: 'sweep'; readonly run_dir: string | undefined; readonly levels: readonly SweepLevel[] }
  | { readonly side: 'reference'; readonly levels: readonly ReferenceLevel[] };

const root = resolve(import.meta.dirname, '../..');
const resultsDir = join(root, 'benchmarks/results');
const TARGET_MS = 2000;
const round = (value: number) => Math.round(value * 10) / 10;
const sweepLevels = (rounds: readonly Round[] = []) =>
  rounds.flatMap((r) => (r.side === 'sweep' ? r.levels : []));
const referenceLevels = (rounds: readonly Round[] = []) =>
  rounds.flatMap((r) => (r.side === 'reference' ? r.levels : []));
const maxOf = (values: readonly number[]) => (values.length > 0 ? Math.max(...values) : undefined);

/** A real `benchmark` sweep, as `benchmark` runs it; each level's overhead and its parts. */
async function sweep({ plan }: Shared, signal: AbortSignal, log: (line: string) => void): Promise<Round> {
  // imported here, not at the top: --help answers at once
  const { runBenchmark } = await import('../../src/results/run.js');
  const { testbedFactory } = await import('../../src/bench/testbeds.js');
  const { runLoad } = await import('../../src/load/index.js');
  const { defaultReporters } = await import('../../src/report/reporters.js');
  const outcome = await runBenchmark(plan, {
    reporters: defaultReporters(),
    signal,
    createTestbed: testbedFactory({ log }),
    runLoad,
    stdout: (text) => process.stdout.write(`${text}\n`),
    stderr: (text) => process.stderr.write(`${text}\n`),
  });
  return {
    side: 'sweep',
    run_dir: outcome.runDir,
    levels: outcome.levels.map((level) => ({
      load: level.load,
      level_ms: round(level.levelMs),
      load_call_ms: round(level.loadMs),
      settle_ms: round(level.settleMs),
      generator_tail_ms_recorded: round(level.generatorTailMs),
      overhead_ms: round(level.overheadMs),
      orchestrator_ms: round(level.orchestratorMs),
    })),
  };
}

/** The generator alone: the same loads, the same network kind, back to back. */
async function reference(
  { plan, stamp }: Shared,
  pair: number,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<Round> {
  const { testbedFactory } = await import('../../src/bench/testbeds.js');
  const { runLoad } = await import('../../src/load/index.js');
  const levels: ReferenceLevel[] = [];
  const testbed = await testbedFactory({ log })('local', plan);
  const deployment = await testbed.deploy({ signal });
  try {
    for (const load of plan.networks[0]?.loads ?? []) {
      if (signal.aborted) break;
      const started = performance.now();
      await runLoad({
        runId: `overhead-reference-${stamp}-${pair}-${load}`,
        endpoints: deployment.endpoints,
        protocol: plan.protocol,
        shape: { kind: 'fixed', rate: load },
        durationMs: (plan.durationSecs - plan.warmupSecs) * 1000,
        warmupMs: plan.warmupSecs * 1000,
        signal,
        transactionSizeBytes: plan.transactionSizeBytes,
        confirm: plan.confirm,
      });
      const wall = performance.now() - started;
      levels.push({ load, wall_ms: round(wall), tail_ms: round(wall - plan.durationSecs * 1000) });
      // same settle as the sweep, not timed here
      await new Promise((done) => setTimeout(done, 2000));
    }
  } finally {
    await deployment.destroy({ thorough: true });
  }
  return { side: 'reference', levels };
}

await runBench({
  usage: {
    name: 'bench:overhead',
    summary:
      "`benchmark`'s own time between load levels (level wall time - duration - settle) in a real\n" +
      'sweep on the local 4-node network, next to the generator alone on the same loads.',
    notes: ['Writes benchmarks/results/overhead-<timestamp>.json; exit code 1 when the target is missed.'],
  },
  flags: {
    duration: { type: 'string', valueName: 'SECS', default: '180', description: 'seconds per load level' },
    loads: { type: 'string', valueName: 'L1,L2', default: '100,200,500', description: 'load levels (tx/s)' },
    'no-reference': { type: 'boolean', default: false, description: 'skip the generator-only reference run' },
  },
  defaultPairs: 1,
  // the numbers here; the rest (distinct loads, the warm-up within the duration) the plan builder checks
  args: (values): Args => ({
    duration: numberFlag('duration', values.duration, { integer: true, min: 1 }),
    loads: numberListFlag('loads', values.loads, { min: 0 }),
    reference: !values['no-reference'],
  }),
  file: 'overhead',
  setup: async (args, { log }): Promise<Shared> => {
    const { buildBenchmarkPlan } = await import('../../src/bench/plan.js');
    mkdirSync(resultsDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const plan = await buildBenchmarkPlan({
      outputDir: join(resultsDir, `overhead-runs-${stamp}`),
      duration: args.duration,
      loads: args.loads.join(','),
      cleanup: true,
    });
    log(
      `sweep: loads ${plan.networks[0]?.loads.join(',')} tx/s, ${plan.durationSecs} s each, warm-up ${plan.warmupSecs} s`,
    );
    return { plan, stamp };
  },
  sides: ['sweep', 'reference'],
  sidesFrom: (args) => (args.reference ? ['sweep', 'reference'] : ['sweep']),
  compare: false,
  // Ctrl-C stops the level in progress and removes the network (cleanup is on)
  round: (side, { shared, pair, signal, log }) =>
    side === 'sweep' ? sweep(shared, signal, log) : reference(shared, pair, signal, log),
  describe: (r) =>
    r.side === 'sweep'
      ? r.levels
          .map(
            (level) =>
              `${level.load} tx/s: orchestrator ${level.orchestrator_ms} ms, with the generator's commit tail ${level.overhead_ms} ms, settle ${level.settle_ms} ms`,
          )
          .join('; ')
      : r.levels
          .map((level) => `${level.load} tx/s: runLoad alone, wall − duration ${level.tail_ms} ms`)
          .join('; '),
  // per round, the worst level
  figures: {
    maxOrchestratorMs: (r) =>
      r.side === 'sweep' ? maxOf(r.levels.map((l) => l.orchestrator_ms)) : undefined,
    maxOverheadMs: (r) => (r.side === 'sweep' ? maxOf(r.levels.map((l) => l.overhead_ms)) : undefined),
    maxGeneratorTailMs: (r) =>
      maxOf(
        r.side === 'sweep'
          ? r.levels.map((l) => l.generator_tail_ms_recorded)
          : r.levels.map((l) => l.tail_ms),
      ),
  },
  // each level is a sample: met or missed only when every level agrees, on a quiet machine
  claims: ({ sweep: rounds }, _args, load) => [
    judgeThreshold({
      claim: `orchestrator's overhead per level <= ${TARGET_MS} ms`,
      values: sweepLevels(rounds).map((level) => level.orchestrator_ms),
      target: TARGET_MS,
      load,
    }),
    {
      ...judgeThreshold({
        claim: `overhead per level with the generator's commit tail <= ${TARGET_MS} ms`,
        values: sweepLevels(rounds).map((level) => level.overhead_ms),
        target: TARGET_MS,
        load,
      }),
      advisory: true,
    },
  ],
  extra: ({ sweep: sweeps = [], reference: references }, _args, _after, { plan }) => {
    const levels = sweepLevels(sweeps);
    const overheads = levels.map((level) => level.overhead_ms);
    return {
      settings: {
        loads: plan.networks[0]?.loads,
        duration_secs: plan.durationSecs,
        warmup_secs: plan.warmupSecs,
        confirm: plan.confirm,
      },
      run_dirs: sweeps.flatMap((r) => (r.side === 'sweep' ? [r.run_dir] : [])),
      levels,
      reference_generator_only: referenceLevels(references),
      /** Per level: wall − duration − settle, including the generator's commit tail. */
      max_overhead_ms: maxOf(overheads),
      mean_overhead_ms: round(
        overheads.reduce((total, value) => total + value, 0) / Math.max(1, levels.length),
      ),
      /** Per level: the orchestrator's own share (overhead − generator tail). */
      max_orchestrator_ms: maxOf(levels.map((level) => level.orchestrator_ms)),
      target_ms: TARGET_MS,
      /** Each figure's spread across levels. */
      spread: {
        orchestrator_ms: spread(levels.map((level) => level.orchestrator_ms)),
        overhead_ms: spread(overheads),
        reference_tail_ms: spread(referenceLevels(references).map((level) => level.tail_ms)),
      },
    };
  },
});
