/**
 * The figure types: what a recorder summarises and every layer above reports.
 * A leaf: it imports nothing.
 */

/** Latency summary of one stage, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly stddev: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Adds counts keyed by code or status into `into`. */
export function addKeyed(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
}

/** Several loads' outcome counts added up (the runs of a level, the levels of a sweep). */
export function sumOutcomes(list: readonly OutcomeCounts[]): OutcomeCounts {
  const add = (records: readonly Readonly<Record<string, number>>[]) => {
    const total: Record<string, number> = {};
    for (const record of records) addKeyed(total, record);
    return total;
  };
  const sum = (pick: (outcomes: OutcomeCounts) => number | undefined) =>
    list.reduce((total, outcomes) => total + (pick(outcomes) ?? 0), 0);
  const late = list.some((outcomes) => outcomes.late !== undefined) ? { late: sum((o) => o.late) } : {};
  return {
    ok: sum((o) => o.ok),
    rejected: add(list.map((o) => o.rejected)),
    httpError: add(list.map((o) => o.httpError)),
    badResponse: sum((o) => o.badResponse),
    timeout: sum((o) => o.timeout),
    connectionError: sum((o) => o.connectionError),
    dropped: sum((o) => o.dropped),
    committed: sum((o) => o.committed),
    commitTimeout: sum((o) => o.commitTimeout),
    ...late,
  };
}

export interface OutcomeCounts {
  readonly ok: number;
  /** JSON-RPC / protocol-level rejections, keyed by error code. */
  readonly rejected: Readonly<Record<string, number>>;
  /** Non-2xx HTTP statuses, keyed by status. */
  readonly httpError: Readonly<Record<string, number>>;
  readonly badResponse: number;
  readonly timeout: number;
  readonly connectionError: number;
  /** Could not be sent on time (in-flight bound reached or schedule lag too large). */
  readonly dropped: number;
  readonly committed: number;
  readonly commitTimeout: number;
  /** Extension: sent, but later than `lateThresholdMs` after the intended time (a subset of the sends, not a failure). */
  readonly late?: number;
}

export interface StageLatency {
  /** Corrected for coordinated omission: timed from the intended send time. */
  readonly corrected: LatencySummary;
  /** Timed from the actual send time. */
  readonly uncorrected: LatencySummary;
}

export interface SecondSample {
  readonly second: number;
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  readonly committed: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly commitP50Ms?: number;
  readonly commitP99Ms?: number;
  /** The slowest reply (and commit) of the txs sent in this second. */
  readonly ackMaxMs?: number;
  readonly commitMaxMs?: number;
  /** Ok replies that arrived in this second, whenever their txs were sent. */
  readonly okArrived?: number;
  /** Commits confirmed in this second, whenever their txs were sent (with --confirm commit). */
  readonly committedArrived?: number;
}

export interface NodeFigures {
  readonly nodeId: string;
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  readonly committed: number;
  /** Sends due to this node while it was down that went to a live node (`--fault-load redirect`). */
  readonly redirectedOut?: number;
  /** Sends due to another, down node that this node took instead. */
  readonly redirectedIn?: number;
  /** Sends due to this node while it was down that were not made (`--fault-load drop`). */
  readonly faultDropped?: number;
  readonly ack: LatencySummary;
  readonly commit?: LatencySummary;
}

/**
 * The latencies completed during one progress interval of the generator (about a second),
 * at the stage the level measures (commit with `--confirm commit`, else the ok reply),
 * timed from the intended send (corrected). Every phase counts (warm-up too): it is what
 * the live dashboard draws, not a figure of the record.
 */
export interface IntervalLatency {
  readonly stage: 'ack' | 'commit';
  readonly count: number;
  /** Milliseconds; 0 when count is 0. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** The interval's HDR histogram (µs, compressed base64): what merges exactly across shards. */
  readonly histogram: string;
}
