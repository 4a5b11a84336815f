/**
 * `--influx-url http://host:8086/db`: per-second points in InfluxDB 1.x while the run goes, so
 * Grafana can watch it live (examples/grafana/). Names follow k6's InfluxDB output where they
 * have a counterpart (k6 `http_reqs` → `tx_submitted`, `http_req_duration` → `tx_duration`
 * in milliseconds, `vus` → `offered_rate`), every point tagged with `run_id`, `network`,
 * `benchmark`, `level` (the offered tx/s) and `run`; docs/result-format.md lists them.
 *
 * During a level, each progress tick of the generator becomes a point of its second of the
 * measured window; at the load's end the record's time series replaces them (same series,
 * same timestamps), so what InfluxDB keeps equals the JSON record. The nodes' series (the
 * `metrics` block), their resources (`resources`), the ingested points (`ingest`) and the
 * fault and condition events (`faults`, `network`) follow at the level's end: read from the
 * run's blocks by name, never by importing their plug-ins. (The sweep's live seam,
 * `onLiveEvent`, carries node samples and fault/condition windows during the level, but the
 * blocks also hold what it does not: the generator's and the hosts' samples, the series
 * Prometheus gives after the load in attach mode, every event edge; writing from them
 * stays the one path here.)
 */
import { MeshbenchError } from '../../common/errors.js';
import type { LoadProgress, LoadResult } from '../../load/types.js';
import { metricsBlockOf } from '../metrics-block.js';
import type { MonitorLevelContext, MonitorLevelEnd, MonitorLevelStart } from '../sweep-shapes.js';
import type { Point } from './line-protocol.js';
import { createDatabase, InfluxWriter, influxTarget, postLines, type InfluxTarget } from './writer.js';
import { encodePoint } from './line-protocol.js';

export interface InfluxOutputOptions {
  readonly url: string;
  /** An unreachable InfluxDB (or one refusing writes) stops the run before it deploys. */
  readonly require?: boolean;
  /** Whether the level confirms commits (efficiency counts commits, else accepted replies). */
  readonly confirmCommit: boolean;
  readonly warn?: (line: string) => void;
  readonly flushMs?: number;
  readonly wallClock?: () => number;
}

interface LevelState {
  readonly tags: Readonly<Record<string, string>>;
  /** Epoch ms of the measured window's start (the load's start + warm-up). */
  readonly measuredStartMs: number;
  /** Epoch ms of the load's start (the level clock's zero). */
  readonly loadStartMs: number;
  readonly measuredSeconds: number;
  last: { elapsedMs: number; sent: number; ok: number; failed: number; committed: number };
}

export class InfluxOutput {
  readonly name = 'influx';
  readonly #options: InfluxOutputOptions;
  readonly #target: InfluxTarget;
  readonly #wallClock: () => number;
  readonly #writer: InfluxWriter;
  /** Why InfluxDB is not written to (failed its preflight). */
  #problem: string | undefined;
  #level: LevelState | undefined;
  /** By run key: the level clock's zero, for that run's events at its level's end. */
  readonly #loadStarts = new Map<string, number>();

