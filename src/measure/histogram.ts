/**
 * HDR histograms for latencies (hdr-histogram-js): constant memory in run length,
 * exact merge across worker threads by their compressed encoding.
 * Values are recorded in microseconds; summaries are reported in milliseconds.
 */
import { Int32Histogram, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { LatencySummary } from './figures.js';

/** One hour, in microseconds: the largest latency a histogram tracks without resizing. */
const HIGHEST_TRACKABLE_US = 3_600_000_000;

export type LatencyHistogram = Histogram;

/**
 * hdr-histogram-js's own histogram with a faster way to a value's slot. The library finds
 * it with a Math.log2 and two Math.pow per value, each a call out of V8's compiled code
 * into C: a record took 93 ns here (a sent and answered tx records 6), most of it those
 * calls. For a whole number below 2^31 (µs: about 36 minutes) and a unit of 1 (every
 * histogram here), the same slot is its highest set bit and a shift: a record takes 7.2 ns
 * (`npm run bench:histogram`). Every other value goes the library's way. Slots are the
 * library's, bit for bit (test/unit/measure/histogram.test.ts), so encoding, merging and
 * every figure are unchanged.
 */
export class FastIndexHistogram extends Int32Histogram {
  override countsArrayIndex(value: number): number {
    if (value >= 0 && value < 0x80000000 && this.unitMagnitude === 0 && Math.floor(value) === value) {
      const halfMagnitude = this.subBucketHalfCountMagnitude;
      // floor(log2(value)) - halfMagnitude, at least 0 (bucket 0 holds every value below 2^(halfMagnitude+1))
      const bucket = Math.max(31 - Math.clz32(value) - halfMagnitude, 0);
      return ((bucket + 1) << halfMagnitude) + (value >>> bucket) - this.subBucketHalfCount;
    }
    return super.countsArrayIndex(value);
  }
}

function newHistogram(significantDigits: number): LatencyHistogram {
  const histogram = new FastIndexHistogram(1, HIGHEST_TRACKABLE_US, significantDigits);
  histogram.autoResize = true;
  return histogram;
}

/** A histogram for whole-run figures (3 significant digits, 1 µs .. 1 h, auto-resizing). */
export function newLatencyHistogram(): LatencyHistogram {
  return newHistogram(3);
}

/** A smaller histogram for per-second figures (2 significant digits). */
export function newCompactHistogram(): LatencyHistogram {
  return newHistogram(2);
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

/** The JsHistogram methods the one-pass summary reads (hdr-histogram-js has them on every JS histogram). */
interface BucketAccess {
  readonly countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
  medianEquivalentValue(value: number): number;
  highestEquivalentValue(value: number): number;
}

function bucketAccess(histogram: LatencyHistogram): BucketAccess | undefined {
  const h = histogram as unknown as Partial<BucketAccess>;
  return typeof h.countsArrayLength === 'number' &&
    typeof h.getCountAtIndex === 'function' &&
    typeof h.valueFromIndex === 'function' &&
    typeof h.medianEquivalentValue === 'function' &&
    typeof h.highestEquivalentValue === 'function'
    ? (h as BucketAccess)
    : undefined;
}

export interface Figures {
  readonly mean: number;
  readonly stddev: number;
  /** Values at PERCENTILES, in µs. */
  readonly at: readonly number[];
}

/** The percentiles a summary reports (100 = max), ascending. */
const PERCENTILES = [50, 90, 99, 99.9, 100] as const;

/** hdr-histogram-js's own ulp (`JsHistogram.getValueAtPercentile` rounds the count with it). */
const ulp = (x: number) => Math.pow(2, Math.floor(Math.log2(x)) - 52);

/**
 * Mean, stddev and the percentiles in µs, the same numbers as the library's `mean`,
 * `stdDeviation` and `getValueAtPercentile`, from two passes over the buckets instead
 * of seven (`stdDeviation` alone walks them twice; each percentile once). The sums run
 * over the same buckets in the same order, so the results are equal to the bit.
 */
function bucketFigures(h: BucketAccess, count: number): Figures {
  const targets = PERCENTILES.map((p) => {
    const fp = (p / 100) * count;
    return Math.max(Math.ceil(fp - ulp(fp)), 1);
  });
  const at: number[] = [];
  let seen = 0;
  let total = 0;
  let first = -1;
  let last = -1;
  const length = h.countsArrayLength;
  for (let i = 0; i < length && seen < count; i++) {
    const n = h.getCountAtIndex(i);
    if (n === 0) continue;
    if (first < 0) first = i;
    last = i;
    seen += n;
    const value = h.valueFromIndex(i);
    total += h.medianEquivalentValue(value) * n;
    while (at.length < targets.length && seen >= (targets[at.length] as number)) {
      at.push(h.highestEquivalentValue(value));
    }
  }
  const mean = total / count;
  let deviations = 0;
  for (let i = first; i <= last; i++) {
    const n = h.getCountAtIndex(i);
    if (n === 0) continue;
    const deviation = h.medianEquivalentValue(h.valueFromIndex(i)) - mean;
    deviations += deviation * deviation * n;
  }
  while (at.length < targets.length) at.push(0);
  return { mean, stddev: Math.sqrt(deviations / count), at };
}

/** The same figures through the library's public API (for histograms without bucket access). */
export function libraryFigures(histogram: LatencyHistogram): Figures {
  return {
    mean: histogram.mean,
    stddev: histogram.stdDeviation,
    at: PERCENTILES.map((p) => histogram.getValueAtPercentile(p)),
  };
}

const EMPTY: LatencySummary = Object.freeze({
  count: 0,
  mean: 0,
  stddev: 0,
  min: 0,
  p50: 0,
  p90: 0,
  p99: 0,
  p999: 0,
  max: 0,
});

function summaryOf(histogram: LatencyHistogram, figures: Figures): LatencySummary {
  const ms = (micros: number) => round3(micros / 1000);
  const [p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0] = figures.at;
  return {
    count: histogram.totalCount,
    mean: ms(figures.mean),
    stddev: ms(figures.stddev),
    min: ms(minOf(histogram)),
    p50: ms(p50),
    p90: ms(p90),
    p99: ms(p99),
    p999: ms(p999),
    max: ms(max),
  };
}

/**
 * The smallest value recorded, in µs, at bucket resolution (as a decoded histogram reports it),
 * so a histogram and its merged or decoded copy summarize identically. A recorded 0 counts: the
 * library keeps only the smallest non-zero value, with two different "none" markers
 * (MAX_SAFE_INTEGER when new or reset, MAX_VALUE once decoded or merged), and a merge of an
 * empty decoded histogram with one holding only zeros reported 1.8e305 ms (found by the
 * property test in CI).
 */
function minOf(histogram: LatencyHistogram): number {
  const access = bucketAccess(histogram);
  if (access) {
    for (let i = 0; i < access.countsArrayLength; i++)
      if (access.getCountAtIndex(i) > 0) return access.valueFromIndex(i);
    return 0;
  }
  const js = histogram as unknown as {
    getCountAtValue?: (v: number) => number;
    lowestEquivalentValue?: (v: number) => number;
  };
  if ((js.getCountAtValue?.(0) ?? 0) > 0) return 0;
  const smallest = histogram.minNonZeroValue;
  if (smallest >= Number.MAX_SAFE_INTEGER) return 0;
  return js.lowestEquivalentValue ? js.lowestEquivalentValue(smallest) : smallest;
}

/** Mean, stddev and percentiles in µs, in one pass where the histogram allows (undefined when empty). */
export function figuresOf(histogram: LatencyHistogram): Figures | undefined {
  const count = histogram.totalCount;
  if (count === 0) return undefined;
  const access = bucketAccess(histogram);
  return access ? bucketFigures(access, count) : libraryFigures(histogram);
}

/** Summary in milliseconds; all zeros for an empty histogram. */
export function summarize(histogram: LatencyHistogram): LatencySummary {
  const figures = figuresOf(histogram);
  return figures === undefined ? { ...EMPTY } : summaryOf(histogram, figures);
}
