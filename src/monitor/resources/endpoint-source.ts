/**
 * Resources of nodes the testbed gives no stats stream of (attach mode): each endpoint's
 * process metrics, read from its Prometheus page (`Endpoint.metricsUrl`, given by
 * `--endpoint-metrics`) every interval, or, with `--prometheus-url`, from that Prometheus by
 * PromQL after the load (./process-metrics.ts). Pages are read with undici, each with a
 * timeout, every endpoint at once; a page still being read when the next interval comes is
 * not read twice.
 */
import { readMetricsPage } from '../prometheus/scrape.js';
import type { Endpoint } from '../../protocols/endpoint.js';
import { placeSeries, queryRange, rangeQueryUrl, PrometheusQueryError } from '../prometheus/promql.js';
import {
  processCounters,
  processInterval,
  processQueries,
  type ProcessCounters,
  type ProcessInterval,
} from './process-metrics.js';
import type { NodeSample } from './schema.js';

/** Reads one page's counters; throws an Error whose message says why in a few words. */
export async function readProcessPage(url: string, timeoutMs: number): Promise<ProcessCounters> {
  let page;
  try {
    page = await readMetricsPage(url, timeoutMs);
  } catch (error) {
    throw new Error(causeOf(error));
  }
  if (page.text === undefined) throw new Error(`HTTP ${page.status}`);
  return processCounters(page.text);
}

/** Whether a page answers with process metrics: undefined, or why not (one phrase). */
export async function probeProcessPage(url: string, timeoutMs = 3000): Promise<string | undefined> {
  try {
    const counters = await readProcessPage(url, timeoutMs);
    if (counters.cpuSeconds === undefined && counters.residentBytes === undefined)
      return 'it answers, but has no process_cpu_seconds_total or process_resident_memory_bytes';
    return undefined;
  } catch (error) {
    return `did not answer (${error instanceof Error ? error.message : String(error)})`;
  }
}

/** A sample from one interval's figures, or undefined when CPU or memory is not known. */
export function sampleOf(atS: number, figures: ProcessInterval): NodeSample | undefined {
  if (figures.cpuPercent === undefined || figures.memoryBytes === undefined) return undefined;
  return {
    t_s: atS,
    cpu_percent: figures.cpuPercent,
    memory_bytes: figures.memoryBytes,
    ...(figures.netRxBytesPerSec !== undefined ? { net_rx_bytes_per_s: figures.netRxBytesPerSec } : {}),
    ...(figures.netTxBytesPerSec !== undefined ? { net_tx_bytes_per_s: figures.netTxBytesPerSec } : {}),
    ...(figures.blockReadBytesPerSec !== undefined
      ? { block_read_bytes_per_s: figures.blockReadBytesPerSec }
      : {}),
    ...(figures.blockWriteBytesPerSec !== undefined
      ? { block_write_bytes_per_s: figures.blockWriteBytesPerSec }
      : {}),
  };
}

/** One endpoint's page, read every interval. */
export class ScrapedEndpoint {
  readonly endpoint: Endpoint;
  readonly url: string;
  readonly series: NodeSample[] = [];
  readonly downS: number[] = [];
  #previous: { readonly counters: ProcessCounters; readonly atMs: number } | undefined;
  #reading = false;
  #answered = false;
  #lastError: string | undefined;
  #lacks = new Set<string>();

  constructor(endpoint: Endpoint, url: string) {
    this.endpoint = endpoint;
    this.url = url;
  }

