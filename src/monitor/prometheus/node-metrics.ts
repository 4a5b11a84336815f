/**
 * The nodes' own series each second of a load level, in the run's `metrics` block
 * (src/monitor/metrics-block.ts): scraped from each node's `/metrics` (the endpoints'
 * `metricsUrl`, local and remote alike), or, with `--prometheus-url`, read from that
 * Prometheus with one PromQL range query per series over the level's window.
 *
 * A Prometheus that does not answer before the run is one console line (or, with
 * `--require-monitoring`, the run stops before it deploys); the nodes are then scraped
 * directly and the block says what is missing.
 */
import { MeshbenchError, formatError } from '../../common/errors.js';
import { sleep } from '../../common/sleep.js';
import type { Endpoint } from '../../protocols/endpoint.js';
import type { MetricsBlock } from '../metrics-block.js';
import type { MonitorLevelContext, MonitorLevelStart } from '../sweep-shapes.js';
import {
  PrometheusQueryError,
  placeSeries,
  probePrometheus,
  queryRange,
  rangeQueryUrl,
  seriesQuery,
} from './promql.js';
import { NodeSeriesScraper } from './scrape.js';

export interface NodeMetricsOptions {
  readonly series: readonly string[];
  readonly intervalMs?: number;
  /** Read from this Prometheus instead of scraping. */
  readonly prometheusUrl?: string;
  /** An unreachable Prometheus stops the run before it deploys. */
  readonly require?: boolean;
  /** How long after the load's end to query, so Prometheus has scraped its last second (default 2 interval). */
  readonly queryDelayMs?: number;
  readonly warn?: (line: string) => void;
  /** Wall clock, epoch ms (default Date.now). */
  readonly wallClock?: () => number;
}

interface LevelState {
  readonly endpoints: readonly Endpoint[];
  readonly startEpochMs: number;
  readonly scraper: NodeSeriesScraper | undefined;
  sampling: Promise<void>;
}

export class NodeMetricsMonitor {
  readonly name = 'metrics';
  readonly #options: NodeMetricsOptions;
  readonly #wallClock: () => number;
  /** Why the Prometheus is not used (unreachable at preflight); undefined when it is, or none given. */
  #prometheusProblem: string | undefined;
  #level: LevelState | undefined;
  #warnedQuery = false;

  constructor(options: NodeMetricsOptions) {
    this.#options = options;
    this.#wallClock = options.wallClock ?? Date.now;
  }

