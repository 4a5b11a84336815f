/**
 * What the regression gate compares (src/report/gate.ts): each metric's value per run of a
 * level, its unit, and which way is better. Throughput, efficiency, p50 and p99 always; the
 * nodes' CPU and memory when both sides have a `resources` block.
 */
import type { BenchmarkRecord } from '../results/record.js';

export type Direction = 'higher' | 'lower';

export interface MetricDef {
  readonly unit: string;
  /** Which way is better. */
  readonly better: Direction;
  /** One value per run of the level (several with --runs), or undefined when the record has none. */
  samples(record: BenchmarkRecord): readonly number[] | undefined;
}

function perRun(
  record: BenchmarkRecord,
  spread: 'throughput' | 'efficiency' | 'p50_latency_ms' | 'p99_latency_ms' | 'avg_latency_ms',
  single: number,
): readonly number[] {
  const values = record.across_runs?.[spread]?.values;
  return values && values.length > 0 ? values : [single];
}

/** The mean over nodes of a per-node resource summary, per run (runs[].blocks.resources). */
function resourceSamples(
  record: BenchmarkRecord,
  field: 'cpu_percent' | 'memory_bytes',
): readonly number[] | undefined {
  const values: number[] = [];
  for (const run of record.runs ?? []) {
    // runs[].blocks.resources.nodes: one summary per node (src/monitor/resources/schema.ts)
    const nodes = (run.blocks?.resources as { nodes?: readonly Record<string, unknown>[] } | undefined)
      ?.nodes;
    if (!nodes) continue;
    const means = nodes
      .map((node) => (node[field] as { mean?: unknown } | undefined)?.mean)
      .filter((mean): mean is number => typeof mean === 'number' && Number.isFinite(mean));
    if (means.length > 0) values.push(means.reduce((sum, v) => sum + v, 0) / means.length);
  }
  return values.length > 0 ? values : undefined;
}

export const METRICS = {
  throughput: {
    unit: 'tx/s',
    better: 'higher',
    samples: (r) => perRun(r, 'throughput', r.results.throughput),
  },
  efficiency: {
    unit: '',
    better: 'higher',
    samples: (r) => perRun(r, 'efficiency', r.results.efficiency),
  },
  mean_ms: {
    unit: 'ms',
    better: 'lower',
    samples: (r) => perRun(r, 'avg_latency_ms', r.results.avg_latency_ms),
  },
  p50_ms: {
    unit: 'ms',
    better: 'lower',
    samples: (r) => perRun(r, 'p50_latency_ms', r.results.latency_percentiles_ms.p50),
  },
  p90_ms: { unit: 'ms', better: 'lower', samples: (r) => [r.results.latency_percentiles_ms.p90] },
  p99_ms: {
    unit: 'ms',
    better: 'lower',
    samples: (r) => perRun(r, 'p99_latency_ms', r.results.latency_percentiles_ms.p99),
  },
  p999_ms: { unit: 'ms', better: 'lower', samples: (r) => [r.results.latency_percentiles_ms.p999] },
  max_ms: { unit: 'ms', better: 'lower', samples: (r) => [r.results.latency_percentiles_ms.max] },
  stddev_ms: { unit: 'ms', better: 'lower', samples: (r) => [r.results.latency_std_dev_ms] },
  failed: { unit: 'tx', better: 'lower', samples: (r) => [r.results.failed_transactions] },
  node_cpu_percent: {
    unit: '%',
    better: 'lower',
    samples: (r) => resourceSamples(r, 'cpu_percent'),
  },
  node_memory_bytes: {
    unit: 'B',
    better: 'lower',
    samples: (r) => resourceSamples(r, 'memory_bytes'),
  },
} satisfies Record<string, MetricDef>;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];
/** What the gate compares between two runs (the rest are for thresholds). */
export const GATED: readonly MetricName[] = [
  'throughput',
  'efficiency',
  'p50_ms',
  'p99_ms',
  'node_cpu_percent',
  'node_memory_bytes',
];
