/**
 * The Recorder: counts every outcome and records latencies into HDR histograms,
 * per stage (ack, commit; corrected and uncorrected), per node and per second.
 * Its state is plain data (encoded histograms), so recorders from worker threads
 * merge exactly. A recorder never prints; `summarizeRecorder` turns it into figures.
 */
import type { LatencySummary, NodeFigures, OutcomeCounts, SecondSample } from './figures.js';
import { addKeyed } from './figures.js';
import {
  encodeHistogram,
  mergeEncoded,
  newCompactHistogram,
  newLatencyHistogram,
  recordMicros,
  summarize,
} from './histogram.js';
import type { LatencyHistogram } from './histogram.js';

export type Phase = 'warmup' | 'measured' | 'cooldown';
export type Stage = 'ack' | 'commit';

/** How one request ended (the ack stage). */
export type AckOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'rejected'; readonly code: string }
  | { readonly kind: 'httpError'; readonly status: number }
  | { readonly kind: 'badResponse' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'connectionError' };

interface MutableCounts {
  ok: number;
  rejected: Record<string, number>;
  httpError: Record<string, number>;
  badResponse: number;
  timeout: number;
  connectionError: number;
  dropped: number;
  committed: number;
  commitTimeout: number;
  late: number;
}

interface NodeState {
  sent: number;
  ok: number;
  failed: number;
  committed: number;
  /** --fault-load: sends due to it while down that went elsewhere, sends it took for a down node, sends not made. */
  redirectedOut: number;
  redirectedIn: number;
  faultDropped: number;
  ack: LatencyHistogram;
  commit: LatencyHistogram;
}

/**
 * One second of the time series. Its histograms stay live while replies for that
 * second still arrive and are then kept encoded (a few hundred bytes), so memory
 * grows by only that much per second of run time.
 */
class SecondState {
  sent = 0;
  ok = 0;
  failed = 0;
  committed = 0;
  private readonly ackHistogram = new CompactableHistogram();
  private readonly commitHistogram = new CompactableHistogram();

  get ack(): LatencyHistogram {
    return this.ackHistogram.histogram;
  }

  get commit(): LatencyHistogram {
    return this.commitHistogram.histogram;
  }

  get live(): boolean {
    return this.ackHistogram.live || this.commitHistogram.live;
  }

  /** Encodes the live histograms and lets them go. */
  compact(): void {
    this.ackHistogram.compact();
    this.commitHistogram.compact();
  }

  encodedAck(): string {
    return this.ackHistogram.encoded();
  }

  encodedCommit(): string {
    return this.commitHistogram.encoded();
  }
}

/** A histogram that is live while it is written to, and kept encoded in between. */
class CompactableHistogram {
  private current: LatencyHistogram | undefined;
  private kept: string | undefined;

  get histogram(): LatencyHistogram {
    if (this.current === undefined) {
      this.current = newCompactHistogram();
      if (this.kept !== undefined) mergeEncoded(this.current, this.kept);
      this.kept = undefined;
    }
    return this.current;
  }

  get live(): boolean {
    return this.current !== undefined;
  }

  compact(): void {
    if (this.current === undefined) return;
    this.kept = encodeHistogram(this.current);
    this.current = undefined;
  }

  encoded(): string {
    if (this.current !== undefined) return encodeHistogram(this.current);
    return this.kept ?? encodeHistogram(newCompactHistogram());
  }
}

interface PhaseTally {
  scheduled: number;
  sent: number;
  ok: number;
  failed: number;
}

