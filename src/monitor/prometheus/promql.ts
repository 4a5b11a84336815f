/**
 * The nodes' series from an existing Prometheus, instead of scraping them: one PromQL range
 * query per series over a level's window (`/api/v1/query_range`, step = the interval), through
 * undici. Each result series is matched to a node of the network by its `instance` label (the
 * host:port of the node's metrics URL) or else by its `node` label (the reference node labels
 * its metrics with its id).
 */
import { undici } from '../../protocols/undici-lazy.js';
import type { Endpoint } from '../../protocols/endpoint.js';
import { metricsUrlOf } from './scrape.js';

/** The PromQL of one series: summed over its label sets, one result per target. */
export function seriesQuery(series: string): string {
  return `sum by (instance, node) (${series})`;
}

/** `/api/v1/query_range` for a window (epoch milliseconds), step in milliseconds. */
export function rangeQueryUrl(
  baseUrl: string,
  query: string,
  window: { readonly startMs: number; readonly endMs: number; readonly stepMs: number },
): string {
  const params = new URLSearchParams({
    query,
    start: (window.startMs / 1000).toFixed(3),
    end: (window.endMs / 1000).toFixed(3),
    step: `${window.stepMs / 1000}s`,
  });
  return `${baseUrl.replace(/\/+$/, '')}/api/v1/query_range?${params.toString()}`;
}

export interface RangeSeries {
  readonly metric: Readonly<Record<string, string>>;
  /** [epoch seconds, value as text], as Prometheus returns them. */
  readonly values: readonly (readonly [number, string])[];
}

/** A query Prometheus could not answer: the URL's problem in one line. */
export class PrometheusQueryError extends Error {}

/** Runs a range query; the matrix, or a PrometheusQueryError naming what went wrong. */
export async function queryRange(url: string, timeoutMs = 5000): Promise<RangeSeries[]> {
  let body: unknown;
  try {
    const { request } = await undici();
    const response = await request(url, {
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers: { accept: 'application/json' },
    });
    const text = await response.body.text();
    try {
      body = JSON.parse(text);
    } catch {
      throw new PrometheusQueryError(`HTTP ${response.statusCode}, not a Prometheus API answer`);
    }
    if (response.statusCode !== 200) {
      const error = (body as { error?: string }).error;
      throw new PrometheusQueryError(`HTTP ${response.statusCode}${error ? `: ${error}` : ''}`);
    }
  } catch (error) {
    if (error instanceof PrometheusQueryError) throw error;
    throw new PrometheusQueryError(causeOf(error));
  }
  const data = (body as { status?: string; data?: { resultType?: string; result?: unknown } }).data;
  if (data?.resultType !== 'matrix' || !Array.isArray(data.result))
    throw new PrometheusQueryError('the answer holds no matrix');
  return data.result as RangeSeries[];
}

/** host:port of a node's metrics page (Prometheus' `instance` for a target scraped there). */
export function instanceOf(endpoint: Endpoint): string | undefined {
  try {
    return new URL(metricsUrlOf(endpoint)).host;
  } catch {
    return undefined;
  }
}

/**
 * The result series of one query placed on the level's slots, by node: a value per slot
 * (`seconds` since `startMs`), null where Prometheus had none. A node's series is the one
 * scraped at its own address; failing that, the one carrying its name.
 */
export function placeSeries(
  result: readonly RangeSeries[],
  endpoints: readonly Endpoint[],
  slots: { readonly startMs: number; readonly seconds: readonly number[] },
): Map<string, (number | null)[]> {
  const out = new Map<string, (number | null)[]>();
  for (const endpoint of endpoints) {
    const instance = instanceOf(endpoint);
    const chosen =
      result.find((series) => instance !== undefined && series.metric.instance === instance) ??
      result.find((series) => series.metric.node === endpoint.nodeId);
    if (!chosen) continue;
    const bySecond = new Map<number, number>();
    for (const [at, text] of chosen.values) {
      const value = Number(text);
      if (Number.isFinite(value)) bySecond.set(Math.round((at * 1000 - slots.startMs) / 1000), value);
    }
    out.set(
      endpoint.nodeId,
      slots.seconds.map((second) => bySecond.get(second) ?? null),
    );
  }
  return out;
}

/** Whether a Prometheus answers its API (`/api/v1/status/buildinfo`): undefined, or why not. */
export async function probePrometheus(baseUrl: string, timeoutMs = 3000): Promise<string | undefined> {
  try {
    const { request } = await undici();
    const response = await request(`${baseUrl.replace(/\/+$/, '')}/api/v1/status/buildinfo`, {
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) return `HTTP ${response.statusCode} from its API`;
    if (!text.includes('"status":"success"')) return 'not a Prometheus API answer';
    return undefined;
  } catch (error) {
    return causeOf(error);
  }
}

function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause ?? (code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message);
}
