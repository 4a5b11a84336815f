/**
 * Saturation search: the highest load whose efficiency stays at or above a floor
 * and whose p99 latency stays under a bound. Doubles from a start load until a
 * level fails (or the maximum passes), then bisects between the last pass and the
 * first failure until the bracket is narrower than a fraction of the lower bound.
 *
 * Pure: the caller supplies `probe(load)`, which runs one level and returns its
 * figures; the search only decides which load to try next.
 */
import type { LoadSearchPlan } from './plan.js';

export interface ProbeFigures {
  /** committed (or accepted) / input, 0..1. */
  readonly efficiency: number;
  /** p99 latency of the stage the benchmark reports, ms. */
  readonly p99Ms: number;
}

export interface SearchProbe extends ProbeFigures {
  readonly load: number;
  readonly pass: boolean;
  readonly phase: 'doubling' | 'bisecting';
  /** Why it failed, in words (empty when it passed). */
  readonly reason: string;
}

export interface SearchOutcome {
  /** Highest passing load, or undefined when not even the lowest probe passed. */
  readonly bestLoad: number | undefined;
  /** Lowest failing load seen, or undefined when the maximum passed. */
  readonly firstFailingLoad: number | undefined;
  readonly probes: readonly SearchProbe[];
  readonly stoppedBecause: 'resolution' | 'max-load-passed' | 'max-probes' | 'aborted';
}

export interface SearchOptions extends LoadSearchPlan {
  /** Upper bound on levels run (default 20). */
  readonly maxProbes?: number;
  readonly signal?: AbortSignal;
  /** Told each probe as it is judged (the console says why a level failed). */
  readonly onProbe?: (probe: SearchProbe) => void;
}

export function judgeProbe(
  figures: ProbeFigures,
  plan: Pick<LoadSearchPlan, 'minEfficiency' | 'p99BoundMs'>,
): string {
  const reasons: string[] = [];
  if (!(figures.efficiency >= plan.minEfficiency)) {
    reasons.push(
      `efficiency ${(figures.efficiency * 100).toFixed(1)}% < ${(plan.minEfficiency * 100).toFixed(1)}%`,
    );
  }
  if (!(figures.p99Ms < plan.p99BoundMs)) {
    reasons.push(`p99 ${figures.p99Ms.toFixed(1)} ms ≥ ${plan.p99BoundMs} ms`);
  }
  return reasons.join(', ');
}

export async function searchLoad(
  options: SearchOptions,
  probe: (load: number) => Promise<ProbeFigures>,
): Promise<SearchOutcome> {
  const maxProbes = options.maxProbes ?? 20;
  const probes: SearchProbe[] = [];
  let low: number | undefined; // highest pass
  let high: number | undefined; // lowest failure

  const run = async (load: number, phase: SearchProbe['phase']): Promise<boolean> => {
    const figures = await probe(load);
    const reason = judgeProbe(figures, options);
    const pass = reason === '';
    const judged: SearchProbe = {
      load,
      pass,
      phase,
      reason,
      efficiency: figures.efficiency,
      p99Ms: figures.p99Ms,
    };
    probes.push(judged);
    options.onProbe?.(judged);
    if (pass) low = Math.max(low ?? 0, load);
    else high = Math.min(high ?? Number.POSITIVE_INFINITY, load);
    return pass;
  };
  const outcome = (stoppedBecause: SearchOutcome['stoppedBecause']): SearchOutcome => ({
    bestLoad: low,
    firstFailingLoad: high,
    probes,
    stoppedBecause,
  });

  // Doubling.
  let load = Math.min(options.startLoad, options.maxLoad);
  for (;;) {
    if (options.signal?.aborted) return outcome('aborted');
    if (probes.length >= maxProbes) return outcome('max-probes');
    const pass = await run(load, 'doubling');
    if (!pass) break;
    if (load >= options.maxLoad) return outcome('max-load-passed');
    load = Math.min(roundLoad(load * 2), options.maxLoad);
  }

  // Bisecting between the last pass (or 0) and the first failure.
  for (;;) {
    const lower = low ?? 0;
    const upper = high as number;
    const tolerance = Math.max(1, lower * options.resolutionFraction);
    if (upper - lower <= tolerance) return outcome('resolution');
    const middle = roundLoad((lower + upper) / 2);
    if (middle <= lower || middle >= upper) return outcome('resolution');
    if (options.signal?.aborted) return outcome('aborted');
    if (probes.length >= maxProbes) return outcome('max-probes');
    await run(middle, 'bisecting');
  }
}

/** Loads are whole tx/s once above 1. */
function roundLoad(load: number): number {
  return load >= 1 ? Math.round(load) : load;
}
