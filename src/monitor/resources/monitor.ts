/**
 * The resource monitor: an observer of the sweep (src/bench/observer.ts) that, during each
 * run of a level, samples
 *  - every node: CPU, working-set memory, network and block I/O, from the engine's stats
 *    stream (one request per node held open for the run, through the Docker connection the
 *    testbed holds: this machine's engine, or a remote one over SSH; NodeHandle.statsStream);
 *  - every host the nodes run on: CPU, memory, load and interface counters from its /proc
 *    files (HostHandle.watchFiles: read here, or one long-lived loop over SSH);
 *  - the load generator's own process: CPU and the main thread's event-loop delay;
 * every `intervalMs` (node readings come at the engine's pace, about one a second at most),
 * and before each run checks that this machine is quiet (./quiet.ts). At the load's end it
 * closes every stream and adds the `resources` block (./schema.ts, docs/result-format.md).
 * A node that stops is marked down in its series and the run goes on. Each node sample is
 * also published as it is taken (`context.publish`, a `resource-sample`), for the dashboard.
 *
 * Nodes the testbed gives no handle of (attach mode, `--endpoints`) are read from their own
 * Prometheus page instead (`--endpoint-metrics`: process CPU and memory, network and disk
 * where the page has them), or with `--prometheus-url` from that Prometheus after the load
 * (./endpoint-source.ts); with neither, the block says they are absent and why.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { mean } from 'simple-statistics';
import { formatError } from '../../common/errors.js';
import { sleep } from '../../common/sleep.js';
import { probePrometheus } from '../prometheus/promql.js';
import { MeshbenchError } from '../../common/errors.js';
import { probeProcessPage, queryProcessSamples, ScrapedEndpoint } from './endpoint-source.js';
import type { LivePublisher } from '../../measure/live.js';
import type {
  Deployment,
  HostHandle,
  NodeHandle,
  NodeReading,
  ReadingStream,
} from '../../testbed/testbed.js';
import {
  HOST_FILES,
  STARVED_PRESSURE_PERCENT,
  hostInterval,
  hostReading,
  nodeInterval,
  processCpuPercent,
  type HostReading,
} from './figures.js';
import { containerOf, processSnapshot, quietCheck, type ProcessSnapshot } from './quiet.js';
import { nodeResources, resourcesBlock, round2, type EndpointPlan } from './summary.js';
import type { GeneratorSample, HostSample, NodeResources, NodeSample, QuietCheck } from './schema.js';

export interface ResourceMonitorOptions {
  /** Milliseconds between samples (--monitor-interval; the plan checks 100 ms to the level's length). */
  readonly intervalMs: number;
  /** Generator threads (--workers): the CPU bound for a bottleneck is 80 % of a core per thread. */
  readonly threads: number;
  /** Check that this machine is quiet before each run (default true). */
  readonly quietCheck?: boolean;
  /** One console line (a machine that is not quiet, a generator that may be the bottleneck). */
  readonly warn?: (line: string) => void;
  /**
   * A plain progress line: what the monitor leaves out by default, and how to have it (attach
   * mode's per-node figures), is not a warning on every run against a running network.
   */
  readonly say?: (line: string) => void;
  /** Monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
  /** `--prometheus-url`: the process metrics of nodes without a stats stream (attach mode), by PromQL. */
  readonly prometheusUrl?: string;
  /** `--require-monitoring`: a metrics page or Prometheus that does not answer stops the run before its first level. */
  readonly require?: boolean;
  /** How long after the load's end to query Prometheus (default 2 s: its last scrape). */
  readonly queryDelayMs?: number;
  /** Wall clock, epoch ms (default Date.now). */
  readonly wallClock?: () => number;
  /** The main thread's event-loop delay histogram, sampled every `resolutionMs` (default perf_hooks' `monitorEventLoopDelay`). */
  readonly loopDelay?: (resolutionMs: number) => IntervalHistogram;
}

