/**
 * `benchmark compare BASELINE [CURRENT]`: reads two run folders (or result JSON files),
 * checks every record against the result schema, compares them per common load, and
 * writes comparison.json + comparison.txt into a new run folder. When both sides are the
 * same network type it is a regression gate (src/report/gate.ts): a verdict per level and
 * metric, gate.json + gate.txt, --junit / --markdown files, and exit code 3 on a
 * regression. With one side and --threshold it checks that run alone.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createUniqueDir, writeFileAtomic } from '../common/atomic-write.js';
import { MeshbenchError } from '../common/errors.js';
import { newRunId } from '../common/run-id.js';
import {
  DEFAULT_ALPHA,
  DEFAULT_MAX_REGRESSION,
  GATE_EXIT,
  gateError,
  levelKey,
  parseThreshold,
  runGate,
  type GateResult,
} from '../report/gate.js';
import { renderGateJunit, renderGateMarkdown, renderGateText } from '../report/gate-render.js';
import { RECORD_SCHEMA_VERSION } from '../results/record.js';
import {
  compareRecords,
  renderComparisonText,
  type Comparison,
  type ComparisonSide,
} from '../report/compare.js';
import { comparableProblem } from '../results/validate.js';
import type { BenchmarkRecord } from '../results/record.js';

const RECORD_FILE = /^(local|remote|endpoints)-benchmark-(\d+)\.json$/;

function badSide(which: string, path: string, problem: string, hint?: string): MeshbenchError {
  return new MeshbenchError('BAD_RECORD', `compare ${which} ${JSON.stringify(path)}: ${problem}`, {
    hint: hint ?? 'give a benchmark run folder or a result JSON file',
    exitCode: GATE_EXIT.input,
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
  const version = (data as { schema_version?: unknown } | null)?.schema_version;
  if (typeof version === 'number' && version > RECORD_SCHEMA_VERSION) {
    throw badSide(
      which,
      path,
      `/schema_version is ${version}, newer than this meshbench reads (${RECORD_SCHEMA_VERSION})`,
      'compare it with the meshbench version that wrote it, or upgrade meshbench',
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
  /** The baseline (or, alone with thresholds, the run to check). */
  readonly a: string;
  /** The current run; undefined: check `a` against the thresholds alone. */
  readonly b?: string | undefined;
  readonly outputDir: string;
  readonly fileOutput?: boolean;
  /** --max-regression, e.g. "10%" or "0.1". */
  readonly maxRegression?: string | undefined;
  readonly alpha?: string | undefined;
  readonly thresholds?: readonly string[] | undefined;
  readonly acrossSystems?: boolean | undefined;
  readonly json?: boolean | undefined;
  readonly junit?: string | undefined;
  readonly markdown?: string | undefined;
}

export interface CompareCommandDeps {
  readonly stdout: (text: string) => void;
  readonly wallClock?: () => Date;
  readonly cwd?: string;
}

/** "10%", "10 %" or "0.1": a fraction in [0, 1). */
export function parseTolerance(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  const value = match ? Number(match[1]) / (match[2] === '%' ? 100 : 1) : NaN;
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw gateError(
      `--${flag} ${JSON.stringify(text)} is not valid`,
      flag === 'alpha' ? 'give a level between 0 and 1, e.g. 0.05' : 'give a share, e.g. 10% or 0.1',
    );
  }
  return value;
}

