/**
 * report.html: the self-contained HTML report of a run (src/report/html/). `renderHtmlReport`
 * turns records into the page; `htmlReporter` writes it into the run folder at the run's
 * end; `benchmark report RUN_DIR` (src/cli/report-command.ts) writes it on demand.
 */
import type { Reporter, RunEnd } from '../results/reporter.js';
import { recordFileName } from '../results/recorder.js';
import { reportAssets } from './html/assets.js';
import { buildReportModel, type ReportInput } from './html/model.js';
import { renderReportHtml } from './html/render.js';

export type { ReportInput } from './html/model.js';

/** The report page for these records, as one self-contained HTML string. */
export async function renderHtmlReport(input: ReportInput): Promise<string> {
  return renderReportHtml(buildReportModel(input), await reportAssets());
}

export const REPORT_FILE = 'report.html';

/** What report.html is made of at a run's end (the live dashboard's last event is made of the same). */
export function reportInputFor(run: RunEnd, generatedAt: string): ReportInput {
  const both = run.plan.networkType === 'both' && run.findings.length > 0;
  return {
    records: run.records.map((record) => ({ file: recordFileName(record), record })),
    findings: run.findings,
    findingsTitle: both ? 'Local vs remote' : 'Findings',
    extraFiles: [...(both ? ['comparison.json', 'comparison.txt'] : []), 'summary.txt', 'run.json'],
    generatedAt,
  };
}

/** Writes report.html into the run folder at the run's end (register it after the comparison). */
export function htmlReporter(options: { readonly wallClock?: () => Date } = {}): Reporter {
  return {
    name: 'html-report',
    async onRunEnd(run, out) {
      if (run.records.length === 0) return;
      const html = await renderHtmlReport(
        reportInputFor(run, (options.wallClock?.() ?? new Date()).toISOString()),
      );
      const path = await out.write(REPORT_FILE, html);
      if (path) out.say(`report: ${path}`);
      return path ? { index: { report: REPORT_FILE } } : undefined;
    },
  };
}
