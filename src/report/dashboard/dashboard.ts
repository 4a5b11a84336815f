/**
 * `--dashboard [PORT]`: the report page served live while the run goes, fed by server-sent
 * events, as k6's web dashboard is. One page: `GET /` is report.html's page (the same
 * renderer, src/report/html/render.ts) in live mode, `GET /events` the stream:
 *
 *   snapshot  {header, main, model}  the page so far: on connect (a late browser gets the
 *                                    history), when a level starts, when its record is in,
 *                                    and when the running level's first resource sample of a
 *                                    node comes (its charts need a place on the page)
 *   point     {level, t, sent, ok, committed, total, inFlight, p50, p99, keep}
 *                                    each progress tick of the generator (about once a second):
 *                                    the counts per second and the p50/p99 latency (ms) of the
 *                                    txs completed in that tick (merged exactly across the
 *                                    generator's threads; null when none completed)
 *   resources {level, t, node, cpu, memoryMb, keep}
 *                                    a node's sample as the resource monitor takes it
 *                                    (`--monitor`), at the record's time slot; null when down
 *   band      {level, id, kind, label, fromSecs, toSecs}
 *                                    a fault or network condition starts (toSecs null: open,
 *                                    the page stretches it as points come) or ends
 *   final     {header, main, model}  at the run's end: exactly report.html's model; the page
 *                                    stops listening and stays as the frozen report
 *
 * Two faces on one state: a sweep observer (preflight binds the port; level start, progress,
 * the plug-ins' live events through the sweep's one seam, `onLiveEvent`) and a reporter (each
 * record, then the run's end after report.html). The record replaces the running level's
 * live series when it comes (the per-second latency then by send second, as report.html).
 * Memory is bounded: the running level keeps its last MAX_LIVE_POINTS points per series, and
 * as many resource slots (each holding every node).
 */
import type { IntervalLatency, LoadProgress } from '../../load/types.js';
import { mergeIntervals } from '../../measure/interval.js';
import type { LevelStart, LiveEvent, SweepObserver } from '../../bench/observer.js';
import type { BenchmarkPlan } from '../../bench/plan.js';
import type { Reporter } from '../../results/reporter.js';
import type { BenchmarkRecord } from '../../results/schema.js';
import { recordFileName } from '../../results/recorder.js';
import { reportInputFor } from '../html-report.js';
import { reportAssets } from '../html/assets.js';
import {
  buildReportModel,
  levelKey,
  type Band,
  type LevelModel,
  type ReportInput,
  type ReportModel,
  type ResourceSeries,
} from '../html/model.js';
import { renderReportHeader, renderReportHtml, renderReportMain } from '../html/render.js';
import { DashboardServer, EVENTS_PATH } from './server.js';
import { sseEvent } from './sse.js';

/** The running level's series keeps this many points (an hour at one a second); older ones drop. */
export const MAX_LIVE_POINTS = 3600;
/** A new node's first resource sample: one snapshot for the nodes that start within this long. */
const NODES_SNAPSHOT_MS = 300;

export interface DashboardOptions {
  readonly host: string;
  readonly port: number;
  /** Whether the levels confirm commits (the series count commits, else accepted replies). */
  readonly confirmCommit: boolean;
  /** The URL line, once listening (stderr). */
  readonly say: (line: string) => void;
  /** Registers a cleanup for a forced exit (the CLI's shutdown.onForce). */
  readonly onForce?: (cleanup: () => Promise<void>) => () => void;
  readonly wallClock?: () => Date;
  readonly maxPoints?: number;
}

/** One point of the running level, as the `point` event carries it. */
export interface LivePoint {
  readonly level: string;
  /** Seconds since the level's load started. */
  readonly t: number;
  /** tx/s over the tick. */
  readonly sent: number;
  readonly ok: number;
  readonly committed: number;
  /** Committed (or accepted) so far. */
  readonly total: number;
  readonly inFlight: number;
  /** Latency (ms) of the txs completed in the tick, at the level's stage; null when none completed. */
  readonly p50: number | null;
  readonly p99: number | null;
  /** The page keeps this many points of the level (as the server does). */
  readonly keep: number;
}

/** A node's resource sample, as the `resources` event carries it. */
export interface LiveResources {
  readonly level: string;
  /** Seconds since the level's load started, at the report's slot (the monitor's interval). */
  readonly t: number;
  readonly node: string;
  /** Percent of one core; null: the node was down. */
  readonly cpu: number | null;
  readonly memoryMb: number | null;
  readonly keep: number;
}

