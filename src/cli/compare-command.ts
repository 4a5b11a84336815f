/**
 * `benchmark compare A B`: reads two run folders (or result JSON files), checks
 * every record against the result schema, compares them per common load, and
 * writes comparison.json + comparison.txt into a new run folder.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createUniqueDir, writeFileAtomic } from '../common/atomic-write.js';
import { MeshbenchError } from '../common/errors.js';
import { newRunId } from '../common/run-id.js';
import {
  compareRecords,
  renderComparisonText,
  type Comparison,
  type ComparisonSide,
} from '../report/compare.js';
import { comparableProblem } from '../results/validate.js';
import type { BenchmarkRecord } from '../results/record.js';

const RECORD_FILE = /^(local|remote|endpoints)-benchmark-(\d+)\.json$/;

function badSide(which: string, path: string, problem: string): MeshbenchError {
  return new MeshbenchError('BAD_FLAG', `compare ${which} ${JSON.stringify(path)}: ${problem}`, {
    hint: 'give a benchmark run folder or a result JSON file',
  });
}

async function readRecord(which: string, path: string): Promise<BenchmarkRecord> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw badSide(
      which,
      path,
      `cannot read it as JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const problem = comparableProblem(data);
  if (problem) throw badSide(which, path, `not a meshbench result: ${problem}`);
  return data as BenchmarkRecord;
}

/** All records of a run folder, or the one record of a JSON file, in benchmark order. */
export async function loadRecords(which: string, path: string): Promise<BenchmarkRecord[]> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    throw badSide(which, path, `not found (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!isDirectory) return [await readRecord(which, path)];
  const names = (await readdir(path)).filter((name) => RECORD_FILE.test(name));
  if (names.length === 0) throw badSide(which, path, 'holds no <network>-benchmark-<n>.json files');
  const records = await Promise.all(names.map((name) => readRecord(which, join(path, name))));
  return records.sort(
    (x, y) => x.network_type.localeCompare(y.network_type) || x.benchmark_number - y.benchmark_number,
  );
}

/** Picks the side's records: a folder with both kinds gives its `prefer` kind. */
export function chooseSide(
  records: readonly BenchmarkRecord[],
  prefer: 'local' | 'remote',
): { kind: string; records: BenchmarkRecord[] } {
  const kinds = [...new Set(records.map((record) => record.network_type))];
  const kind = kinds.includes(prefer) ? prefer : (kinds[0] ?? prefer);
  return { kind, records: records.filter((record) => record.network_type === kind) };
}

export interface CompareCommandOptions {
  readonly a: string;
  readonly b: string;
  readonly outputDir: string;
  readonly fileOutput?: boolean;
}

export interface CompareCommandDeps {
  readonly stdout: (text: string) => void;
  readonly wallClock?: () => Date;
  readonly cwd?: string;
}

export async function runCompareCommand(
  options: CompareCommandOptions,
  deps: CompareCommandDeps,
): Promise<{ comparison: Comparison; runDir: string | undefined }> {
  const cwd = deps.cwd ?? process.cwd();
  const wallClock = deps.wallClock ?? (() => new Date());
  const pathA = resolve(cwd, options.a);
  const pathB = resolve(cwd, options.b);
  const a = chooseSide(await loadRecords('A', pathA), 'local');
  const b = chooseSide(await loadRecords('B', pathB), 'remote');
  const sameKind = a.kind === b.kind;
  const sideA: ComparisonSide = {
    label: sameKind ? `A ${a.kind}` : a.kind,
    source: pathA,
    records: a.records,
  };
  const sideB: ComparisonSide = {
    label: sameKind ? `B ${b.kind}` : b.kind,
    source: pathB,
    records: b.records,
  };
  const comparison = compareRecords(sideA, sideB, wallClock().toISOString());
  const text = renderComparisonText(comparison);
  deps.stdout(text.trimEnd());
  let runDir: string | undefined;
  if (options.fileOutput !== false) {
    runDir = await createUniqueDir(resolve(cwd, options.outputDir), `run-${newRunId(wallClock())}-compare`);
    await writeFileAtomic(join(runDir, 'comparison.json'), `${JSON.stringify(comparison, null, 2)}\n`);
    await writeFileAtomic(join(runDir, 'comparison.txt'), text);
    deps.stdout(
      `wrote comparison.json and comparison.txt to ${runDir} (${basename(pathA)} vs ${basename(pathB)})`,
    );
  }
  return { comparison, runDir };
}
