import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeHistogram,
  encodeHistogram,
  figuresOf,
  libraryFigures,
  newCompactHistogram,
  newLatencyHistogram,
  recordMicros,
  summarize,
} from '../../../src/measure/histogram.js';
import { Recorder } from '../../../src/measure/recorder.js';

describe('HDR histograms', () => {
  it('summarizes in ms with 3 significant digits', () => {
    const h = newLatencyHistogram();
    for (let i = 1; i <= 1000; i++) recordMicros(h, i * 1000);
    const s = summarize(h);
    expect(s.count).toBe(1000);
    expect(s.p50).toBeCloseTo(500, -0.5);
    expect(Math.abs(s.p99 - 990) / 990).toBeLessThan(0.001);
    expect(Math.abs(s.max - 1000) / 1000).toBeLessThan(0.001);
    expect(Math.abs(s.mean - 500.5) / 500.5).toBeLessThan(0.001);
  });

  it('merging encoded histograms is exact (same counts as recording everything in one)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50_000_000 }), { maxLength: 300 }),
        fc.array(fc.integer({ min: 0, max: 50_000_000 }), { maxLength: 300 }),
        (a, b) => {
          const all = newLatencyHistogram();
          const left = newLatencyHistogram();
          const right = newLatencyHistogram();
          for (const v of a) {
            recordMicros(all, v);
            recordMicros(left, v);
          }
          for (const v of b) {
            recordMicros(all, v);
            recordMicros(right, v);
          }
          const merged = decodeHistogram(encodeHistogram(left));
          merged.add(decodeHistogram(encodeHistogram(right)));
          expect(summarize(merged)).toEqual(summarize(all));
          expect(encodeHistogram(merged)).toEqual(encodeHistogram(all));
        },
      ),
      // [[], [0]]: an empty histogram merged with one holding only zeros (its min was 1.8e305 ms)
      { numRuns: 30, examples: [[[], [0]]] },
    );
  });
});

describe('one-pass summary figures', () => {
  // Values over several scales (µs to hours, beyond the histogram's initial range so it
  // resizes), each recorded a random number of times.
  const weighted = fc.array(
    fc.record({
      value: fc.oneof(
        fc.integer({ min: 0, max: 2_000 }),
        fc.integer({ min: 0, max: 5_000_000 }),
        fc.integer({ min: 0, max: 8_000_000_000 }),
      ),
      times: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 100_000 })),
    }),
    { minLength: 1, maxLength: 200 },
  );

  it("equal the library's mean, stdDeviation and getValueAtPercentile to the bit", () => {
    fc.assert(
      fc.property(weighted, fc.boolean(), fc.boolean(), (values, compact, decoded) => {
        const built = compact ? newCompactHistogram() : newLatencyHistogram();
        for (const { value, times } of values) built.recordValueWithCount(value, times);
        const h = decoded ? decodeHistogram(encodeHistogram(built)) : built;
        const ours = figuresOf(h);
        const library = libraryFigures(h);
        expect(ours).toBeDefined();
        expect(ours?.mean).toBe(library.mean);
        expect(ours?.stddev).toBe(library.stddev);
        expect(ours?.at).toEqual(library.at);
      }),
      { numRuns: 200 },
    );
  });

  it('round the count at a percentile as the library does (99.9 % of 1,000 is 999.0000000000001 in floating point)', () => {
    const h = newLatencyHistogram();
    for (let v = 1; v <= 1000; v++) recordMicros(h, v); // each value its own bucket
    expect(figuresOf(h)?.at).toEqual(libraryFigures(h).at);
    expect(figuresOf(h)?.at[3]).toBe(999);
  });

  it('are undefined for an empty histogram, and its summary is all zeros', () => {
    const h = newLatencyHistogram();
    expect(figuresOf(h)).toBeUndefined();
    expect(summarize(h)).toEqual({
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
  });
});

