/**
 * The standard reporters (see src/results/reporter.ts): the per-level block and the
 * final table on the console, the local-vs-remote comparison (comparison.json and .txt)
 * when both network types ran, and the text summary (summary.txt).
 */
import type { Reporter, RunEnd, SweepOutput } from '../results/reporter.js';
import { compareRecords, renderComparisonText } from './compare.js';
import { renderResultBlock, renderResultsTable } from './console.js';
import { renderRunSummary } from './text.js';
import { scalingReporter } from './scaling.js';
import { htmlReporter } from './html-report.js';

/** comparison.json and comparison.txt when local and remote both produced records. */
export function comparisonReporter(): Reporter {
  return {
    name: 'comparison',
    async onRunEnd(run: RunEnd, out: SweepOutput) {
      const local = run.records.filter((record) => record.network_type === 'local');
      const remote = run.records.filter((record) => record.network_type === 'remote');
      if (run.plan.networkType !== 'both' || local.length === 0 || remote.length === 0) return;
      const source = run.runDir ?? run.runId;
      const comparison = compareRecords(
        { label: 'local', source, records: local },
        { label: 'remote', source, records: remote },
        run.endedAt,
      );
      await out.write('comparison.json', comparison);
      await out.write('comparison.txt', renderComparisonText(comparison));
      return { findings: comparison.findings, index: { comparison: 'comparison.json' } };
    },
  };
}

/** Each level's block as it ends; the table of every level (and the findings) at the end. */
export function consoleReporter(): Reporter {
  return {
    name: 'console',
    onRecord(record, out) {
      out.say('');
      out.say(renderResultBlock(record));
      out.say('');
    },
    onRunEnd(run, out) {
      if (run.records.length > 0) {
        out.say('');
        out.say(renderResultsTable(run.records));
      }
      if (run.findings.length > 0) {
        out.say('');
        out.say('Local vs remote:');
        for (const finding of run.findings) out.say(`  - ${finding}`);
      }
    },
  };
}

/** summary.txt: the plan, the environment, every level, the findings and the notes. */
export function textSummaryReporter(): Reporter {
  return {
    name: 'text-summary',
    async onRunEnd(run, out) {
      await out.write(
        'summary.txt',
        renderRunSummary({
          runId: run.runId,
          plan: run.plan,
          records: run.records,
          searches: run.searches,
          ...(run.findings.length > 0 ? { findings: run.findings } : {}),
          notes: run.notes,
          startedAt: run.startedAt,
          endedAt: run.endedAt,
        }),
      );
    },
  };
}

/** What `benchmark` registers, in order (the comparison first: the others show its findings; report.html last). */
export function defaultReporters(): Reporter[] {
  return [comparisonReporter(), consoleReporter(), scalingReporter(), textSummaryReporter(), htmlReporter()];
}