  /**
   * Reads the page once (unless the last read is still going): a sample from the interval
   * since the last answer, or a `down` sample when it does not answer.
   */
  async read(atS: () => number, now: () => number, timeoutMs: number): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      const counters = await readProcessPage(this.url, timeoutMs);
      const atMs = now();
      this.#answered = true;
      if (counters.cpuSeconds === undefined) this.#lacks.add('process_cpu_seconds_total');
      if (counters.residentBytes === undefined) this.#lacks.add('process_resident_memory_bytes');
      const previous = this.#previous;
      this.#previous = { counters, atMs };
      if (!previous) return;
      const sample = sampleOf(atS(), processInterval(previous.counters, counters, atMs - previous.atMs));
      if (sample) this.series.push(sample);
    } catch (error) {
      this.#lastError = error instanceof Error ? error.message : String(error);
      this.#previous = undefined;
      const at = atS();
      this.downS.push(at);
      this.series.push({ t_s: at, down: true });
    } finally {
      this.#reading = false;
    }
  }

  /** What the record should say is missing for this endpoint. */
  problems(): string[] {
    const out: string[] = [];
    if (!this.#answered && this.downS.length > 0)
      out.push(
        `${this.endpoint.nodeId}: ${this.url} did not answer${this.#lastError ? ` (${this.#lastError})` : ''}`,
      );
    else if (this.downS.length > 0)
      out.push(
        `${this.endpoint.nodeId}: ${this.url} did not answer ${this.downS.length} times${this.#lastError ? ` (last: ${this.#lastError})` : ''}`,
      );
    if (this.#lacks.size > 0)
      out.push(`${this.endpoint.nodeId}: ${this.url} has no ${[...this.#lacks].join(' or ')}`);
    return out;
  }
}

/**
 * The endpoints' samples over a level's window from Prometheus: one range query per figure,
 * step = the interval; a sample per slot where Prometheus had CPU and memory. `missing` says
 * which endpoints or figures it had nothing for.
 */
export async function queryProcessSamples(
  prometheusUrl: string,
  endpoints: readonly Endpoint[],
  window: {
    readonly startMs: number;
    readonly seconds: readonly number[];
    readonly stepMs: number;
    readonly windowSecs: number;
  },
): Promise<{ readonly samples: Map<string, NodeSample[]>; readonly missing: string[] }> {
  const queries = processQueries(window.windowSecs);
  const missing: string[] = [];
  const first = window.seconds[0] ?? 0;
  const last = window.seconds.at(-1) ?? 0;
  const figures = await Promise.all(
    (Object.keys(queries) as (keyof ProcessInterval)[]).map(async (figure) => {
      try {
        const result = await queryRange(
          rangeQueryUrl(prometheusUrl, queries[figure], {
            startMs: window.startMs + first * 1000,
            endMs: window.startMs + last * 1000,
            stepMs: window.stepMs,
          }),
        );
        return [figure, placeSeries(result, endpoints, window)] as const;
      } catch (error) {
        missing.push(
          `--prometheus-url ${prometheusUrl}: query for ${figure} failed (${error instanceof PrometheusQueryError ? error.message : causeOf(error)})`,
        );
        return [figure, new Map<string, (number | null)[]>()] as const;
      }
    }),
  );
  const byFigure = new Map(figures);
  const samples = new Map<string, NodeSample[]>();
  for (const endpoint of endpoints) {
    const series: NodeSample[] = [];
    window.seconds.forEach((second, index) => {
      const at = (figure: keyof ProcessInterval): number | undefined => {
        const value = byFigure.get(figure)?.get(endpoint.nodeId)?.[index];
        return value === null || value === undefined ? undefined : value;
      };
      const cpu = at('cpuPercent');
      const figuresAt: { -readonly [K in keyof ProcessInterval]: ProcessInterval[K] } = {};
      if (cpu !== undefined) figuresAt.cpuPercent = Math.round(cpu * 100) / 100;
      for (const figure of [
        'memoryBytes',
        'netRxBytesPerSec',
        'netTxBytesPerSec',
        'blockReadBytesPerSec',
        'blockWriteBytesPerSec',
      ] as const) {
        const value = at(figure);
        if (value !== undefined) figuresAt[figure] = Math.round(value);
      }
      const sample = sampleOf(second, figuresAt);
      if (sample) series.push(sample);
    });
    if (series.length === 0)
      missing.push(
        `${endpoint.nodeId}: Prometheus has no process_cpu_seconds_total and process_resident_memory_bytes for it (is it scraping ${endpoint.metricsUrl ?? `${endpoint.rpcUrl}/metrics`} at least every ${Math.floor(window.windowSecs / 2)} s?)`,
      );
    samples.set(endpoint.nodeId, series);
  }
  return { samples, missing };
}

function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  const code = (error as NodeJS.ErrnoException).code;
  return cause ?? (code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message);
}
