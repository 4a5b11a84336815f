/**
 * The bench scripts' one harness: a script declares its flags, what its rounds share (a
 * network), its sides, how one round of a side runs and which figures it yields, and its
 * claims; the harness does the rest, the same way for every script:
 *
 *  - the flags (lib/flags.ts: `--help` answers before anything runs, a bad value is one line
 *    and exit 2; `--max-load` is every script's), then the load average before any work;
 *  - the rounds: `--pairs` times every side once, the order turned each time (A B, B A, …) so
 *    a drifting machine hits every side alike; Ctrl-C stops after the round in progress;
 *  - the teardown of what setup made, also after an error or Ctrl-C;
 *  - each side's spread per figure, a comparison of the first two sides per figure (lib/verdict.ts
 *    `compareSides`: a difference only when every pair agrees, the ranges do not overlap and the
 *    machine was quiet), and the script's claims judged by lib/verdict.ts;
 *  - one line per round and per verdict on the console, and benchmarks/results/<file>-<timestamp>.json
 *    written atomically (never over an earlier run's). Exit code 1 when a claim fails or setup,
 *    a round or the teardown throws (one line; the stack with MESHBENCH_DEBUG=1), 130
 *    after Ctrl-C (a second Ctrl-C removes what setup made and quits at once).
 *
 * Optional, for scripts that need them: `figuresFrom` (figures named after the flags, e.g. one per
 * rate), `after` (work once after the last round and before the teardown, with a load window of its
 * own: a sweep, a profile; skipped after Ctrl-C; its result goes to `claims`, `extra` and `report`)
 * and `report` (a plain-text summary, printed and written with the verdicts and the load beside the
 * results as <file>-<timestamp>.txt).
 *
 * Without a comparison: a script that judges a threshold rather than two sides declares one side,
 * or, for sides that are parts of one measurement rather than rivals, `compare: false`; then no
 * "A vs B" line is printed and `comparisons` stays empty (spreads and claims as for any script).
 * What is measured once rather than by side goes in `setup` (before the rounds, with a load
 * window of its own) or `after`; `claims` and `extra` are also handed what setup returned. An
 * advisory claim (`advisory: true` on its judgement) is judged, printed and recorded like the
 * others but does not set exit code 1.
 */
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { writeFileAtomic } from '../../../src/common/atomic-write.js';
import {
  COMMON_FLAGS,
  flagsOrExit,
  numberFlag,
  type FlagSpecs,
  type FlagValues,
  type ScriptUsage,
} from './flags.js';
import {
  compareSides,
  LoadMonitor,
  loadLine,
  spread,
  verdictLine,
  type Comparison,
  type Judgement,
  type LoadRecord,
  type Spread,
} from './verdict.js';

export interface RoundContext<Args, Shared> {
  readonly args: Args;
  readonly shared: Shared;
  /** 0-based pair. */
  readonly pair: number;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  /** A measured window of its own (the load average over just this round). */
  readonly window: () => { close(): LoadRecord };
}

/** What `after` gets: the rounds done, the load over them, and the same context as a round's. */
export interface AfterContext<Args, Shared, Round> extends Omit<RoundContext<Args, Shared>, 'pair'> {
  readonly bySide: Readonly<Record<string, readonly Round[]>>;
  readonly load: LoadRecord;
}

/** What `setup` gets: besides the signal and the log, a load window for what it measures once. */
export interface SetupContext {
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  readonly window: () => { close(): LoadRecord };
}

/** A claim's judgement; `advisory`: reported like the others, but a fail does not fail the run. */
export type Claim = Judgement & { readonly advisory?: boolean };

type Figures<Round> = Readonly<Record<string, (round: Round) => number | undefined>>;