/** A fault or condition window, as the `band` event carries it (toSecs null: still open). */
export interface LiveBand {
  readonly level: string;
  readonly id: string;
  readonly kind: 'fault' | 'condition';
  readonly label: string;
  readonly fromSecs: number;
  readonly toSecs: number | null;
}

/** What the page shows of a part: its header, its main part and the model its charts are drawn from. */
export interface DashboardSnapshot {
  readonly header: string;
  readonly main: string;
  readonly model: ReportModel;
}

interface LiveSeries {
  t: number[];
  sent: number[];
  ok: number[];
  committed: number[];
  total: number[];
  inFlight: number[];
  p50: (number | null)[];
  p99: (number | null)[];
}

interface LiveResourceSeries {
  t: number[];
  nodes: { id: string; cpu: (number | null)[]; memoryMb: (number | null)[] }[];
}

interface LiveWindow {
  readonly id: string;
  readonly kind: 'fault' | 'condition';
  readonly label: string;
  readonly fromSecs: number;
  toSecs: number | undefined;
}

interface LiveLevel {
  readonly key: string;
  readonly title: string;
  readonly warmupSecs: number;
  readonly untilSecs: number;
  readonly series: LiveSeries;
  last: { elapsedMs: number; sent: number; ok: number; committed: number };
  /** A tick folded into the next (too close to the one before): its latencies wait for that one. */
  carry: IntervalLatency | undefined;
  resources: LiveResourceSeries | undefined;
  readonly windows: LiveWindow[];
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

export class Dashboard {
  readonly #options: DashboardOptions;
  readonly #server: DashboardServer;
  readonly #records: { file: string; record: BenchmarkRecord }[] = [];
  #live: LiveLevel | undefined;
  #unregisterForce: (() => void) | undefined;
  #ended = false;
  /** A snapshot is due shortly (new nodes' resources): their samples go with it. */
  #snapshotTimer: NodeJS.Timeout | undefined;

  constructor(options: DashboardOptions) {
    this.#options = options;
    this.#server = new DashboardServer({
      host: options.host,
      port: options.port,
      page: async () =>
        renderReportHtml(this.#liveModel(), await reportAssets(), { live: { eventsPath: EVENTS_PATH } }),
      greeting: () => sseEvent('snapshot', JSON.stringify(this.snapshot())),
    });
  }

  get url(): string {
    return this.#server.url;
  }

  get server(): DashboardServer {
    return this.#server;
  }

