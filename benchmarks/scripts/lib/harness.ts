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
 *  - a script that judges a threshold rather than two sides declares one side, or sides that are
 *    parts of one measurement rather than rivals with `compare: false`: then no "A vs B" line is
 *    printed and `comparisons` stays empty; the spreads and claims are as for any script;
 *  - what is measured once rather than by side: in `setup` (before the rounds, e.g. a warm-up or
 *    a part of its own) or `after` (after the last round, skipped after Ctrl-C), each with a load
 *    window of its own; kept in what setup returns, which `claims` and `extra` are handed;
 *  - an advisory claim (`advisory: true` on a judgement) is judged, printed and recorded like the
 *    others but does not set exit code 1;
 *  - one line per round and per verdict on the console, and benchmarks/results/<file>-<timestamp>.json
 *    written atomically (never over an earlier run's). Exit code 1 when a claim fails, 130
 *    after Ctrl-C (a second Ctrl-C removes what setup made and quits at once).
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

/** What `setup` and `after` get: a measured window of their own for what they measure once. */
export interface OnceContext {
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  readonly window: () => { close(): LoadRecord };
}

/** A claim's judgement; `advisory`: reported like the others, but a fail does not fail the run. */
export type Claim = Judgement & { readonly advisory?: boolean };

export interface BenchScript<S extends FlagSpecs, Args, Shared, Round> {
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
  readonly setup?: (args: Args, context: OnceContext) => Promise<Shared>;
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
  readonly figures: Readonly<Record<string, (round: Round) => number | undefined>>;
  /** Once after the last round, before teardown (not after Ctrl-C): what is measured once, not by side. */
  readonly after?: (args: Args, shared: Shared, context: OnceContext) => Promise<void>;
  /** The script's claims, judged with lib/verdict.ts from every side's rounds (in pair order) and the load. */
  readonly claims?: (
    bySide: Readonly<Record<string, readonly Round[]>>,
    args: Args,
    load: LoadRecord,
    shared: Shared,
  ) => Claim[];
  /** More for the results file (settings, derived figures). */
  readonly extra?: (
    bySide: Readonly<Record<string, readonly Round[]>>,
    args: Args,
    shared: Shared,
  ) => Record<string, unknown>;
}

/** Two sides' rounds cut to the pairs both ran (after Ctrl-C one may have one more), for judgeRatio. */
export function paired<T>(a: readonly T[], b: readonly T[]): [T[], T[]] {
  const pairs = Math.min(a.length, b.length);
  return [a.slice(0, pairs), b.slice(0, pairs)];
}

/** Runs a declared bench script (see the module's comment); resolves once the results file is written. */
export async function runBench<S extends FlagSpecs, Args, Shared, Round>(
  script: BenchScript<S, Args, Shared, Round>,
  argv: readonly string[] = process.argv.slice(2),
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
  let shared!: Shared;
  const once: OnceContext = { signal: controller.signal, log, window: () => monitor.window() };
  try {
    shared = (await script.setup?.(args, once)) as Shared;
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
      if (!controller.signal.aborted) await script.after?.(args, shared, once);
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
  for (const [figure, pick] of Object.entries(script.figures)) {
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
  const judgements = script.claims?.(bySide, args, load, shared) ?? [];
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
    ...(script.extra?.(bySide, args, shared) ?? {}),
    loadAverageRounds: load,
    loadAverage: whole,
  };
  const dir = join(resolve(import.meta.dirname, '../../..'), 'benchmarks', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${script.file}-${startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFileAtomic(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`figures in ${file}`);
  // as `benchmark` does: 130 when interrupted (the file says what did run), 1 when a claim fails
  process.exitCode = controller.signal.aborted
    ? 130
    : judgements.some((judgement) => judgement.verdict === 'fail' && !judgement.advisory)
      ? 1
      : 0;
}
