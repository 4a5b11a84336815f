/**
 * What the HTML report shows, built from the records alone: the summary rows, the curves
 * across levels, each level's series with its fault and condition windows, resources,
 * the node map, anomalies and the configuration. Plain data, so the page script draws it
 * and a test can compare it with the records. Records may be partial (an interrupted run,
 * one level, one node, no time series): every part is optional downstream.
 */
import type { BenchmarkRecord, RunDetail } from '../../results/schema.js';
import { sendLagNote } from '../console.js';
import { earlyNote } from '../../monitor/mesh/figures.js';
import {
  latencyAnomalies,
  memoryGrowth,
  throughputAnomalies,
  type Anomaly,
  type SeriesPoint,
} from './anomalies.js';

/** At most this many frames of the node map (a long level is sampled evenly). */
const MAP_MAX_FRAMES = 600;
/**
 * At most this many points per series on a time chart: a longer level is drawn in buckets
 * (the mean; for latency the bucket's maximum, so a spike stays visible). A chart is about
 * 1,200 px wide, so more points would not show; anomalies are judged on every point.
 */
const SERIES_MAX_POINTS = 1200;

export interface SummaryRow {
  readonly key: string;
  readonly network: string;
  readonly level: number;
  readonly nodes: number;
  readonly load: number;
  readonly runs: number;
  readonly interrupted: boolean;
  readonly stage: string;
  readonly throughput: number;
  readonly efficiency: number;
  readonly mean: number;
  readonly stddev: number;
  readonly p50: number;
  readonly p99: number;
  readonly ok: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly file: string;
}