  constructor(options: InfluxOutputOptions) {
    this.#options = options;
    this.#target = influxTarget(options.url);
    this.#wallClock = options.wallClock ?? Date.now;
    this.#writer = new InfluxWriter(this.#target, {
      ...(options.flushMs !== undefined ? { flushMs: options.flushMs } : {}),
      onError: (reason) =>
        options.warn?.(
          `--influx-url ${this.#target.shown}: a write failed (${reason}); the run goes on, the record counts the points lost`,
        ),
    });
  }

  get stats() {
    return this.#writer.stats;
  }

  /** Writes the run's start marker (`runs`): InfluxDB answers and takes writes, or the run is told. */
  async preflight(): Promise<void> {
    const line = encodePoint({
      measurement: 'runs',
      tags: { state: 'preflight' },
      fields: { value: 1 },
      timeMs: this.#wallClock(),
    }) as string;
    let problem = await postLines(this.#target, [line], 3000);
    // A database that does not exist yet is created, as k6 does.
    if (problem?.includes('database not found') && (await createDatabase(this.#target)) === undefined)
      problem = await postLines(this.#target, [line], 3000);
    if (problem === undefined) return;
    const answered = problem.startsWith('HTTP ');
    const what = answered
      ? `--influx-url ${this.#target.shown}: InfluxDB refuses writes to database ${JSON.stringify(this.#target.database)} (${problem})`
      : `--influx-url ${this.#target.shown}: no InfluxDB answers there (${problem})`;
    if (this.#options.require)
      throw new MeshbenchError('ENDPOINT_UNREACHABLE', what, {
        hint: `${answered ? 'check the database name and the credentials (http://user:password@host:8086/db)' : 'start InfluxDB there or fix the URL'}; leave out --require-monitoring to run without it`,
      });
    this.#problem = what;
    this.#options.warn?.(`${what}; the run goes on without InfluxDB`);
  }

  onLevelStart(level: MonitorLevelStart, context: MonitorLevelContext): void {
    if (this.#problem) return;
    const loadStartMs = Math.round(this.#wallClock() - context.elapsedMs());
    const tags = {
      run_id: level.runId,
      network: level.network,
      benchmark: String(level.benchmarkNumber),
      level: String(level.load),
      run: String(level.run),
    };
    this.#loadStarts.set(runKey(level.network, level.benchmarkNumber, level.run), loadStartMs);
    this.#level = {
      tags,
      loadStartMs,
      measuredStartMs: loadStartMs + level.warmupMs,
      measuredSeconds: Math.ceil(level.durationMs / 1000),
      last: { elapsedMs: 0, sent: 0, ok: 0, failed: 0, committed: 0 },
    };
    this.#writer.write([
      {
        measurement: 'events',
        tags: { ...tags, kind: 'level' },
        fields: {
          title: `level ${level.load} tx/s start`,
          text: `${level.network} #${level.benchmarkNumber} run ${level.run}`,
        },
        timeMs: loadStartMs,
      },
    ]);
  }

  onLoadProgress(level: MonitorLevelStart, progress: LoadProgress): void {
    const state = this.#level;
    if (!state) return;
    const seconds = (progress.elapsedMs - state.last.elapsedMs) / 1000;
    const delta = (key: 'sent' | 'ok' | 'failed' | 'committed') =>
      Math.max(0, progress[key] - state.last[key]);
    const sent = delta('sent');
    const ok = delta('ok');
    const failed = delta('failed');
    const committed = delta('committed');
    state.last = {
      elapsedMs: progress.elapsedMs,
      sent: progress.sent,
      ok: progress.ok,
      failed: progress.failed,
      committed: progress.committed,
    };
    // The second of the measured window this tick mostly covered (the one that just ended).
    const second = Math.floor((progress.elapsedMs - level.warmupMs) / 1000) - 1;
    const timeMs = state.measuredStartMs + second * 1000;
    const points: Point[] = [
      {
        measurement: 'offered_rate',
        tags: state.tags,
        fields: { value: level.load },
        timeMs: this.#wallClock(),
      },
      {
        measurement: 'in_flight',
        tags: state.tags,
        fields: { value: progress.inFlight },
        timeMs: this.#wallClock(),
      },
    ];
    if (second >= 0 && second < state.measuredSeconds && seconds > 0) {
      const per = (count: number) => count / seconds;
      const done = this.#options.confirmCommit ? committed : ok;
      points.push(
        { measurement: 'tx_submitted', tags: state.tags, fields: { value: per(sent) }, timeMs },
        { measurement: 'tx_accepted', tags: state.tags, fields: { value: per(ok) }, timeMs },
        { measurement: 'tx_failed', tags: state.tags, fields: { value: per(failed) }, timeMs },
        { measurement: 'tx_committed', tags: state.tags, fields: { value: per(committed) }, timeMs },
        { measurement: 'efficiency', tags: state.tags, fields: { value: per(done) / level.load }, timeMs },
      );
    }
    this.#writer.write(points);
  }

  async onLoadEnd(level: MonitorLevelStart, load: LoadResult, context: MonitorLevelContext): Promise<void> {
    const state = this.#level;
    this.#level = undefined;
    if (this.#problem) {
      context.block('influx', { url: this.#target.shown, written: 0, missing: [this.#problem] });
      return;
    }
    if (!state) return;
    this.#writer.write(secondPoints(load, state, this.#options.confirmCommit, level.load));
    this.#writer.write([levelPoint(load, state, this.#options.confirmCommit, this.#wallClock())]);
    await this.#writer.flush();
    const stats = this.#writer.stats;
    context.block('influx', {
      url: this.#target.shown,
      database: this.#target.database,
      measured_start_epoch_ms: state.measuredStartMs,
      written: stats.written,
      ...(stats.lost > 0 ? { lost: stats.lost } : {}),
      ...(stats.errors.length > 0 ? { missing: stats.errors.map((error) => `writes failed: ${error}`) } : {}),
    });
  }

  async onLevelEnd(level: MonitorLevelEnd): Promise<void> {
    if (this.#problem) return;
    const points: Point[] = [];
    level.runs.forEach((run, index) => {
      const runNumber = index + 1;
      const tags = {
        run_id: level.runId,
        network: level.network,
        benchmark: String(level.benchmarkNumber),
        level: String(level.load),
        run: String(runNumber),
      };
      const loadStartMs = this.#loadStarts.get(runKey(level.network, level.benchmarkNumber, runNumber));
      points.push(...nodeSeriesPoints(run.blocks, tags), ...ingestPoints(run.blocks, tags));
      if (loadStartMs !== undefined)
        points.push(
          ...eventPoints(run.blocks, tags, loadStartMs),
          ...resourcePoints(run.blocks, tags, loadStartMs),
        );
    });
    this.#writer.write(points);
    await this.#writer.flush();
  }

  async onTeardown(): Promise<void> {
    await this.#writer.flush();
  }

  async onRunEnd(): Promise<{ index: Record<string, unknown> }> {
    const stats = await this.#writer.stop();
    return {
      index: {
        influx: {
          url: this.#target.shown,
          written: stats.written,
          ...(stats.lost > 0 ? { lost: stats.lost } : {}),
          ...(this.#problem ? { missing: [this.#problem] } : {}),
          ...(stats.errors.length > 0 ? { errors: stats.errors } : {}),
        },
      },
    };
  }
}

function runKey(network: string, benchmark: number, run: number): string {
  return `${network}/${benchmark}/${run}`;
}

/** The record's time series as points, one per second of the measured window (replacing the live ones). */
export function secondPoints(
  load: Pick<LoadResult, 'timeSeries'>,
  state: Pick<LevelState, 'tags' | 'measuredStartMs'>,
  confirmCommit: boolean,
  offered: number,
): Point[] {
  const points: Point[] = [];
  for (const sample of load.timeSeries) {
    const timeMs = state.measuredStartMs + sample.second * 1000;
    const tags = state.tags;
    points.push(
      { measurement: 'tx_submitted', tags, fields: { value: sample.sent }, timeMs },
      { measurement: 'tx_accepted', tags, fields: { value: sample.ok }, timeMs },
      { measurement: 'tx_failed', tags, fields: { value: sample.failed }, timeMs },
      { measurement: 'tx_committed', tags, fields: { value: sample.committed }, timeMs },
      {
        measurement: 'efficiency',
        tags,
        fields: { value: (confirmCommit ? sample.committed : sample.ok) / offered },
        timeMs,
      },
      {
        measurement: 'tx_duration',
        tags: { ...tags, stage: 'ack' },
        fields: { p50: sample.ackP50Ms, p99: sample.ackP99Ms, max: sample.ackMaxMs },
        timeMs,
      },
    );
    if (sample.commitP50Ms !== undefined)
      points.push({
        measurement: 'tx_duration',
        tags: { ...tags, stage: 'commit' },
        fields: { p50: sample.commitP50Ms, p99: sample.commitP99Ms, max: sample.commitMaxMs },
        timeMs,
      });
  }
  return points;
}

/** One point per run of a level with its headline figures (`level_summary`), at the load's end. */
function levelPoint(
  load: LoadResult,
  state: Pick<LevelState, 'tags'>,
  confirmCommit: boolean,
  timeMs: number,
): Point {
  const ack = load.latency.ack.corrected;
  const commit = load.latency.commit?.corrected;
  return {
    measurement: 'level_summary',
    tags: state.tags,
    fields: {
      offered_rate: load.inputRate,
      achieved_rate: load.achievedRate,
      accepted_throughput: load.acceptedThroughput,
      committed_throughput: load.committedThroughput,
      throughput: confirmCommit ? load.committedThroughput : load.acceptedThroughput,
      efficiency: load.efficiency,
      ack_p50: ack.p50,
      ack_p99: ack.p99,
      ...(commit ? { commit_p50: commit.p50, commit_p99: commit.p99 } : {}),
    },
    timeMs,
  };
}

/** The `metrics` block's per-node series: measurement = the series' name, tag `node`, field `value`. */
export function nodeSeriesPoints(
  blocks: Readonly<Record<string, unknown>> | undefined,
  tags: Readonly<Record<string, string>>,
): Point[] {
  const block = metricsBlockOf(blocks);
  if (!block) return [];
  const points: Point[] = [];
  for (const [node, row] of Object.entries(block.nodes))
    for (const [series, values] of Object.entries(row))
      values.forEach((value, index) => {
        const second = block.seconds[index];
        if (value === null || second === undefined) return;
        points.push({
          measurement: series,
          tags: { ...tags, node },
          fields: { value },
          timeMs: block.start_epoch_ms + second * 1000,
        });
      });
  return points;
}

const NODE_RESOURCE_FIELDS = [
  'cpu_percent',
  'memory_bytes',
  'net_rx_bytes_per_s',
  'net_tx_bytes_per_s',
  'block_read_bytes_per_s',
  'block_write_bytes_per_s',
] as const;
const GENERATOR_RESOURCE_FIELDS = [
  'cpu_percent',
  'event_loop_delay_p99_ms',
  'event_loop_delay_max_ms',
] as const;

/**
 * The `resources` block's per-second samples (the resource monitor's, read by name):
 * `node_resources` (tags node, host) and `generator_resources`, at the load's start + t_s.
 */
export function resourcePoints(
  blocks: Readonly<Record<string, unknown>> | undefined,
  tags: Readonly<Record<string, string>>,
  loadStartMs: number,
): Point[] {
  const block = blocks?.resources as
    | {
        nodes?: { node_id?: unknown; host?: unknown; series?: unknown }[];
        generator?: { series?: unknown };
      }
    | undefined;
  if (!block || typeof block !== 'object') return [];
  const points: Point[] = [];
  const samples = (series: unknown): Record<string, unknown>[] =>
    Array.isArray(series) ? (series as Record<string, unknown>[]) : [];
  const fieldsOf = (sample: Record<string, unknown>, names: readonly string[]) =>
    Object.fromEntries(
      names.flatMap((name) => (typeof sample[name] === 'number' ? [[name, sample[name]]] : [])),
    );
  for (const node of Array.isArray(block.nodes) ? block.nodes : []) {
    if (typeof node.node_id !== 'string') continue;
    for (const sample of samples(node.series)) {
      if (typeof sample.t_s !== 'number') continue;
      points.push({
        measurement: 'node_resources',
        tags: { ...tags, node: node.node_id, host: typeof node.host === 'string' ? node.host : undefined },
        fields: sample.down === true ? { down: 1 } : fieldsOf(sample, NODE_RESOURCE_FIELDS),
        timeMs: loadStartMs + sample.t_s * 1000,
      });
    }
  }
  for (const sample of samples(block.generator?.series)) {
    if (typeof sample.t_s !== 'number') continue;
    points.push({
      measurement: 'generator_resources',
      tags,
      fields: fieldsOf(sample, GENERATOR_RESOURCE_FIELDS),
      timeMs: loadStartMs + sample.t_s * 1000,
    });
  }
  return points;
}

/**
 * The points the system under test POSTed to the ingest endpoint (the `ingest` block, read by
 * name), as they came: measurement = their name, their tags plus ours and `source=ingest`, at
 * their wall time.
 */
export function ingestPoints(
  blocks: Readonly<Record<string, unknown>> | undefined,
  tags: Readonly<Record<string, string>>,
): Point[] {
  const points = (blocks?.ingest as { points?: unknown } | undefined)?.points;
  if (!Array.isArray(points)) return [];
  return (points as { name?: unknown; value?: unknown; tags?: unknown; wall_ms?: unknown }[]).flatMap(
    (point) =>
      typeof point.name === 'string' && typeof point.value === 'number' && typeof point.wall_ms === 'number'
        ? [
            {
              measurement: point.name,
              tags: {
                ...(typeof point.tags === 'object' && point.tags !== null
                  ? (point.tags as Record<string, string>)
                  : {}),
                ...tags,
                source: 'ingest',
              },
              fields: { value: point.value },
              timeMs: point.wall_ms,
            },
          ]
        : [],
  );
}

interface EventLike {
  readonly action?: unknown;
  readonly nodes?: unknown;
  readonly cause?: unknown;
  readonly edge?: unknown;
  readonly live?: unknown;
  readonly event?: unknown;
  readonly fired_ms?: unknown;
  readonly errors?: unknown;
}

/** Fault and condition events (the `faults` and `network` blocks) as `events` points for annotations. */
export function eventPoints(
  blocks: Readonly<Record<string, unknown>> | undefined,
  tags: Readonly<Record<string, string>>,
  loadStartMs: number,
): Point[] {
  const points: Point[] = [];
  const eventsOf = (name: string): EventLike[] => {
    const events = (blocks?.[name] as { events?: unknown } | undefined)?.events;
    return Array.isArray(events) ? (events as EventLike[]) : [];
  };
  for (const event of eventsOf('faults')) {
    if (typeof event.fired_ms !== 'number') continue;
    const nodes = Array.isArray(event.nodes) ? event.nodes.join(',') : '';
    points.push({
      measurement: 'events',
      tags: { ...tags, kind: 'fault' },
      fields: {
        title: `${String(event.action)} ${nodes}`.trim(),
        text: `${String(event.cause ?? '')}${event.errors ? ` (errors: ${JSON.stringify(event.errors)})` : ''}`,
      },
      timeMs: loadStartMs + event.fired_ms,
    });
  }
  for (const event of eventsOf('network')) {
    if (typeof event.fired_ms !== 'number' || event.edge === 'tick') continue;
    points.push({
      measurement: 'events',
      tags: { ...tags, kind: 'condition' },
      fields: {
        title: `condition ${String(event.edge)}${typeof event.event === 'number' ? ` (events[${event.event}])` : ''}`,
        text: typeof event.live === 'string' ? event.live : '',
      },
      timeMs: loadStartMs + event.fired_ms,
    });
  }
  return points;
}