/** Serialisable recorder state (crosses worker threads). */
export interface RecorderState {
  readonly nodeIds: readonly string[];
  readonly counts: MutableCounts;
  readonly scheduled: number;
  readonly sent: number;
  /** --fault-load: measured sends due to a down node that went to a live one / were not made. */
  readonly redirected: number;
  readonly faultDropped: number;
  readonly firstSendMs: number;
  readonly lastSendMs: number;
  /** Sum over the merged shards of each one's least-squares send rate (tx/s); NaN when unknown. */
  readonly sendRate: number;
  readonly histograms: {
    readonly ackCorrected: string;
    readonly ackUncorrected: string;
    readonly commitCorrected: string;
    readonly commitUncorrected: string;
    readonly lag: string;
  };
  readonly nodes: readonly {
    sent: number;
    ok: number;
    failed: number;
    committed: number;
    redirectedOut: number;
    redirectedIn: number;
    faultDropped: number;
    ack: string;
    commit: string;
  }[];
  readonly seconds: readonly {
    second: number;
    sent: number;
    ok: number;
    failed: number;
    committed: number;
    ack: string;
    commit: string;
  }[];
  /** [second, ok replies, commits] by the second they arrived in (not the second sent). */
  readonly arrivals: readonly (readonly [number, number, number])[];
  readonly excluded: { readonly warmup: PhaseTally; readonly cooldown: PhaseTally };
}

function emptyCounts(): MutableCounts {
  return {
    ok: 0,
    rejected: {},
    httpError: {},
    badResponse: 0,
    timeout: 0,
    connectionError: 0,
    dropped: 0,
    committed: 0,
    commitTimeout: 0,
    late: 0,
  };
}

export class Recorder {
  readonly counts = emptyCounts();
  scheduled = 0;
  sent = 0;
  /** Measured sends due to a down node that went to a live node instead (`--fault-load redirect`). */
  redirected = 0;
  /** Measured sends due to a down node that were not made (`--fault-load drop`); in `scheduled`, not failures. */
  faultDropped = 0;
  firstSendMs = Infinity;
  lastSendMs = -Infinity;
  /** Running least-squares fit of "sends so far" against actual send time (this shard's own sends). */
  private fit = { count: 0, meanT: 0, meanN: 0, coMoment: 0, m2T: 0 };
  /** Rates of merged shards (tx/s). */
  private mergedSendRate = 0;
  private mergedShards = 0;
  readonly ackCorrected = newLatencyHistogram();
  readonly ackUncorrected = newLatencyHistogram();
  readonly commitCorrected = newLatencyHistogram();
  readonly commitUncorrected = newLatencyHistogram();
  /** Schedule lag (actual - intended send time), µs. */
  readonly lag = newLatencyHistogram();
  private readonly nodes: NodeState[];
  private readonly seconds = new Map<number, SecondState>();
  /** Ok replies and commits by the second they arrived in: [ok, committed]. */
  private readonly arrivals = new Map<number, [number, number]>();
  readonly excluded = {
    warmup: { scheduled: 0, sent: 0, ok: 0, failed: 0 },
    cooldown: { scheduled: 0, sent: 0, ok: 0, failed: 0 },
  };

  constructor(readonly nodeIds: readonly string[]) {
    this.nodes = nodeIds.map(() => ({
      sent: 0,
      ok: 0,
      failed: 0,
      committed: 0,
      redirectedOut: 0,
      redirectedIn: 0,
      faultDropped: 0,
      ack: newLatencyHistogram(),
      commit: newLatencyHistogram(),
    }));
  }

  private second(index: number): SecondState {
    let state = this.seconds.get(index);
    if (state === undefined) {
      state = new SecondState();
      this.seconds.set(index, state);
    }
    return state;
  }

  private arrival(second: number): [number, number] {
    let counts = this.arrivals.get(second);
    if (counts === undefined) {
      counts = [0, 0];
      this.arrivals.set(second, counts);
    }
    return counts;
  }

  /** Encodes the per-second histograms of seconds before `second` (called about once a second). */
  compactSecondsBefore(second: number): void {
    for (const [index, state] of this.seconds) if (index < second && state.live) state.compact();
  }

  /** A send went out (`lagMs` after its intended time), or was dropped. */
  recordSend(
    phase: Phase,
    node: number,
    second: number,
    sentAtMs: number,
    lagMs: number,
    late: boolean,
  ): void {
    if (phase !== 'measured') {
      this.excluded[phase].scheduled++;
      this.excluded[phase].sent++;
      return;
    }
    this.scheduled++;
    this.sent++;
    if (sentAtMs < this.firstSendMs) this.firstSendMs = sentAtMs;
    if (sentAtMs > this.lastSendMs) this.lastSendMs = sentAtMs;
    // Welford-style update of the regression of the send index on the send time (s).
    const fit = this.fit;
    const t = sentAtMs / 1000;
    const n = fit.count;
    fit.count++;
    const dt = t - fit.meanT;
    fit.meanT += dt / fit.count;
    const dn = n - fit.meanN;
    fit.meanN += dn / fit.count;
    fit.coMoment += dt * (n - fit.meanN);
    fit.m2T += dt * (t - fit.meanT);
    recordMicros(this.lag, lagMs * 1000);
    if (late) this.counts.late++;
    const nodeState = this.nodes[node];
    if (nodeState) nodeState.sent++;
    this.second(second).sent++;
  }

