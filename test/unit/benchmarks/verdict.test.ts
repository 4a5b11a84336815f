import { describe, expect, it } from 'vitest';
import {
  LoadMonitor,
  defaultQuietBelow,
  judgeRatio,
  judgeThreshold,
  loadLine,
  spread,
  verdictLine,
} from '../../../benchmarks/scripts/lib/verdict.js';

const quiet = { busy: false, reasons: [] };

describe('spread', () => {
  it('gives min, max, median, quartiles and the values in round order', () => {
    const s = spread([3, 1, 4, 1, 5]);
    expect(s).toMatchObject({ rounds: 5, min: 1, max: 5, median: 3, values: [3, 1, 4, 1, 5] });
    expect(s.q1).toBeLessThanOrEqual(s.median);
    expect(s.q3).toBeGreaterThanOrEqual(s.median);
    expect(s.iqr).toBe(s.q3 - s.q1);
  });

  it('skips values that are not numbers, and is empty (NaN figures) without any', () => {
    expect(spread([NaN, 2, 4])).toMatchObject({ rounds: 2, min: 2, max: 4, median: 3 });
    expect(spread([]).rounds).toBe(0);
    expect(spread([]).median).toBeNaN();
  });
});

describe('judgeRatio', () => {
  it('passes when every round and both sides are clearly under the target', () => {
    // the quiet figures: raw 34.6 vs autocannon 20.8 ms per 1,000 tx is a ratio of 1.66,
    // so the claim "raw <= autocannon" fails; the reverse direction passes
    const fails = judgeRatio({
      claim: 'raw / autocannon <= 1',
      numerator: [34.6, 34.1, 35.0],
      denominator: [20.8, 21.2, 20.5],
      target: 1,
      load: quiet,
    });
    expect(fails.verdict).toBe('fail');
    expect(fails.reasons).toEqual([]);
    expect(fails.spread.median).toBeCloseTo(34.6 / 20.8, 2);

    const passes = judgeRatio({
      claim: 'autocannon / raw <= 1',
      numerator: [20.8, 21.2, 20.5],
      denominator: [34.6, 34.1, 35.0],
      target: 1,
      load: quiet,
    });
    expect(passes.verdict).toBe('pass');
    expect(verdictLine(passes)).toMatch(/^autocannon \/ raw <= 1: PASS \(0\.58\d*-0\.62\d* over 3 rounds\)$/);
  });

  it('is inconclusive when the per-round ratios straddle the target (autocannon swinging 35-63 ms)', () => {
    const judgement = judgeRatio({
      claim: 'raw / autocannon <= 1',
      numerator: [44, 45, 46],
      denominator: [35, 63, 50],
      target: 1,
      load: quiet,
    });
    expect(judgement.verdict).toBe('inconclusive');
    expect(judgement.reasons.join('\n')).toMatch(/straddles the target 1/);
    expect(judgement.reasons.join('\n')).toMatch(/sides' ranges overlap: 44-46 against 35-63/);
    expect(verdictLine(judgement)).toMatch(/INCONCLUSIVE/);
  });

  it('is inconclusive when the sides overlap even though each round is on one side', () => {
    // each round's ratio is < 1, but round 1's numerator is above round 2's denominator
    const judgement = judgeRatio({
      claim: 'a / b <= 1',
      numerator: [50, 30],
      denominator: [55, 35],
      target: 1,
      load: quiet,
    });
    expect(judgement.verdict).toBe('inconclusive');
    expect(judgement.reasons).toHaveLength(1);
    expect(judgement.reasons[0]).toMatch(/overlap/);
  });

  it('scales the other side by the target (local-network / by hand <= 1.2)', () => {
    const judgement = judgeRatio({
      claim: 'local-network / by hand <= 1.2',
      numerator: [1500, 1550, 1520],
      denominator: [1400, 1450, 1430],
      target: 1.2,
      load: quiet,
    });
    expect(judgement.verdict).toBe('pass');
    const overlapping = judgeRatio({ ...judgement, numerator: [1500, 1800], denominator: [1400, 1600] });
    expect(overlapping.verdict).toBe('inconclusive');
    expect(overlapping.reasons.join()).toMatch(/against 1\.2 x 1400-1600/);
  });

  it('is inconclusive on a busy machine or with one round, however clear the figures', () => {
    const busy = judgeRatio({
      claim: 'x',
      numerator: [10, 10],
      denominator: [20, 20],
      target: 1,
      load: { busy: true, reasons: ['the 1-minute load average was 3 before the run, above 1.1'] },
    });
    expect(busy.verdict).toBe('inconclusive');
    expect(busy.busyMachine).toBe(true);
    expect(busy.reasons[0]).toMatch(/^measured on a busy machine: the 1-minute load average was 3/);
    const single = judgeRatio({ claim: 'x', numerator: [10], denominator: [20], target: 1, load: quiet });
    expect(single.verdict).toBe('inconclusive');
    expect(single.reasons[0]).toMatch(/1 round measured: at least 2/);
  });

  it('refuses sides of different lengths', () => {
    expect(() => judgeRatio({ claim: 'x', numerator: [1, 2], denominator: [1], target: 1 })).toThrow(
      /2 numerator rounds against 1/,
    );
  });
});

describe('judgeThreshold', () => {
  it('passes, fails, or straddles', () => {
    const base = { claim: 'overhead <= 2000 ms', target: 2000, load: quiet };
    expect(judgeThreshold({ ...base, values: [300, 500, 900] }).verdict).toBe('pass');
    expect(judgeThreshold({ ...base, values: [2300, 2500] }).verdict).toBe('fail');
    const mixed = judgeThreshold({ ...base, values: [1500, 2500] });
    expect(mixed.verdict).toBe('inconclusive');
    expect(mixed.reasons).toEqual(['the per-round range 1500-2500 straddles the target 2000']);
  });

  it('judges at-least claims', () => {
    const base = { claim: 'committed share >= 0.99', target: 0.99, direction: 'at-least' as const };
    expect(judgeThreshold({ ...base, values: [1, 0.995] }).verdict).toBe('pass');
    expect(judgeThreshold({ ...base, values: [0.5, 0.6] }).verdict).toBe('fail');
    expect(judgeThreshold({ ...base, values: [0.5, 1] }).verdict).toBe('inconclusive');
  });
});

describe('LoadMonitor', () => {
  const scripted = (values: number[]) => {
    let index = 0;
    let clock = 0;
    return {
      loadavg: () => {
        const one = values[Math.min(index++, values.length - 1)] as number;
        return [one, one / 2, one / 4];
      },
      now: () => (clock += 1000),
    };
  };

  it('defaults to busy above 0.55 x cores before the run (1.1 on 2 cores)', () => {
    expect(defaultQuietBelow(2)).toBe(1.1);
    expect(defaultQuietBelow(8)).toBe(4.4);
  });

  it('records before, during and after a window, and calls a quiet machine quiet', () => {
    const monitor = new LoadMonitor({ cores: 2, intervalMs: 0, ...scripted([0.4, 0.5, 1.2, 1.6, 1.3]) });
    const window = monitor.window();
    monitor.sample();
    monitor.sample();
    const record = window.close();
    expect(record.beforeRun.loadAverage).toEqual([0.4, 0.2, 0.1]);
    expect(record.before.loadAverage[0]).toBe(0.5);
    expect(record.during.map((s) => s.loadAverage[0])).toEqual([1.2, 1.6]);
    expect(record.after.loadAverage[0]).toBe(1.3);
    expect(record.maxOneMinute).toBe(1.6);
    expect(record.busy).toBe(false);
    expect(record.quietBelow).toBe(1.1);
    expect(loadLine(record)).toBe('1-minute load average 0.5 before, max 1.6 during, 1.3 after (2 cores)');
    const whole = monitor.stop();
    expect(whole.during.map((s) => s.loadAverage[0])).toEqual([0.5, 1.2, 1.6, 1.3]);
  });

  it('calls the machine busy when it was loaded before the run', () => {
    const monitor = new LoadMonitor({ cores: 2, intervalMs: 0, ...scripted([1.5, 0.2]) });
    const record = monitor.window().close();
    expect(record.busy).toBe(true);
    expect(record.reasons).toEqual([
      'the 1-minute load average was 1.5 before the run, above 1.1 (other work on the machine)',
    ]);
    expect(loadLine(record)).toMatch(/BUSY MACHINE/);
  });

  it('calls a window busy when the load went above the core count in it, and honours quietBelow', () => {
    const monitor = new LoadMonitor({
      cores: 2,
      quietBelow: 1.8,
      intervalMs: 0,
      ...scripted([1.5, 1, 2.4, 1]),
    });
    const window = monitor.window();
    monitor.sample();
    const record = window.close();
    expect(record.busy).toBe(true);
    expect(record.reasons).toEqual([
      'the 1-minute load average reached 2.4 during the measurement, above the 2 cores',
    ]);
  });

  it('samples on its own timer without keeping the process alive', async () => {
    const monitor = new LoadMonitor({ cores: 2, intervalMs: 5 });
    await new Promise((resolve) => setTimeout(resolve, 40));
    const record = monitor.stop();
    expect(record.during.length).toBeGreaterThan(0);
    expect(record.beforeRun.loadAverage).toHaveLength(3);
  });
});
