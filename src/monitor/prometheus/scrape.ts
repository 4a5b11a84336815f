/**
 * Reads the nodes' own series from their Prometheus pages (`/metrics`), once per slot: every
 * node at once, each with a timeout, so a slow or dead node costs one slot of its own series
 * and nothing else. Pages are read with undici's request (a fifth of fetch's CPU per page:
 * 16 pages of 34 KB cost 3-4 ms against 14-27 ms, measured here). A series with several label sets (`refnode_rejected_txs_total{reason}`) is
 * summed; a series absent from a page is null for that slot.
 */
import { undici } from '../../protocols/undici-lazy.js';
import { parsePrometheusText } from '../prometheus-text.js';
import type { Endpoint } from '../../protocols/endpoint.js';

/** A node's metrics page: its `metricsUrl`, else `/metrics` beside its RPC. */
export function metricsUrlOf(endpoint: Endpoint): string {
  return endpoint.metricsUrl ?? `${endpoint.rpcUrl.replace(/\/+$/, '')}/metrics`;
}

/** A metrics page as read: its status, and its text when the status is 200. */
export interface MetricsPage {
  readonly status: number;
  readonly text?: string;
}

/**
 * Reads of a page begun this recently are shared: the node series and the peer round trips
 * are read on the same second of the level clock, so a node's page is fetched once for both.
 * Shorter than any reading interval (the resource monitor's shortest is 100 ms), so a page is
 * never reused across intervals.
 */
export const SHARE_READ_MS = 50;
const reading = new Map<string, { readonly startedAt: number; readonly page: Promise<MetricsPage> }>();

/**
 * A node's metrics page, read with undici's request (a read of the same URL begun within
 * SHARE_READ_MS is shared, with its first reader's timeout); throws when it does not answer
 * within `timeoutMs`.
 */
export function readMetricsPage(url: string, timeoutMs: number): Promise<MetricsPage> {
  const now = performance.now();
  const shared = reading.get(url);
  if (shared !== undefined && now - shared.startedAt < SHARE_READ_MS) return shared.page;
  const page = fetchMetricsPage(url, timeoutMs);
  reading.set(url, { startedAt: now, page });
  // kept for the rest of its window after it is read, then let go (no page outlives the level)
  const forget = () => {
    const left = SHARE_READ_MS - (performance.now() - now);
    setTimeout(
      () => {
        if (reading.get(url)?.page === page) reading.delete(url);
      },
      Math.max(0, left),
    ).unref();
  };
  page.then(forget, forget);
  return page;
}

async function fetchMetricsPage(url: string, timeoutMs: number): Promise<MetricsPage> {
  const { request } = await undici();
  const response = await request(url, {
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.statusCode === 200) return { status: 200, text: await response.body.text() };
  await response.body.dump().catch(() => undefined);
  return { status: response.statusCode };
}

/**
 * The kept series of a page: by name, the sum over its label sets. Only the lines of kept
 * series are parsed (a node's page with its process metrics and per-peer histograms is tens
 * of kilobytes, read 16 times a second on a 16-node network).
 */
export function seriesValues(text: string, series: readonly string[]): Map<string, number> {
  const wanted = new Set(series);
  const kept: string[] = [];
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (text.charCodeAt(start) !== 35 /* # */) {
      let nameEnd = start;
      for (; nameEnd < end; nameEnd++) {
        const code = text.charCodeAt(nameEnd);
        if (code === 123 /* { */ || code === 32 /* space */ || code === 9 /* tab */) break;
      }
      if (wanted.has(text.slice(start, nameEnd))) kept.push(text.slice(start, end));
    }
    start = end + 1;
  }
  const values = new Map<string, number>();
  for (const sample of parsePrometheusText(kept.join('\n'))) {
    if (!Number.isFinite(sample.value)) continue;
    values.set(sample.name, (values.get(sample.name) ?? 0) + sample.value);
  }
  return values;
}

interface NodeState {
  readonly endpoint: Endpoint;
  readonly values: Map<string, (number | null)[]>;
  answered: boolean;
  lastError: string | undefined;
}

export class NodeSeriesScraper {
  readonly #nodes: NodeState[];
  readonly #series: readonly string[];
  readonly #timeoutMs: number;
  readonly seconds: number[] = [];

  constructor(
    endpoints: readonly Endpoint[],
    series: readonly string[],
    options: { timeoutMs?: number } = {},
  ) {
    this.#series = series;
    this.#nodes = endpoints.map((endpoint) => ({
      endpoint,
      values: new Map(series.map((name) => [name, []])),
      answered: false,
      lastError: undefined,
    }));
    this.#timeoutMs = options.timeoutMs ?? 900;
  }

  /** One slot: every node's page, read at once; `second` is the slot's time on the level clock. */
  async sample(second: number): Promise<void> {
    const slot = this.seconds.length;
    this.seconds.push(second);
    await Promise.all(this.#nodes.map((node) => this.#scrape(node, slot)));
  }

  async #scrape(node: NodeState, slot: number): Promise<void> {
    let values: Map<string, number> | undefined;
    try {
      const page = await readMetricsPage(metricsUrlOf(node.endpoint), this.#timeoutMs);
      if (page.text !== undefined) {
        values = seriesValues(page.text, this.#series);
        node.answered = true;
      } else node.lastError = `HTTP ${page.status}`;
    } catch (error) {
      node.lastError =
        error instanceof Error
          ? ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error);
    }
    for (const name of this.#series) {
      const list = node.values.get(name) as (number | null)[];
      list[slot] = values?.get(name) ?? null;
    }
  }

  /** By node, by series, one value per slot. */
  nodes(): Record<string, Record<string, (number | null)[]>> {
    const out: Record<string, Record<string, (number | null)[]>> = {};
    for (const node of this.#nodes) {
      const row: Record<string, (number | null)[]> = {};
      for (const name of this.#series) {
        const list = node.values.get(name) ?? [];
        row[name] = Array.from({ length: this.seconds.length }, (_, index) => list[index] ?? null);
      }
      out[node.endpoint.nodeId] = row;
    }
    return out;
  }

  /** What is missing: nodes that never answered, series no answering node had. */
  missing(): string[] {
    const missing: string[] = [];
    for (const node of this.#nodes)
      if (!node.answered && this.seconds.length > 0)
        missing.push(
          `${node.endpoint.nodeId}: ${metricsUrlOf(node.endpoint)} did not answer${node.lastError ? ` (${node.lastError})` : ''}`,
        );
    const answering = this.#nodes.filter((node) => node.answered);
    if (answering.length > 0)
      for (const name of this.#series)
        if (answering.every((node) => (node.values.get(name) ?? []).every((value) => value === null)))
          missing.push(`${name}: on no node's page`);
    return missing;
  }
}