  recordDrop(phase: Phase, node: number, second: number): void {
    if (phase !== 'measured') {
      this.excluded[phase].scheduled++;
      this.excluded[phase].failed++;
      return;
    }
    this.scheduled++;
    this.counts.dropped++;
    const nodeState = this.nodes[node];
    if (nodeState) nodeState.failed++;
    this.second(second).failed++;
  }

  /** A send due to node `from`, which is down, goes to node `to` instead (recordSend follows, for `to`). */
  recordRedirect(phase: Phase, from: number, to: number): void {
    if (phase !== 'measured') return;
    this.redirected++;
    const out = this.nodes[from];
    if (out) out.redirectedOut++;
    const into = this.nodes[to];
    if (into) into.redirectedIn++;
  }

  /** A send due to node `node`, which is down, is not made (`--fault-load drop`): scheduled, not a failure. */
  recordFaultDrop(phase: Phase, node: number): void {
    if (phase !== 'measured') {
      this.excluded[phase].scheduled++;
      return;
    }
    this.scheduled++;
    this.faultDropped++;
    const nodeState = this.nodes[node];
    if (nodeState) nodeState.faultDropped++;
  }

  /** The request ended. Latencies in ms: corrected from the intended send, uncorrected from the actual send. */
  recordAck(
    phase: Phase,
    node: number,
    second: number,
    outcome: AckOutcome,
    correctedMs: number,
    uncorrectedMs: number,
    /** The second of the measured window the reply arrived in. */
    arrivedSecond?: number,
  ): void {
    const ok = outcome.kind === 'ok';
    if (phase !== 'measured') {
      if (ok) this.excluded[phase].ok++;
      else this.excluded[phase].failed++;
      return;
    }
    const counts = this.counts;
    switch (outcome.kind) {
      case 'ok':
        counts.ok++;
        break;
      case 'rejected':
        counts.rejected[outcome.code] = (counts.rejected[outcome.code] ?? 0) + 1;
        break;
      case 'httpError':
        counts.httpError[outcome.status] = (counts.httpError[outcome.status] ?? 0) + 1;
        break;
      case 'badResponse':
        counts.badResponse++;
        break;
      case 'timeout':
        counts.timeout++;
        break;
      case 'connectionError':
        counts.connectionError++;
        break;
    }
    const nodeState = this.nodes[node];
    const secondState = this.second(second);
    if (ok) {
      recordMicros(this.ackCorrected, correctedMs * 1000);
      recordMicros(this.ackUncorrected, uncorrectedMs * 1000);
      if (nodeState) {
        nodeState.ok++;
        recordMicros(nodeState.ack, correctedMs * 1000);
      }
      secondState.ok++;
      recordMicros(secondState.ack, correctedMs * 1000);
      if (arrivedSecond !== undefined) this.arrival(arrivedSecond)[0]++;
    } else {
      if (nodeState) nodeState.failed++;
      secondState.failed++;
    }
  }

  recordCommit(
    phase: Phase,
    node: number,
    second: number,
    correctedMs: number,
    uncorrectedMs: number,
    arrivedSecond?: number,
  ): void {
    if (phase !== 'measured') return;
    if (arrivedSecond !== undefined) this.arrival(arrivedSecond)[1]++;
    this.counts.committed++;
    recordMicros(this.commitCorrected, correctedMs * 1000);
    recordMicros(this.commitUncorrected, uncorrectedMs * 1000);
    const nodeState = this.nodes[node];
    if (nodeState) {
      nodeState.committed++;
      recordMicros(nodeState.commit, correctedMs * 1000);
    }
    const secondState = this.second(second);
    secondState.committed++;
    recordMicros(secondState.commit, correctedMs * 1000);
  }