/** What this plug-in uses of the sweep's level (src/bench/observer.ts; bench/ sits above this folder). */
export interface LevelStart {
  readonly warmupMs: number;
  /** The offered load's length after the warm-up (the sweep always gives it). */
  readonly durationMs?: number;
}

export interface LevelContext {
  readonly deployment: Pick<Deployment, 'nodes'> & Partial<Pick<Deployment, 'hosts' | 'kind' | 'endpoints'>>;
  readonly signal: AbortSignal;
  elapsedMs(): number;
  block(name: string, data: unknown): void;
  log(line: string): void;
  /** Live samples for watchers (the sweep always gives it). */
  readonly publish?: LivePublisher;
}

interface NodeTrack {
  readonly handle: NodeHandle;
  readonly host: string;
  stream: ReadingStream | undefined;
  opening: boolean;
  previous: NodeReading | undefined;
  lastReadingMs: number | undefined;
  lastDownS: number | undefined;
  containerId: string | undefined;
  memoryLimitBytes: number | undefined;
  hostNetwork: boolean;
  readonly series: NodeSample[];
  readonly downS: number[];
}

interface HostTrack {
  readonly handle: HostHandle;
  stream: ReadingStream | undefined;
  first: HostReading | undefined;
  previous: HostReading | undefined;
  readonly series: HostSample[];
}

interface LevelState {
  readonly context: LevelContext;
  readonly warmupS: number;
  /** The end of the offered load on the level clock (Infinity when the level did not say). */
  readonly offeredUntilS: number;
  readonly nodes: NodeTrack[];
  readonly hosts: HostTrack[];
  /** Nodes read from their metrics pages (attach mode, --endpoint-metrics). */
  readonly scraped: ScrapedEndpoint[];
  readonly reads: Set<Promise<void>>;
  /** The level clock's zero on the wall clock (for the PromQL window). */
  readonly startEpochMs: number;
  readonly generator: GeneratorSample[];
  readonly errors: Set<string>;
  readonly delay: IntervalHistogram;
  /** The delay histogram's sampling period, ms: each sample is the period plus the delay. */
  readonly delaySampleMs: number;
  cpu: NodeJS.CpuUsage;
  cpuAtMs: number;
  quiet: Promise<QuietCheck | undefined>;
  ticking: Promise<void>;
  closed: boolean;
}

/** A node without a reading for this long (and at least 2.5 intervals) counts as down. */
const STALE_MS = 3000;
/** How long the first quiet check watches the processes after a deploy. */
const QUIET_WINDOW_MS = 1000;

/**
 * How often the generator's event-loop delay is sampled: a tenth of the monitor's interval, between
 * 20 and 100 ms. Each sample wakes the main thread (at 20 ms that cost 4.2 ms of CPU a second, at
 * 100 ms under 1; `npm run bench:wakeups`). It is a coarse health signal (the load's schedule lag is
 * the precise one): at 100 ms every stall of 100 ms or more still shows, and a shorter one when it
 * spans a sample's due time; an interval of 100 ms still gets 5 samples.
 */
export function loopSampleMs(intervalMs: number): number {
  return Math.min(100, Math.max(20, Math.round(intervalMs / 10)));
}

export class ResourceMonitor {
  readonly name = 'resources';
  readonly #options: ResourceMonitorOptions;
  readonly #now: () => number;
  /** The run's containers, learned from their stats (left out of the quiet check). */
  readonly #ownContainers = new Set<string>();
  #before: ProcessSnapshot | undefined;
  #afterDeploy = false;
  #level: LevelState | undefined;
  #endpointPlan: EndpointPlan | undefined;
  #saidAbsent = false;

  constructor(options: ResourceMonitorOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  get #interval(): number {
    return this.#options.intervalMs;
  }

