/**
 * The record's `metrics` block (runs[].blocks.metrics): the nodes' own series, one value per
 * second of a load level, scraped from each node's /metrics or read from a Prometheus
 * (src/monitor/prometheus/). The InfluxDB writer (src/monitor/influx/) reads it back by name.
 * Documented in docs/result-format.md; the record format (src/results/schema.ts) includes the
 * zod schema below in docs/result.schema.json.
 */
import { z } from 'zod';

const seriesValues = z
  .array(z.number().nullable())
  .describe('one value per entry of seconds; null: the node did not answer, or lacked the series then');

export const metricsBlockSchema = z
  .object({
    source: z
      .enum(['scrape', 'prometheus'])
      .describe("the nodes' /metrics pages, or a Prometheus (--prometheus-url)"),
    prometheus_url: z.string().optional(),
    interval_ms: z.int().min(1),
    series: z.array(z.string()).describe('the series kept: the defaults, then --metrics-series'),
    seconds: z.array(z.number().min(0)).describe("each sample's time: seconds since the run's load started"),
    start_epoch_ms: z.number().describe('wall-clock milliseconds (Unix epoch) of seconds = 0'),
    nodes: z
      .record(z.string(), z.record(z.string(), seriesValues))
      .describe('by node, by series (several label sets of a series are summed)'),
    missing: z.array(z.string()).optional().describe('what is missing, each once'),
  })
  .describe("metrics: the nodes' own series each second of the run (docs/result-format.md)");

export const influxBlockSchema = z
  .object({
    url: z.string().describe('--influx-url, without its password'),
    database: z.string().optional(),
    measured_start_epoch_ms: z
      .number()
      .optional()
      .describe("the timestamp of the time series' second 0 in InfluxDB"),
    written: z.int().min(0).describe('points InfluxDB took so far in the run'),
    lost: z.int().min(0).optional().describe('points whose write failed'),
    missing: z.array(z.string()).optional(),
  })
  .describe('influx: what was streamed to InfluxDB (--influx-url) (docs/monitoring.md)');

export interface MetricsBlock {
  /** Where the values came from: the nodes' pages (`scrape`) or a Prometheus (`prometheus`). */
  readonly source: 'scrape' | 'prometheus';
  /** The Prometheus queried (source `prometheus`). */
  readonly prometheus_url?: string;
  readonly interval_ms: number;
  /** The series kept, in order. */
  readonly series: readonly string[];
  /** Each sample's time: seconds since the level's load started (warm-up included). */
  readonly seconds: readonly number[];
  /** Wall-clock milliseconds (Unix epoch) of `seconds` = 0. */
  readonly start_epoch_ms: number;
  /**
   * By node (the network's names), by series: one value per entry of `seconds`; null where the
   * node did not answer or lacked the series then. A series with several label sets is summed.
   */
  readonly nodes: Readonly<Record<string, Readonly<Record<string, readonly (number | null)[]>>>>;
  /** What is missing, each once: a node that never answered, a series no node had, an unreachable Prometheus. */
  readonly missing?: readonly string[];
}

/** The `metrics` block of a run's blocks, when it has one of this shape. */
export function metricsBlockOf(
  blocks: Readonly<Record<string, unknown>> | undefined,
): MetricsBlock | undefined {
  const block = blocks?.metrics as Partial<MetricsBlock> | undefined;
  if (!block || typeof block !== 'object' || !Array.isArray(block.seconds) || typeof block.nodes !== 'object')
    return undefined;
  return block as MetricsBlock;
}
