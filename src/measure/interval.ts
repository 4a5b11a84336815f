/**
 * Per-interval latency for the generator's progress (`LoadProgress.latency`): one small HDR
 * histogram per shard, fed as each tx completes and taken (summarised, encoded, reset) at
 * each progress tick. Shards' intervals merge exactly: their encoded histograms are added
 * bucket by bucket, so the merged percentiles are those of one histogram fed every value
 * (never an average of percentiles).
 */
import type { IntervalLatency } from './figures.js';
import {
  decodeHistogram,
  encodeHistogram,
  newCompactHistogram,
  recordMicros,
  summarize,
  type LatencyHistogram,
} from './histogram.js';

export type { IntervalLatency } from './figures.js';

function intervalOf(stage: IntervalLatency['stage'], histogram: LatencyHistogram): IntervalLatency {
  const summary = summarize(histogram);
  return {
    stage,
    count: summary.count,
    p50Ms: summary.p50,
    p99Ms: summary.p99,
    maxMs: summary.max,
    histogram: encodeHistogram(histogram),
  };
}

/** One shard's latencies of the current interval (2 significant digits, as the record's per-second figures). */
export class IntervalLatencyRecorder {
  readonly #histogram = newCompactHistogram();

  constructor(readonly stage: IntervalLatency['stage']) {}

  /** A tx completed at the measured stage, `latencyMs` after its intended send. */
  record(latencyMs: number): void {
    recordMicros(this.#histogram, latencyMs * 1000);
  }

  /** The interval so far, and a fresh one from now. */
  take(): IntervalLatency {
    const interval = intervalOf(this.stage, this.#histogram);
    this.#histogram.reset();
    return interval;
  }
}

/** Several intervals (of shards, or of ticks folded together) as one, exactly; undefined for none. */
export function mergeIntervals(parts: readonly (IntervalLatency | undefined)[]): IntervalLatency | undefined {
  const present = parts.filter((part): part is IntervalLatency => part !== undefined);
  const [first] = present;
  if (!first) return undefined;
  if (present.length === 1) return first;
  const merged = newCompactHistogram();
  for (const part of present) if (part.count > 0) merged.add(decodeHistogram(part.histogram));
  return intervalOf(first.stage, merged);
}

/** Adds intervals into a running histogram as they arrive (the parent of worker shards). */
export class IntervalMerger {
  readonly #histogram = newCompactHistogram();
  #stage: IntervalLatency['stage'] | undefined;

  add(part: IntervalLatency | undefined): void {
    if (!part) return;
    this.#stage = part.stage;
    if (part.count > 0) this.#histogram.add(decodeHistogram(part.histogram));
  }

  /** What was added since the last take (undefined when no part came), and a fresh start. */
  take(): IntervalLatency | undefined {
    const stage = this.#stage;
    if (stage === undefined) return undefined;
    const interval = intervalOf(stage, this.#histogram);
    this.#histogram.reset();
    return interval;
  }
}