  /** Learns the run's containers and starts the first quiet window (about a second, before the first level). */
  async onDeploy(
    deployment: Pick<Deployment, 'nodes'> & Partial<Pick<Deployment, 'endpoints'>>,
  ): Promise<void> {
    this.#endpointPlan = await this.#planEndpoints(deployment);
    if (this.#options.quietCheck === false) return;
    const streams = await Promise.all(
      deployment.nodes.map((node) =>
        node
          .statsStream?.((reading) => {
            if (reading.containerId) this.#ownContainers.add(reading.containerId);
          })
          .catch(() => undefined),
      ),
    );
    try {
      this.#before = await processSnapshot();
      this.#afterDeploy = true;
      await sleep(QUIET_WINDOW_MS);
    } finally {
      for (const stream of streams) stream?.close();
    }
  }

  /**
   * The nodes the testbed has no handle of (attach mode), and how to read them: Prometheus
   * when given and answering, else each endpoint's metrics page, else absent. A page or
   * Prometheus that does not answer is one console line (with --require-monitoring, an error).
   */
  async #planEndpoints(
    deployment: Pick<Deployment, 'nodes'> & Partial<Pick<Deployment, 'endpoints'>>,
  ): Promise<EndpointPlan | undefined> {
    const handled = new Set(deployment.nodes.map((node) => node.nodeId));
    const endpoints = (deployment.endpoints ?? []).filter((endpoint) => !handled.has(endpoint.nodeId));
    if (endpoints.length === 0) return undefined;
    const url = this.#options.prometheusUrl;
    let prometheusProblem: string | undefined;
    if (url !== undefined) {
      const problem = await probePrometheus(url);
      if (problem === undefined) return { kind: 'query', endpoints, url };
      prometheusProblem = `--prometheus-url ${url}: no Prometheus answers there (${problem})`;
      if (this.#options.require)
        throw new MeshbenchError('ENDPOINT_UNREACHABLE', prometheusProblem, {
          hint: 'start Prometheus there or give its URL; leave out --require-monitoring to run without it',
        });
    }
    const paged = endpoints.filter((endpoint) => endpoint.metricsUrl !== undefined);
    if (paged.length === 0) {
      const reason = prometheusProblem
        ? `attach mode (--endpoints): ${prometheusProblem} and no --endpoint-metrics given, so per-node figures are absent; the generator figures are kept`
        : 'attach mode (--endpoints): no node handles, and neither --endpoint-metrics nor --prometheus-url given, so per-node and per-host figures are absent; the generator figures are kept';
      if (!this.#saidAbsent) {
        // A warning when something asked for failed (--prometheus-url) or monitoring is required.
        const tell =
          prometheusProblem !== undefined || this.#options.require === true
            ? this.#options.warn
            : (this.#options.say ?? this.#options.warn);
        tell?.(
          prometheusProblem !== undefined
            ? `resources: per-node figures are absent: ${prometheusProblem}; give --endpoint-metrics URL,… (each endpoint's Prometheus page) or a working --prometheus-url`
            : `resources: per-node figures need --endpoint-metrics URL,… (each endpoint's Prometheus page) or --prometheus-url in attach mode; the generator's own figures are kept`,
        );
      }
      this.#saidAbsent = true;
      return { kind: 'absent', reason };
    }
    const problems = (
      await Promise.all(
        paged.map(async (endpoint) => {
          const problem = await probeProcessPage(endpoint.metricsUrl as string);
          return problem === undefined ? [] : [`${endpoint.nodeId}: ${endpoint.metricsUrl} ${problem}`];
        }),
      )
    ).flat();
    if (problems.length > 0) {
      const line = `--endpoint-metrics: ${problems.join('; ')}`;
      if (this.#options.require)
        throw new MeshbenchError('ENDPOINT_UNREACHABLE', line, {
          hint: "give each endpoint's Prometheus page (e.g. http://host:2379/metrics); leave out --require-monitoring to run without it",
        });
      this.#options.warn?.(`resources: ${line}; the run goes on without those figures`);
    }
    return {
      kind: 'scrape',
      endpoints: paged,
      problems: [
        ...(prometheusProblem ? [`${prometheusProblem}; read each endpoint's metrics page instead`] : []),
        ...endpoints
          .filter((endpoint) => endpoint.metricsUrl === undefined)
          .map((endpoint) => `${endpoint.nodeId}: no metrics URL given (--endpoint-metrics)`),
      ],
    };
  }

  onLevelStart(level: LevelStart, context: LevelContext): void {
    const nodes = context.deployment.nodes;
    const hosts = context.deployment.hosts ?? [];
    const plan = this.#endpointPlan;
    const state: LevelState = {
      context,
      warmupS: level.warmupMs / 1000,
      offeredUntilS: level.durationMs === undefined ? Infinity : (level.warmupMs + level.durationMs) / 1000,
      nodes: nodes.map((handle) => ({
        handle,
        host: handle.endpoint.host ?? 'local',
        stream: undefined,
        opening: false,
        previous: undefined,
        lastReadingMs: undefined,
        lastDownS: undefined,
        containerId: undefined,
        memoryLimitBytes: undefined,
        hostNetwork: false,
        series: [],
        downS: [],
      })),
      hosts: hosts.map((handle) => ({
        handle,
        stream: undefined,
        first: undefined,
        previous: undefined,
        series: [],
      })),
      scraped:
        plan?.kind === 'scrape'
          ? plan.endpoints.map((endpoint) => new ScrapedEndpoint(endpoint, endpoint.metricsUrl as string))
          : [],
      reads: new Set(),
      startEpochMs: (this.#options.wallClock ?? Date.now)() - context.elapsedMs(),
      generator: [],
      errors: new Set(plan?.kind === 'scrape' ? plan.problems : []),
      delay: (this.#options.loopDelay ?? ((resolution) => monitorEventLoopDelay({ resolution })))(
        loopSampleMs(this.#interval),
      ),
      delaySampleMs: loopSampleMs(this.#interval),
      cpu: process.cpuUsage(),
      cpuAtMs: this.#now(),
      quiet: Promise.resolve(undefined),
      ticking: Promise.resolve(),
      closed: false,
    };
    this.#level = state;
    state.delay.enable();
    state.quiet = this.#quiet();
    for (const track of state.nodes) void this.#open(state, track);
    for (const track of state.hosts) void this.#watchHost(state, track);
    state.ticking = this.#tick(state);
  }

  /** The quiet check: the window since the deploy (or the last load's end) until now. */
  async #quiet(): Promise<QuietCheck | undefined> {
    const before = this.#before;
    this.#before = undefined;
    if (this.#options.quietCheck === false || !before) return undefined;
    const judgeLoad = this.#afterDeploy;
    this.#afterDeploy = false;
    try {
      const [after, loadavg, meminfo] = await Promise.all([
        processSnapshot(),
        readFile('/proc/loadavg', 'utf8'),
        readFile('/proc/meminfo', 'utf8'),
      ]);
      const check = await quietCheck({
        before,
        after,
        selfPid: process.pid,
        ownContainers: this.#ownContainers,
        containerOf,
        loadavg,
        meminfo,
        cpus: os.cpus().length,
        judgeLoad,
      });
      if (!check.quiet)
        this.#options.warn?.(
          `resources: this machine is not quiet before the level (${check.reasons.join('; ')}); its figures may be disturbed`,
        );
      return check;
    } catch (error) {
      this.#level?.errors.add(`quiet check: ${formatError(error)}`);
      return undefined;
    }
  }

  #atS(state: LevelState): number {
    return Math.round(state.context.elapsedMs() / 100) / 10;
  }

  async #open(state: LevelState, track: NodeTrack): Promise<void> {
    if (!track.handle.statsStream) {
      state.errors.add(`${track.handle.nodeId}: its testbed gives no stats stream`);
      return;
    }
    track.opening = true;
    try {
      const stream = await track.handle.statsStream(
        (reading) => this.#reading(state, track, reading),
        () => {
          if (track.stream === stream) track.stream = undefined;
        },
      );
      if (state.closed) stream.close();
      else track.stream = stream;
    } catch (error) {
      state.errors.add(`${track.handle.nodeId}: ${formatError(error)}`);
    } finally {
      track.opening = false;
    }
  }

  #reading(state: LevelState, track: NodeTrack, reading: NodeReading): void {
    if (state.closed) return;
    track.lastReadingMs = this.#now();
    if (reading.containerId) {
      track.containerId = reading.containerId;
      this.#ownContainers.add(reading.containerId);
    }
    if (reading.memoryLimitBytes) track.memoryLimitBytes = reading.memoryLimitBytes;
    if (reading.hostNetwork) track.hostNetwork = true;
    if (reading.readAtMs === undefined) {
      this.#down(state, track);
      track.previous = undefined;
      return;
    }
    const previous = track.previous;
    if (previous?.readAtMs !== undefined && reading.readAtMs - previous.readAtMs < this.#interval * 0.75)
      return;
    track.previous = reading;
    const figures = previous ? nodeInterval(previous, reading) : undefined;
    if (!figures) return;
    const sample: NodeSample = {
      t_s: this.#atS(state),
      cpu_percent: figures.cpuPercent,
      memory_bytes: figures.memoryBytes,
      net_rx_bytes_per_s: figures.netRxBytesPerSec,
      net_tx_bytes_per_s: figures.netTxBytesPerSec,
      block_read_bytes_per_s: figures.blockReadBytesPerSec,
      block_write_bytes_per_s: figures.blockWriteBytesPerSec,
    };
    track.series.push(sample);
    this.#publish(state, track.handle.nodeId, track.host, sample);
  }

  /** A node's sample as it is taken, to the level's watchers (the same figures and time as its series). */
  #publish(state: LevelState, node: string, host: string, sample: NodeSample): void {
    const publish = state.context.publish;
    if (!publish) return;
    const up = 'down' in sample ? undefined : sample;
    publish({
      kind: 'resource-sample',
      node,
      host,
      atMs: Math.round(sample.t_s * 1000),
      intervalMs: this.#interval,
      ...(up
        ? {
            figures: {
              cpuPercent: up.cpu_percent,
              memoryBytes: up.memory_bytes,
              ...(up.net_rx_bytes_per_s !== undefined ? { netRxBytesPerSec: up.net_rx_bytes_per_s } : {}),
              ...(up.net_tx_bytes_per_s !== undefined ? { netTxBytesPerSec: up.net_tx_bytes_per_s } : {}),
              ...(up.block_read_bytes_per_s !== undefined
                ? { blockReadBytesPerSec: up.block_read_bytes_per_s }
                : {}),
              ...(up.block_write_bytes_per_s !== undefined
                ? { blockWriteBytesPerSec: up.block_write_bytes_per_s }
                : {}),
            },
          }
        : {}),
    });
  }

  /** Marks a node down at this moment (at most once an interval). */
  #down(state: LevelState, track: NodeTrack): void {
    const at = this.#atS(state);
    if (track.lastDownS !== undefined && (at - track.lastDownS) * 1000 < this.#interval * 0.75) return;
    track.lastDownS = at;
    track.downS.push(at);
    const sample: NodeSample = { t_s: at, down: true };
    track.series.push(sample);
    this.#publish(state, track.handle.nodeId, track.host, sample);
  }

  async #watchHost(state: LevelState, track: HostTrack): Promise<void> {
    try {
      const stream = await track.handle.watchFiles(
        HOST_FILES,
        this.#interval,
        (files) => {
          if (state.closed) return;
          const reading = hostReading(files);
          if (!reading) return;
          track.first ??= reading;
          const previous = track.previous;
          track.previous = reading;
          const figures = previous ? hostInterval(previous, reading) : undefined;
          if (!figures) return;
          track.series.push({
            t_s: this.#atS(state),
            cpu_percent: figures.cpuPercent,
            memory_used_bytes: figures.memoryUsedBytes,
            load1: figures.load1,
            net_rx_bytes_per_s: figures.netRxBytesPerSec,
            net_tx_bytes_per_s: figures.netTxBytesPerSec,
            ...(figures.cpuPressurePercent !== undefined
              ? { cpu_pressure_percent: figures.cpuPressurePercent }
              : {}),
          });
        },
        (error) => {
          if (!state.closed)
            state.errors.add(
              `host ${track.handle.name}: its readings stopped${error ? ` (${formatError(error)})` : ''}`,
            );
        },
      );
      if (state.closed) stream.close();
      else track.stream = stream;
    } catch (error) {
      state.errors.add(`host ${track.handle.name}: ${formatError(error)}`);
    }
  }

  /** Every interval of the level clock: the generator's sample, and the nodes that stopped reporting. */
  async #tick(state: LevelState): Promise<void> {
    const { context } = state;
    for (let dueMs = this.#interval; ; dueMs += this.#interval) {
      await sleep(Math.max(0, dueMs - context.elapsedMs()), context.signal);
      if (context.signal.aborted || state.closed) return;
      this.#sampleGenerator(state);
      this.#readPages(state);
      const now = this.#now();
      const staleMs = Math.max(STALE_MS, this.#interval * 2.5);
      for (const track of state.nodes) {
        if (!track.handle.statsStream) continue;
        const silent = track.lastReadingMs === undefined ? false : now - track.lastReadingMs > staleMs;
        if (!track.stream && !track.opening) {
          this.#down(state, track);
          track.previous = undefined;
          void this.#open(state, track);
        } else if (silent) {
          this.#down(state, track);
          track.previous = undefined;
        }
      }
    }
  }

  /**
   * Every metrics page at once (attach mode); a page still being read is left to finish. A
   * busy node may take longer than an interval to render its page: up to 2 s (or two
   * intervals) is waited for, and the rates are over the time between the answers.
   */
  #readPages(state: LevelState): void {
    const timeoutMs = Math.max(2000, this.#interval * 2);
    for (const track of state.scraped) {
      const before = track.series.length;
      const read = track
        .read(() => this.#atS(state), this.#now, timeoutMs)
        .then(() => {
          if (state.closed) return;
          const host = track.endpoint.host ?? 'attached';
          for (const sample of track.series.slice(before))
            this.#publish(state, track.endpoint.nodeId, host, sample);
        });
      state.reads.add(read);
      void read.finally(() => state.reads.delete(read));
    }
  }

  #sampleGenerator(state: LevelState): void {
    const now = this.#now();
    const delta = process.cpuUsage(state.cpu);
    state.cpu = process.cpuUsage();
    const elapsed = now - state.cpuAtMs;
    state.cpuAtMs = now;
    const histogram = state.delay;
    // Node's histogram records the time between its timer's runs: the sampling period plus the
    // delay. The period is taken off, so an idle loop reads 0, not the period (it read 20 ms).
    const delayMs = (ns: number) =>
      histogram.count === 0 ? 0 : round2(Math.max(0, ns / 1e6 - state.delaySampleMs));
    state.generator.push({
      t_s: this.#atS(state),
      cpu_percent: processCpuPercent(delta, elapsed),
      event_loop_delay_p99_ms: delayMs(histogram.percentile(99)),
      event_loop_delay_max_ms: delayMs(histogram.max),
    });
    histogram.reset();
  }

  async onLoadEnd(
    _level: LevelStart,
    load: { readonly scheduleLag?: { readonly count: number; readonly p99: number } },
    context: LevelContext,
  ): Promise<void> {
    const state = this.#level;
    if (!state) return;
    this.#level = undefined;
    this.#close(state);
    await state.ticking.catch(() => undefined);
    await Promise.all([...state.reads]);
    const queried = await this.#queried(state, context);
    const environment = await state.quiet;
    const block = resourcesBlock({
      state,
      load,
      environment,
      queried,
      threads: this.#options.threads,
      intervalMs: this.#interval,
      endpointPlan: this.#endpointPlan,
      warn: this.#options.warn,
    });
    context.block('resources', block);
    if (block.generator.bottleneck)
      this.#options.warn?.(
        `resources: the load generator, not the system, may be the bottleneck: ${(block.generator.bottleneck_reasons ?? []).join('; ')}`,
      );
    for (const host of block.hosts) {
      // while the load was offered (a mesh level's drain after it is quiet)
      const pressure = host.series.flatMap((sample) =>
        sample.t_s > state.warmupS && sample.t_s <= state.offeredUntilS
          ? (sample.cpu_pressure_percent ?? [])
          : [],
      );
      const waited = pressure.length > 0 ? mean(pressure) : 0;
      if (waited >= STARVED_PRESSURE_PERCENT)
        this.#options.warn?.(
          `resources: host ${host.host} was short of CPU: tasks waited for one ${waited.toFixed(0)}% of the time the load was offered (its CPU pressure, /proc/pressure/cpu); the level's figures include that wait, this machine's limit rather than only the system's: run fewer nodes per host or give them more cores`,
        );
    }
    const down = block.nodes.filter((node) => node.down_s.length > 0);
    if (down.length > 0)
      context.log(
        `resources: down during the run: ${down.map((node) => `${node.node_id} (${node.down_s.length} samples)`).join(', ')}`,
      );
    // The next level's quiet window: from now (the settle) to its start.
    if (this.#options.quietCheck !== false) this.#before = await processSnapshot().catch(() => undefined);
  }