describe('Recorder', () => {
  it('two shards merged equal one recorder that saw everything', () => {
    const nodes = ['a', 'b'];
    const one = new Recorder(nodes);
    const shards = [new Recorder(nodes), new Recorder(nodes)];
    for (let seq = 0; seq < 500; seq++) {
      const shard = shards[seq % 2] as Recorder;
      const node = seq % 2;
      const second = Math.floor(seq / 100);
      for (const r of [one, shard]) {
        r.recordSend('measured', node, second, seq, seq % 7, seq % 50 === 0);
        if (seq % 10 === 0) r.recordAck('measured', node, second, { kind: 'rejected', code: 'app:1' }, 5, 4);
        else r.recordAck('measured', node, second, { kind: 'ok' }, 1 + (seq % 13), 1 + (seq % 11));
        if (seq % 3 === 0) r.recordCommit('measured', node, second, 100 + seq, 90 + seq);
      }
    }
    one.compactSecondsBefore(3);
    shards[0]?.compactSecondsBefore(5);
    const merged = Recorder.fromStates(
      nodes,
      shards.map((s) => s.toState()),
    );
    expect(merged.outcomes()).toEqual(one.outcomes());
    expect(summarize(merged.ackCorrected)).toEqual(summarize(one.ackCorrected));
    expect(summarize(merged.ackUncorrected)).toEqual(summarize(one.ackUncorrected));
    expect(summarize(merged.commitCorrected)).toEqual(summarize(one.commitCorrected));
    expect(summarize(merged.lag)).toEqual(summarize(one.lag));
    expect(merged.perNode(true)).toEqual(one.perNode(true));
    expect(merged.timeSeries(true, 5)).toEqual(one.timeSeries(true, 5));
    expect(merged.sent).toBe(500);
    // One send per ms: 1000 tx/s, whether fitted on one recorder or summed over two shards.
    expect(one.sendRate()).toBeCloseTo(1000, 6);
    expect(merged.sendRate()).toBeCloseTo(1000, 6);
    expect(merged.failed()).toBe(50);
    expect(merged.outcomes().late).toBe(10);
  });

  it('fits the achieved send rate, unmoved by one late first send', () => {
    const r = new Recorder(['a']);
    r.recordSend('measured', 0, 0, 40, 40, true); // first send 40 ms late
    for (let i = 1; i < 1000; i++) r.recordSend('measured', 0, 0, i * 2, 0, false); // 500 tx/s
    expect(Math.abs(r.sendRate() - 500) / 500).toBeLessThan(0.001);
    // The span formula would say (1000 - 1) / 1.958 s = 510 tx/s.
  });

  it('late records into a compacted second are still counted', () => {
    const r = new Recorder(['a']);
    r.recordSend('measured', 0, 0, 0, 0, false);
    r.recordAck('measured', 0, 0, { kind: 'ok' }, 10, 10);
    r.compactSecondsBefore(5);
    r.recordSend('measured', 0, 0, 1, 0, false);
    r.recordAck('measured', 0, 0, { kind: 'ok' }, 30, 30);
    const [second] = r.timeSeries(false, 1);
    expect(second).toMatchObject({ second: 0, sent: 2, ok: 2 });
    expect(second?.ackP99Ms).toBeGreaterThan(29);
  });

  it('keeps warm-up and cool-down apart', () => {
    const r = new Recorder(['a']);
    r.recordSend('warmup', 0, 0, 0, 0, false);
    r.recordAck('warmup', 0, 0, { kind: 'ok' }, 1, 1);
    r.recordDrop('cooldown', 0, 0);
    expect(r.sent).toBe(0);
    expect(r.ackCorrected.totalCount).toBe(0);
    expect(r.excluded).toEqual({
      warmup: { scheduled: 1, sent: 1, ok: 1, failed: 0 },
      cooldown: { scheduled: 1, sent: 0, ok: 0, failed: 1 },
    });
  });
});
