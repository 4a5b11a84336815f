/**
 * The generator's own metrics (`--metrics-port`): a Prometheus page at `/metrics` while the
 * run goes, by Prometheus' conventions (one prefix `meshbench_`, base units, `_total` on
 * counters), through prom-client. Also `/sd/nodes`, the nodes' metrics pages as targets in
 * Prometheus' HTTP service-discovery format, so one Prometheus job on this port can scrape
 * the network it is benchmarking (`http_sd_configs`).
 *
 * Live figures come from the generator's progress (about once a second); the per-level
 * figures (latency quantiles, efficiency, failures by kind) are set at each load's end.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { MeshbenchError } from '../../common/errors.js';
import type { LoadProgress, LoadResult } from '../../load/types.js';
import type { Endpoint } from '../../protocols/endpoint.js';
import type { MonitorLevelContext, MonitorLevelStart } from '../sweep-shapes.js';
import { metricsUrlOf } from './scrape.js';

type NetworkLabel = 'network';

/** How often the event-loop lag behind `meshbench_nodejs_eventloop_lag_*` is sampled, ms. */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Outcome kinds of failed transactions (`meshbench_transactions_failed_total{kind}`). */
export function failuresByKind(outcomes: LoadResult['outcomes']): Record<string, number> {
  const sum = (record: Readonly<Record<string, number>>) => Object.values(record).reduce((a, b) => a + b, 0);
  return {
    rejected: sum(outcomes.rejected),
    http_error: sum(outcomes.httpError),
    bad_response: outcomes.badResponse,
    timeout: outcomes.timeout,
    connection_error: outcomes.connectionError,
    dropped: outcomes.dropped,
    commit_timeout: outcomes.commitTimeout,
  };
}

/** The generator's metrics in a registry of their own. */
export class GeneratorMetrics {
  readonly registry = new Registry();
  readonly #submitted: Counter<NetworkLabel>;
  readonly #accepted: Counter<NetworkLabel>;
  readonly #committed: Counter<NetworkLabel>;
  readonly #failed: Counter<NetworkLabel | 'kind'>;
  readonly #inFlight: Gauge<NetworkLabel>;
  readonly #offered: Gauge<NetworkLabel>;
  readonly #level: Gauge<NetworkLabel | 'benchmark' | 'run'>;
  readonly #latency: Gauge<NetworkLabel | 'stage' | 'quantile'>;
  readonly #efficiency: Gauge<NetworkLabel>;
  readonly #throughput: Gauge<NetworkLabel | 'kind'>;
  #last = { sent: 0, ok: 0, committed: 0 };

