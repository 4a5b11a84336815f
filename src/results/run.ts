/**
 * A benchmark run with its records: the sweep (src/bench/sweep.ts) with the recorder as
 * its last observer, so every level becomes a record file and the reporters see them.
 * What the `benchmark` command, scripts and tests call.
 */
import type { SweepObserver } from '../bench/observer.js';
import type { BenchmarkPlan } from '../bench/plan.js';
import { runSweep, type SweepDeps, type SweepOutcome } from '../bench/sweep.js';
import { Recorder } from './recorder.js';
import type { Reporter } from './reporter.js';
import type { BenchmarkRecord } from './schema.js';

export interface BenchmarkDeps extends Omit<SweepDeps, 'observers'> {
  /** What renders and writes the records (src/report/reporters.ts: defaultReporters()), in order. */
  readonly reporters: readonly Reporter[];
  /** Observers of the sweep's lifecycle (faults, monitors…), called before the recorder. */
  readonly observers?: readonly SweepObserver[];
}

export interface BenchmarkOutcome extends SweepOutcome {
  readonly records: readonly BenchmarkRecord[];
}

export async function runBenchmark(plan: BenchmarkPlan, deps: BenchmarkDeps): Promise<BenchmarkOutcome> {
  const recorder = new Recorder(plan, deps.reporters);
  const { reporters: _reporters, observers = [], ...sweepDeps } = deps;
  const outcome = await runSweep(plan, { ...sweepDeps, observers: [...observers, recorder] });
  return { ...outcome, records: recorder.records };
}
