import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeProbe, searchLoad } from '../../../src/bench/load-search.js';

const plan = {
  startLoad: 100,
  maxLoad: 100_000,
  minEfficiency: 0.95,
  p99BoundMs: 1000,
  resolutionFraction: 0.05,
};

/** A system that keeps up until `capacity` tx/s and falls behind above it. */
function systemWithCapacity(capacity: number) {
  const probed: number[] = [];
  const probe = async (load: number) => {
    probed.push(load);
    return load <= capacity ? { efficiency: 0.99, p99Ms: 100 } : { efficiency: capacity / load, p99Ms: 5000 };
  };
  return { probe, probed };
}

describe('searchLoad', () => {
  it('doubles, then bisects to within 5% of the capacity', async () => {
    const { probe, probed } = systemWithCapacity(1000);
    const outcome = await searchLoad(plan, probe);
    expect(probed.slice(0, 5)).toEqual([100, 200, 400, 800, 1600]);
    expect(outcome.bestLoad).toBeGreaterThanOrEqual(950);
    expect(outcome.bestLoad).toBeLessThanOrEqual(1000);
    expect(outcome.firstFailingLoad).toBeGreaterThan(1000);
    expect(outcome.stoppedBecause).toBe('resolution');
    expect(outcome.probes.filter((p) => p.phase === 'bisecting').length).toBeGreaterThan(0);
  });

  it('finds the capacity for any capacity (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 50_000 }), async (capacity) => {
        const { probe } = systemWithCapacity(capacity);
        const outcome = await searchLoad({ ...plan, maxProbes: 60 }, probe);
        expect(outcome.bestLoad).toBeDefined();
        const best = outcome.bestLoad as number;
        expect(best).toBeLessThanOrEqual(capacity);
        expect(best).toBeGreaterThanOrEqual(Math.floor(capacity * 0.95) - 1);
      }),
      { numRuns: 60 },
    );
  });

  it('bisects below the start load when the start fails', async () => {
    const { probe, probed } = systemWithCapacity(30);
    const outcome = await searchLoad(plan, probe);
    expect(probed[0]).toBe(100);
    expect(probed[1]).toBe(50);
    expect(outcome.bestLoad).toBeLessThanOrEqual(30);
    expect(outcome.bestLoad).toBeGreaterThanOrEqual(28);
  });

  it('stops at the maximum when it passes', async () => {
    const { probe, probed } = systemWithCapacity(1e9);
    const outcome = await searchLoad({ ...plan, maxLoad: 500 }, probe);
    expect(probed).toEqual([100, 200, 400, 500]);
    expect(outcome.bestLoad).toBe(500);
    expect(outcome.stoppedBecause).toBe('max-load-passed');
  });

  it('fails a level on p99 alone', async () => {
    const outcome = await searchLoad({ ...plan, maxLoad: 400 }, async (load) => ({
      efficiency: 1,
      p99Ms: load >= 300 ? 1000 : 10,
    }));
    expect(outcome.bestLoad).toBeLessThan(300);
    expect(outcome.probes.find((p) => p.load === 400)?.reason).toBe('p99 1000.0 ms ≥ 1000 ms');
  });

  it('reports no passing load when nothing passes', async () => {
    const outcome = await searchLoad(plan, async () => ({ efficiency: 0, p99Ms: 0 }));
    expect(outcome.bestLoad).toBeUndefined();
    expect(outcome.probes.every((p) => !p.pass)).toBe(true);
  });

  it('respects max probes and abort', async () => {
    const { probe } = systemWithCapacity(1e9);
    expect((await searchLoad({ ...plan, maxProbes: 3 }, probe)).stoppedBecause).toBe('max-probes');
    const controller = new AbortController();
    controller.abort();
    const aborted = await searchLoad({ ...plan, signal: controller.signal }, probe);
    expect(aborted.stoppedBecause).toBe('aborted');
    expect(aborted.probes).toHaveLength(0);
  });
});

describe('judgeProbe', () => {
  it('names every reason', () => {
    expect(judgeProbe({ efficiency: 0.9, p99Ms: 2000 }, plan)).toBe(
      'efficiency 90.0% < 95.0%, p99 2000.0 ms ≥ 1000 ms',
    );
    expect(judgeProbe({ efficiency: 0.95, p99Ms: 999 }, plan)).toBe('');
    expect(judgeProbe({ efficiency: Number.NaN, p99Ms: 1 }, plan)).toMatch(/efficiency/);
  });
});
