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
 * For a side-by-side reference in the same run, the same loads are also driven by
 * calling `runLoad` directly back to back (no orchestrator): its own
 * wall − duration is the generator's share, so the rest is the orchestrator's.
 *
 * Each level is one sample of the orchestrator's share: the target is met or missed only when
 * every level agrees on a quiet machine (load average before, every 5 s and after, recorded),
 * else "inconclusive" (lib/verdict.ts). Exit code 1 only when it is missed.
 *
 * Usage: npm run bench:overhead [-- --duration 180 --loads 100,200,500 --no-reference]
 * (`-- --help` lists every flag). Writes benchmarks/results/overhead-<timestamp>.json.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { COMMON_FLAGS, flagsOrExit, numberFlag } from './lib/flags.js';
import { LoadMonitor, judgeThreshold, loadLine, spread, verdictLine } from './lib/verdict.js';
import { defaultReporters } from '../../src/report/reporters.js';

const USAGE = {
  name: 'bench:overhead',
  summary:
    "`benchmark`'s own time between load levels (level wall time - duration - settle) in a real\n" +
    'sweep on the local 4-node network, next to the generator alone on the same loads.',
  notes: ['Writes benchmarks/results/overhead-<timestamp>.json; exit code 1 when the target is missed.'],
};
const FLAGS = {
  duration: { type: 'string', valueName: 'SECS', default: '180', description: 'seconds per load level' },
  loads: { type: 'string', valueName: 'L1,L2', default: '100,200,500', description: 'load levels (tx/s)' },
  'no-reference': { type: 'boolean', default: false, description: 'skip the generator-only reference run' },
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => ({
  ...values,
  maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
}));
// Before anything runs: the load the machine had without this script.
const monitor = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});

// Imported after the flags, so --help answers at once. (--duration and --loads are checked by
// the benchmark's own plan builder, with its messages.)
const { writeFileAtomic } = await import('../../src/common/atomic-write.js');
const { buildBenchmarkPlan } = await import('../../src/bench/plan.js');
const { runBenchmark } = await import('../../src/results/run.js');
const { testbedFactory } = await import('../../src/bench/testbeds.js');
const { runLoad } = await import('../../src/load/index.js');
const { installShutdown } = await import('../../src/common/shutdown.js');