  get #intervalMs(): number {
    return this.#options.intervalMs ?? 1000;
  }

  get #querying(): boolean {
    return this.#options.prometheusUrl !== undefined && this.#prometheusProblem === undefined;
  }

  async preflight(): Promise<void> {
    const url = this.#options.prometheusUrl;
    if (url === undefined) return;
    const problem = await probePrometheus(url);
    if (problem === undefined) return;
    if (this.#options.require)
      throw new MeshbenchError(
        'ENDPOINT_UNREACHABLE',
        `--prometheus-url ${url}: no Prometheus answers there (${problem})`,
        {
          hint: 'start Prometheus there or give its URL (e.g. http://127.0.0.1:9090); leave out --require-monitoring to run without it',
        },
      );
    this.#prometheusProblem = `--prometheus-url ${url}: no Prometheus answers there (${problem})`;
    this.#options.warn?.(`${this.#prometheusProblem}; scraping the nodes' /metrics instead`);
  }

  onLevelStart(_level: MonitorLevelStart, context: MonitorLevelContext): void {
    const endpoints = context.deployment.endpoints;
    const state: LevelState = {
      endpoints,
      startEpochMs: this.#wallClock() - context.elapsedMs(),
      scraper: this.#querying
        ? undefined
        : new NodeSeriesScraper(endpoints, this.#options.series, {
            timeoutMs: Math.min(900, this.#intervalMs - 50),
          }),
      sampling: Promise.resolve(),
    };
    this.#level = state;
    if (state.scraper) state.sampling = this.#sample(state.scraper, context);
  }

  async #sample(scraper: NodeSeriesScraper, context: MonitorLevelContext): Promise<void> {
    const everyMs = this.#intervalMs;
    for (let dueMs = everyMs; ; dueMs += everyMs) {
      await sleep(Math.max(0, dueMs - context.elapsedMs()), context.signal);
      if (context.signal.aborted) return;
      // A slot is a whole interval; one that overran (slow nodes) is skipped, not queued.
      if (context.elapsedMs() - dueMs > everyMs) continue;
      await scraper.sample(Math.round(dueMs / everyMs) * (everyMs / 1000));
    }
  }

  async onLoadEnd(_level: MonitorLevelStart, _load: unknown, context: MonitorLevelContext): Promise<void> {
    const state = this.#level;
    if (!state) return;
    this.#level = undefined;
    await state.sampling;
    const block = state.scraper
      ? await this.#scraped(state, state.scraper, context)
      : await this.#queried(state, context);
    context.block('metrics', block);
  }

  async #scraped(
    state: LevelState,
    scraper: NodeSeriesScraper,
    context: MonitorLevelContext,
  ): Promise<MetricsBlock> {
    // One more slot at the load's end, so the level's last second is in.
    const endSecond = Math.round(context.elapsedMs() / 1000);
    if (scraper.seconds.at(-1) !== endSecond) await scraper.sample(endSecond);
    const missing = [...(this.#prometheusProblem ? [this.#prometheusProblem] : []), ...scraper.missing()];
    return {
      source: 'scrape',
      interval_ms: this.#intervalMs,
      series: [...this.#options.series],
      seconds: [...scraper.seconds],
      start_epoch_ms: Math.round(state.startEpochMs),
      nodes: scraper.nodes(),
      ...(missing.length > 0 ? { missing } : {}),
    };
  }

  async #queried(state: LevelState, context: MonitorLevelContext): Promise<MetricsBlock> {
    const url = this.#options.prometheusUrl as string;
    const everyMs = this.#intervalMs;
    const endSecond = Math.floor(context.elapsedMs() / everyMs) * (everyMs / 1000);
    await sleep(this.#options.queryDelayMs ?? 2 * everyMs);
    const seconds: number[] = [];
    for (let second = everyMs / 1000; second <= endSecond + 1e-9; second += everyMs / 1000)
      seconds.push(Math.round(second * 1000) / 1000);
    const startMs = Math.round(state.startEpochMs);
    const nodes: Record<string, Record<string, (number | null)[]>> = Object.fromEntries(
      state.endpoints.map((endpoint) => [endpoint.nodeId, {}]),
    );
    const missing = new Set<string>();
    await Promise.all(
      this.#options.series.map(async (series) => {
        try {
          const result = await queryRange(
            rangeQueryUrl(url, seriesQuery(series), {
              startMs: startMs + (seconds[0] ?? 0) * 1000,
              endMs: startMs + (seconds.at(-1) ?? 0) * 1000,
              stepMs: everyMs,
            }),
          );
          const placed = placeSeries(result, state.endpoints, { startMs, seconds });
          if (placed.size === 0) missing.add(`${series}: Prometheus has it for none of the nodes`);
          for (const endpoint of state.endpoints) {
            const values = placed.get(endpoint.nodeId);
            (nodes[endpoint.nodeId] as Record<string, (number | null)[]>)[series] =
              values ?? seconds.map(() => null);
          }
        } catch (error) {
          const line = `--prometheus-url ${url}: query for ${series} failed (${error instanceof PrometheusQueryError ? error.message : formatError(error)})`;
          missing.add(line);
          if (!this.#warnedQuery) this.#options.warn?.(line);
          this.#warnedQuery = true;
          for (const endpoint of state.endpoints)
            (nodes[endpoint.nodeId] as Record<string, (number | null)[]>)[series] = seconds.map(() => null);
        }
      }),
    );
    for (const endpoint of state.endpoints) {
      const row = nodes[endpoint.nodeId] as Record<string, (number | null)[]>;
      if (Object.values(row).every((values) => values.every((value) => value === null)))
        missing.add(
          `${endpoint.nodeId}: no series in Prometheus (is it scraping ${endpoint.metricsUrl ?? endpoint.rpcUrl}?)`,
        );
    }
    // Series in the order asked.
    for (const [node, row] of Object.entries(nodes))
      nodes[node] = Object.fromEntries(this.#options.series.map((series) => [series, row[series] ?? []]));
    return {
      source: 'prometheus',
      prometheus_url: url,
      interval_ms: everyMs,
      series: [...this.#options.series],
      seconds,
      start_epoch_ms: startMs,
      nodes,
      ...(missing.size > 0 ? { missing: [...missing] } : {}),
    };
  }
}
