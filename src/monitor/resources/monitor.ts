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
 * A node that stops is marked down in its series and the run goes on.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { formatError } from '../../common/errors.js';
import { sleep } from '../../common/sleep.js';
import type {
  Deployment,
  HostHandle,
  NodeHandle,
  NodeReading,
  ReadingStream,
} from '../../testbed/testbed.js';
import {
  generatorBottleneck,
  HOST_FILES,
  hostInterval,
  hostReading,
  nodeInterval,
  processCpuPercent,
  summarize,
  type HostReading,
} from './figures.js';
import { containerOf, processSnapshot, quietCheck, type ProcessSnapshot } from './quiet.js';
import type {
  GeneratorSample,
  HostResources,
  HostSample,
  NodeResources,
  NodeSample,
  QuietCheck,
  ResourcesBlock,
} from './schema.js';

export interface ResourceMonitorOptions {
  /** Milliseconds between samples (--monitor-interval; the plan checks 100 ms to the level's length). */
  readonly intervalMs: number;
  /** Generator threads (--workers): the CPU bound for a bottleneck is 80 % of a core per thread. */
  readonly threads: number;
  /** Check that this machine is quiet before each run (default true). */
  readonly quietCheck?: boolean;
  /** One console line (a machine that is not quiet, a generator that may be the bottleneck). */
  readonly warn?: (line: string) => void;
  /** Monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
}

/** What this plug-in uses of the sweep's level (src/bench/observer.ts; bench/ sits above this folder). */
export interface LevelStart {
  readonly warmupMs: number;
}

export interface LevelContext {
  readonly deployment: Pick<Deployment, 'nodes'> & Partial<Pick<Deployment, 'hosts' | 'kind'>>;
  readonly signal: AbortSignal;
  elapsedMs(): number;
  block(name: string, data: unknown): void;
  log(line: string): void;
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
  readonly nodes: NodeTrack[];
  readonly hosts: HostTrack[];
  readonly generator: GeneratorSample[];
  readonly errors: Set<string>;
  readonly delay: IntervalHistogram;
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

export class ResourceMonitor {
  readonly name = 'resources';
  readonly #options: ResourceMonitorOptions;
  readonly #now: () => number;
  /** The run's containers, learned from their stats (left out of the quiet check). */
  readonly #ownContainers = new Set<string>();
  #before: ProcessSnapshot | undefined;
  #afterDeploy = false;
  #level: LevelState | undefined;

  constructor(options: ResourceMonitorOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  get #interval(): number {
    return this.#options.intervalMs;
  }