const root = resolve(import.meta.dirname, '../..');
const resultsDir = join(root, 'benchmarks/results');
mkdirSync(resultsDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const log = (line: string) => process.stderr.write(`bench-overhead: ${line}\n`);

const plan = await buildBenchmarkPlan({
  outputDir: join(resultsDir, `overhead-runs-${stamp}`),
  duration: args.duration,
  loads: args.loads,
  cleanup: true,
});
log(
  `sweep: loads ${plan.networks[0]?.loads.join(',')} tx/s, ${plan.durationSecs} s each, warm-up ${plan.warmupSecs} s`,
);
// Ctrl-C stops the level in progress and removes the network (cleanup is on).
const shutdown = installShutdown();
const sweepWindow = monitor.window();
const outcome = await runBenchmark(plan, {
  reporters: defaultReporters(),
  signal: shutdown.signal,
  createTestbed: testbedFactory({ log }),
  runLoad,
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
});

const levels = outcome.levels.map((level) => ({
  load: level.load,
  level_ms: round(level.levelMs),
  load_call_ms: round(level.loadMs),
  settle_ms: round(level.settleMs),
  generator_tail_ms_recorded: round(level.generatorTailMs),
  overhead_ms: round(level.overheadMs),
  orchestrator_ms: round(level.orchestratorMs),
}));
const load = sweepWindow.close();

// Reference: the generator alone, same loads, same network kind, back to back.
const reference: { load: number; wall_ms: number; tail_ms: number }[] = [];
if (!args['no-reference'] && !shutdown.signal.aborted) {
  log('reference: runLoad alone on a fresh local network');
  const testbed = await testbedFactory({ log })('local', plan);
  const deployment = await testbed.deploy({ signal: shutdown.signal });
  try {
    for (const load of plan.networks[0]?.loads ?? []) {
      if (shutdown.signal.aborted) break;
      const started = performance.now();
      await runLoad({
        runId: `overhead-reference-${stamp}-${load}`,
        endpoints: deployment.endpoints,
        protocol: plan.protocol,
        shape: { kind: 'fixed', rate: load },
        durationMs: (plan.durationSecs - plan.warmupSecs) * 1000,
        warmupMs: plan.warmupSecs * 1000,
        signal: shutdown.signal,
        transactionSizeBytes: plan.transactionSizeBytes,
        confirm: plan.confirm,
      });
      const wall = performance.now() - started;
      reference.push({ load, wall_ms: round(wall), tail_ms: round(wall - plan.durationSecs * 1000) });
      // same settle as the sweep, not timed here
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  } finally {
    await deployment.destroy({ thorough: true });
  }
}

const maxOverhead = Math.max(...levels.map((level) => level.overhead_ms));
const maxOrchestrator = Math.max(...levels.map((level) => level.orchestrator_ms));
// Each level is a sample: met or missed only when every level agrees, on a quiet machine.
const verdict = judgeThreshold({
  claim: "orchestrator's overhead per level <= 2000 ms",
  values: levels.map((level) => level.orchestrator_ms),
  target: 2000,
  load,
});
const verdictWithTail = judgeThreshold({
  claim: "overhead per level with the generator's commit tail <= 2000 ms",
  values: levels.map((level) => level.overhead_ms),
  target: 2000,
  load,
});
const figures = {
  script: 'bench-overhead',
  timestamp: new Date().toISOString(),
  machine: { cpus: os.cpus().length, memory_bytes: os.totalmem(), node: process.version },
  settings: {
    loads: plan.networks[0]?.loads,
    duration_secs: plan.durationSecs,
    warmup_secs: plan.warmupSecs,
    confirm: plan.confirm,
  },
  run_dir: outcome.runDir,
  levels,
  reference_generator_only: reference,
  /** Per level: wall − duration − settle, including the generator's commit tail. */
  max_overhead_ms: maxOverhead,
  mean_overhead_ms: round(
    levels.reduce((total, level) => total + level.overhead_ms, 0) / Math.max(1, levels.length),
  ),
  /** Per level: the orchestrator's own share (overhead − generator tail). */
  max_orchestrator_ms: maxOrchestrator,
  target_ms: 2000,
  /** Each figure's spread across levels. */
  spread: {
    orchestrator_ms: spread(levels.map((level) => level.orchestrator_ms)),
    overhead_ms: spread(levels.map((level) => level.overhead_ms)),
    reference_tail_ms: spread(reference.map((entry) => entry.tail_ms)),
  },
  /** pass | fail | inconclusive, with the reasons; never a verdict from a busy machine. */
  verdict,
  verdict_including_generator_tail: verdictWithTail,
  /** Load average over the sweep, and over the whole run (reference included). */
  load_average_sweep: load,
  load_average: monitor.stop(),
};
const path = join(resultsDir, `overhead-${stamp}.json`);
await writeFileAtomic(path, `${JSON.stringify(figures, null, 2)}\n`);
for (const level of levels) {
  log(
    `level ${level.load} tx/s: orchestrator ${level.orchestrator_ms} ms; with the generator's commit tail ${level.overhead_ms} ms; settle ${level.settle_ms} ms`,
  );
}
for (const entry of reference)
  log(`reference ${entry.load} tx/s: runLoad alone, wall − duration = ${entry.tail_ms} ms`);
log(
  `max orchestrator overhead per level ${maxOrchestrator} ms (target < 2000 ms); ` +
    `including the generator's commit tail ${maxOverhead} ms`,
);
log(`sweep: ${loadLine(load)}`);
log(verdictLine(verdict));
log(verdictLine(verdictWithTail));
log(`figures in ${path}`);
shutdown.dispose();
process.exitCode = verdict.verdict === 'fail' ? 1 : 0;

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
