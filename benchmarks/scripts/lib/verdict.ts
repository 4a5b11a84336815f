/**
 * What every bench script may claim, and when it must say "inconclusive" instead.
 *
 * - Load: a LoadMonitor records the 1/5/15-minute load averages before the run, every
 *   `intervalMs` during it (the kernel updates them every 5 s) and after it. The machine counts
 *   as busy when the 1-minute figure was above `quietBelow` (default 0.55 x cores: 1.1 on 2
 *   cores) before the script started any work, or above the core count during a measured
 *   window (runnable tasks then queue for a core, and every figure includes the wait).
 * - Spread: each side's figures across rounds (min, max, median, quartiles, every value).
 * - Verdict: a claim ("ratio <= 1", "deploy <= 10 s") passes or fails only when every round
 *   lands on the same side of the target, the two sides' ranges do not overlap at the target,
 *   there were at least `minRounds` rounds, and the machine was not busy. Otherwise it is
 *   "inconclusive", with the reasons.
 */
import os from 'node:os';
import { max, median, min, quantile } from 'simple-statistics';

/** Each side's figures across rounds. */
export interface Spread {
  readonly rounds: number;
  readonly min: number;
  readonly max: number;
  readonly median: number;
  /** First and third quartiles and their distance (simple-statistics' quantile). */
  readonly q1: number;
  readonly q3: number;
  readonly iqr: number;
  /** Every round's value, in round order. */
  readonly values: readonly number[];
}

export function spread(values: readonly number[]): Spread {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0)
    return { rounds: 0, min: NaN, max: NaN, median: NaN, q1: NaN, q3: NaN, iqr: NaN, values: [...values] };
  const q1 = quantile([...finite], 0.25);
  const q3 = quantile([...finite], 0.75);
  return {
    rounds: finite.length,
    min: min([...finite]),
    max: max([...finite]),
    median: median([...finite]),
    q1,
    q3,
    iqr: q3 - q1,
    values: [...values],
  };
}

// ------------------------------------------------------------------ load average

export interface LoadSample {
  /** ms since the monitor started. */
  readonly atMs: number;
  /** 1-, 5- and 15-minute load averages. */
  readonly loadAverage: readonly [number, number, number];
}

/** The load around one measured window (or the whole run), and whether it makes the figures suspect. */
export interface LoadRecord {
  readonly cores: number;
  /** Busy before the run when the 1-minute load average was above this. */
  readonly quietBelow: number;
  /** When the script started, before it ran anything. */
  readonly beforeRun: LoadSample;
  /** At the window's start, every sample inside it, and at its end. */
  readonly before: LoadSample;
  readonly during: readonly LoadSample[];
  readonly after: LoadSample;
  /** The highest 1-minute figure from the window's start to its end. */
  readonly maxOneMinute: number;
  readonly busy: boolean;
  readonly reasons: readonly string[];
}

export interface LoadMonitorOptions {
  readonly cores?: number;
  /** Default 0.55 x cores (1.1 on 2 cores). */
  readonly quietBelow?: number;
  /** Sampling period; 0 samples only when asked (tests). Default 5,000 ms. */
  readonly intervalMs?: number;
  readonly loadavg?: () => number[];
  readonly now?: () => number;
}

/** The default `quietBelow` for a machine with this many cores. */
export function defaultQuietBelow(cores: number): number {
  return Math.round(0.55 * cores * 100) / 100;
}

export class LoadMonitor {
  readonly cores: number;
  readonly quietBelow: number;
  private readonly samples: LoadSample[] = [];
  private readonly readLoad: () => number[];
  private readonly now: () => number;
  private readonly startedAt: number;
  private readonly timer: NodeJS.Timeout | undefined;
  readonly beforeRun: LoadSample;

  /** Takes the "before the run" sample at once: construct it before the script does any work. */
  constructor(options: LoadMonitorOptions = {}) {
    this.cores = options.cores ?? os.availableParallelism();
    this.quietBelow = options.quietBelow ?? defaultQuietBelow(this.cores);
    this.readLoad = options.loadavg ?? os.loadavg;
    this.now = options.now ?? (() => performance.now());
    this.startedAt = this.now();
    this.beforeRun = this.sample();
    const intervalMs = options.intervalMs ?? 5000;
    if (intervalMs > 0) {
      this.timer = setInterval(() => this.sample(), intervalMs);
      this.timer.unref();
    }
  }

  sample(): LoadSample {
    const [one = NaN, five = NaN, fifteen = NaN] = this.readLoad();
    const sample: LoadSample = {
      atMs: Math.round(this.now() - this.startedAt),
      loadAverage: [round2(one), round2(five), round2(fifteen)],
    };
    this.samples.push(sample);
    return sample;
  }

  /** Opens a measured window; `close()` samples once more and judges the load inside it. */
  window(): { close(): LoadRecord } {
    const before = this.sample();
    const first = this.samples.length - 1;
    return {
      close: () => {
        const after = this.sample();
        return this.record(before, this.samples.slice(first + 1, -1), after);
      },
    };
  }

