/**
 * The `ingest` block of a run's record (`runs[].blocks.ingest`): the points the system under
 * test (or its clients) POSTed to MESHBENCH_INGEST_URL during the run, on the run's clock.
 * Each point is flat (name, value, tags, t_ms, and the wall time), so an output such as
 * InfluxDB can forward it as it is. Field meanings: docs/result-format.md.
 */
import { z } from 'zod';

const nonNegative = z.number().min(0);
const count = z.int().min(0);

export const ingestPointSchema = z.object({
  name: z.string(),
  value: z.number(),
  tags: z.record(z.string(), z.string()).optional(),
  t_ms: z
    .number()
    .describe("milliseconds since the run's load started (negative: before it, by the sender's clock)"),
  wall_ms: nonNegative.describe(
    'milliseconds since the epoch: the sender’s "ts", else when meshbench received it',
  ),
  from_sender_clock: z
    .boolean()
    .optional()
    .describe('true when the time is the sender’s "ts" (its clock, not ours)'),
});

export const ingestSeriesSchema = z.object({
  name: z.string(),
  count,
  mean: z.number(),
  min: z.number(),
  max: z.number(),
  last: z.number(),
});

export const ingestBlockSchema = z
  .object({
    url: z.string().describe('the MESHBENCH_INGEST_URL the nodes were given'),
    points: z.array(ingestPointSchema).describe('in the order received (at most max_points)'),
    series: z.array(ingestSeriesSchema).describe('per name: count, mean, min, max and the last value'),
    requests: count.describe('POSTs accepted during the run'),
    rejected_requests: count.describe('POSTs refused (HTTP 400 or 413) during the run'),
    dropped_points: count.describe('points past max_points, counted but not kept'),
    max_points: z.int().min(1),
    errors: z.array(z.string()).optional().describe('the first few refusals, one line each'),
  })
  .describe('ingest: datapoints the system under test POSTed during the run (docs/result-format.md)');

export type IngestPointRecord = z.infer<typeof ingestPointSchema>;
export type IngestSeries = z.infer<typeof ingestSeriesSchema>;
export type IngestBlock = z.infer<typeof ingestBlockSchema>;
