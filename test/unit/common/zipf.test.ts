import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hashUniform, seedFromString, ZipfSampler } from '../../../src/common/zipf.js';

/** A small deterministic stream (mulberry32) so the statistical checks never flake. */
function stream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('hashUniform', () => {
  it('is a pure function of (seed, counter, draw), in [0, 1)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(Number.MAX_SAFE_INTEGER), fc.nat(100), (seed, counter, draw) => {
        const u = hashUniform(seed, counter, draw);
        expect(u).toBeGreaterThanOrEqual(0);
        expect(u).toBeLessThan(1);
        expect(hashUniform(seed, counter, draw)).toBe(u);
      }),
    );
  });

  it('is uniform: 16 bins over 160,000 counters stay within 4% of 10,000 each', () => {
    const bins = new Array<number>(16).fill(0);
    const seed = seedFromString('run-1');
    for (let counter = 0; counter < 160_000; counter++) {
      const bin = Math.floor(hashUniform(seed, counter) * 16);
      bins[bin] = (bins[bin] ?? 0) + 1;
    }
    for (const count of bins) expect(Math.abs(count - 10_000)).toBeLessThan(400);
  });

  it('differs by seed, counter and draw', () => {
    const seen = new Set<number>();
    for (const seed of [seedFromString('a'), seedFromString('b')])
      for (const counter of [0, 1, 2 ** 32, 2 ** 32 + 1])
        for (const draw of [0, 1]) seen.add(hashUniform(seed, counter, draw));
    expect(seen.size).toBe(16);
  });
});

describe('ZipfSampler', () => {
  it('draws ranks in 1..n for any n and exponent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1e12 }),
        fc.double({ min: 0.01, max: 20, noNaN: true }),
        fc.nat(),
        (n, exponent, seed) => {
          const zipf = new ZipfSampler(n, exponent);
          const uniform = stream(seed);
          for (let i = 0; i < 20; i++) {
            const k = zipf.sample(uniform);
            expect(Number.isInteger(k)).toBe(true);
            expect(k).toBeGreaterThanOrEqual(1);
            expect(k).toBeLessThanOrEqual(n);
          }
        },
      ),
    );
  });

  it.each([0.5, 0.99, 1, 1.5, 3])(
    'exponent %s: frequencies of 10 ranks over 200,000 draws match k^-s / H within 4 sigma',
    (exponent) => {
      const n = 10;
      const draws = 200_000;
      const zipf = new ZipfSampler(n, exponent);
      const uniform = stream(12345);
      const counts = new Array<number>(n + 1).fill(0);
      for (let i = 0; i < draws; i++) {
        const k = zipf.sample(uniform);
        counts[k] = (counts[k] ?? 0) + 1;
      }
      for (let k = 1; k <= n; k++) {
        const p = zipf.probability(k);
        const sigma = Math.sqrt(draws * p * (1 - p));
        expect(Math.abs((counts[k] ?? 0) - draws * p)).toBeLessThan(4 * sigma + 1);
      }
    },
  );

  it('with a key space of 1 always answers 1', () => {
    const zipf = new ZipfSampler(1, 0.99);
    const uniform = stream(1);
    for (let i = 0; i < 100; i++) expect(zipf.sample(uniform)).toBe(1);
  });

  it('refuses an empty range or an exponent that is not > 0', () => {
    expect(() => new ZipfSampler(0, 1)).toThrow(/n 0/);
    expect(() => new ZipfSampler(10, 0)).toThrow(/exponent 0/);
    expect(() => new ZipfSampler(10, Number.NaN)).toThrow(/exponent NaN/);
  });
});
