/**
 * The seam through which a sweep's results leave it: reporters. The sweep measures and
 * builds records; a reporter renders or writes them (the console table, the text
 * summary, the local-vs-remote comparison, and whatever comes next: an HTML report, a
 * regression gate). Reporters live above the sweep (src/report/) and are registered by
 * the command, so the sweep never imports a renderer. They are called in order, each
 * hook awaited, and a later reporter sees what earlier ones found.
 */
import type { SearchOutcome } from './load-search.js';
import type { BenchmarkPlan } from './plan.js';
import type { BenchmarkRecord, RecordNetworkType } from './record.js';

/** Where a reporter's output goes. */
export interface SweepOutput {
  /** A block of text on the console (nothing when the plan turns console output off). */
  say(text: string): void;
  /** A file in the run folder, written atomically (nothing when the plan writes no files). */
  write(name: string, data: unknown): Promise<void>;
}

export interface SweepSearch {
  readonly network: RecordNetworkType;
  readonly outcome: SearchOutcome;
}

/** Everything a run produced, at its end. */
export interface RunEnd {
  readonly runId: string;
  readonly plan: BenchmarkPlan;
  readonly records: readonly BenchmarkRecord[];
  readonly searches: readonly SweepSearch[];
  readonly notes: readonly string[];
  readonly startedAt: string;
  readonly endedAt: string;
  readonly runDir: string | undefined;
  /** What the reporters before this one found (the comparison's findings, say). */
  readonly findings: readonly string[];
}

/** What a reporter adds at the run's end for the reporters after it and for run.json. */
export interface RunEndContribution {
  readonly findings?: readonly string[];
  /** Named entries for the run index (run.json), e.g. `{ comparison: 'comparison.json' }`. */
  readonly index?: Readonly<Record<string, unknown>>;
}

export interface SweepReporter {
  readonly name: string;
  /** After each level's record is built and written. */
  onRecord?(record: BenchmarkRecord, out: SweepOutput): void | Promise<void>;
  /** Once, after the last level (also after a run stopped early, with what did run). */
  onRunEnd?(run: RunEnd, out: SweepOutput): void | RunEndContribution | Promise<void | RunEndContribution>;
}
