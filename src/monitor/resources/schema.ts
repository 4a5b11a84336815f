/**
 * The `resources` block of a run's record (`runs[].blocks.resources`), once: the zod schema
 * the record format (src/results/schema.ts) includes in docs/result.schema.json, and the
 * types the monitor writes. Field meanings: docs/result-format.md.
 */
import { z } from 'zod';

const nonNegative = z.number().min(0);
const count = z.int().min(0);
/** Seconds since the run's load started (the level clock), one decimal. */
const atSecs = nonNegative.describe("seconds since the run's load started");

export const summarySchema = z
  .object({ count, mean: nonNegative, p50: nonNegative, p99: nonNegative, max: nonNegative })
  .describe('over the samples of the measured window (warm-up left out when it has samples)');

const nodeSampleSchema = z.union([
  z.object({
    t_s: atSecs,
    cpu_percent: nonNegative.describe('percent of one core (100 = one core), as docker stats'),
    memory_bytes: nonNegative.describe(
      'docker_stats: working set (usage − inactive_file); prometheus: resident set (process_resident_memory_bytes)',
    ),
    net_rx_bytes_per_s: nonNegative.optional().describe('absent: the source has no such counter'),
    net_tx_bytes_per_s: nonNegative.optional(),
    block_read_bytes_per_s: nonNegative.optional(),
    block_write_bytes_per_s: nonNegative.optional(),
  }),
  z.object({ t_s: atSecs, down: z.literal(true).describe('the node was not running (or not reporting)') }),
]);

export const nodeResourcesSchema = z.object({
  node_id: z.string(),
  host: z.string().describe('local, or the remote host the node runs on'),
  container_id: z.string().optional(),
  source: z
    .enum(['docker_stats', 'prometheus_scrape', 'prometheus_query'])
    .optional()
    .describe(
      "where the node's figures came from: the engine's stats stream, its metrics page (--endpoint-metrics), or --prometheus-url",
    ),
  metrics_url: z
    .string()
    .optional()
    .describe('the Prometheus page read (prometheus_scrape, prometheus_query)'),
  cpu_percent: summarySchema,
  memory_bytes: summarySchema,
  net_rx_bytes_per_s: summarySchema.optional().describe('absent: the source has no network counter'),
  net_tx_bytes_per_s: summarySchema.optional(),
  block_read_bytes_per_s: summarySchema.optional().describe('absent: the source has no disk counter'),
  block_write_bytes_per_s: summarySchema.optional(),
  memory_limit_bytes: nonNegative.optional(),
  host_network: z
    .literal(true)
    .optional()
    .describe(
      "the container shares its host's network (--network host, as remote nodes do): the engine counts no traffic of its own, so the net_ figures are 0; see hosts[].interfaces",
    ),
  down_s: z.array(atSecs).describe('the samples at which the node was down (empty: it never was)'),
  series: z.array(nodeSampleSchema),
});

const hostSampleSchema = z.object({
  t_s: atSecs,
  cpu_percent: nonNegative.describe('percent of the whole host (100 = every core busy)'),
  memory_used_bytes: nonNegative.describe('MemTotal − MemAvailable'),
  load1: nonNegative,
  net_rx_bytes_per_s: nonNegative.describe('every interface but lo and the containers’ veth ends'),
  net_tx_bytes_per_s: nonNegative,
  cpu_pressure_percent: nonNegative
    .max(100)
    .optional()
    .describe(
      "percent of the interval in which some runnable task waited for a CPU (the kernel's pressure stall information, /proc/pressure/cpu); absent where the kernel has none",
    ),
});

export const hostResourcesSchema = z.object({
  host: z.string(),
  cpus: z.int().min(1),
  memory_total_bytes: nonNegative,
  cpu_percent: summarySchema,
  memory_used_bytes: summarySchema,
  load1: summarySchema,
  net_rx_bytes_per_s: summarySchema,
  net_tx_bytes_per_s: summarySchema,
  cpu_pressure_percent: summarySchema.optional(),
  interfaces: z
    .record(z.string(), z.object({ rx_bytes: nonNegative, tx_bytes: nonNegative }))
    .describe('bytes each interface moved over the whole series'),
  series: z.array(hostSampleSchema),
});

