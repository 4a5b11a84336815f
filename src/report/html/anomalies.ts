/**
 * Anomalies in a level's per-second series, judged robustly: a point stands out when its
 * modified z-score, 0.6745 · (x − median) / MAD (Iglewicz and Hoaglin), passes 3.5. Median
 * and MAD are not moved by the outliers themselves, as a mean and a standard deviation
 * would be. Memory that only grows across a long level is judged on the trend of each
 * node's working set. Pure functions: they read series, never measure.
 */
import { median, medianAbsoluteDeviation } from 'simple-statistics';

/** The modified z-score above which a point stands out (Iglewicz and Hoaglin). */
export const ROBUST_Z_LIMIT = 3.5;
/** Fewer points than this give no verdict. */
const MIN_POINTS = 5;
/** A level this long (seconds) or longer is judged for memory growth. */
export const MEMORY_GROWTH_MIN_SECS = 60;
/** Growth from the first to the last tenth of the level that counts (relative). */
const MEMORY_GROWTH_MIN_RATIO = 0.1;

export type AnomalyKind = 'throughput-drop' | 'throughput-spike' | 'latency-spike' | 'memory-growth';

export interface Anomaly {
  readonly kind: AnomalyKind;
  /** Seconds since the load started (the level clock). */
  readonly atSecs: number;
  /** Which series the point belongs on: throughput (by send second), arrived (by arrival), latency or memory. */
  readonly chart: 'throughput' | 'arrived' | 'latency' | 'memory';
  readonly value: number;
  readonly median: number;
  readonly text: string;
}

export interface SeriesPoint {
  readonly atSecs: number;
  readonly value: number;
}

function robust(values: readonly number[]): { median: number; mad: number } | undefined {
  if (values.length < MIN_POINTS) return undefined;
  const mid = median([...values]);
  const mad = medianAbsoluteDeviation([...values]);
  return { median: mid, mad };
}

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Throughput drops (and spikes) in a per-second throughput series (tx/s). */
export function throughputAnomalies(points: readonly SeriesPoint[]): Anomaly[] {
  const stats = robust(points.map((point) => point.value));
  if (!stats) return [];
  const out: Anomaly[] = [];
  for (const point of points) {
    const z = robustZ(point.value, stats);
    if (z === undefined || Math.abs(z) <= ROBUST_Z_LIMIT) continue;
    const drop = z < 0;
    out.push({
      kind: drop ? 'throughput-drop' : 'throughput-spike',
      atSecs: point.atSecs,
      chart: 'throughput',
      value: point.value,
      median: stats.median,
      text: `throughput ${drop ? 'drop' : 'spike'} at ${round(point.atSecs)} s: ${round(point.value)} tx/s against a median of ${round(stats.median)} tx/s`,
    });
  }
  return out;
}

/** Latency spikes in a per-second p99 series (ms): only the high side counts. */
export function latencyAnomalies(points: readonly SeriesPoint[]): Anomaly[] {
  const stats = robust(points.map((point) => point.value));
  if (!stats) return [];
  const out: Anomaly[] = [];
  for (const point of points) {
    const z = robustZ(point.value, stats);
    if (z === undefined || z <= ROBUST_Z_LIMIT) continue;
    out.push({
      kind: 'latency-spike',
      atSecs: point.atSecs,
      chart: 'latency',
      value: point.value,
      median: stats.median,
      text: `latency spike at ${round(point.atSecs)} s: p99 ${round(point.value)} ms against a median of ${round(stats.median)} ms`,
    });
  }
  return out;
}

/**
 * With a MAD of zero (more than half the points equal, e.g. a level mostly at zero) any
 * other value would be infinitely far; such a series gives no verdict rather than a flood.
 */
function robustZ(value: number, stats: { median: number; mad: number }): number | undefined {
  if (stats.mad > 0) return (0.6745 * (value - stats.median)) / stats.mad;
  return undefined;
}

/**
 * A node's memory that only grows across a long level: the medians of its first and last
 * tenths differ by 10 % or more, and the medians of consecutive tenths never fall.
 */
