/**
 * The monitoring settings of a benchmark (`--node-metrics`, `--metrics-series`,
 * `--prometheus-url`, `--metrics-port`, `--influx-url`, `--require-monitoring`): parsed and
 * checked once, into the plan's `monitoring` part. The plug-ins in ./prometheus/ and
 * ./influx/ are built from it (src/bench/plugins.ts).
 */
import { badFlag } from '../common/errors.js';
import { booleanWord } from '../common/boolean-word.js';

/** The reference node's series kept by default (systems/refnode/src/metrics.ts). */
export const DEFAULT_NODE_SERIES: readonly string[] = [
  'refnode_height',
  'refnode_committed_txs_total',
  'refnode_mempool_txs',
  'refnode_view_changes_total',
];

export interface MonitoringPlan {
  /** Read the nodes' series each second of a level (`metrics` block): scraped, or queried from Prometheus. */
  readonly nodeMetrics: boolean;
  /** The series kept: the defaults, then those named by `--metrics-series`. */
  readonly series: readonly string[];
  /** `--prometheus-url`: read the series from this Prometheus (PromQL) instead of scraping. */
  readonly prometheusUrl?: string;
  /** `--metrics-port`: serve the generator's own metrics on this port (0: any free port). */
  readonly metricsPort?: number;
  /** `--influx-url`: stream per-second points to this InfluxDB 1.x (`http://host:8086/db`). */
  readonly influxUrl?: string;
  /** `--require-monitoring`: an unreachable Prometheus or InfluxDB stops the run before it deploys. */
  readonly requireMonitoring: boolean;
  /** Milliseconds between samples (1000). */
  readonly intervalMs: number;
}

export interface MonitoringInput {
  readonly nodeMetrics?: unknown;
  readonly metricsSeries?: unknown;
  readonly prometheusUrl?: unknown;
  readonly metricsPort?: unknown;
  readonly influxUrl?: unknown;
  readonly requireMonitoring?: unknown;
  /** Whether `--endpoint-metrics` is given (attach mode): --require-monitoring checks those pages too. */
  readonly endpointMetrics?: boolean;
}

const SERIES_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** The plan's monitoring part, or undefined when no monitoring flag is given; throws one BAD_FLAG line. */
export function parseMonitoringInput(input: MonitoringInput): MonitoringPlan | undefined {
  const { endpointMetrics, ...flags } = input;
  const given = Object.values(flags).some((value) => value !== undefined);
  if (!given) return undefined;
  const nodeMetricsFlag = optionalBoolean('node-metrics', input.nodeMetrics);
  const requireMonitoring = optionalBoolean('require-monitoring', input.requireMonitoring) ?? false;
  const extra = input.metricsSeries === undefined ? [] : parseSeries(input.metricsSeries);
  const prometheusUrl =
    input.prometheusUrl === undefined ? undefined : parseHttpUrl('prometheus-url', input.prometheusUrl);
  const influxUrl = input.influxUrl === undefined ? undefined : parseInfluxUrl(input.influxUrl);
  const metricsPort = input.metricsPort === undefined ? undefined : parsePort(input.metricsPort);
  if (nodeMetricsFlag === false && (extra.length > 0 || prometheusUrl !== undefined)) {
    throw badFlag(
      'node-metrics',
      false,
      `--${extra.length > 0 ? 'metrics-series' : 'prometheus-url'} reads the nodes' series; leave out --node-metrics false`,
    );
  }
  if (requireMonitoring && prometheusUrl === undefined && influxUrl === undefined && !endpointMetrics) {
    throw badFlag(
      'require-monitoring',
      true,
      'checks --prometheus-url, --influx-url or --endpoint-metrics before the run; give one of them',
    );
  }
  const nodeMetrics =
    nodeMetricsFlag ?? (extra.length > 0 || prometheusUrl !== undefined || influxUrl !== undefined);
  return {
    nodeMetrics,
    series: [...new Set([...DEFAULT_NODE_SERIES, ...extra])],
    ...(prometheusUrl ? { prometheusUrl } : {}),
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    ...(influxUrl ? { influxUrl } : {}),
    requireMonitoring,
    intervalMs: 1000,
  };
}

function optionalBoolean(flag: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value;
  const read = typeof value === 'string' ? booleanWord(value) : undefined;
  if (read === undefined) throw badFlag(flag, value, 'true or false');
  return read;
}

function parseSeries(value: unknown): string[] {
  const parts = (Array.isArray(value) ? value : [value])
    .flatMap((part) => String(part).split(','))
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const shown = Array.isArray(value) ? value.join(',') : String(value);
  if (parts.length === 0) throw badFlag('metrics-series', shown, 'metric names separated by commas');
  const bad = parts.find((part) => !SERIES_NAME.test(part));
  if (bad !== undefined)
    throw badFlag(
      'metrics-series',
      shown,
      `${JSON.stringify(bad)} is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*); give names such as refnode_peers,refnode_mempool_bytes`,
    );
  return parts;
}

function parseHttpUrl(flag: string, value: unknown): string {
  const text = String(value).trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badFlag(flag, value, 'an http(s) URL such as http://127.0.0.1:9090');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw badFlag(flag, value, 'an http(s) URL such as http://127.0.0.1:9090');
  return text.replace(/\/+$/, '');
}

/** `http://host:8086/db`: the database is the path's one segment. */
function parseInfluxUrl(value: unknown): string {
  const text = parseHttpUrl('influx-url', value);
  const url = new URL(text);
  const segments = url.pathname.split('/').filter(Boolean);
  if (segments.length !== 1)
    throw badFlag(
      'influx-url',
      value,
      'the InfluxDB 1.x URL with the database as its path, e.g. http://127.0.0.1:8086/meshbench',
    );
  return text;
}

function parsePort(value: unknown): number {
  const text = String(value).trim();
  const port = text === '' ? Number.NaN : Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw badFlag(
      'metrics-port',
      value,
      'a TCP port from 0 to 65535 (0: any free port, printed at the start)',
    );
  return port;
}