  /** The whole run, from construction; stops the timer. */
  stop(): LoadRecord {
    if (this.timer) clearInterval(this.timer);
    const after = this.sample();
    return this.record(this.beforeRun, this.samples.slice(1, -1), after);
  }

  private record(before: LoadSample, during: LoadSample[], after: LoadSample): LoadRecord {
    const maxOneMinute = Math.max(...[before, ...during, after].map((s) => s.loadAverage[0]));
    const reasons: string[] = [];
    const startLoad = this.beforeRun.loadAverage[0];
    if (startLoad > this.quietBelow)
      reasons.push(
        `the 1-minute load average was ${startLoad} before the run, above ${this.quietBelow} (other work on the machine)`,
      );
    if (maxOneMinute > this.cores)
      reasons.push(
        `the 1-minute load average reached ${maxOneMinute} during the measurement, above the ${this.cores} cores`,
      );
    return {
      cores: this.cores,
      quietBelow: this.quietBelow,
      beforeRun: this.beforeRun,
      before,
      during,
      after,
      maxOneMinute,
      busy: reasons.length > 0,
      reasons,
    };
  }
}

// ------------------------------------------------------------------ verdicts

export type Verdict = 'pass' | 'fail' | 'inconclusive';
/** `at-most`: the claim holds when the figure is <= target; `at-least`: when >= target. */
export type Direction = 'at-most' | 'at-least';

export interface Judgement {
  readonly claim: string;
  readonly verdict: Verdict;
  /** Why it is inconclusive; empty for pass and fail. */
  readonly reasons: readonly string[];
  readonly target: number;
  readonly direction: Direction;
  /** The judged figure across rounds (for a ratio: the per-round ratios). */
  readonly spread: Spread;
  /** The load behind the figures. */
  readonly busyMachine: boolean;
}

export interface RatioJudgement extends Judgement {
  readonly numerator: Spread;
  readonly denominator: Spread;
}

interface ClaimInput {
  readonly claim: string;
  readonly target: number;
  readonly direction?: Direction;
  /** The load over the rounds (from LoadMonitor); undefined: not recorded, not judged. */
  readonly load?: Pick<LoadRecord, 'busy' | 'reasons'>;
  /** Fewer rounds give no spread to judge by. Default 2. */
  readonly minRounds?: number;
}

const fmt = (value: number): string => String(Number(value.toPrecision(4)));

function sideOf(value: number, target: number, direction: Direction): boolean {
  return direction === 'at-most' ? value <= target : value >= target;
}

/** Why figures cannot be judged whatever they show: too few rounds (on a side), a busy machine. */
function sampleReasons(
  rounds: number,
  input: { readonly minRounds?: number; readonly load?: Pick<LoadRecord, 'busy' | 'reasons'> },
): string[] {
  const minRounds = input.minRounds ?? 2;
  const reasons: string[] = [];
  if (rounds < minRounds)
    reasons.push(
      `${rounds} round${rounds === 1 ? '' : 's'} measured: at least ${minRounds} are needed to see the spread`,
    );
  if (input.load?.busy) reasons.push(`measured on a busy machine: ${input.load.reasons.join('; ')}`);
  return reasons;
}

/** The common part: rounds, busy machine, spread straddling the target. */
function judge(
  input: ClaimInput,
  figure: Spread,
  extraReasons: string[],
): Pick<Judgement, 'verdict' | 'reasons' | 'busyMachine'> {
  const direction = input.direction ?? 'at-most';
  const reasons = sampleReasons(figure.rounds, input);
  const holds = figure.values.filter(Number.isFinite).map((v) => sideOf(v, input.target, direction));
  if (figure.rounds > 0 && holds.some(Boolean) && !holds.every(Boolean))
    reasons.push(
      `the per-round range ${fmt(figure.min)}-${fmt(figure.max)} straddles the target ${fmt(input.target)}`,
    );
  reasons.push(...extraReasons);
  const verdict: Verdict =
    reasons.length > 0 ? 'inconclusive' : holds.length > 0 && holds.every(Boolean) ? 'pass' : 'fail';
  return { verdict, reasons, busyMachine: input.load?.busy ?? false };
}

/** A figure against a target, each round a sample: "deploy time <= 10,000 ms". */
export function judgeThreshold(input: ClaimInput & { readonly values: readonly number[] }): Judgement {
  const figure = spread(input.values);
  return {
    claim: input.claim,
    target: input.target,
    direction: input.direction ?? 'at-most',
    spread: figure,
    ...judge(input, figure, []),
  };
}

/**
 * A ratio of two sides measured side by side in the same rounds ("ours / autocannon <= 1"):
 * round i's numerator over round i's denominator. Inconclusive also when the sides' ranges
 * overlap at the target (numerator range against target x denominator range), i.e. when
 * pairing the rounds differently could flip the verdict.
 */