export interface BenchScript<S extends FlagSpecs, Args, Shared, Round, After = undefined> {
  readonly usage: ScriptUsage;
  /** The script's own flags (`--pairs` and `--max-load` are added). */
  readonly flags: S;
  /** Pairs of rounds when `--pairs` is not given. */
  readonly defaultPairs: number;
  /** The flag that sets the pairs (default `pairs`; a script that had `--rounds` keeps it). */
  readonly pairsFlag?: string;
  /** The flags' values → the script's settings (numberFlag…; a FlagError is one line, exit 2). */
  readonly args: (values: FlagValues<S>) => Args;
  /** The results file's name: benchmarks/results/<file>-<timestamp>.json. */
  readonly file: string;
  /** What every round shares, made once before the first (a network). */
  readonly setup?: (args: Args, context: SetupContext) => Promise<Shared>;
  /** Removes what setup made: after the last round, an error or Ctrl-C. */
  readonly teardown?: (shared: Shared) => Promise<void>;
  /** The sides, measured side by side: the first two are compared figure by figure. */
  readonly sides: readonly string[];
  /** false: the sides are parts of one measurement, not rivals: no comparison (default true). */
  readonly compare?: boolean;
  /** The sides from the flags (a script whose sides are a list the user gives), instead of `sides`. */
  readonly sidesFrom?: (args: Args) => readonly string[];
  /** One round of one side. */
  readonly round: (side: string, context: RoundContext<Args, Shared>) => Promise<Round>;
  /** The console line of a round (after `pair N side:`). */
  readonly describe?: (round: Round) => string;
  /** The figures each round yields, by name: each side's spread, the first two sides compared. */
  readonly figures: Figures<Round>;
  /** The figures from the flags (e.g. one per rate the user gives), instead of `figures`. */
  readonly figuresFrom?: (args: Args) => Figures<Round>;
  /** Once after the last round, before the teardown (not after Ctrl-C): a sweep, a profile. */
  readonly after?: (context: AfterContext<Args, Shared, Round>) => Promise<After>;
  /** The script's claims, judged with lib/verdict.ts from every side's rounds (in pair order) and the load. */
  readonly claims?: (
    bySide: Readonly<Record<string, readonly Round[]>>,
    args: Args,
    load: LoadRecord,
    after: After | undefined,
    shared: Shared,
  ) => Claim[];
  /** More for the results file (settings, derived figures). */
  readonly extra?: (
    bySide: Readonly<Record<string, readonly Round[]>>,
    args: Args,
    after: After | undefined,
    shared: Shared,
  ) => Record<string, unknown>;
  /** A plain-text summary: printed at the end and, followed by the verdicts and the load, written beside the results as <file>-<timestamp>.txt. */
  readonly report?: (
    bySide: Readonly<Record<string, readonly Round[]>>,
    args: Args,
    after: After | undefined,
  ) => readonly string[];
}

/** Two sides' rounds cut to the pairs both ran (after Ctrl-C one may have one more), for judgeRatio. */
export function paired<T>(a: readonly T[], b: readonly T[]): [T[], T[]] {
  const pairs = Math.min(a.length, b.length);
  return [a.slice(0, pairs), b.slice(0, pairs)];
}

