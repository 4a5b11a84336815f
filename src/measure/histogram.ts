/**
 * HDR histograms for latencies (hdr-histogram-js): constant memory in run length,
 * exact merge across worker threads by their compressed encoding.
 * Values are recorded in microseconds; summaries are reported in milliseconds.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { LatencySummary } from '../load/types.js';

/** One hour, in microseconds: the largest latency a histogram tracks without resizing. */
const HIGHEST_TRACKABLE_US = 3_600_000_000;

export type LatencyHistogram = Histogram;

/** A histogram for whole-run figures (3 significant digits, 1 µs .. 1 h, auto-resizing). */
export function newLatencyHistogram(): LatencyHistogram {
  return build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

/** A smaller histogram for per-second figures (2 significant digits). */
export function newCompactHistogram(): LatencyHistogram {
  return build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 2,
    autoResize: true,
  });
}

export function recordMicros(histogram: LatencyHistogram, micros: number): void {
  histogram.recordValue(micros < 0 ? 0 : Math.round(micros));
}

export function encodeHistogram(histogram: LatencyHistogram): string {
  return encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): LatencyHistogram {
  return decodeFromCompressedBase64(encoded, 32, false);
}

/** Adds `encoded` into `into` exactly (counts per bucket are summed). */
export function mergeEncoded(into: LatencyHistogram, encoded: string): void {
  into.add(decodeHistogram(encoded));
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;

/** Summary in milliseconds; all zeros for an empty histogram. */
export function summarize(histogram: LatencyHistogram): LatencySummary {
  const count = histogram.totalCount;
  if (count === 0) {
    return { count: 0, mean: 0, stddev: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  }
  const ms = (micros: number) => round3(micros / 1000);
  // Min and max at bucket resolution (as a decoded histogram reports them), so a
  // histogram and its merged/decoded copy summarize identically.
  const js = histogram as unknown as { lowestEquivalentValue?: (v: number) => number };
  const minRaw = histogram.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : histogram.minNonZeroValue;
  return {
    count,
    mean: ms(histogram.mean),
    stddev: ms(histogram.stdDeviation),
    min: ms(js.lowestEquivalentValue ? js.lowestEquivalentValue(minRaw) : minRaw),
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.getValueAtPercentile(100)),
  };
}