export function memoryGrowth(node: string, points: readonly SeriesPoint[]): Anomaly | undefined {
  if (points.length < MIN_POINTS * 2) return undefined;
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last || last.atSecs - first.atSecs < MEMORY_GROWTH_MIN_SECS) return undefined;
  const tenths: number[] = [];
  const size = points.length / 10;
  for (let part = 0; part < 10; part++) {
    const slice = points.slice(Math.floor(part * size), Math.floor((part + 1) * size));
    if (slice.length === 0) return undefined;
    tenths.push(median(slice.map((point) => point.value)));
  }
  for (let part = 1; part < tenths.length; part++) {
    if ((tenths[part] ?? 0) < (tenths[part - 1] ?? 0)) return undefined;
  }
  const start = tenths[0] ?? 0;
  const end = tenths[tenths.length - 1] ?? 0;
  if (start <= 0 || (end - start) / start < MEMORY_GROWTH_MIN_RATIO) return undefined;
  const mb = (bytes: number): number => round(bytes / 1e6);
  return {
    kind: 'memory-growth',
    atSecs: last.atSecs,
    chart: 'memory',
    value: end,
    median: start,
    text: `${node}'s memory only grew across the level: ${mb(start)} MB to ${mb(end)} MB (+${Math.round(((end - start) / start) * 100)} %), never falling between tenths`,
  };
}

/** A window of the level (a fault or a condition), for saying which one a run of anomalies overlaps. */
export interface AnomalyWindow {
  readonly fromSecs: number;
  readonly toSecs: number;
  readonly label: string;
}

/** One line of the page's list: a run of consecutive anomalous seconds of one kind, or one point. */
export interface AnomalyRun {
  readonly kind: AnomalyKind;
  readonly fromSecs: number;
  readonly toSecs: number;
  readonly text: string;
}

const RUN_WORDS: Readonly<
  Record<Exclude<AnomalyKind, 'memory-growth'>, { what: string; unit: string; prefix: string }>
> = {
  'throughput-drop': { what: 'throughput drop', unit: 'tx/s', prefix: '' },
  'throughput-spike': { what: 'throughput spike', unit: 'tx/s', prefix: '' },
  'latency-spike': { what: 'latency spike', unit: 'ms', prefix: 'p99 ' },
};

/**
 * The anomalies as the page lists them: consecutive seconds of one kind (a partition's ten
 * seconds of zero throughput) are one line with their range, and a line says which fault or
 * condition window it overlaps, so what a window caused reads as such and not as a flood.
 */
export function anomalyRuns(
  anomalies: readonly Anomaly[],
  windows: readonly AnomalyWindow[] = [],
): AnomalyRun[] {
  const runs: Anomaly[][] = [];
  const sorted = [...anomalies].sort((a, b) => a.kind.localeCompare(b.kind) || a.atSecs - b.atSecs);
  for (const anomaly of sorted) {
    const last = runs[runs.length - 1];
    const previous = last?.[last.length - 1];
    if (
      previous &&
      previous.kind === anomaly.kind &&
      anomaly.kind !== 'memory-growth' &&
      anomaly.atSecs - previous.atSecs <= 1
    )
      last?.push(anomaly);
    else runs.push([anomaly]);
  }
  return runs
    .map((run) => {
      const first = run[0] as Anomaly;
      const end = run[run.length - 1] as Anomaly;
      const overlapping = windows
        .filter((window) => first.atSecs <= window.toSecs && end.atSecs >= window.fromSecs)
        .map((window) => `${window.label} (${round(window.fromSecs)}–${round(window.toSecs)} s)`);
      const during = overlapping.length > 0 ? `, overlapping ${overlapping.join(' and ')}` : '';
      if (run.length === 1 || first.kind === 'memory-growth')
        return {
          kind: first.kind,
          fromSecs: first.atSecs,
          toSecs: first.atSecs,
          text: `${first.text}${during}`,
        };
      const words = RUN_WORDS[first.kind as Exclude<AnomalyKind, 'memory-growth'>];
      const values = run.map((anomaly) => anomaly.value);
      const low = round(Math.min(...values));
      const high = round(Math.max(...values));
      return {
        kind: first.kind,
        fromSecs: first.atSecs,
        toSecs: end.atSecs,
        text:
          `${words.what} from ${round(first.atSecs)} s to ${round(end.atSecs)} s (${run.length} points): ` +
          `${words.prefix}${low === high ? low : `${low}–${high}`} ${words.unit} against a median of ${round(first.median)} ${words.unit}${during}`,
      };
    })
    .sort((a, b) => a.fromSecs - b.fromSecs);
}
