/**
 * The monitors as one plug-in (src/common/plugin.ts), since they share their settings
 * (monitoring-plan.ts: the series, Prometheus, `--require-monitoring`): `--monitor`,
 * `--monitor-interval`, `--node-metrics`, `--metrics-series`, `--prometheus-url`,
 * `--metrics-port`, `--influx-url`, `--require-monitoring` → `plan.plugins.monitoring` → the
 * nodes' series (the `metrics` block), the generator's /metrics exporter, the InfluxDB output
 * (the `influx` block) and the resource monitor (the `resources` block), in that order.
 */
import { z } from 'zod';
import { definePlugin, type PluginContext } from '../common/plugin.js';
import type { InfluxOutput } from './influx/influx-output.js';
import { parseMonitoringInput, type MonitoringPlan } from './monitoring-plan.js';
import type { GeneratorExporter } from './prometheus/exporter.js';
import type { NodeMetricsMonitor } from './prometheus/node-metrics.js';
import type { ResourceMonitor } from './resources/monitor.js';
import { parseMonitorInput } from './resources/options.js';

export const MONITORING_PLUGIN = 'monitoring';

export interface MonitoringSection {
  /** The nodes' series, Prometheus and InfluxDB; absent: none asked for. */
  readonly monitoring?: MonitoringPlan;
  /** The resource monitor's sample interval, ms; absent: `--monitor false`. */
  readonly monitorIntervalMs?: number;
}

/** The plan's monitoring settings (both absent: no monitor at all). */
export function monitoringOf(plan: {
  readonly plugins?: Readonly<Record<string, unknown>>;
}): MonitoringSection {
  return (plan.plugins?.[MONITORING_PLUGIN] as MonitoringSection | undefined) ?? {};
}

const GROUP = 'Monitoring (docs/monitoring.md):';
const loose = z.unknown().optional();

export const monitoringPlugin = definePlugin({
  name: MONITORING_PLUGIN,
  group: GROUP,
  flags: [
    {
      name: 'monitor',
      type: 'boolean',
      describe:
        'Sample each node (CPU, memory, network, block I/O), each host and the generator during each level, and check the machine is quiet before it: the resources block',
      defaultDescription: 'true',
    },
    {
      name: 'monitor-interval',
      type: 'string',
      describe: 'Milliseconds between resource samples, 100 to the level duration',
      defaultDescription: '1000',
    },
    {
      name: 'node-metrics',
      type: 'boolean',
      describe: "Record the nodes' own series (their /metrics) each second: the metrics block",
      defaultDescription: 'true with --metrics-series or a URL',
    },
    {
      name: 'metrics-series',
      type: 'string',
      list: true,
      describe:
        'Node series to keep besides refnode_height, refnode_committed_txs_total, refnode_mempool_txs, refnode_view_changes_total: name,name',
    },
    {
      name: 'prometheus-url',
      type: 'string',
      describe: "Read the nodes' series from this Prometheus (PromQL range queries) instead of scraping them",
    },
    {
      name: 'metrics-port',
      type: 'string',
      describe: "Serve the generator's own metrics at /metrics on this port while it runs (0: any free port)",
    },
    {
      name: 'influx-url',
      type: 'string',
      describe: 'Stream per-second points to InfluxDB 1.x: http://host:8086/DATABASE',
    },
    {
      name: 'require-monitoring',
      type: 'boolean',
      describe:
        'Stop before the first level when --prometheus-url, --influx-url or an --endpoint-metrics page does not answer (else: one warning line, the run goes on)',
      defaultDescription: 'false',
    },
  ],
  // Checked by the parsers below, which name the flag and the fix in one line.
  settings: z.object({
    monitor: loose,
    monitorInterval: loose,
    nodeMetrics: loose,
    metricsSeries: loose,
    prometheusUrl: loose,
    metricsPort: loose,
    influxUrl: loose,
    requireMonitoring: loose,
  }),
  section: (settings, core): MonitoringSection | undefined => {
    const { monitor, monitorInterval, ...series } = settings;
    const monitoring = parseMonitoringInput({ ...series, endpointMetrics: core.endpointMetrics });
    const monitorIntervalMs = parseMonitorInput({ monitor, monitorInterval }, core.durationSecs);
    if (monitoring === undefined && monitorIntervalMs === undefined) return undefined;
    return {
      ...(monitoring ? { monitoring } : {}),
      ...(monitorIntervalMs !== undefined ? { monitorIntervalMs } : {}),
    };
  },
  observer: async (
    section,
    context: PluginContext<{ readonly workers: number; readonly confirm: string }>,
  ) => {
    const { monitoring, monitorIntervalMs } = section;
    const { warn } = context;
    // each loaded only when on (prom-client and undici's client are not small)
    const observers: (NodeMetricsMonitor | GeneratorExporter | InfluxOutput | ResourceMonitor)[] = [];
    if (monitoring?.nodeMetrics) {
      const { NodeMetricsMonitor } = await import('./prometheus/node-metrics.js');
      observers.push(
        new NodeMetricsMonitor({
          series: monitoring.series,
          intervalMs: monitoring.intervalMs,
          require: monitoring.requireMonitoring,
          ...(monitoring.prometheusUrl !== undefined ? { prometheusUrl: monitoring.prometheusUrl } : {}),
          warn,
        }),
      );
    }
    if (monitoring?.metricsPort !== undefined) {
      const { GeneratorExporter } = await import('./prometheus/exporter.js');
      observers.push(
        new GeneratorExporter({
          port: monitoring.metricsPort,
          ...(context.say ? { say: context.say } : {}),
          ...(context.onForce ? { onForce: context.onForce } : {}),
        }),
      );
    }
    if (monitoring?.influxUrl !== undefined) {
      const { InfluxOutput } = await import('./influx/influx-output.js');
      observers.push(
        new InfluxOutput({
          url: monitoring.influxUrl,
          require: monitoring.requireMonitoring,
          confirmCommit: context.plan.confirm === 'commit',
          warn,
        }),
      );
    }
    if (monitorIntervalMs !== undefined) {
      const { ResourceMonitor } = await import('./resources/monitor.js');
      observers.push(
        new ResourceMonitor({
          intervalMs: monitorIntervalMs,
          threads: context.plan.workers,
          warn,
          ...(context.say ? { say: context.say } : {}),
          ...(monitoring?.prometheusUrl !== undefined ? { prometheusUrl: monitoring.prometheusUrl } : {}),
          require: monitoring?.requireMonitoring ?? false,
        }),
      );
    }
    return observers;
  },
  // records had `plan.monitoring` and `plan.monitorIntervalMs` before the registry
  record: { plan: (section) => ({ ...section }) },
});