  /** Binds the port (a busy one: exit 2, one line naming it) and prints the URL once. */
  async start(): Promise<void> {
    if (this.#server.listening) return;
    // The page's files are read now, so a missing one stops the run before it deploys.
    await reportAssets();
    await this.#server.start();
    this.#unregisterForce = this.#options.onForce?.(() => this.close());
    const open = this.#options.host === '0.0.0.0' || this.#options.host === '::';
    this.#options.say(
      `dashboard: ${this.url} (live while the run goes${open ? `; listening on every interface: anyone who reaches port ${this.#server.port} sees this run` : ''})`,
    );
  }

  /** Ends every stream and stops listening (idempotent). */
  async close(): Promise<void> {
    clearTimeout(this.#snapshotTimer);
    this.#snapshotTimer = undefined;
    this.#unregisterForce?.();
    this.#unregisterForce = undefined;
    await this.#server.close();
  }

  /** The page so far: the records' report with the running level after them. */
  snapshot(): DashboardSnapshot {
    const model = this.#liveModel();
    return {
      header: renderReportHeader(model, { live: { eventsPath: EVENTS_PATH } }),
      main: renderReportMain(model),
      model,
    };
  }

  readonly observer: SweepObserver = {
    name: 'dashboard',
    preflight: () => this.start(),
    onLevelStart: (level) => this.#levelStarted(level),
    onLoadProgress: (level, progress) => this.#progress(level, progress),
    onLiveEvent: (level, event) => this.#liveEvent(level, event),
  };

  readonly reporter: Reporter = {
    name: 'dashboard',
    onRecord: (record) => {
      this.#records.push({ file: recordFileName(record), record });
      if (this.#live?.key === levelKey(record)) this.#live = undefined;
      this.#broadcastSnapshot();
    },
    // After report.html: the same input, so the page becomes what the file shows.
    onRunEnd: (run) => this.finish(reportInputFor(run, this.#now())),
  };

  /**
   * The run's end: the page becomes the report made of `input` (report.html's input), the
   * browsers get it as `final` and stop listening, and the server closes.
   */
  async finish(input: ReportInput): Promise<void> {
    const model = buildReportModel(input);
    this.#ended = true;
    this.#live = undefined;
    clearTimeout(this.#snapshotTimer);
    const final: DashboardSnapshot = {
      header: renderReportHeader(model),
      main: renderReportMain(model),
      model,
    };
    this.#server.broadcast('final', JSON.stringify(final));
    await this.close();
  }

  #now(): string {
    return (this.#options.wallClock?.() ?? new Date()).toISOString();
  }

  #liveModel(): ReportModel {
    const model = buildReportModel({ records: this.#records, generatedAt: this.#now() });
    const live = this.#live;
    if (!live) return model;
    const lastT = live.series.t[live.series.t.length - 1] ?? 0;
    const bands: Band[] = live.windows.map((window) => ({
      fromSecs: window.fromSecs,
      toSecs: window.toSecs ?? Math.max(window.fromSecs, lastT),
      label: window.label,
      kind: window.kind,
      id: window.id,
      ...(window.toSecs === undefined ? { open: true } : {}),
    }));
    const resources: ResourceSeries | undefined = live.resources;
    const level: LevelModel = {
      key: live.key,
      title: live.title,
      stage: this.#options.confirmCommit ? 'commit' : 'ack',
      warmupSecs: live.warmupSecs,
      interrupted: false,
      series: live.series,
      untilSecs: live.untilSecs,
      bands,
      anomalies: [],
      ...(resources ? { resources } : {}),
    };
    return { ...model, levels: [...model.levels.filter((other) => other.key !== live.key), level] };
  }

  #broadcastSnapshot(): void {
    clearTimeout(this.#snapshotTimer);
    this.#snapshotTimer = undefined;
    if (this.#ended || this.#server.clients === 0) return;
    this.#server.broadcast('snapshot', JSON.stringify(this.snapshot()));
  }

  #levelStarted(level: LevelStart): void {
    const key = `${level.network}-${level.benchmarkNumber}`;
    const runs = level.run > 1 ? ` · run ${level.run}` : '';
    this.#live = {
      key,
      title: `${level.network} #${level.benchmarkNumber} · ${level.load} tx/s${runs} · running`,
      warmupSecs: level.warmupMs / 1000,
      untilSecs: (level.warmupMs + level.durationMs) / 1000,
      series: { t: [], sent: [], ok: [], committed: [], total: [], inFlight: [], p50: [], p99: [] },
      last: { elapsedMs: 0, sent: 0, ok: 0, committed: 0 },
      carry: undefined,
      resources: undefined,
      windows: [],
    };
    this.#broadcastSnapshot();
  }

  #progress(level: LevelStart, progress: LoadProgress): void {
    const live = this.#live;
    if (!live || live.key !== `${level.network}-${level.benchmarkNumber}`) return;
    const seconds = (progress.elapsedMs - live.last.elapsedMs) / 1000;
    // The last tick after the drain may follow the one before closely: fold it into the next, if any.
    if (seconds < 0.2) {
      live.carry = mergeIntervals([live.carry, progress.latency]);
      return;
    }
    const latency = mergeIntervals([live.carry, progress.latency]);
    live.carry = undefined;
    const timed = latency !== undefined && latency.count > 0;
    const confirmed = this.#options.confirmCommit ? progress.committed : progress.ok;
    const previous = this.#options.confirmCommit ? live.last.committed : live.last.ok;
    const point: LivePoint = {
      level: live.key,
      t: round(progress.elapsedMs / 1000, 1),
      sent: round((progress.sent - live.last.sent) / seconds, 1),
      ok: round((progress.ok - live.last.ok) / seconds, 1),
      committed: round((confirmed - previous) / seconds, 1),
      total: confirmed,
      inFlight: progress.inFlight,
      p50: timed ? latency.p50Ms : null,
      p99: timed ? latency.p99Ms : null,
      keep: this.#keep,
    };
    live.last = {
      elapsedMs: progress.elapsedMs,
      sent: progress.sent,
      ok: progress.ok,
      committed: progress.committed,
    };
    const series = live.series;
    series.t.push(point.t);
    series.sent.push(point.sent);
    series.ok.push(point.ok);
    series.committed.push(point.committed);
    series.total.push(point.total);
    series.inFlight.push(point.inFlight);
    series.p50.push(point.p50);
    series.p99.push(point.p99);
    if (series.t.length > point.keep) {
      for (const values of Object.values(series) as unknown[][]) values.splice(0, values.length - point.keep);
    }
    this.#server.broadcast('point', JSON.stringify(point));
  }

  get #keep(): number {
    return this.#options.maxPoints ?? MAX_LIVE_POINTS;
  }

  /** A plug-in's live event (the sweep's `publish` seam) for the running level. */
  #liveEvent(level: LevelStart, event: LiveEvent): void {
    const live = this.#live;
    if (!live || live.key !== `${level.network}-${level.benchmarkNumber}`) return;
    switch (event.kind) {
      case 'resource-sample':
        return this.#resourceSample(live, event);
      case 'window-start':
      case 'window-end':
        return this.#window(live, event);
    }
  }

  /** A node's sample into the running level's resource series, slotted as the report slots the record's. */
  #resourceSample(live: LiveLevel, event: Extract<LiveEvent, { kind: 'resource-sample' }>): void {
    const intervalSecs = Math.max(0.1, event.intervalMs / 1000);
    const t = round(Math.round(event.atMs / 1000 / intervalSecs) * intervalSecs, 3);
    const cpu = event.figures ? event.figures.cpuPercent : null;
    const memoryMb = event.figures ? round(event.figures.memoryBytes / 1e6, 2) : null;
    const resources = (live.resources ??= { t: [], nodes: [] });
    let node = resources.nodes.find((candidate) => candidate.id === event.node);
    const added = node === undefined;
    if (!node) {
      node = {
        id: event.node,
        cpu: resources.t.map(() => null),
        memoryMb: resources.t.map(() => null),
      };
      resources.nodes.push(node);
    }
    const sample: LiveResources = { level: live.key, t, node: event.node, cpu, memoryMb, keep: this.#keep };
    placeResourceSample(resources, sample);
    // A node the page has no line for yet: the page is sent again (once for the nodes starting together).
    if (added || this.#snapshotTimer) {
      if (!this.#snapshotTimer && !this.#ended) {
        this.#snapshotTimer = setTimeout(() => this.#broadcastSnapshot(), NODES_SNAPSHOT_MS);
        this.#snapshotTimer.unref();
      }
      return;
    }
    this.#server.broadcast('resources', JSON.stringify(sample));
  }

  #window(live: LiveLevel, event: Extract<LiveEvent, { kind: 'window-start' | 'window-end' }>): void {
    const atSecs = round(event.atMs / 1000, 3);
    let window = live.windows.find((candidate) => candidate.id === event.id);
    if (event.kind === 'window-start') {
      if (window) return;
      window = {
        id: event.id,
        kind: event.category,
        label: event.label,
        fromSecs: atSecs,
        toSecs: undefined,
      };
      live.windows.push(window);
      if (live.windows.length > this.#keep) live.windows.splice(0, live.windows.length - this.#keep);
    } else {
      if (!window || window.toSecs !== undefined) return;
      window.toSecs = Math.max(window.fromSecs, atSecs);
    }
    const band: LiveBand = {
      level: live.key,
      id: window.id,
      kind: window.kind,
      label: window.label,
      fromSecs: window.fromSecs,
      toSecs: window.toSecs ?? null,
    };
    this.#server.broadcast('band', JSON.stringify(band));
  }
}

/**
 * Puts a sample at its time slot (a new slot in time order; every other node null there),
 * keeping the last `keep` slots. page.js does the same with the `resources` event.
 */
function placeResourceSample(resources: LiveResourceSeries, sample: LiveResources): void {
  const node = resources.nodes.find((candidate) => candidate.id === sample.node);
  if (!node) return;
  let index = resources.t.length - 1;
  while (index >= 0 && (resources.t[index] as number) > sample.t) index--;
  if (index < 0 || resources.t[index] !== sample.t) {
    index++;
    resources.t.splice(index, 0, sample.t);
    for (const other of resources.nodes) {
      other.cpu.splice(index, 0, null);
      other.memoryMb.splice(index, 0, null);
    }
  }
  node.cpu[index] = sample.cpu;
  node.memoryMb[index] = sample.memoryMb;
  const drop = resources.t.length - sample.keep;
  if (drop > 0) {
    resources.t.splice(0, drop);
    for (const other of resources.nodes) {
      other.cpu.splice(0, drop);
      other.memoryMb.splice(0, drop);
    }
  }
}

/** The dashboard a plan asks for (`--dashboard`), or undefined: the one place it is registered from. */
export function dashboardFor(
  plan: BenchmarkPlan,
  context: Pick<DashboardOptions, 'say' | 'onForce'>,
): Dashboard | undefined {
  if (!plan.dashboard) return undefined;
  return new Dashboard({
    host: plan.dashboard.host,
    port: plan.dashboard.port,
    confirmCommit: plan.confirm === 'commit',
    ...context,
  });
}
