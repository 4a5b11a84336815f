/**
 * Reporters: what renders or writes the records (the console table, the text summary,
 * the local-vs-remote comparison, and next: an HTML report, a regression gate). They live
 * in src/report/ and are handed to the recorder (src/results/recorder.ts), which calls
 * them in order, each hook awaited; a later reporter sees what earlier ones found.
 * Adding one is a file in src/report/ and a line in defaultReporters().
 */
import type { RunEndContribution, SweepEnd, SweepOutput } from '../bench/observer.js';
import type { BenchmarkRecord } from './schema.js';

export type { RunEndContribution, SweepOutput, SweepSearch } from '../bench/observer.js';

/** Everything a run produced, at its end: what the sweep saw, and the records. */
export interface RunEnd extends SweepEnd {
  readonly records: readonly BenchmarkRecord[];
}

export interface Reporter {
  readonly name: string;
  /** After each level's record is built and written. */
  onRecord?(record: BenchmarkRecord, out: SweepOutput): void | Promise<void>;
  /** Once, after the last level (also after a run stopped early, with what did run). */
  onRunEnd?(run: RunEnd, out: SweepOutput): void | RunEndContribution | Promise<void | RunEndContribution>;
}
