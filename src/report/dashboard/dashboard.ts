/**
 * `--dashboard [PORT]`: the report page served live while the run goes, fed by server-sent
 * events, as k6's web dashboard is. One page: `GET /` is report.html's page (the same
 * renderer, src/report/html/render.ts) in live mode, `GET /events` the stream:
 *
 *   snapshot  {header, main, model}  the page so far: on connect (a late browser gets the
 *                                    history), when a level starts and when its record is in
 *   point     {level, t, sent, ok, committed, total, inFlight, keep}
 *                                    each progress tick of the generator (about once a second):
 *                                    the running level's per-second series grows by one point
 *   final     {header, main, model}  at the run's end: exactly report.html's model; the page
 *                                    stops listening and stays as the frozen report
 *
 * Two faces on one state: a sweep observer (preflight binds the port; level start, progress,
 * load end) and a reporter (each record, then the run's end after report.html). Latency, the
 * nodes' resources and the fault and condition windows come with the level's record: the
 * generator's progress carries counts only, and the plug-ins publish their series at the
 * level's end. Memory is bounded: the running level keeps its last MAX_LIVE_POINTS points.
 */
import type { LoadProgress } from '../../load/types.js';
import type { LevelStart, SweepObserver } from '../../bench/observer.js';
import type { BenchmarkPlan } from '../../bench/plan.js';
import type { Reporter } from '../../results/reporter.js';
import type { BenchmarkRecord } from '../../results/schema.js';
import { recordFileName } from '../../results/recorder.js';
import { reportInputFor } from '../html-report.js';
import { reportAssets } from '../html/assets.js';
import { buildReportModel, levelKey, type LevelModel, type ReportModel } from '../html/model.js';
import { renderReportHeader, renderReportHtml, renderReportMain } from '../html/render.js';
import { DashboardServer, EVENTS_PATH } from './server.js';
import { sseEvent } from './sse.js';

/** The running level's series keeps this many points (an hour at one a second); older ones drop. */
export const MAX_LIVE_POINTS = 3600;

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
  /** The page keeps this many points of the level (as the server does). */
  readonly keep: number;
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
  p50: null[];
  p99: null[];
}

interface LiveLevel {
  readonly key: string;
  readonly title: string;
  readonly warmupSecs: number;
  readonly untilSecs: number;
  readonly series: LiveSeries;
  last: { elapsedMs: number; sent: number; ok: number; committed: number };
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

export class Dashboard {
  readonly #options: DashboardOptions;
  readonly #server: DashboardServer;
  readonly #records: { file: string; record: BenchmarkRecord }[] = [];
  #live: LiveLevel | undefined;
  #unregisterForce: (() => void) | undefined;
  #ended = false;

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
  };

  readonly reporter: Reporter = {
    name: 'dashboard',
    onRecord: (record) => {
      this.#records.push({ file: recordFileName(record), record });
      if (this.#live?.key === levelKey(record)) this.#live = undefined;
      this.#broadcastSnapshot();
    },
    onRunEnd: async (run) => {
      // After report.html: the same input, so the page becomes what the file shows.
      const model = buildReportModel(reportInputFor(run, this.#now()));
      this.#ended = true;
      this.#live = undefined;
      const final: DashboardSnapshot = {
        header: renderReportHeader(model),
        main: renderReportMain(model),
        model,
      };
      this.#server.broadcast('final', JSON.stringify(final));
      await this.close();
    },
  };

  #now(): string {
    return (this.#options.wallClock?.() ?? new Date()).toISOString();
  }

  #liveModel(): ReportModel {
    const model = buildReportModel({ records: this.#records, generatedAt: this.#now() });
    const live = this.#live;
    if (!live) return model;
    const level: LevelModel = {
      key: live.key,
      title: live.title,
      stage: this.#options.confirmCommit ? 'commit' : 'ack',
      warmupSecs: live.warmupSecs,
      interrupted: false,
      series: live.series,
      untilSecs: live.untilSecs,
      bands: [],
      anomalies: [],
    };
    return { ...model, levels: [...model.levels.filter((other) => other.key !== live.key), level] };
  }

  #broadcastSnapshot(): void {
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
    };
    this.#broadcastSnapshot();
  }

  #progress(level: LevelStart, progress: LoadProgress): void {
    const live = this.#live;
    if (!live || live.key !== `${level.network}-${level.benchmarkNumber}`) return;
    const seconds = (progress.elapsedMs - live.last.elapsedMs) / 1000;
    // The last tick after the drain may follow the one before closely: fold it into the next, if any.
    if (seconds < 0.2) return;
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
      keep: this.#options.maxPoints ?? MAX_LIVE_POINTS,
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
    series.p50.push(null);
    series.p99.push(null);
    if (series.t.length > point.keep) {
      for (const values of Object.values(series) as unknown[][]) values.splice(0, values.length - point.keep);
    }
    this.#server.broadcast('point', JSON.stringify(point));
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
