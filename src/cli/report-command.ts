/**
 * `benchmark report RUN_DIR`: reads a run folder's records and writes its report.html (the
 * page `benchmark` writes at a run's end), without touching the records. A folder that
 * already has report.html gets report-2.html (then -3, …): earlier files are never
 * overwritten. Bad input — no records, a truncated or corrupt record, a record of a newer
 * schema version — is one line naming the file and the field, and exit 1.
 */
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.js';
import { MeshbenchError } from '../common/errors.js';
import { REPORT_FILE, renderHtmlReport } from '../report/html-report.js';
import { reportAssets } from '../report/html/assets.js';
import { hasSeveralSizes, scalingOf } from '../report/scaling.js';
import {
  renderPng,
  scalingCharts,
  scalingFigureHeight,
  scalingFigureHtml,
} from '../report/scaling-figure.js';
import { comparableProblem } from '../results/validate.js';
import { RECORD_SCHEMA_VERSION } from '../results/version.js';
import type { BenchmarkRecord } from '../results/schema.js';

const RECORD_FILE = /^(local|remote|endpoints)-benchmark-(\d+)\.json$/;
const HINT = 'give a run folder that benchmark wrote (it holds <network>-benchmark-<n>.json files)';

function badInput(message: string, hint = HINT): MeshbenchError {
  return new MeshbenchError('BAD_RECORD', `report: ${message}`, { hint, exitCode: 1 });
}

/** One record file, checked: JSON, a schema version this meshbench reads, the fields the report needs. */
export async function readReportRecord(path: string, name: string): Promise<BenchmarkRecord> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw badInput(
      `${name} is not valid JSON (${why})`,
      'the file is truncated or corrupt; run that level again',
    );
  }
  const version = (data as { schema_version?: unknown } | null)?.schema_version;
  if (typeof version === 'number' && version > RECORD_SCHEMA_VERSION) {
    throw badInput(
      `${name} has schema_version ${version}, newer than this meshbench reads (${RECORD_SCHEMA_VERSION})`,
      'upgrade meshbench to report on it',
    );
  }
  const problem =
    version === RECORD_SCHEMA_VERSION
      ? comparableProblem(data)
      : `/schema_version is ${JSON.stringify(version)}`;
  if (problem)
    throw badInput(`${name} is not a meshbench record: ${problem}`, 'the file is truncated or corrupt');
  const record = data as Partial<BenchmarkRecord>;
  for (const field of ['runs', 'environment', 'plan', 'run_id'] as const) {
    if (record[field] === undefined) {
      throw badInput(
        `${name} is not a benchmark record: /${field} is missing`,
        'the file is truncated or corrupt',
      );
    }
  }
  if (!Array.isArray(record.runs)) throw badInput(`${name}: /runs is not a list`, 'the file is corrupt');
  return data as BenchmarkRecord;
}

/** Every record of a run folder, with its file name. */
export async function readRunFolder(dir: string): Promise<{ file: string; record: BenchmarkRecord }[]> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch (error) {
    throw badInput(`${JSON.stringify(dir)} not found (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!isDirectory) throw badInput(`${JSON.stringify(dir)} is a file, not a run folder`);
  const names = (await readdir(dir)).filter((name) => RECORD_FILE.test(name)).sort();
  if (names.length === 0)
    throw badInput(`${JSON.stringify(dir)} holds no <network>-benchmark-<n>.json records`);
  return Promise.all(
    names.map(async (file) => ({ file, record: await readReportRecord(join(dir, file), file) })),
  );
}

async function comparisonFindings(dir: string): Promise<readonly string[] | undefined> {
  try {
    const data = JSON.parse(await readFile(join(dir, 'comparison.json'), 'utf8')) as { findings?: unknown };
    return Array.isArray(data.findings)
      ? data.findings.filter((item) => typeof item === 'string')
      : undefined;
  } catch {
    return undefined;
  }
}

/** `file` in `dir`, or `file-2.ext`, `-3`…: an earlier run's file is never overwritten. */
function freeName(dir: string, file: string = REPORT_FILE): string {
  if (!existsSync(join(dir, file))) return file;
  const dot = file.lastIndexOf('.');
  for (let index = 2; ; index++) {
    const name = `${file.slice(0, dot)}-${index}${file.slice(dot)}`;
    if (!existsSync(join(dir, name))) return name;
  }
}

export interface ReportCommandDeps {
  readonly stdout: (text: string) => void;
  readonly wallClock?: () => Date;
  readonly cwd?: string;
  /** `--png`: also draw the figures against network size (scaling.html and scaling.png). */
  readonly png?: boolean;
}

export async function runReportCommand(runDir: string, deps: ReportCommandDeps): Promise<string> {
  const dir = resolve(deps.cwd ?? process.cwd(), runDir);
  const records = await readRunFolder(dir);
  // judged before anything is written: a refused --png leaves no report-2.html behind
  if (deps.png && !hasSeveralSizes(records.map((entry) => entry.record))) {
    throw new MeshbenchError(
      'BAD_FLAG',
      'report: the figure of --png is drawn against network size, and this run has one size per network',
      {
        hint: 'run with --committees 4,8,16 (or --host-counts), then benchmark report RUN_DIR --png; or leave --png out',
        exitCode: 2,
      },
    );
  }
  const findings = await comparisonFindings(dir);
  const extraFiles = ['comparison.json', 'comparison.txt', 'summary.txt', 'run.json'].filter((name) =>
    existsSync(join(dir, name)),
  );
  const html = await renderHtmlReport({
    records,
    ...(findings ? { findings, findingsTitle: 'Local vs remote' } : {}),
    extraFiles,
    generatedAt: (deps.wallClock?.() ?? new Date()).toISOString(),
  });
  const path = join(dir, freeName(dir));
  await writeFileAtomic(path, html);
  deps.stdout(`wrote ${path} (${records.length} record${records.length === 1 ? '' : 's'})`);
  if (deps.png)
    await writeScalingFigure(
      dir,
      records.map((entry) => entry.record),
      deps.stdout,
    );
  return path;
}

/** scaling.html and scaling.png: the figures against network size, for a run of several sizes. */
async function writeScalingFigure(
  dir: string,
  records: readonly BenchmarkRecord[],
  say: (line: string) => void,
): Promise<void> {
  const scaling = scalingOf(records);
  const charts = scalingCharts(scaling).length;
  const html = join(dir, freeName(dir, 'scaling.html'));
  await writeFileAtomic(html, scalingFigureHtml(scaling, await reportAssets()));
  const png = join(dir, freeName(dir, 'scaling.png'));
  const partial = `${png}.partial.png`;
  try {
    await renderPng(html, partial, { width: 1200, height: scalingFigureHeight(charts) });
    await rename(partial, png);
  } finally {
    await rm(partial, { force: true });
  }
  say(`wrote ${png} (${charts} charts; the page is ${html})`);
}
