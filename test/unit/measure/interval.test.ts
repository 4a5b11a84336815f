/**
 * The generator's per-tick latency (LoadProgress.latency): shards' interval histograms merge
 * exactly (the merged figures are those of one histogram fed every value, never an average of
 * percentiles), and a real run on 2 worker threads against a server on port 0 reports every
 * completed tx in exactly one tick, at the stage the level measures.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { newCompactHistogram, recordMicros, summarize } from '../../../src/measure/histogram.js';
import {
  IntervalLatencyRecorder,
  IntervalMerger,
  mergeIntervals,
  type IntervalLatency,
} from '../../../src/measure/interval.js';
import { runLoad } from '../../../src/load/index.js';
import type { LoadOptions, LoadProgress } from '../../../src/load/types.js';
import { cometbftOk, startCountingServer, type CountingServer } from '../load/test-servers.js';

/** A fixed, skewed spread of latencies (ms): most fast, a slow tail, one outlier. */
function latencies(count: number, seed: number): number[] {
  let state = seed;
  const next = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  return Array.from({ length: count }, (_, index) =>
    index === 7 ? 4_321.5 : next() < 0.9 ? 1 + next() * 20 : 50 + next() * 900,
  );
}

/** What one histogram fed every value reports, in the interval's terms. */
function reference(values: readonly number[]): Omit<IntervalLatency, 'histogram' | 'stage'> {
  const histogram = newCompactHistogram();
  for (const value of values) recordMicros(histogram, value * 1000);
  const summary = summarize(histogram);
  return { count: summary.count, p50Ms: summary.p50, p99Ms: summary.p99, maxMs: summary.max };
}

const figures = ({ count, p50Ms, p99Ms, maxMs }: IntervalLatency) => ({ count, p50Ms, p99Ms, maxMs });

describe('interval latency across shards', () => {
  it('merged percentiles equal one histogram fed all values', () => {
    const values = latencies(5000, 42);
    const shards = [0, 1, 2].map(() => new IntervalLatencyRecorder('commit'));
    // Uneven shares: shard 0 gets the slow tail, the others the rest.
    values.forEach((value, index) => shards[value > 40 ? 0 : 1 + (index % 2)]?.record(value));
    const parts = shards.map((shard) => shard.take());
    // The shards' own p99s differ widely; their mean is not the total's p99.
    const meanOfP99s = parts.reduce((sum, part) => sum + part.p99Ms, 0) / parts.length;
    const expected = reference(values);
    expect(meanOfP99s).not.toBeCloseTo(expected.p99Ms, 0);
    const merged = mergeIntervals(parts);
    expect(merged && figures(merged)).toEqual(expected);
    expect(merged?.stage).toBe('commit');
    // The same through the parent's running merger, parts arriving one by one.
    const merger = new IntervalMerger();
    for (const part of parts) merger.add(part);
    const taken = merger.take();
    expect(taken && figures(taken)).toEqual(expected);
  });

  it('each take starts a new interval, and an empty one counts nothing', () => {
    const shard = new IntervalLatencyRecorder('ack');
    const first = latencies(300, 1);
    for (const value of first) shard.record(value);
    expect(figures(shard.take())).toEqual(reference(first));
    expect(figures(shard.take())).toEqual({ count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });
    const second = latencies(200, 2);
    for (const value of second) shard.record(value);
    const merger = new IntervalMerger();
    expect(merger.take()).toBeUndefined();
    merger.add(shard.take());
    expect(figures(merger.take() as IntervalLatency)).toEqual(reference(second));
    // Taken: the merger is empty again, not the sum of both.
    expect(merger.take()?.count).toBe(0);
    expect(mergeIntervals([undefined, undefined])).toBeUndefined();
  });
});

describe('runLoad progress latency', () => {
  const servers: CountingServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  const options = (url: string, overrides: Partial<LoadOptions>): LoadOptions => ({
    runId: 'interval-test',
    endpoints: [{ nodeId: 'node0', rpcUrl: url }],
    protocol: { kind: 'cometbft', broadcastMode: 'async' },
    shape: { kind: 'fixed', rate: 200 },
    durationMs: 2500,
    transactionSizeBytes: 128,
    confirm: 'none',
    ...overrides,
  });

  it('2 worker threads: every ok reply is in exactly one tick, merged from both shards', async () => {
    const s = await startCountingServer((r) => ({ body: cometbftOk(r.body), delayMs: 3 }));
    servers.push(s);
    const ticks: LoadProgress[] = [];
    const result = await runLoad(options(s.url, { workers: 2, onProgress: (p) => ticks.push(p) }));
    expect(result.outcomes.ok).toBe(500);
    const timed = ticks.filter((tick) => tick.latency !== undefined);
    expect(timed.length).toBeGreaterThanOrEqual(2);
    expect(timed.every((tick) => tick.latency?.stage === 'ack')).toBe(true);
    expect(timed.reduce((sum, tick) => sum + (tick.latency?.count ?? 0), 0)).toBe(500);
    const busy = timed.find((tick) => (tick.latency?.count ?? 0) > 0)?.latency;
    // Timed from the intended send, and the server waits 3 ms before it answers.
    expect(busy?.p50Ms).toBeGreaterThanOrEqual(3);
    expect(busy?.p99Ms).toBeGreaterThanOrEqual(busy?.p50Ms ?? Infinity);
    expect(busy?.maxMs).toBeGreaterThanOrEqual(busy?.p99Ms ?? Infinity);
  });

  it('confirming commits: the ticks time commits, one per committed tx', async () => {
    const s = await startCountingServer((r) => {
      const id = (JSON.parse(r.body) as { id: number }).id;
      return {
        body: JSON.stringify({
          jsonrpc: '2.0',
          id,
          result: { check_tx: { code: 0 }, tx_result: { code: 0 }, hash: 'AB', height: '3' },
        }),
        delayMs: 2,
      };
    });
    servers.push(s);
    const ticks: LoadProgress[] = [];
    const result = await runLoad(
      options(s.url, {
        protocol: { kind: 'cometbft', broadcastMode: 'commit' },
        confirm: 'commit',
        shape: { kind: 'fixed', rate: 100 },
        durationMs: 1500,
        onProgress: (p) => ticks.push(p),
      }),
    );
    expect(result.outcomes.committed).toBe(150);
    expect(ticks.every((tick) => tick.latency?.stage === 'commit')).toBe(true);
    expect(ticks.reduce((sum, tick) => sum + (tick.latency?.count ?? 0), 0)).toBe(150);
  });
});