  /** With --prometheus-url in attach mode: the endpoints' samples over the level, read after it. */
  async #queried(state: LevelState, context: LevelContext): Promise<NodeResources[]> {
    const plan = this.#endpointPlan;
    if (plan?.kind !== 'query') return [];
    const everyMs = this.#interval;
    const endSecond = Math.floor(context.elapsedMs() / everyMs) * (everyMs / 1000);
    await sleep(this.#options.queryDelayMs ?? 2000);
    const seconds: number[] = [];
    for (let second = everyMs / 1000; second <= endSecond + 1e-9; second += everyMs / 1000)
      seconds.push(Math.round(second * 1000) / 1000);
    const { samples, missing } = await queryProcessSamples(plan.url, plan.endpoints, {
      startMs: Math.round(state.startEpochMs),
      seconds,
      stepMs: everyMs,
      windowSecs: Math.max(5, Math.ceil((3 * everyMs) / 1000)),
    });
    for (const line of missing) state.errors.add(line);
    return plan.endpoints.map((endpoint) =>
      nodeResources(
        {
          nodeId: endpoint.nodeId,
          host: endpoint.host ?? 'attached',
          source: 'prometheus_query',
          metricsUrl: endpoint.metricsUrl ?? `${endpoint.rpcUrl}/metrics`,
          series: samples.get(endpoint.nodeId) ?? [],
          downS: [],
        },
        state.warmupS,
      ),
    );
  }

  async onTeardown(): Promise<void> {
    const state = this.#level;
    this.#level = undefined;
    if (state) this.#close(state);
    this.#before = undefined;
  }

  /** Ends every stream and stops the clock; safe to call twice. */
  #close(state: LevelState): void {
    if (state.closed) return;
    state.closed = true;
    state.delay.disable();
    for (const track of state.nodes) {
      track.stream?.close();
      track.stream = undefined;
    }
    for (const track of state.hosts) {
      track.stream?.close();
      track.stream = undefined;
    }
  }
}