  recordCommitTimeout(phase: Phase): void {
    if (phase !== 'measured') return;
    this.counts.commitTimeout++;
  }

  toState(): RecorderState {
    return {
      nodeIds: this.nodeIds,
      counts: this.counts,
      scheduled: this.scheduled,
      sent: this.sent,
      redirected: this.redirected,
      faultDropped: this.faultDropped,
      firstSendMs: this.firstSendMs,
      lastSendMs: this.lastSendMs,
      sendRate: this.sendRate(),
      histograms: {
        ackCorrected: encodeHistogram(this.ackCorrected),
        ackUncorrected: encodeHistogram(this.ackUncorrected),
        commitCorrected: encodeHistogram(this.commitCorrected),
        commitUncorrected: encodeHistogram(this.commitUncorrected),
        lag: encodeHistogram(this.lag),
      },
      nodes: this.nodes.map((n) => ({
        sent: n.sent,
        ok: n.ok,
        failed: n.failed,
        committed: n.committed,
        redirectedOut: n.redirectedOut,
        redirectedIn: n.redirectedIn,
        faultDropped: n.faultDropped,
        ack: encodeHistogram(n.ack),
        commit: encodeHistogram(n.commit),
      })),
      seconds: [...this.seconds.entries()]
        .sort(([a], [b]) => a - b)
        .map(([second, s]) => ({
          second,
          sent: s.sent,
          ok: s.ok,
          failed: s.failed,
          committed: s.committed,
          ack: s.encodedAck(),
          commit: s.encodedCommit(),
        })),
      arrivals: [...this.arrivals.entries()].map(
        ([second, [ok, committed]]) => [second, ok, committed] as const,
      ),
      excluded: this.excluded,
    };
  }

  /** Adds another recorder's state into this one, exactly. */
  merge(state: RecorderState): void {
    const c = this.counts;
    const o = state.counts;
    c.ok += o.ok;
    addKeyed(c.rejected, o.rejected);
    addKeyed(c.httpError, o.httpError);
    c.badResponse += o.badResponse;
    c.timeout += o.timeout;
    c.connectionError += o.connectionError;
    c.dropped += o.dropped;
    c.committed += o.committed;
    c.commitTimeout += o.commitTimeout;
    c.late += o.late;
    this.scheduled += state.scheduled;
    this.sent += state.sent;
    // absent in states from an older load client
    this.redirected += state.redirected ?? 0;
    this.faultDropped += state.faultDropped ?? 0;
    this.firstSendMs = Math.min(this.firstSendMs, state.firstSendMs);
    this.lastSendMs = Math.max(this.lastSendMs, state.lastSendMs);
    if (Number.isFinite(state.sendRate)) {
      this.mergedSendRate += state.sendRate;
      this.mergedShards++;
    } else if (state.sent > 1) this.mergedShards = -Infinity; // a shard without a fit: no total
    mergeEncoded(this.ackCorrected, state.histograms.ackCorrected);
    mergeEncoded(this.ackUncorrected, state.histograms.ackUncorrected);
    mergeEncoded(this.commitCorrected, state.histograms.commitCorrected);
    mergeEncoded(this.commitUncorrected, state.histograms.commitUncorrected);
    mergeEncoded(this.lag, state.histograms.lag);
    // By node ID: a load client's recorder knows only the nodes it sent to (its own host's).
    const sameNodes =
      state.nodeIds.length === this.nodeIds.length && state.nodeIds.every((id, i) => id === this.nodeIds[i]);
    state.nodes.forEach((n, index) => {
      const mine = this.nodes[sameNodes ? index : this.nodeIds.indexOf(state.nodeIds[index] ?? '')];
      if (!mine) return;
      mine.sent += n.sent;
      mine.ok += n.ok;
      mine.failed += n.failed;
      mine.committed += n.committed;
      mine.redirectedOut += n.redirectedOut ?? 0;
      mine.redirectedIn += n.redirectedIn ?? 0;
      mine.faultDropped += n.faultDropped ?? 0;
      mergeEncoded(mine.ack, n.ack);
      mergeEncoded(mine.commit, n.commit);
    });
    for (const s of state.seconds) {
      const mine = this.second(s.second);
      mine.sent += s.sent;
      mine.ok += s.ok;
      mine.failed += s.failed;
      mine.committed += s.committed;
      mergeEncoded(mine.ack, s.ack);
      mergeEncoded(mine.commit, s.commit);
    }
    for (const [second, ok, committed] of state.arrivals) {
      const mine = this.arrival(second);
      mine[0] += ok;
      mine[1] += committed;
    }
    for (const phase of ['warmup', 'cooldown'] as const) {
      const into = this.excluded[phase];
      const from = state.excluded[phase];
      into.scheduled += from.scheduled;
      into.sent += from.sent;
      into.ok += from.ok;
      into.failed += from.failed;
    }
  }