export interface CurvePoint {
  readonly load: number;
  readonly throughput: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface Curve {
  readonly name: string;
  readonly points: readonly CurvePoint[];
}

export interface Band {
  readonly fromSecs: number;
  readonly toSecs: number;
  readonly label: string;
  readonly kind: 'fault' | 'condition';
  /** A running level's window (the live dashboard): its id, which its end names. */
  readonly id?: string;
  /** Not closed yet (the live dashboard): the page stretches it to the series' last point. */
  readonly open?: boolean;
}

export interface LevelSeries {
  readonly t: number[];
  readonly sent: number[];
  readonly ok: number[];
  /** Committed (or accepted) txs by the second they were sent in. */
  readonly committed: number[];
  /** Committed (or accepted) txs by the second the confirmation arrived in (absent in older records). */
  readonly arrived?: number[];
  readonly p50: (number | null)[];
  readonly p99: (number | null)[];
  readonly total: number[];
  /** Requests in flight at each point (the live dashboard's running level only). */
  readonly inFlight?: number[];
}

export interface ResourceSeries {
  readonly t: number[];
  readonly nodes: readonly { id: string; cpu: (number | null)[]; memoryMb: (number | null)[] }[];
}

export interface NodeMap {
  readonly t: number[];
  readonly nodes: Readonly<Record<string, (readonly [number, number])[]>>;
  /** One per node pair: the worse direction's loss (%) and delay (ms), and whether it was up. */
  readonly links: readonly { a: string; b: string; up: boolean[]; loss: number[]; delay: number[] }[];
  readonly layout: 'positions' | 'zones';
  readonly zones?: Readonly<Record<string, string>>;
}

export interface LevelModel {
  readonly key: string;
  readonly title: string;
  readonly stage: string;
  readonly warmupSecs: number;
  readonly interrupted: boolean;
  readonly series?: LevelSeries;
  readonly bands: readonly Band[];
  readonly anomalies: readonly Anomaly[];
  readonly resources?: ResourceSeries;
  readonly map?: NodeMap;
  /** A mesh's deliveries (the record's `mesh` block): who got what from whom, how fast. */
  readonly deliveries?: Deliveries;
  /** The propagation probes (the record's `propagation` block): submitted on one node, seen on each. */
  readonly propagation?: Propagation;
  /** A running level (the live dashboard): its time axis runs to the level's planned end, so the charts grow. */
  readonly untilSecs?: number;
  /** When most of the median latency is the generator's own send lag (../console.ts, sendLagNote). */
  readonly sendLag?: string;
}

/** The `mesh` block as the page shows it: the p50/p99 matrix and each receiver's share. */
export interface Deliveries {
  readonly nodes: readonly string[];
  /** `[origin][receiver]`, ms; null where nothing arrived (and on the diagonal). */
  readonly p50: readonly (readonly (number | null)[])[];
  readonly p99: readonly (readonly (number | null)[])[];
  readonly receivers: readonly {
    readonly node: string;
    readonly ratio: number | null;
    readonly duplicates: number;
    readonly missing: number;
  }[];
  readonly messages: number;
  readonly everywhere: number;
  readonly neverDelivered?: number;
  readonly note?: string;
  /** The line on deliveries read before their origin's own event, when they are many (src/monitor/mesh/figures.ts). */
  readonly early?: string;
  readonly windows: readonly {
    readonly label: string;
    readonly published: number;
    readonly receivers: readonly {
      readonly node: string;
      readonly missing: number;
      readonly resyncMs: number | null;
    }[];
  }[];
}

/** The `propagation` block as the page shows it: the p50/p99 matrix, the diagonal a node's own. */
export interface Propagation {
  readonly method: string;
  readonly nodes: readonly string[];
  /** `[submitted on][committed on]`, ms; the diagonal is the node's own (`self`); null where none completed. */
  readonly p50: readonly (readonly (number | null)[])[];
  readonly p99: readonly (readonly (number | null)[])[];
  readonly sent: number;
  readonly complete: number;
  readonly refused: number;
  /** The nodes' own peer round trips (median over the level), `[node][peer]`, ms, where they export them. */
  readonly rttMs?: readonly (readonly (number | null)[])[];
}

export interface ConfigGroup {
  readonly title: string;
  readonly rows: readonly (readonly [string, string])[];
}

export interface ReportModel {
  readonly title: string;
  readonly runIds: readonly string[];
  readonly generatedAt: string;
  readonly summary: readonly SummaryRow[];
  readonly curves: readonly Curve[];
  readonly levels: readonly LevelModel[];
  readonly findings: readonly string[];
  readonly findingsTitle: string;
  readonly config: readonly ConfigGroup[];
  readonly files: readonly string[];
}

export interface ReportInput {
  /** The records, each with the name of its file in the run folder. */
  readonly records: readonly { readonly file: string; readonly record: BenchmarkRecord }[];
  /** Findings of the local-vs-remote comparison (comparison.json), if any. */
  readonly findings?: readonly string[];
  /** The heading over the findings (default: Local vs remote). */
  readonly findingsTitle?: string;
  /** Other files to link (comparison.json, summary.txt, run.json). */
  readonly extraFiles?: readonly string[];
  readonly generatedAt: string;
}

type Loose = Readonly<Record<string, unknown>>;

function object(value: unknown): Loose | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : undefined;
}