export async function runCompareCommand(
  options: CompareCommandOptions,
  deps: CompareCommandDeps,
): Promise<{
  comparison: Comparison | undefined;
  gate: GateResult | undefined;
  runDir: string | undefined;
  exitCode: number;
}> {
  const cwd = deps.cwd ?? process.cwd();
  const wallClock = deps.wallClock ?? (() => new Date());
  const thresholds = (options.thresholds ?? []).map(parseThreshold);
  const maxRegression = parseTolerance('max-regression', options.maxRegression, DEFAULT_MAX_REGRESSION);
  const alpha = parseTolerance('alpha', options.alpha, DEFAULT_ALPHA);
  const say = (text: string) => {
    if (!options.json) deps.stdout(text);
  };
  if (options.b === undefined) {
    if (thresholds.length === 0) {
      throw gateError(
        `compare: one run given (${options.a}) and no --threshold`,
        "give BASELINE CURRENT, or check one run with --threshold 'p99_ms<500'",
      );
    }
    const path = resolve(cwd, options.a);
    const gate = runGate({
      current: { source: path, records: await loadRecords('CURRENT', path) },
      thresholds,
    });
    return finish(undefined, gate, say, options, deps, cwd, wallClock, path);
  }
  const pathA = resolve(cwd, options.a);
  const pathB = resolve(cwd, options.b);
  const allA = await loadRecords('A', pathA);
  const allB = await loadRecords('B', pathB);
  const a = chooseSide(allA, 'local');
  const b = chooseSide(allB, 'remote');
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
  // levels both runs have (network type, committee, load): a gate over all of them (two
  // `both` folders: local against local and remote against remote); none (a local run against
  // a remote one): the comparison alone
  const levelsA = new Set(allA.map(levelKey));
  const gated = allB.some((record) => levelsA.has(levelKey(record)));
  const gate =
    gated || thresholds.length > 0
      ? runGate({
          ...(gated ? { baseline: { source: pathA, records: allA } } : {}),
          current: { source: pathB, records: gated ? allB : b.records },
          maxRegression,
          alpha,
          thresholds,
          acrossSystems: options.acrossSystems === true,
          labels: [basename(pathA), basename(pathB)],
        })
      : undefined;
  // after the gate's checks of its input: runs it refuses to compare print that line alone
  say(renderComparisonText(comparison).trimEnd());
  return finish(
    comparison,
    gate,
    say,
    options,
    deps,
    cwd,
    wallClock,
    `${basename(pathA)} vs ${basename(pathB)}`,
  );
}

async function finish(
  comparison: Comparison | undefined,
  gate: GateResult | undefined,
  say: (text: string) => void,
  options: CompareCommandOptions,
  deps: CompareCommandDeps,
  cwd: string,
  wallClock: () => Date,
  what: string,
): Promise<{
  comparison: Comparison | undefined;
  gate: GateResult | undefined;
  runDir: string | undefined;
  exitCode: number;
}> {
  const gateText = gate ? renderGateText(gate) : undefined;
  if (gateText) say(`\n${gateText.trimEnd()}`);
  if (options.json)
    deps.stdout(
      JSON.stringify({ ...(comparison ? { comparison } : {}), ...(gate ? { gate } : {}) }, null, 2),
    );
  // a path the user gave that cannot be written: one line naming the flag (not the errno alone)
  const writable = async <T>(flag: string, path: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } catch (error) {
      throw new MeshbenchError('OUTPUT_DIR', `cannot write ${flag} ${path}: ${(error as Error).message}`, {
        hint: `give a writable ${flag}`,
        exitCode: GATE_EXIT.input,
        cause: error,
      });
    }
  };
  if (gate && options.junit) {
    const junit = options.junit;
    await writable('--junit', junit, () => writeFileAtomic(resolve(cwd, junit), renderGateJunit(gate)));
  }
  if (gate && options.markdown) {
    const markdown = options.markdown;
    await writable('--markdown', markdown, () =>
      writeFileAtomic(resolve(cwd, markdown), renderGateMarkdown(gate)),
    );
  }
  let runDir: string | undefined;
  if (options.fileOutput !== false) {
    runDir = await writable('--output-dir', options.outputDir, () =>
      createUniqueDir(resolve(cwd, options.outputDir), `run-${newRunId(wallClock())}-compare`),
    );
    const written: string[] = [];
    if (comparison) {
      await writeFileAtomic(join(runDir, 'comparison.json'), `${JSON.stringify(comparison, null, 2)}\n`);
      await writeFileAtomic(join(runDir, 'comparison.txt'), renderComparisonText(comparison));
      written.push('comparison.json', 'comparison.txt');
    }
    if (gate && gateText) {
      await writeFileAtomic(join(runDir, 'gate.json'), `${JSON.stringify(gate, null, 2)}\n`);
      await writeFileAtomic(join(runDir, 'gate.txt'), gateText);
      written.push('gate.json', 'gate.txt');
    }
    say(`wrote ${written.join(', ')} to ${runDir} (${what})`);
  }
  const exitCode = gate?.verdict === 'regression' ? GATE_EXIT.regression : GATE_EXIT.ok;
  return { comparison, gate, runDir, exitCode };
}
