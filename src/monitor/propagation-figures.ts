/**
 * The propagation block's figures, from what the probes saw (pure: src/monitor/propagation.ts
 * measures, this aggregates). For each ordered pair of nodes (from, to), from ≠ to: the
 * milliseconds from submitting a probe on `from` until `to` has it committed, as count,
 * p50, p99, min, max and mean; and, per node, the same from a submit to its own commit
 * (`self`). Percentiles are nearest-rank over the exact samples (a level has few probes).
 */

/** One probe's fate: where it was submitted, which nodes were watched and when each had it. */
export interface ProbeOutcome {
  readonly origin: string;
  /** Nodes whose watch was live when it was sent and stayed so until they reported it (or the end). */
  readonly watched: readonly string[];
  /** Node → milliseconds from the submit until that node had it. */
  readonly seenMs: ReadonlyMap<string, number>;
}

export interface LatencyFigures {
  /** Probes that reached the node. */
  readonly count: number;
  /** Probes the node was watched for and never reported (within the level and its grace). */
  readonly missing: number;
  /** Probes sent while the node had no live watch, or whose watch dropped before it reported them (not counted as missing). */
  readonly unwatched: number;
  readonly p50_ms: number | null;
  readonly p99_ms: number | null;
  readonly min_ms: number | null;
  readonly max_ms: number | null;
  readonly mean_ms: number | null;
}

export interface PairFigures extends LatencyFigures {
  readonly from: string;
  readonly to: string;
}

export interface SelfFigures extends LatencyFigures {
  readonly node: string;
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100); null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

const round = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * 1000) / 1000);

function figures(samples: number[], missing: number, unwatched: number): LatencyFigures {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    missing,
    unwatched,
    p50_ms: round(percentile(sorted, 50)),
    p99_ms: round(percentile(sorted, 99)),
    min_ms: round(sorted[0] ?? null),
    max_ms: round(sorted.at(-1) ?? null),
    mean_ms: round(sorted.length === 0 ? null : sum / sorted.length),
  };
}

/** Every ordered pair of `nodes` (in their order, from ≠ to) and every node's own commit. */
export function propagationFigures(
  nodes: readonly string[],
  probes: readonly ProbeOutcome[],
): { readonly pairs: PairFigures[]; readonly self: SelfFigures[] } {
  const cell = (from: string, to: string) => {
    const samples: number[] = [];
    let missing = 0;
    let unwatched = 0;
    for (const probe of probes) {
      if (probe.origin !== from) continue;
      const seen = probe.seenMs.get(to);
      if (seen !== undefined) samples.push(seen);
      else if (probe.watched.includes(to)) missing++;
      else unwatched++;
    }
    return figures(samples, missing, unwatched);
  };
  const pairs: PairFigures[] = [];
  for (const from of nodes) {
    for (const to of nodes) if (from !== to) pairs.push({ from, to, ...cell(from, to) });
  }
  return { pairs, self: nodes.map((node) => ({ node, ...cell(node, node) })) };
}

/** `{from: {to: value}}` of one figure of the pairs (null where a pair has none). */
export function pairMatrix(
  pairs: readonly PairFigures[],
  figure: 'p50_ms' | 'p99_ms' | 'count',
): Record<string, Record<string, number | null>> {
  const matrix: Record<string, Record<string, number | null>> = {};
  for (const pair of pairs) (matrix[pair.from] ??= {})[pair.to] = pair[figure];
  return matrix;
}

/** The p50 matrix as console lines: one per sending node, `node0 → node1 212 · node2 230`. */
export function matrixLines(pairs: readonly PairFigures[]): string[] {
  const byFrom = new Map<string, PairFigures[]>();
  for (const pair of pairs) byFrom.set(pair.from, [...(byFrom.get(pair.from) ?? []), pair]);
  return [...byFrom].map(
    ([from, row]) =>
      `${from} → ${row
        .map((pair) => `${pair.to} ${pair.p50_ms === null ? '–' : Math.round(pair.p50_ms)}`)
        .join(' · ')}`,
  );
}
