import { Int32Histogram } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import {
  encodeHistogram,
  FastIndexHistogram,
  mergeEncoded,
  newCompactHistogram,
  newLatencyHistogram,
  recordMicros,
} from '../../../src/measure/histogram.js';

/** The library's own histogram with the same settings. */
function reference(significantDigits: number): Int32Histogram {
  const histogram = new Int32Histogram(1, 3_600_000_000, significantDigits);
  histogram.autoResize = true;
  return histogram;
}

/** Values around every power of two up to 2^40, and a spread of others. */
function probeValues(): number[] {
  const values: number[] = [];
  for (let v = 0; v < 70_000; v++) values.push(v);
  for (let bit = 0; bit <= 40; bit++) {
    const p = 2 ** bit;
    for (const d of [-3, -2, -1, 0, 1, 2, 3]) if (p + d >= 0) values.push(p + d);
  }
  let x = 12345;
  for (let i = 0; i < 20_000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    values.push(x, x >>> (i % 31), x * 1000);
  }
  values.push(0x7fffffff, 0x80000000, 0x80000001, 3_600_000_000, 2 ** 45, 0.5, 1.5, 12.25);
  return values;
}

describe('FastIndexHistogram', () => {
  for (const digits of [2, 3]) {
    it(`finds the library's slot for every value (${digits} significant digits)`, () => {
      const fast = new FastIndexHistogram(1, 3_600_000_000, digits);
      const slow = reference(digits);
      const mismatches: number[] = [];
      for (const value of probeValues()) {
        if (fast.countsArrayIndex(value) !== slow.countsArrayIndex(value)) mismatches.push(value);
      }
      expect(mismatches.slice(0, 10)).toEqual([]);
    });
  }

  it('records, resizes, encodes and merges as the library does', () => {
    for (const [ours, theirs] of [
      [newLatencyHistogram(), reference(3)],
      [newCompactHistogram(), reference(2)],
    ] as const) {
      // past the one hour it is built for: both resize alike
      for (const value of [...probeValues(), 2 ** 34, 9_000_000_000]) {
        recordMicros(ours, value);
        recordMicros(theirs, value);
      }
      expect(encodeHistogram(ours)).toBe(encodeHistogram(theirs));
      for (const q of [0, 1, 50, 90, 99, 99.9, 100]) {
        expect(ours.getValueAtPercentile(q)).toBe(theirs.getValueAtPercentile(q));
      }
      // merging (what worker threads' and per-second histograms go through) as the library merges
      const merged = newLatencyHistogram();
      const mergedByLibrary = reference(3);
      mergeEncoded(merged, encodeHistogram(theirs));
      mergeEncoded(mergedByLibrary, encodeHistogram(theirs));
      expect(merged.totalCount).toBe(theirs.totalCount);
      expect(encodeHistogram(merged)).toBe(encodeHistogram(mergedByLibrary));
    }
  });
});
