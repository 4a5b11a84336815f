/** Synthetic generator results for unit tests of the pure report and sweep code. */
import type { LevelRun } from '../../../src/bench/level.js';
import type { LatencySummary, LoadResult } from '../../../src/load/types.js';

export function latency(p50: number, p99 = p50 * 2, count = 100): LatencySummary {
  return {
    count,
    mean: p50 * 1.1,
    stddev: p50 / 4,
    min: p50 / 2,
    p50,
    p90: (p50 + p99) / 2,
    p99,
    p999: p99 * 1.2,
    max: p99 * 1.5,
  };
}

export interface FakeLoadOptions {
  readonly rate: number;
  readonly durationSecs?: number;
  readonly efficiency?: number;
  readonly commitP50Ms?: number;
  readonly commitP99Ms?: number;
  readonly runId?: string;
  readonly nodes?: number;
  readonly interrupted?: boolean;
}

export function fakeLoadResult(options: FakeLoadOptions): LoadResult {
  const durationSecs = options.durationSecs ?? 10;
  const efficiency = options.efficiency ?? 1;
  const scheduled = Math.round(options.rate * durationSecs);
  const committed = Math.round(scheduled * efficiency);
  const failed = scheduled - committed;
  const commitP50 = options.commitP50Ms ?? 40;
  const commitP99 = options.commitP99Ms ?? commitP50 * 2;
  const nodes = options.nodes ?? 4;
  return {
    runId: options.runId ?? 'fake',
    protocol: 'cometbft',
    startedAt: '2026-11-21T23:00:00.000Z',
    endedAt: '2026-11-21T23:00:10.000Z',
    durationSecs,
    warmupSecs: 0,
    cooldownSecs: 0,
    transactionSizeBytes: 512,
    inputRate: options.rate,
    achievedRate: options.rate,
    acceptedThroughput: options.rate,
    committedThroughput: committed / durationSecs,
    efficiency,
    scheduled,
    sent: scheduled,
    outcomes: {
      ok: scheduled,
      rejected: {},
      httpError: {},
      badResponse: 0,
      timeout: 0,
      connectionError: 0,
      dropped: 0,
      committed,
      commitTimeout: failed,
    },
    latency: {
      ack: { corrected: latency(2, 5, scheduled), uncorrected: latency(1.5, 4, scheduled) },
      commit: {
        corrected: latency(commitP50, commitP99, committed),
        uncorrected: latency(commitP50 * 0.9, commitP99 * 0.9, committed),
      },
    },
    scheduleLag: latency(0.1, 0.5, scheduled),
    perNode: Array.from({ length: nodes }, (_, index) => ({
      nodeId: `node${index}`,
      sent: Math.round(scheduled / nodes),
      ok: Math.round(scheduled / nodes),
      failed: 0,
      committed: Math.round(committed / nodes),
      ack: latency(2, 5),
      commit: latency(commitP50, commitP99),
    })),
    timeSeries: Array.from({ length: Math.max(1, Math.round(durationSecs)) }, (_, second) => ({
      second,
      sent: options.rate,
      ok: options.rate,
      failed: 0,
      committed: Math.round(options.rate * efficiency),
      ackP50Ms: 2,
      ackP99Ms: 5,
      commitP50Ms: commitP50,
      commitP99Ms: commitP99,
    })),
    interrupted: options.interrupted ?? false,
  };
}

/** One run of a level as the sweep hands it up: a fake load, a drained settle and plain timings. */
export function fakeLevelRun(options: FakeLoadOptions): LevelRun {
  return {
    load: fakeLoadResult(options),
    settle: {
      rule: 'drain',
      polled: true,
      drained: true,
      settleMs: 250,
      polls: 3,
      residualUnconfirmed: { node0: 0 },
      errors: {},
    },
    timing: {
      levelMs: 10_400,
      loadMs: 10_050,
      settleMs: 250,
      generatorTailMs: 50,
      overheadMs: 150,
      orchestratorMs: 100,
    },
  };
}
