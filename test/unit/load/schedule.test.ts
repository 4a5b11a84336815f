import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planSchedule, Schedule } from '../../../src/load/schedule.js';
import { createTargetPicker } from '../../../src/load/targets.js';

describe('Schedule', () => {
  it('fixed rate: tx n is due at n / rate', () => {
    const s = new Schedule([{ startMs: 0, durationMs: 1000, fromRate: 200, toRate: 200 }]);
    expect(s.timeOf(0)).toBe(0);
    expect(s.timeOf(1)).toBe(5);
    expect(s.timeOf(199)).toBeCloseTo(995, 9);
    expect(s.timeOf(200)).toBe(Infinity);
    expect(s.seqsBefore(1000)).toBe(200);
    expect(s.seqsBefore(5)).toBe(1);
    expect(s.seqsBefore(5.0001)).toBe(2);
  });

  it('ramp: due times invert the integral of a linear rate', () => {
    const s = new Schedule([{ startMs: 0, durationMs: 2000, fromRate: 100, toRate: 300 }]);
    // Integral over 2 s of 100 → 300 tx/s is 400 tx.
    expect(s.seqsBefore(2000)).toBe(400);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 399 }), (n) => {
        expect(s.countBefore(s.timeOf(n))).toBeCloseTo(n, 6);
      }),
    );
    // Later intervals are shorter on an increasing ramp.
    expect(s.timeOf(1) - s.timeOf(0)).toBeGreaterThan(s.timeOf(399) - s.timeOf(398));
  });

  it('intended times never decrease, whatever the segments', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            d: fc.integer({ min: 1, max: 2000 }),
            a: fc.integer({ min: 1, max: 5000 }),
            b: fc.integer({ min: 1, max: 5000 }),
          }),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        (parts) => {
          let at = 0;
          const s = new Schedule(
            parts.map((p) => {
              const segment = { startMs: at, durationMs: p.d, fromRate: p.a, toRate: p.b };
              at += p.d;
              return segment;
            }),
          );
          const total = s.seqsBefore(at);
          // up to 50,000 sends a case: plain comparisons in the loop (expect() per send took
          // this test past its timeout on a busy machine), the first wrong one reported
          let last = -1;
          let wrong: string | undefined;
          for (let n = 0; n < total && wrong === undefined; n++) {
            const t = s.timeOf(n);
            if (t < last - 1e-9) wrong = `send ${n} at ${t} ms, before send ${n - 1} at ${last} ms`;
            else if (t >= at + 1e-6) wrong = `send ${n} at ${t} ms, after the schedule's end at ${at} ms`;
            last = t;
          }
          expect(wrong).toBeUndefined();
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('planSchedule', () => {
  it('lays out warm-up, measured window and cool-down by time', () => {
    const plan = planSchedule({
      shape: { kind: 'fixed', rate: 100 },
      durationMs: 1000,
      warmupMs: 300,
      cooldownMs: 200,
    });
    expect(plan).toMatchObject({
      firstMeasuredSeq: 30,
      firstCooldownSeq: 130,
      endSeq: 150,
      measuredStartMs: 300,
      measuredEndMs: 1300,
      endMs: 1500,
      inputRate: 100,
    });
  });

  it('steps: each rate for its step; the measured window defaults to all steps', () => {
    const plan = planSchedule({ shape: { kind: 'steps', rates: [100, 200, 400], stepDurationMs: 500 } });
    expect(plan.measuredEndMs).toBe(1500);
    expect(plan.endSeq).toBe(50 + 100 + 200);
    expect(plan.schedule.timeOf(50)).toBe(500);
    expect(plan.schedule.timeOf(150)).toBe(1000);
  });

  it('a transaction count gives exactly that many measured sends', () => {
    const plan = planSchedule({
      shape: { kind: 'fixed', rate: 1000 },
      transactions: 777,
      warmupMs: 100,
      cooldownMs: 50,
    });
    expect(plan.firstCooldownSeq - plan.firstMeasuredSeq).toBe(777);
    expect(plan.firstMeasuredSeq).toBe(100);
    expect(plan.measuredEndMs).toBeCloseTo(877, 9);
    expect(plan.endSeq).toBe(100 + 777 + 50);
    expect(plan.inputRate).toBeCloseTo(1000, 9);
  });
});

describe('target picker', () => {
  const endpoints = ['a', 'b', 'c'].map((nodeId) => ({ nodeId, rpcUrl: `http://${nodeId}` }));
  it('round-robin by sequence number', () => {
    const pick = createTargetPicker(endpoints);
    expect([0, 1, 2, 3, 4].map(pick)).toEqual([0, 1, 2, 0, 1]);
  });
  it('weighted spreads in proportion, interleaved', () => {
    const pick = createTargetPicker(endpoints, { kind: 'weighted', weights: { a: 2, b: 1, c: 1 } });
    const counts = [0, 0, 0];
    for (let seq = 0; seq < 1000; seq++) counts[pick(seq)]! += 1;
    expect(counts).toEqual([500, 250, 250]);
    expect([0, 1, 2, 3].map(pick).sort()).toEqual([0, 0, 1, 2]);
  });
  it('rejects unknown nodes and all-zero weights', () => {
    expect(() => createTargetPicker(endpoints, { kind: 'nodes', nodeIds: ['z'] })).toThrow(
      /target node z is not one of the endpoints/,
    );
    expect(() => createTargetPicker(endpoints, { kind: 'weighted', weights: { a: 0 } })).toThrow(/sum to 0/);
  });
});