  /**
   * Achieved send rate (tx/s): the slope of a least-squares line through (actual send
   * time, number of sends so far), summed over merged shards. Unlike (n − 1) / span, it
   * is not thrown off by one late first or last send. NaN with fewer than 2 sends.
   */
  sendRate(): number {
    const fit = this.fit;
    const own = fit.count >= 2 && fit.m2T > 0 ? fit.coMoment / fit.m2T : Number.NaN;
    if (this.mergedShards === 0) return own;
    if (this.mergedShards < 0) return Number.NaN;
    return fit.count >= 2 ? this.mergedSendRate + own : this.mergedSendRate;
  }

  static fromStates(nodeIds: readonly string[], states: readonly RecorderState[]): Recorder {
    const recorder = new Recorder(nodeIds);
    for (const state of states) recorder.merge(state);
    return recorder;
  }

  outcomes(): OutcomeCounts {
    const c = this.counts;
    return { ...c, rejected: { ...c.rejected }, httpError: { ...c.httpError } };
  }

  /** Failed = every measured send that did not end `ok` at the ack stage. */
  failed(): number {
    const c = this.counts;
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    return sum(c.rejected) + sum(c.httpError) + c.badResponse + c.timeout + c.connectionError + c.dropped;
  }

  /** Each node's figures; `withFaultLoad`: with its --fault-load counts (redirected, dropped). */
  perNode(withCommit: boolean, withFaultLoad = false): NodeFigures[] {
    return this.nodes.map((n, index) => ({
      nodeId: this.nodeIds[index] ?? String(index),
      sent: n.sent,
      ok: n.ok,
      failed: n.failed,
      committed: n.committed,
      ...(withFaultLoad
        ? { redirectedOut: n.redirectedOut, redirectedIn: n.redirectedIn, faultDropped: n.faultDropped }
        : {}),
      ack: summarize(n.ack),
      ...(withCommit ? { commit: summarize(n.commit) } : {}),
    }));
  }

  timeSeries(withCommit: boolean, seconds: number): SecondSample[] {
    const out: SecondSample[] = [];
    let last = seconds;
    for (const key of this.seconds.keys()) if (key + 1 > last) last = key + 1;
    for (let second = 0; second < last; second++) {
      const s = this.seconds.get(second);
      const [okArrived, committedArrived] = this.arrivals.get(second) ?? [0, 0];
      const arrived = { okArrived, ...(withCommit ? { committedArrived } : {}) };
      if (!s) {
        out.push({
          second,
          sent: 0,
          ok: 0,
          failed: 0,
          committed: 0,
          ackP50Ms: 0,
          ackP99Ms: 0,
          ackMaxMs: 0,
          ...arrived,
        });
        continue;
      }
      const ack = summarize(s.ack);
      const commit = withCommit ? summarize(s.commit) : undefined;
      out.push({
        second,
        sent: s.sent,
        ok: s.ok,
        failed: s.failed,
        committed: s.committed,
        ackP50Ms: ack.p50,
        ackP99Ms: ack.p99,
        ackMaxMs: ack.max,
        ...(commit ? { commitP50Ms: commit.p50, commitP99Ms: commit.p99, commitMaxMs: commit.max } : {}),
        ...arrived,
      });
    }
    return out;
  }

  latency(histogram: LatencyHistogram): LatencySummary {
    return summarize(histogram);
  }
}