  constructor(options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics !== false)
      collectDefaultMetrics({
        register: this.registry,
        prefix: 'meshbench_',
        // The event-loop lag is sampled by a timer that wakes the main thread each period: at
        // prom-client's 10 ms that alone cost 5-6.6 ms of CPU a second on this 2-core machine,
        // at 100 ms 1 ms. Ten samples a second still catch any stall longer than 100 ms.
        eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
      });
    this.#submitted = new Counter({
      name: 'meshbench_transactions_submitted_total',
      help: 'Transactions the generator sent (warm-up included)',
      labelNames: ['network'],
      registers,
    });
    this.#accepted = new Counter({
      name: 'meshbench_transactions_accepted_total',
      help: 'Transactions a node accepted (ok replies, warm-up included)',
      labelNames: ['network'],
      registers,
    });
    this.#committed = new Counter({
      name: 'meshbench_transactions_committed_total',
      help: 'Transactions seen committed (with --confirm commit, warm-up included)',
      labelNames: ['network'],
      registers,
    });
    this.#failed = new Counter({
      name: 'meshbench_transactions_failed_total',
      help: "Failed transactions of each level's measured window, by kind (added at each load's end)",
      labelNames: ['network', 'kind'],
      registers,
    });
    this.#inFlight = new Gauge({
      name: 'meshbench_transactions_in_flight',
      help: 'Transactions sent and not yet answered',
      labelNames: ['network'],
      registers,
    });
    this.#offered = new Gauge({
      name: 'meshbench_offered_load_transactions_per_second',
      help: 'The load level being offered (0 between levels)',
      labelNames: ['network'],
      registers,
    });
    this.#level = new Gauge({
      name: 'meshbench_level_info',
      help: 'The load level now running (1), by network, benchmark number and run',
      labelNames: ['network', 'benchmark', 'run'],
      registers,
    });
    this.#latency = new Gauge({
      name: 'meshbench_level_latency_seconds',
      help: "The last level's latency quantiles (corrected for coordinated omission), by stage",
      labelNames: ['network', 'stage', 'quantile'],
      registers,
    });
    this.#efficiency = new Gauge({
      name: 'meshbench_level_efficiency_ratio',
      help: "The last level's efficiency: committed (or accepted) / offered",
      labelNames: ['network'],
      registers,
    });
    this.#throughput = new Gauge({
      name: 'meshbench_level_throughput_transactions_per_second',
      help: "The last level's throughput, by kind (achieved send, accepted, committed)",
      labelNames: ['network', 'kind'],
      registers,
    });
  }

  levelStarted(level: MonitorLevelStart): void {
    this.#last = { sent: 0, ok: 0, committed: 0 };
    this.#level.reset();
    this.#level.set(
      { network: level.network, benchmark: String(level.benchmarkNumber), run: String(level.run) },
      1,
    );
    this.#offered.set({ network: level.network }, level.load);
  }

  progress(level: MonitorLevelStart, progress: LoadProgress): void {
    const network = level.network;
    const delta = (now: number, before: number) => Math.max(0, now - before);
    this.#submitted.inc({ network }, delta(progress.sent, this.#last.sent));
    this.#accepted.inc({ network }, delta(progress.ok, this.#last.ok));
    this.#committed.inc({ network }, delta(progress.committed, this.#last.committed));
    this.#last = { sent: progress.sent, ok: progress.ok, committed: progress.committed };
    this.#inFlight.set({ network }, progress.inFlight);
  }

  loadEnded(level: MonitorLevelStart, load: LoadResult): void {
    const network = level.network;
    // The counts the last progress did not see (it comes about once a second).
    this.progress(level, { ...lastProgress(load), inFlight: 0, elapsedMs: 0 });
    for (const [kind, count] of Object.entries(failuresByKind(load.outcomes)))
      if (count > 0) this.#failed.inc({ network, kind }, count);
    for (const [stage, latency] of Object.entries(load.latency)) {
      if (!latency || latency.corrected.count === 0) continue;
      const summary = latency.corrected;
      for (const [quantile, ms] of [
        ['0.5', summary.p50],
        ['0.9', summary.p90],
        ['0.99', summary.p99],
        ['0.999', summary.p999],
        ['1', summary.max],
      ] as const)
        this.#latency.set({ network, stage, quantile }, ms / 1000);
    }
    this.#efficiency.set({ network }, load.efficiency);
    this.#throughput.set({ network, kind: 'sent' }, load.achievedRate);
    this.#throughput.set({ network, kind: 'accepted' }, load.acceptedThroughput);
    this.#throughput.set({ network, kind: 'committed' }, load.committedThroughput);
    this.#offered.set({ network }, 0);
    this.#level.reset();
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The whole load's counts (warm-up included), as the progress would have said at its end. */
function lastProgress(load: LoadResult): Omit<LoadProgress, 'inFlight' | 'elapsedMs'> {
  const warm = load.excluded?.warmup;
  const cool = load.excluded?.cooldown;
  const committed = load.outcomes.committed;
  return {
    scheduled: load.scheduled + (warm?.scheduled ?? 0) + (cool?.scheduled ?? 0),
    sent: load.sent + (warm?.sent ?? 0) + (cool?.sent ?? 0),
    ok: load.outcomes.ok + (warm?.ok ?? 0) + (cool?.ok ?? 0),
    failed: 0,
    committed,
  };
}

/** The nodes' metrics pages as Prometheus HTTP service-discovery target groups. */
export function serviceDiscoveryTargets(
  endpoints: readonly Endpoint[],
  network: string,
): { targets: string[]; labels: Record<string, string> }[] {
  const groups: { targets: string[]; labels: Record<string, string> }[] = [];
  for (const endpoint of endpoints) {
    let url: URL;
    try {
      url = new URL(metricsUrlOf(endpoint));
    } catch {
      continue;
    }
    groups.push({
      targets: [url.host],
      labels: {
        __metrics_path__: url.pathname,
        __scheme__: url.protocol.replace(':', ''),
        meshbench_node: endpoint.nodeId,
        meshbench_network: network,
      },
    });
  }
  return groups;
}

/**
 * The sweep observer behind `--metrics-port`: the server starts before the network deploys
 * (a port in use stops the run there) and closes at the run's end, on a forced exit, or
 * never holds the process open (unref'd).
 */
export class GeneratorExporter {
  readonly name = 'metrics-port';
  readonly metrics: GeneratorMetrics;
  readonly #port: number;
  readonly #host: string;
  readonly #say: (line: string) => void;
  readonly #onForce: ((cleanup: () => Promise<void>) => () => void) | undefined;
  #server: Server | undefined;
  #unregister: (() => void) | undefined;
  #targets: { targets: string[]; labels: Record<string, string> }[] = [];

  constructor(options: {
    readonly port: number;
    /** Interface to listen on (default all: a Prometheus elsewhere can reach it). */
    readonly host?: string;
    readonly say?: (line: string) => void;
    readonly onForce?: (cleanup: () => Promise<void>) => () => void;
    readonly processMetrics?: boolean;
  }) {
    this.#port = options.port;
    this.#host = options.host ?? '0.0.0.0';
    this.#say = options.say ?? (() => undefined);
    this.#onForce = options.onForce;
    this.metrics = new GeneratorMetrics(options.processMetrics === false ? { processMetrics: false } : {});
  }

  /** The bound port (after preflight). */
  get port(): number | undefined {
    const address = this.#server?.address() as AddressInfo | null | undefined;
    return address?.port;
  }

  async preflight(): Promise<void> {
    if (this.#server) return;
    const server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET' }).end();
      } else if (path === '/metrics') {
        this.metrics.metrics().then(
          (text) => response.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
          (error: unknown) => response.writeHead(500).end(String(error)),
        );
      } else if (path === '/sd/nodes') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.#targets));
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics and /sd/nodes\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new MeshbenchError(
            error.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'BAD_FLAG',
            `--metrics-port ${this.#port}: cannot listen on ${this.#host}:${this.#port} (${error.code ?? error.message})`,
            { hint: 'give a free port, or 0 for any free port', exitCode: 2 },
          ),
        ),
      );
      server.listen(this.#port, this.#host, () => resolve());
    });
    server.unref();
    this.#server = server;
    this.#unregister = this.#onForce?.(() => this.close());
    this.#say(`generator metrics on http://127.0.0.1:${this.port}/metrics (nodes as targets: /sd/nodes)`);
  }

  onDeploy(deployment: { readonly endpoints: readonly Endpoint[] }, network: string): void {
    this.#targets = serviceDiscoveryTargets(deployment.endpoints, network);
  }

  onLevelStart(level: MonitorLevelStart): void {
    this.metrics.levelStarted(level);
  }

  onLoadProgress(level: MonitorLevelStart, progress: LoadProgress): void {
    this.metrics.progress(level, progress);
  }

  onLoadEnd(level: MonitorLevelStart, load: LoadResult, _context: MonitorLevelContext): void {
    this.metrics.loadEnded(level, load);
  }

  onTeardown(): void {
    this.#targets = [];
  }

  async onRunEnd(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    this.#unregister?.();
    this.#unregister = undefined;
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
