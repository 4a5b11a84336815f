/** The zod shape of a latency summary (`LatencySummary` in figures.ts), shared by every record block that holds one. */
import { z } from 'zod';

const count = z.int().min(0);
const nonNegative = z.number().min(0);

export const latencySummarySchema = z.object({
  count,
  mean: nonNegative,
  stddev: nonNegative,
  min: nonNegative,
  p50: nonNegative,
  p90: nonNegative,
  p99: nonNegative,
  p999: nonNegative,
  max: nonNegative,
});
