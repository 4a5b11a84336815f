/**
 * The observer that turns each level the sweep ends into a record (src/results/record.ts),
 * writes it to the run folder as `<network>-benchmark-<n>.json`, and hands it to the
 * reporters; at the run's end it gives them every record and lists the files in run.json.
 */
import type {
  LevelEnd,
  RunEndContribution,
  SweepEnd,
  SweepObserver,
  SweepOutput,
} from '../bench/observer.js';
import type { BenchmarkPlan } from '../bench/plan.js';
import { buildBenchmarkRecord } from './record.js';
import type { Reporter } from './reporter.js';
import type { BenchmarkRecord } from './schema.js';

/** File name of a record in its run folder. */
export function recordFileName(record: Pick<BenchmarkRecord, 'network_type' | 'benchmark_number'>): string {
  return `${record.network_type}-benchmark-${record.benchmark_number}.json`;
}

export class Recorder implements SweepObserver {
  readonly name = 'records';
  readonly #plan: BenchmarkPlan;
  readonly #reporters: readonly Reporter[];
  readonly #records: BenchmarkRecord[] = [];

  constructor(plan: BenchmarkPlan, reporters: readonly Reporter[]) {
    this.#plan = plan;
    this.#reporters = reporters;
  }

  /** The records so far, in the order the levels ended. */
  get records(): readonly BenchmarkRecord[] {
    return this.#records;
  }

  async onLevelEnd(level: LevelEnd, out: SweepOutput): Promise<void> {
    if (level.runs.length === 0) return;
    const record = buildBenchmarkRecord({ ...level, plan: this.#plan });
    this.#records.push(record);
    await out.write(recordFileName(record), record);
    for (const reporter of this.#reporters) await reporter.onRecord?.(record, out);
  }

  async onRunEnd(run: SweepEnd, out: SweepOutput): Promise<RunEndContribution> {
    const findings: string[] = [];
    const index: Record<string, unknown> = {
      benchmarks: this.#records.map((record) => ({
        network_type: record.network_type,
        benchmark_number: record.benchmark_number,
        load: record.parameters.load,
        file: recordFileName(record),
      })),
    };
    for (const reporter of this.#reporters) {
      const added = await reporter.onRunEnd?.(
        { ...run, records: this.#records, findings: [...run.findings, ...findings] },
        out,
      );
      if (added) {
        findings.push(...(added.findings ?? []));
        Object.assign(index, added.index);
      }
    }
    return { findings, index };
  }
}