  /** Learns the run's containers and starts the first quiet window (about a second, before the first level). */
  async onDeploy(deployment: Pick<Deployment, 'nodes'>): Promise<void> {
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

  onLevelStart(level: LevelStart, context: LevelContext): void {
    const nodes = context.deployment.nodes;
    const hosts = context.deployment.hosts ?? [];
    const state: LevelState = {
      context,
      warmupS: level.warmupMs / 1000,
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
      generator: [],
      errors: new Set(),
      // 20 ms: a coarse health signal (the load's schedule lag is the precise one) at half the wake-ups of 10
      delay: monitorEventLoopDelay({ resolution: 20 }),
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
    track.series.push({
      t_s: this.#atS(state),
      cpu_percent: figures.cpuPercent,
      memory_bytes: figures.memoryBytes,
      net_rx_bytes_per_s: figures.netRxBytesPerSec,
      net_tx_bytes_per_s: figures.netTxBytesPerSec,
      block_read_bytes_per_s: figures.blockReadBytesPerSec,
      block_write_bytes_per_s: figures.blockWriteBytesPerSec,
    });
  }

  /** Marks a node down at this moment (at most once an interval). */
  #down(state: LevelState, track: NodeTrack): void {
    const at = this.#atS(state);
    if (track.lastDownS !== undefined && (at - track.lastDownS) * 1000 < this.#interval * 0.75) return;
    track.lastDownS = at;
    track.downS.push(at);
    track.series.push({ t_s: at, down: true });
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

  #sampleGenerator(state: LevelState): void {
    const now = this.#now();
    const delta = process.cpuUsage(state.cpu);
    state.cpu = process.cpuUsage();
    const elapsed = now - state.cpuAtMs;
    state.cpuAtMs = now;
    const histogram = state.delay;
    const empty = histogram.count === 0;
    state.generator.push({
      t_s: this.#atS(state),
      cpu_percent: processCpuPercent(delta, elapsed),
      event_loop_delay_p99_ms: empty ? 0 : round2(histogram.percentile(99) / 1e6),
      event_loop_delay_max_ms: empty ? 0 : round2(histogram.max / 1e6),
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
    const environment = await state.quiet;
    const block = this.#block(state, load, environment);
    context.block('resources', block);
    if (block.generator.bottleneck)
      this.#options.warn?.(
        `resources: the load generator, not the system, may be the bottleneck: ${(block.generator.bottleneck_reasons ?? []).join('; ')}`,
      );
    const down = block.nodes.filter((node) => node.down_s.length > 0);
    if (down.length > 0)
      context.log(
        `resources: down during the run: ${down.map((node) => `${node.node_id} (${node.down_s.length} samples)`).join(', ')}`,
      );
    // The next level's quiet window: from now (the settle) to its start.
    if (this.#options.quietCheck !== false) this.#before = await processSnapshot().catch(() => undefined);
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

  #block(
    state: LevelState,
    load: { readonly scheduleLag?: { readonly count: number; readonly p99: number } },
    environment: QuietCheck | undefined,
  ): ResourcesBlock {
    const measured = <T extends { t_s: number }>(series: readonly T[]): T[] => {
      const kept = series.filter((sample) => sample.t_s >= state.warmupS);
      return kept.length > 0 ? kept : [...series];
    };
    const nodes: NodeResources[] = state.nodes.map((track) => {
      const up = measured(track.series).filter(
        (sample): sample is Extract<NodeSample, { cpu_percent: number }> => !('down' in sample),
      );
      const of = (key: Exclude<keyof (typeof up)[number], 't_s'>, digits = 0) =>
        summarize(
          up.map((sample) => sample[key]),
          digits,
        );
      return {
        node_id: track.handle.nodeId,
        host: track.host,
        ...(track.containerId ? { container_id: track.containerId.slice(0, 12) } : {}),
        cpu_percent: of('cpu_percent', 2),
        memory_bytes: of('memory_bytes'),
        net_rx_bytes_per_s: of('net_rx_bytes_per_s'),
        net_tx_bytes_per_s: of('net_tx_bytes_per_s'),
        block_read_bytes_per_s: of('block_read_bytes_per_s'),
        block_write_bytes_per_s: of('block_write_bytes_per_s'),
        ...(track.memoryLimitBytes ? { memory_limit_bytes: track.memoryLimitBytes } : {}),
        ...(track.hostNetwork ? { host_network: true as const } : {}),
        down_s: track.downS,
        series: track.series,
      };
    });
    const hosts: HostResources[] = state.hosts.flatMap((track) => {
      const first = track.first;
      const last = track.previous;
      if (!first || !last) {
        state.errors.add(`host ${track.handle.name}: no readings`);
        return [];
      }
      const samples = measured(track.series);
      const of = (key: Exclude<keyof HostSample, 't_s'>, digits = 0) =>
        summarize(
          samples.map((sample) => sample[key]),
          digits,
        );
      return [
        {
          host: track.handle.name,
          cpus: last.cpus,
          memory_total_bytes: last.memoryTotalBytes,
          cpu_percent: of('cpu_percent', 2),
          memory_used_bytes: of('memory_used_bytes'),
          load1: of('load1', 2),
          net_rx_bytes_per_s: of('net_rx_bytes_per_s'),
          net_tx_bytes_per_s: of('net_tx_bytes_per_s'),
          interfaces: Object.fromEntries(
            Object.entries(last.interfaces).flatMap(([name, now]) => {
              const then = first.interfaces[name];
              return then
                ? [
                    [
                      name,
                      { rx_bytes: Math.max(0, now.rx - then.rx), tx_bytes: Math.max(0, now.tx - then.tx) },
                    ],
                  ]
                : [];
            }),
          ),
          series: track.series,
        },
      ];
    });
    const generatorSamples = measured(state.generator);
    const cpu = summarize(generatorSamples.map((sample) => sample.cpu_percent));
    const lagP99 = load.scheduleLag && load.scheduleLag.count > 0 ? load.scheduleLag.p99 : undefined;
    const reasons = generatorBottleneck({
      cpuPercentMean: cpu.mean,
      threads: this.#options.threads,
      scheduleLagP99Ms: lagP99,
    });
    const remote = state.hosts.flatMap((track) =>
      track.first && track.handle.name !== 'local'
        ? [
            {
              host: track.handle.name,
              cpus: track.first.cpus,
              load1: track.first.load1,
              memory_available_bytes: track.first.memoryAvailableBytes,
              memory_total_bytes: track.first.memoryTotalBytes,
            },
          ]
        : [],
    );
    let quiet = environment;
    if (quiet && remote.length > 0) {
      const busy = remote.filter((host) => host.load1 > host.cpus);
      const reasonsRemote = busy.map(
        (host) => `host ${host.host}: load average ${host.load1} on ${host.cpus} CPUs`,
      );
      if (reasonsRemote.length > 0)
        this.#options.warn?.(`resources: not quiet at the level's start: ${reasonsRemote.join('; ')}`);
      quiet = {
        ...quiet,
        hosts: remote,
        reasons: [...quiet.reasons, ...reasonsRemote],
        quiet: quiet.quiet && reasonsRemote.length === 0,
      };
    }
    const attached = state.nodes.length === 0 && state.hosts.length === 0;
    return {
      interval_ms: this.#interval,
      source: attached
        ? 'this process only'
        : 'docker engine stats stream per node; /proc per host; this process for the generator',
      ...(attached
        ? {
            absent:
              'attach mode (--endpoints): no node handles or hosts of ours, so per-node and per-host figures are absent; the generator figures are kept',
          }
        : {}),
      nodes,
      hosts,
      generator: {
        threads: Math.max(1, this.#options.threads),
        cpu_percent: cpu,
        event_loop_delay_ms: summarize(generatorSamples.map((sample) => sample.event_loop_delay_p99_ms)),
        ...(lagP99 !== undefined ? { schedule_lag_p99_ms: round2(lagP99) } : {}),
        bottleneck: reasons.length > 0,
        ...(reasons.length > 0 ? { bottleneck_reasons: reasons } : {}),
        series: state.generator,
      },
      ...(quiet ? { environment: quiet } : {}),
      ...(state.errors.size > 0 ? { errors: [...state.errors].slice(0, 20) } : {}),
    };
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