const generatorSampleSchema = z.object({
  t_s: atSecs,
  cpu_percent: nonNegative.describe('the orchestrator process, worker threads included: percent of one core'),
  event_loop_delay_p99_ms: nonNegative,
  event_loop_delay_max_ms: nonNegative,
});

export const generatorResourcesSchema = z.object({
  threads: z.int().min(1).describe('generator threads (--workers)'),
  cpu_percent: summarySchema,
  event_loop_delay_ms: summarySchema.describe("the main thread's event-loop delay, p99 per sample"),
  schedule_lag_p99_ms: nonNegative
    .optional()
    .describe("the load's schedule lag p99 (results.schedule_lag_ms)"),
  bottleneck: z
    .boolean()
    .describe(
      'true: the generator, not the system, may have set the pace (CPU over 80 % per thread, or lag p99 over 5 ms)',
    ),
  bottleneck_reasons: z.array(z.string()).optional(),
  series: z.array(generatorSampleSchema),
});

const busyProcessSchema = z.object({
  pid: z.int(),
  name: z.string(),
  cpu_percent: nonNegative,
  container: z.string().optional().describe('the short ID of the container it runs in'),
});

export const quietCheckSchema = z
  .object({
    quiet: z.boolean().describe('false: the figures may be disturbed (see reasons)'),
    reasons: z.array(z.string()),
    window_ms: nonNegative.describe(
      'how long the processes were watched (before the level: after the deploy, or during the settle)',
    ),
    cpus: z.int().min(1),
    load1: nonNegative,
    load5: nonNegative,
    memory_total_bytes: nonNegative,
    memory_available_bytes: nonNegative,
    others_cpu_percent: nonNegative.describe(
      'processes not of this run (not this process, not its nodes), percent of one core',
    ),
    busy_processes: z
      .array(busyProcessSchema)
      .describe('others at 10 % of a core or more, busiest first (at most 10)'),
    busy_containers: z
      .array(z.object({ container: z.string(), cpu_percent: nonNegative }))
      .describe('containers not of this run with busy processes'),
    hosts: z
      .array(
        z.object({
          host: z.string(),
          cpus: z.int().min(1),
          load1: nonNegative,
          memory_available_bytes: nonNegative,
          memory_total_bytes: nonNegative,
        }),
      )
      .optional()
      .describe("remote hosts: their load and free memory at the level's start"),
  })
  .describe('this machine before the level: is it quiet enough for the figures to be trusted?');

export const resourcesBlockSchema = z
  .object({
    interval_ms: z.int().min(1).describe('--monitor-interval'),
    source: z.string().describe('where the figures came from'),
    absent: z
      .string()
      .optional()
      .describe(
        'why node (and host) figures are missing (attach mode without --endpoint-metrics or --prometheus-url)',
      ),
    nodes: z.array(nodeResourcesSchema),
    hosts: z.array(hostResourcesSchema),
    generator: generatorResourcesSchema,
    environment: quietCheckSchema.optional(),
    errors: z.array(z.string()).optional(),
  })
  .describe(
    'resources: per node, per host and of the load generator, sampled during the run (docs/result-format.md)',
  );

export type Summary = z.infer<typeof summarySchema>;
export type NodeSample = z.infer<typeof nodeSampleSchema>;
export type NodeResources = z.infer<typeof nodeResourcesSchema>;
export type HostSample = z.infer<typeof hostSampleSchema>;
export type HostResources = z.infer<typeof hostResourcesSchema>;
export type GeneratorSample = z.infer<typeof generatorSampleSchema>;
export type GeneratorResources = z.infer<typeof generatorResourcesSchema>;
export type QuietCheck = z.infer<typeof quietCheckSchema>;
export type ResourcesBlock = z.infer<typeof resourcesBlockSchema>;