export function judgeRatio(
  input: ClaimInput & { readonly numerator: readonly number[]; readonly denominator: readonly number[] },
): RatioJudgement {
  if (input.numerator.length !== input.denominator.length)
    throw new Error(
      `judgeRatio: ${input.numerator.length} numerator rounds against ${input.denominator.length} denominator rounds`,
    );
  const ratios = input.numerator.map((n, i) => n / (input.denominator[i] as number));
  const figure = spread(ratios);
  const numerator = spread(input.numerator);
  const denominator = spread(input.denominator);
  const extra: string[] = [];
  const low = input.target * denominator.min;
  const high = input.target * denominator.max;
  if (numerator.rounds > 0 && denominator.rounds > 0 && numerator.min <= high && numerator.max >= low)
    extra.push(
      `the sides' ranges overlap: ${fmt(numerator.min)}-${fmt(numerator.max)} against ${
        input.target === 1 ? '' : `${fmt(input.target)} x `
      }${fmt(denominator.min)}-${fmt(denominator.max)}`,
    );
  return {
    claim: input.claim,
    target: input.target,
    direction: input.direction ?? 'at-most',
    spread: figure,
    numerator,
    denominator,
    ...judge(input, figure, extra),
  };
}

/** Two sides of one figure measured side by side, with no target: which is higher, if that can be said. */
export interface Comparison {
  readonly figure: string;
  readonly sides: readonly [string, string];
  /** `higher`/`lower`: the first side's figure against the second's; `inconclusive`: the reasons say why. */
  readonly verdict: 'higher' | 'lower' | 'inconclusive';
  readonly reasons: readonly string[];
  /** Median of the first side minus median of the second. */
  readonly medianDifference: number;
  readonly a: Spread;
  readonly b: Spread;
  /** The console line. */
  readonly line: string;
}

/**
 * Compares two sides' rounds by the same rules as a claim: a difference is said only when
 * each side has at least `minRounds` rounds, every pair's difference (round i of a minus
 * round i of b) has one sign, the two ranges do not overlap, and the machine was not busy.
 */
export function compareSides(input: {
  readonly figure: string;
  readonly sides: readonly [string, string];
  readonly a: readonly number[];
  readonly b: readonly number[];
  readonly load?: Pick<LoadRecord, 'busy' | 'reasons'>;
  readonly minRounds?: number;
}): Comparison {
  const a = spread(input.a);
  const b = spread(input.b);
  const reasons = sampleReasons(Math.min(a.rounds, b.rounds), input);
  const pairs = Math.min(input.a.length, input.b.length);
  const differences = Array.from(
    { length: pairs },
    (_, i) => (input.a[i] as number) - (input.b[i] as number),
  );
  if (differences.some((d) => d > 0) && differences.some((d) => d < 0))
    reasons.push('the pairs differ in sign');
  if (a.rounds > 0 && b.rounds > 0 && a.min <= b.max && b.min <= a.max)
    reasons.push(`the ranges overlap: ${fmt(a.min)}-${fmt(a.max)} against ${fmt(b.min)}-${fmt(b.max)}`);
  const medianDifference = a.median - b.median;
  const verdict = reasons.length > 0 ? 'inconclusive' : medianDifference > 0 ? 'higher' : 'lower';
  const [first, second] = input.sides;
  const figures = `${first} median ${fmt(a.median)} (${fmt(a.min)}-${fmt(a.max)}), ${second} ${fmt(b.median)} (${fmt(b.min)}-${fmt(b.max)})`;
  const line =
    verdict === 'inconclusive'
      ? `${input.figure}: ${figures}: INCONCLUSIVE (${reasons.join('; ')})`
      : `${input.figure}: ${figures}: ${verdict} with ${first} by ${fmt(Math.abs(medianDifference))} (median)`;
  return { figure: input.figure, sides: input.sides, verdict, reasons, medianDifference, a, b, line };
}

/** One line for the console: `raw / autocannon <= 1: inconclusive (…)` or `…: pass (0.61-0.66)`. */
export function verdictLine(judgement: Judgement): string {
  const range = `${fmt(judgement.spread.min)}-${fmt(judgement.spread.max)} over ${judgement.spread.rounds} rounds`;
  return judgement.verdict === 'inconclusive'
    ? `${judgement.claim}: INCONCLUSIVE (${range}; ${judgement.reasons.join('; ')})`
    : `${judgement.claim}: ${judgement.verdict.toUpperCase()} (${range})`;
}

/** One line for the console about the load over a window or run. */
export function loadLine(record: LoadRecord): string {
  const figures = `1-minute load average ${record.before.loadAverage[0]} before, max ${record.maxOneMinute} during, ${record.after.loadAverage[0]} after (${record.cores} cores)`;
  return record.busy ? `${figures}: BUSY MACHINE: ${record.reasons.join('; ')}` : figures;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