function array(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The strings of a list (anything else in it skipped). */
function strings(value: unknown): string[] {
  return array(value).filter((item): item is string => typeof item === 'string');
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function levelKey(record: BenchmarkRecord): string {
  return `${record.network_type}-${record.benchmark_number}`;
}

function failuresOf(record: BenchmarkRecord): Record<string, number> {
  const outcomes = record.results.outcomes;
  const sum = (counts: Readonly<Record<string, number>>): number =>
    Object.values(counts).reduce((total, value) => total + value, 0);
  const failures: Record<string, number> = {
    rejected: sum(outcomes.rejected),
    http: sum(outcomes.httpError),
    'bad reply': outcomes.badResponse,
    timeout: outcomes.timeout,
    connection: outcomes.connectionError,
    dropped: outcomes.dropped,
    'commit timeout': outcomes.commitTimeout,
  };
  return failures;
}

function summaryRow(file: string, record: BenchmarkRecord): SummaryRow {
  const results = record.results;
  return {
    key: levelKey(record),
    network: record.network_type,
    level: record.benchmark_number,
    nodes: record.parameters.nodes,
    load: record.parameters.load,
    runs: record.runs.length,
    interrupted: record.interrupted,
    stage: results.latency_stage,
    throughput: results.throughput,
    efficiency: results.efficiency,
    mean: results.avg_latency_ms,
    stddev: results.latency_std_dev_ms,
    p50: results.latency_percentiles_ms.p50,
    p99: results.latency_percentiles_ms.p99,
    ok: results.successful_transactions,
    failures: failuresOf(record),
    file,
  };
}

function curvesOf(records: readonly BenchmarkRecord[]): Curve[] {
  const committees = new Set(records.map((record) => record.parameters.nodes));
  const groups = new Map<string, BenchmarkRecord[]>();
  for (const record of records) {
    const name =
      committees.size > 1 ? `${record.network_type}, ${record.parameters.nodes} nodes` : record.network_type;
    groups.set(name, [...(groups.get(name) ?? []), record]);
  }
  return [...groups].map(([name, group]) => ({
    name,
    points: group
      .map((record) => ({
        load: record.parameters.load,
        throughput: record.results.throughput,
        mean: record.results.avg_latency_ms,
        p50: record.results.latency_percentiles_ms.p50,
        p90: record.results.latency_percentiles_ms.p90,
        p99: record.results.latency_percentiles_ms.p99,
        max: record.results.latency_percentiles_ms.max,
      }))
      .sort((x, y) => x.load - y.load || x.throughput - y.throughput),
  }));
}

/** Averages consecutive points into buckets so that at most `max` remain (null-aware). */
function bucket<T extends number | null>(
  values: readonly T[],
  size: number,
  mode: 'mean' | 'max' = 'mean',
): T[] {
  if (size <= 1) return [...values];
  const out: T[] = [];
  for (let start = 0; start < values.length; start += size) {
    let total = 0;
    let count = 0;
    let max = -Infinity;
    for (let index = start; index < Math.min(values.length, start + size); index++) {
      const value = values[index];
      if (value !== null && value !== undefined) {
        total += value;
        count++;
        max = Math.max(max, value);
      }
    }
    out.push((count === 0 ? null : mode === 'max' ? max : round(total / count, 3)) as T);
  }
  return out;
}

/** Every size-th value (times, running totals). */
function pick<T>(values: readonly T[], size: number): T[] {
  return size <= 1 ? [...values] : values.filter((_, index) => index % size === 0);
}

function seriesOf(
  record: BenchmarkRecord,
  run: RunDetail,
  maxPoints = SERIES_MAX_POINTS,
): LevelSeries | undefined {
  const samples = run.results.time_series ?? record.results.time_series;
  if (!samples || samples.length === 0) return undefined;
  const commit = record.results.latency_stage === 'commit';
  const offset = run.results.warmup_secs;
  const t: number[] = [];
  const sent: number[] = [];
  const ok: number[] = [];
  const committed: number[] = [];
  const arrived: number[] = [];
  let hasArrivals = false;
  const p50: (number | null)[] = [];
  const p99: (number | null)[] = [];
  for (const sample of samples) {
    t.push(round(sample.second + offset, 3));
    sent.push(sample.sent);
    ok.push(sample.ok);
    committed.push(commit ? sample.committed : sample.ok);
    const arrival = commit ? sample.committedArrived : sample.okArrived;
    if (arrival !== undefined) hasArrivals = true;
    arrived.push(arrival ?? 0);
    const median = commit ? sample.commitP50Ms : sample.ackP50Ms;
    const tail = commit ? sample.commitP99Ms : sample.ackP99Ms;
    // A second with no completed tx has no latency (0 in the record): a gap, not a zero.
    const done = commit ? sample.committed : sample.ok;
    p50.push(done > 0 && median !== undefined ? median : null);
    p99.push(done > 0 && tail !== undefined ? tail : null);
  }
  const size = Math.ceil(t.length / maxPoints);
  const total: number[] = [];
  let running = 0;
  for (const value of committed) total.push((running += value));
  return {
    t: pick(t, size),
    sent: bucket(sent, size),
    ok: bucket(ok, size),
    committed: bucket(committed, size),
    ...(hasArrivals ? { arrived: bucket(arrived, size) } : {}),
    p50: bucket(p50, size, 'max'),
    p99: bucket(p99, size, 'max'),
    total: pick(total, size),
  };
}

function bandsOf(run: RunDetail, endSecs: number): Band[] {
  const bands: Band[] = [];
  const faults = object(run.blocks?.['faults']);
  for (const fault of array(faults?.['faults'])) {
    const entry = object(fault);
    const down = num(entry?.['down_ms']);
    if (!entry || down === undefined) continue;
    const up = num(entry['up_ms']);
    const nodes = array(entry['nodes']).map(String).join(', ');
    bands.push({
      fromSecs: round(down / 1000, 3),
      toSecs: round(up === undefined ? endSecs : up / 1000, 3),
      label: `${str(entry['action']) ?? 'fault'} ${nodes}`.trim(),
      kind: 'fault',
    });
  }
  const network = object(run.blocks?.['network']);
  for (const window of array(network?.['windows'])) {
    const entry = object(window);
    const from = num(entry?.['from_ms']);
    if (!entry || from === undefined) continue;
    const to = num(entry['to_ms']);
    const what = (str(entry['what']) ?? 'condition').replace(/ \(events\[\d+\]\)$/, '');
    bands.push({
      fromSecs: round(from / 1000, 3),
      toSecs: round(to === undefined ? endSecs : to / 1000, 3),
      label: what,
      kind: 'condition',
    });
  }
  return bands;
}

/** A level's resource samples up to `untilSecs` (its end: samples taken while it settled are left out). */
function resourcesOf(
  run: RunDetail,
  maxPoints = SERIES_MAX_POINTS,
  untilSecs = Infinity,
): ResourceSeries | undefined {
  const block = object(run.blocks?.['resources']);
  const nodes = array(block?.['nodes'])
    .map(object)
    .filter((node): node is Loose => node !== undefined);
  if (nodes.length === 0) return undefined;
  const intervalSecs = Math.max(0.1, (num(block?.['interval_ms']) ?? 1000) / 1000);
  const slot = (atSecs: number): number => round(Math.round(atSecs / intervalSecs) * intervalSecs, 3);
  const times = new Set<number>();
  const perNode = nodes.map((node) => {
    const cpu = new Map<number, number | null>();
    const memory = new Map<number, number | null>();
    for (const sample of array(node['series'])) {
      const entry = object(sample);
      const at = num(entry?.['t_s']);
      if (!entry || at === undefined || at > untilSecs) continue;
      const key = slot(at);
      times.add(key);
      const down = entry['down'] === true;
      cpu.set(key, down ? null : (num(entry['cpu_percent']) ?? null));
      const bytes = num(entry['memory_bytes']);
      memory.set(key, down || bytes === undefined ? null : round(bytes / 1e6, 2));
    }
    return { id: str(node['node_id']) ?? '?', cpu, memory };
  });
  const t = [...times].sort((x, y) => x - y);
  if (t.length === 0) return undefined;
  const size = Math.ceil(t.length / maxPoints);
  return {
    t: pick(t, size),
    nodes: perNode.map((node) => ({
      id: node.id,
      cpu: bucket(
        t.map((at) => node.cpu.get(at) ?? null),
        size,
      ),
      memoryMb: bucket(
        t.map((at) => node.memory.get(at) ?? null),
        size,
      ),
    })),
  };
}

function sampleIndexes(length: number): number[] {
  const step = Math.max(1, Math.ceil(length / MAP_MAX_FRAMES));
  const indexes: number[] = [];
  for (let index = 0; index < length; index += step) indexes.push(index);
  if (indexes[indexes.length - 1] !== length - 1 && length > 0) indexes.push(length - 1);
  return indexes;
}

function mapOf(run: RunDetail): NodeMap | undefined {
  const network = object(run.blocks?.['network']);
  if (!network) return undefined;
  const quality = object(network['quality']);
  const positions = object(network['positions']);
  const conditions = object(network['conditions']);
  const zones = object(conditions?.['zones']);
  if (!positions && !zones) return undefined;
  const qualityT = array(quality?.['t_s']).map((value) => num(value) ?? 0);
  const positionT = array(positions?.['t_s']).map((value) => num(value) ?? 0);
  const base = qualityT.length >= positionT.length ? qualityT : positionT;
  if (base.length === 0) return undefined;
  const frames = sampleIndexes(base.length);
  const t = frames.map((index) => base[index] ?? 0);
  const nodes: Record<string, (readonly [number, number])[]> = {};
  // Each frame's index in the positions' own clock (both sorted): one pass, not a search per node.
  const positionIndex: number[] = [];
  let cursor = 0;
  for (const at of t) {
    while (cursor < positionT.length - 1 && (positionT[cursor] ?? 0) < at) cursor++;
    positionIndex.push(cursor);
  }
  for (const [node, track] of Object.entries(object(positions?.['nodes']) ?? {})) {
    const points = array(track);
    nodes[node] = positionIndex.map((index) => {
      const pair = array(points[Math.min(points.length - 1, index)]);
      return [num(pair[0]) ?? 0, num(pair[1]) ?? 0] as const;
    });
  }
  const pairs = new Map<string, { a: string; b: string; up: boolean[]; loss: number[]; delay: number[] }>();
  for (const [name, link] of Object.entries(object(quality?.['links']) ?? {})) {
    const [from, to] = name.split('->');
    const entry = object(link);
    if (!from || !to || !entry) continue;
    const [a, b] = from < to ? [from, to] : [to, from];
    const key = `${a}<->${b}`;
    const up = array(entry['up']);
    const loss = array(entry['loss_pct']);
    const delay = array(entry['delay_ms']);
    const current = pairs.get(key);
    const pick = (values: readonly unknown[], fallback: number): number[] =>
      frames.map((index) => num(values[index]) ?? fallback);
    const next = {
      a,
      b,
      up: frames.map((index) => up[index] !== false),
      loss: pick(loss, 0),
      delay: pick(delay, 0),
    };
    if (!current) pairs.set(key, next);
    else {
      // Both directions: draw the worse one.
      for (let index = 0; index < frames.length; index++) {
        current.up[index] = (current.up[index] ?? true) && (next.up[index] ?? true);
        current.loss[index] = Math.max(current.loss[index] ?? 0, next.loss[index] ?? 0);
        current.delay[index] = Math.max(current.delay[index] ?? 0, next.delay[index] ?? 0);
      }
    }
  }
  for (const pair of pairs.values()) {
    for (const node of [pair.a, pair.b]) if (!nodes[node]) nodes[node] = [];
  }
  const assignment = object(zones?.['assignment']) ?? object(zones?.['nodes']);
  const zoneOf: Record<string, string> = {};
  for (const [node, zone] of Object.entries(assignment ?? {})) {
    if (typeof zone !== 'string') continue;
    zoneOf[node] = zone;
    if (!nodes[node]) nodes[node] = [];
  }
  return {
    t,
    nodes,
    links: [...pairs.values()],
    layout: positions ? 'positions' : 'zones',
    ...(Object.keys(zoneOf).length > 0 ? { zones: zoneOf } : {}),
  };
}

function anomaliesOf(
  series: LevelSeries | undefined,
  resources: ResourceSeries | undefined,
  warmupSecs: number,
): Anomaly[] {
  const out: Anomaly[] = [];
  if (series) {
    const measured = (values: readonly (number | null)[]): SeriesPoint[] =>
      series.t.flatMap((atSecs, index) => {
        const value = values[index];
        // The last second is often partial (the load ended within it): left out.
        return atSecs >= warmupSecs && index < series.t.length - 1 && value !== null && value !== undefined
          ? [{ atSecs, value }]
          : [];
      });
    // Drops are judged on arrivals (a stall shows there at once), else by send second.
    const throughputMarks = throughputAnomalies(measured(series.arrived ?? series.committed)).map(
      (anomaly) => ({
        ...anomaly,
        chart: series.arrived ? ('arrived' as const) : ('throughput' as const),
      }),
    );
    out.push(...throughputMarks, ...latencyAnomalies(measured(series.p99)));
  }
  for (const node of resources?.nodes ?? []) {
    const points = resources?.t.flatMap((atSecs, index) => {
      const value = node.memoryMb[index];
      return value === null || value === undefined ? [] : [{ atSecs, value: value * 1e6 }];
    });
    const growth = memoryGrowth(node.id, points ?? []);
    if (growth) out.push(growth);
  }
  return out.sort((x, y) => x.atSecs - y.atSecs);
}

function levelOf(record: BenchmarkRecord): LevelModel {
  const run = record.runs[0];
  const runsNote = record.runs.length > 1 ? ` · run 1 of ${record.runs.length}` : '';
  const title = `${record.network_type} #${record.benchmark_number} · ${record.parameters.load} tx/s · ${record.parameters.nodes} node${record.parameters.nodes === 1 ? '' : 's'}${runsNote}${record.interrupted ? ' · interrupted' : ''}`;
  const warmupSecs = run?.results.warmup_secs ?? record.results.warmup_secs;
  if (!run) {
    return {
      key: levelKey(record),
      title,
      stage: record.results.latency_stage,
      warmupSecs,
      interrupted: record.interrupted,
      bands: [],
      anomalies: [],
    };
  }
  const series = seriesOf(record, run);
  const endSecs = series?.t[series.t.length - 1] ?? record.parameters.duration;
  // The resource charts end where the level's load does, as its other charts (not 12 s later, at the settle's end).
  const resources = resourcesOf(run, SERIES_MAX_POINTS, Math.max(endSecs + 1, record.parameters.duration));
  const map = mapOf(run);
  const deliveries = deliveriesOf(run);
  const propagation = propagationOf(run);
  // Anomalies are judged on every point, before the charts' buckets.
  const anomalies = anomaliesOf(seriesOf(record, run, Infinity), resourcesOf(run, Infinity), warmupSecs);
  const sendLag = sendLagNote(record.results);
  return {
    key: levelKey(record),
    title,
    stage: record.results.latency_stage,
    warmupSecs,
    interrupted: record.interrupted,
    ...(sendLag ? { sendLag } : {}),
    ...(series ? { series } : {}),
    bands: bandsOf(run, endSecs + 1),
    anomalies,
    ...(resources ? { resources } : {}),
    ...(map ? { map } : {}),
    ...(deliveries ? { deliveries } : {}),
    ...(propagation ? { propagation } : {}),
  };
}

/** `[from][to]` matrices of p50 and p99 over `nodes` from a block's pairs (and its nodes' own, on the diagonal). */
function pairMatrices(
  nodes: readonly string[],
  pairs: readonly unknown[],
  self: readonly unknown[] = [],
): { p50: (number | null)[][]; p99: (number | null)[][] } {
  const index = new Map(nodes.map((node, i) => [node, i]));
  const empty = () => nodes.map(() => nodes.map((): number | null => null));
  const p50 = empty();
  const p99 = empty();
  const put = (from: number | undefined, to: number | undefined, entry: Loose | undefined) => {
    if (from === undefined || to === undefined) return;
    (p50[from] as (number | null)[])[to] = num(entry?.['p50_ms']) ?? null;
    (p99[from] as (number | null)[])[to] = num(entry?.['p99_ms']) ?? null;
  };
  for (const pair of pairs.map(object))
    put(index.get(str(pair?.['from']) ?? ''), index.get(str(pair?.['to']) ?? ''), pair);
  for (const own of self.map(object)) {
    const at = index.get(str(own?.['node']) ?? '');
    put(at, at, own);
  }
  return { p50, p99 };
}

/** The run's `propagation` block, read loosely as records of any version. */
function propagationOf(run: {
  readonly blocks?: Readonly<Record<string, unknown>>;
}): Propagation | undefined {
  const block = object(run.blocks?.['propagation']);
  if (!block) return undefined;
  const nodes = strings(block['nodes']);
  if (nodes.length === 0) return undefined;
  const { p50, p99 } = pairMatrices(nodes, array(block['pairs']), array(block['self']));
  const probes = object(block['probes']);
  const rtt = object(block['peer_rtt_ms']);
  return {
    method: str(block['method']) ?? '',
    nodes,
    p50,
    p99,
    sent: num(probes?.['sent']) ?? 0,
    complete: num(probes?.['complete']) ?? 0,
    refused: num(probes?.['refused']) ?? 0,
    ...(rtt ? { rttMs: nodes.map((from) => nodes.map((to) => num(object(rtt[from])?.[to]) ?? null)) } : {}),
  };
}

/** A block's list of per-node entries (`[{node, …}]`), each read by `read`; entries without a node are skipped. */
function perNode<T>(list: unknown, read: (entry: Loose) => T): (T & { readonly node: string })[] {
  return array(list).flatMap((item) => {
    const entry = object(item);
    const node = str(entry?.['node']);
    return entry === undefined || node === undefined ? [] : [{ node, ...read(entry) }];
  });
}

/** The run's `mesh` block (a mesh protocol's level), read loosely as records of any version. */
function deliveriesOf(run: { readonly blocks?: Readonly<Record<string, unknown>> }): Deliveries | undefined {
  const block = object(run.blocks?.['mesh']);
  if (!block) return undefined;
  const nodes = strings(block['nodes']);
  const { p50, p99 } = pairMatrices(nodes, array(block['pairs']));
  const neverDelivered = num(block['never_delivered']);
  const note = str(block['note']);
  const early = earlyNote(
    array(block['pairs']).flatMap((entry) => {
      const pair = object(entry);
      return pair ? [{ count: num(pair['count']) ?? 0, early: num(pair['early']) ?? 0 }] : [];
    }),
  );
  return {
    nodes,
    p50,
    p99,
    receivers: perNode(block['receivers'], (receiver) => ({
      ratio: num(receiver['ratio']) ?? null,
      duplicates: num(receiver['duplicates']) ?? 0,
      missing: num(receiver['missing']) ?? 0,
    })),
    messages: num(block['messages']) ?? 0,
    everywhere: num(block['delivered_everywhere']) ?? 0,
    ...(neverDelivered === undefined ? {} : { neverDelivered }),
    ...(note === undefined ? {} : { note }),
    ...(early === undefined ? {} : { early }),
    windows: array(block['windows']).flatMap((entry) => {
      const window = object(entry);
      if (!window) return [];
      return [
        {
          label: str(window['label']) ?? str(window['id']) ?? 'window',
          published: num(window['published']) ?? 0,
          receivers: perNode(window['receivers'], (receiver) => ({
            missing: num(receiver['missing']) ?? 0,
            resyncMs: num(receiver['resync_ms']) ?? null,
          })),
        },
      ];
    }),
  };
}

function flatten(prefix: string, value: unknown, rows: [string, string][], depth: number): void {
  if (rows.length >= 80) return;
  if (value === null || value === undefined) return;
  if (typeof value !== 'object') {
    rows.push([prefix, String(value)]);
    return;
  }
  if (Array.isArray(value)) {
    if (value.every((item) => typeof item !== 'object' || item === null)) {
      if (value.length > 0) rows.push([prefix, value.join(', ')]);
      return;
    }
    if (depth <= 0) return;
    value.forEach((item, index) => flatten(`${prefix}[${index}]`, item, rows, depth - 1));
    return;
  }
  if (depth <= 0) return;
  for (const [key, item] of Object.entries(value))
    flatten(prefix ? `${prefix}.${key}` : key, item, rows, depth - 1);
}

function configOf(records: readonly BenchmarkRecord[]): ConfigGroup[] {
  const groups: ConfigGroup[] = [];
  for (const networkType of [...new Set(records.map((record) => record.network_type))]) {
    const record = records.find((candidate) => candidate.network_type === networkType);
    if (!record) continue;
    const rows: [string, string][] = [];
    const environment = record.environment;
    const parameters = record.parameters;
    rows.push(['tool', `${environment.tool} ${environment.tool_version}`]);
    rows.push(['run', record.run_id]);
    rows.push(['protocol', `${parameters.protocol} (confirm ${parameters.confirm})`]);
    rows.push([
      'nodes',
      [...new Set(records.filter((r) => r.network_type === networkType).map((r) => r.parameters.nodes))].join(
        ', ',
      ),
    ]);
    rows.push([
      'loads (tx/s)',
      records
        .filter((r) => r.network_type === networkType)
        .map((r) => r.parameters.load)
        .join(', '),
    ]);
    rows.push([
      'duration',
      `${parameters.duration} s (warm-up ${parameters.warmup ?? record.results.warmup_secs} s)`,
    ]);
    rows.push(['transaction size', `${parameters.transaction_size} bytes`]);
    if (environment.node_image_id) rows.push(['node image', environment.node_image_id]);
    if (environment.deploy_ready_after_ms !== null)
      rows.push(['ready after deploy', `${environment.deploy_ready_after_ms} ms`]);
    const hostRows: [string, string][] = [];
    flatten('host', environment.host, hostRows, 2);
    flatten('testbed', environment.testbed, hostRows, 3);
    rows.push(...hostRows);
    const run = record.runs[0];
    const faults = object(run?.blocks?.['faults']);
    const scenario = object(faults?.['scenario']);
    if (scenario)
      rows.push(['fault scenario', str(scenario['source']) ?? JSON.stringify(scenario).slice(0, 200)]);
    const network = object(run?.blocks?.['network']);
    if (network) {
      const source = str(network['source']);
      if (source) rows.push(['conditions', source]);
      for (const namespace of array(network['namespaces'])) {
        const entry = object(namespace);
        if (!entry) continue;
        const where = `${str(entry['host']) ?? '?'} ${array(entry['nodes']).map(String).join(',')}`;
        const mechanisms = object(entry['mechanisms']);
        if (mechanisms) {
          rows.push([
            `mechanisms (${where})`,
            Object.entries(mechanisms)
              .map(([kind, how]) => `${kind}: ${String(how)}`)
              .join(', '),
          ]);
        }
        const capabilities = object(entry['capabilities']);
        if (capabilities) {
          const present = Object.entries(capabilities)
            .filter(([, on]) => on === true)
            .map(([kind]) => kind);
          const absent = Object.entries(capabilities)
            .filter(([, on]) => on === false)
            .map(([kind]) => kind);
          rows.push([
            `kernel (${where})`,
            `present: ${present.join(', ') || 'none'}; absent: ${absent.join(', ') || 'none'}`,
          ]);
        }
      }
    }
    groups.push({ title: `${networkType} network`, rows });
  }
  return groups;
}

export function buildReportModel(input: ReportInput): ReportModel {
  const records = [...input.records].sort(
    (x, y) =>
      x.record.network_type.localeCompare(y.record.network_type) ||
      x.record.benchmark_number - y.record.benchmark_number,
  );
  const plain = records.map((entry) => entry.record);
  const runIds = [...new Set(plain.map((record) => record.run_id))];
  return {
    // (no record yet: a live page before its first level ends)
    title: runIds.length > 0 ? `meshbench report: ${runIds.join(', ')}` : 'meshbench report',
    runIds,
    generatedAt: input.generatedAt,
    summary: records.map((entry) => summaryRow(entry.file, entry.record)),
    curves: curvesOf(plain),
    levels: plain.map(levelOf),
    findings: [...(input.findings ?? [])],
    findingsTitle: input.findingsTitle ?? 'Local vs remote',
    config: configOf(plain),
    files: [...records.map((entry) => entry.file), ...(input.extraFiles ?? [])],
  };
}