/** Runs a declared bench script (see the module's comment); resolves once the results file is written. */
export async function runBench<S extends FlagSpecs, Args, Shared, Round, After = undefined>(
  script: BenchScript<S, Args, Shared, Round, After>,
  argv: readonly string[] = process.argv.slice(2),
): Promise<void> {
  try {
    await runDeclared(script, argv);
  } catch (error) {
    // What setup, a round or the teardown could not do, in one line (the stack with MESHBENCH_DEBUG=1);
    // the teardown has run by now
    const name = script.usage.name.replace(/^bench:/, 'bench-');
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${name}: error: ${message.split('\n')[0]}\n`);
    if (process.env.MESHBENCH_DEBUG === '1' && error instanceof Error)
      process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  }
}

async function runDeclared<S extends FlagSpecs, Args, Shared, Round, After>(
  script: BenchScript<S, Args, Shared, Round, After>,
  argv: readonly string[],
): Promise<void> {
  const pairsFlag = script.pairsFlag ?? 'pairs';
  const specs = {
    ...script.flags,
    [pairsFlag]: {
      type: 'string',
      valueName: 'N',
      default: String(script.defaultPairs),
      description:
        script.sides.length === 1 && !script.sidesFrom
          ? 'rounds'
          : 'pairs of rounds: each side once per pair, the order turned each pair',
    },
    ...COMMON_FLAGS,
  } as const satisfies FlagSpecs;
  const parsed = flagsOrExit(
    script.usage,
    specs,
    (values) => ({
      args: script.args(values as FlagValues<S>),
      pairs: numberFlag(pairsFlag, (values as Record<string, string>)[pairsFlag] as string, {
        integer: true,
        min: 1,
      }),
      maxLoad: numberFlag('max-load', (values as { 'max-load'?: string })['max-load'], { min: 0 }),
    }),
    argv,
  );
  // Before anything runs: the load the machine had without this script.
  const monitor = new LoadMonitor(parsed.maxLoad !== undefined ? { quietBelow: parsed.maxLoad } : {});
  const { args, pairs } = parsed;
  const name = script.usage.name.replace(/^bench:/, 'bench-');
  const log = (line: string) => process.stderr.write(`${name}: ${line}\n`);
  const controller = new AbortController();
  // A second Ctrl-C removes what setup made (once it is made) and quits without waiting for the round.
  let removeShared: (() => Promise<void>) | undefined;
  const onSignal = () => {
    if (controller.signal.aborted) {
      log('quitting: removing what the rounds shared …');
      void (removeShared?.() ?? Promise.resolve()).catch(() => undefined).finally(() => process.exit(130));
      return;
    }
    log('stopping after the round in progress (Ctrl-C again to remove everything and quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  const startedAt = new Date().toISOString();
  const sides = script.sidesFrom?.(args) ?? script.sides;
  const bySide: Record<string, Round[]> = Object.fromEntries(sides.map((side) => [side, []]));
  let load!: LoadRecord;
  let after: After | undefined;
  let shared!: Shared;
  try {
    shared = (await script.setup?.(args, {
      signal: controller.signal,
      log,
      window: () => monitor.window(),
    })) as Shared;
    removeShared = async () => {
      await script.teardown?.(shared);
    };
    try {
      const window = monitor.window();
      for (let pair = 0; pair < pairs && !controller.signal.aborted; pair++) {
        // A B, then B A, …: neither side always goes first
        const order = pair % 2 === 0 ? sides : [...sides].reverse();
        for (const side of order) {
          if (controller.signal.aborted) break;
          const round = await script.round(side, {
            args,
            shared,
            pair,
            signal: controller.signal,
            log,
            window: () => monitor.window(),
          });
          (bySide[side] as Round[]).push(round);
          log(`pair ${pair + 1} ${side}: ${script.describe?.(round) ?? JSON.stringify(round)}`);
        }
      }
      load = window.close();
      if (script.after && !controller.signal.aborted)
        after = await script.after({
          args,
          shared,
          bySide,
          load,
          signal: controller.signal,
          log,
          window: () => monitor.window(),
        });
    } finally {
      await script.teardown?.(shared);
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
  const whole = monitor.stop();
  const spreads: Record<string, Record<string, Spread>> = {};
  const comparisons: Record<string, Comparison> = {};
  const [first, second] = sides;
  for (const [figure, pick] of Object.entries(script.figuresFrom?.(args) ?? script.figures)) {
    const values = (side: string) =>
      (bySide[side] ?? []).map(pick).filter((value): value is number => value !== undefined);
    spreads[figure] = Object.fromEntries(sides.map((side) => [side, spread(values(side))]));
    if (script.compare !== false && first !== undefined && second !== undefined) {
      const comparison = compareSides({
        figure,
        sides: [first, second],
        a: values(first),
        b: values(second),
        load,
      });
      comparisons[figure] = comparison;
      log(comparison.line);
    }
  }
  const judgements = script.claims?.(bySide, args, load, after, shared) ?? [];
  for (const judgement of judgements)
    log(`${verdictLine(judgement)}${judgement.advisory ? ' (advisory: does not fail the run)' : ''}`);
  log(`rounds: ${loadLine(load)}`);
  const results = {
    script: name,
    startedAt,
    endedAt: new Date().toISOString(),
    machine: { cpus: os.availableParallelism(), memory_bytes: os.totalmem(), node: process.version },
    args,
    pairs,
    interrupted: controller.signal.aborted,
    rounds: bySide,
    spreads,
    comparisons,
    judgements,
    ...(script.extra?.(bySide, args, after, shared) ?? {}),
    loadAverageRounds: load,
    loadAverage: whole,
  };
  const dir = join(resolve(import.meta.dirname, '../../..'), 'benchmarks', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${script.file}-${startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFileAtomic(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`figures in ${file}`);
  const report = script.report?.(bySide, args, after);
  if (report) {
    // the summary, then the verdicts and the load as the console had them
    const text = [...report, '', ...judgements.map(verdictLine), `rounds: ${loadLine(load)}`].join('\n');
    process.stdout.write(`${text}\n`);
    await writeFileAtomic(file.replace(/\.json$/, '.txt'), `${text}\n`);
    log(`summary in ${file.replace(/\.json$/, '.txt')}`);
  }
  // as `benchmark` does: 130 when interrupted (the file says what did run), 1 when a claim fails
  process.exitCode = controller.signal.aborted
    ? 130
    : judgements.some((judgement) => judgement.verdict === 'fail' && !judgement.advisory)
      ? 1
      : 0;
}
