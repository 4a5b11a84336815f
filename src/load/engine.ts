/**
 * One shard of the open-loop generator (the whole generator when workers = 1).
 * Shard k of K sends the sequence numbers ≡ k (mod K) of the shared schedule.
 *
 * Timing: intended send times come from the schedule and a monotonic clock shared
 * by all threads of the process. The loop sends everything that is due, then waits
 * for the next send: how depends on the interval between sends (waitUntil: a short
 * spin when sparse, the Waker thread up to 1,000 tx/s, 1 ms timer ticks above). As
 * each request ends, what has fallen due since is sent from that callback, so under
 * load sends go out between replies rather than a timer tick (~1 ms) late.
 * Sends that find the in-flight bound reached, or that are later than
 * `maxScheduleLagMs`, are counted as dropped.
 *
 * Every reply is read to the end and classified. Timeouts are checked from a FIFO
 * of in-flight requests (sends happen in time order), so no timer per request.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from '../protocols/endpoint.js';
import { createProtocol } from '../protocols/index.js';
import type { CommitSource, Protocol, ReplyOutcome } from '../protocols/index.js';
import { Recorder } from '../measure/recorder.js';
import type { AckOutcome, Phase, RecorderState } from '../measure/recorder.js';
import { IntervalLatencyRecorder } from '../measure/interval.js';
import { TransactionFactory, txHash } from './payload.js';
import { planSchedule } from './schedule.js';
import type { PlanInput, SchedulePlan } from './schedule.js';
import { kindAt, mixCycle, type LoadMix } from './mix.js';
import { createTargetPicker } from './targets.js';
import type { ConfirmMode, FaultLoadMode, LoadProgress, ProtocolOptions, TargetSelection } from './types.js';
import type { Transport, TransportFailure, TransportKind, TransportRequest } from './transport.js';
import { DirectTransport, type DirectSink } from './transport-direct.js';
import { RawTransport } from './transport-raw.js';
import type { UndiciTransport } from './transport-undici.js';
import { Waker } from './waker.js';

/** Everything a shard needs; structured-cloneable (crosses into worker threads). */
export interface ShardSettings {
  readonly runId: string;
  /** Protocol modules (absolute paths) a worker thread loads before it makes the protocol. */
  readonly protocolModules?: readonly string[];
  readonly endpoints: readonly Endpoint[];
  readonly protocol: ProtocolOptions;
  readonly plan: PlanInput;
  readonly transactionSizeBytes: number;
  readonly confirm: ConfirmMode;
  readonly commitTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly connectionsPerEndpoint: number;
  readonly pipelining: number;
  /** How requests go on the wire (`raw`: plain http:// only). */
  readonly transport: TransportKind;
  /** LoadOptions.pacing (absent: auto). */
  readonly pacing?: 'auto' | 'ticks' | 'batched';
  /** In-flight bound of this shard. */
  readonly maxInFlight: number;
  readonly target: TargetSelection;
  readonly lateThresholdMs: number;
  readonly maxScheduleLagMs: number;
  readonly commitWebsocketUrls: readonly string[];
  /** Each commit stream's node clock − this machine's, ms (null: not known), in the order of the URLs. */
  readonly commitClockOffsetsMs?: readonly (number | null)[];
  /** The nodes of the commit streams, in the order of the URLs (absent: URLs given by the caller). */
  readonly commitNodeIds?: readonly string[];
  readonly shardIndex: number;
  readonly shardCount: number;
  /** A weighted mix of transaction kinds (src/load/mix.ts); absent: one kind, the run's. */
  readonly mix?: LoadMix;
  /** What a send due to a down node does (src/load/types.ts FaultLoadMode). */
  readonly faultLoad: FaultLoadMode;
  /** Nodes announced down by the caller, by endpoint index (a SharedArrayBuffer: every shard reads the same). */
  readonly downNodes?: Int32Array;
}

/** A connection not made within this is a connection error (a dead node fails fast, not as a reply timeout). */
export const CONNECT_TIMEOUT_MS = 3_000;
/** Straight connection failures to one endpoint after which the shard takes it for down. */
export const DOWN_AFTER_FAILURES = 3;
/** How often a node the transport took for down is probed, until it answers. */
export const DOWN_PROBE_MS = 500;

interface ShardEnd {
  readonly interrupted: boolean;
  /** Commit confirmation fell back to polling (no event stream). */
  readonly commitPolling: boolean;
  /** When interrupted: the schedule time (ms) at which sending stopped. */
  readonly stoppedAtMs?: number;
}

/** What `Shard.run` returns: the shard's own recorder, used as is when the run has one shard. */
export interface ShardRun extends ShardEnd {
  readonly recorder: Recorder;
  /** With a mix: one recorder per kind, beside the total one. */
  readonly kindRecorders?: readonly Recorder[];
}

/** What a worker thread posts back: the same, with the recorders as plain data. */
export interface ShardResult extends ShardEnd {
  readonly recorder: RecorderState;
  readonly kindRecorders?: readonly RecorderState[];
}

export function toShardResult(run: ShardRun): ShardResult {
  const { kindRecorders, ...rest } = run;
  return {
    ...rest,
    recorder: run.recorder.toState(),
    ...(kindRecorders ? { kindRecorders: kindRecorders.map((recorder) => recorder.toState()) } : {}),
  };
}

/** Below this interval between a shard's sends, the loop sleeps in timer ticks instead of spinning. */
const SPIN_MIN_INTERVAL_MS = 4;
/** How long before a sparse send the loop stops sleeping on timers (which fire up to ~1 ms late). */
const SPIN_MS = 1.2;
/**
 * Until this long before the send, the last stretch blocks in futex waits of SLICE_MS (no CPU;
 * Atomics.wait takes fractions of a millisecond) with an event-loop turn between them, so
 * replies are still read within a slice; then it spins, a turn at a time, until due. Spinning
 * the whole 1.2 ms took 19 % of a core at 100 tx/s and 48 % at 250; this takes 7 and 15, with
 * the same schedule lag (median 0.002-0.018 ms, p99 0.2-0.4 ms).
 */
const SPIN_TAIL_MS = 0.3;
/**
 * From this interval between a shard's sends (up to SPIN_MIN_INTERVAL_MS), the Waker thread
 * wakes the loop at each send (see waitUntil). Just under 1 ms, so 1,000 tx/s counts.
 */
const WAKER_MIN_INTERVAL_MS = 0.99;
const SLICE_MS = 0.1;
/** The cell Atomics.wait blocks on (nothing ever notifies it: each wait runs to its timeout). */
const WAIT_CELL = new Int32Array(new SharedArrayBuffer(4));

function toAckOutcome(reply: ReplyOutcome): AckOutcome {
  switch (reply.kind) {
    case 'ok':
      return { kind: 'ok' };
    case 'rejected':
      return { kind: 'rejected', code: reply.code };
    case 'httpError':
      return { kind: 'httpError', status: reply.status };
    case 'badResponse':
      return { kind: 'badResponse' };
  }
}

/** One request in flight: the transport's sink and the tx's bookkeeping. */
class TxRequest implements DirectSink {
  /** The transport's handle while the ack is awaited (to abort it on timeout). */
  handle: TransportRequest | undefined;
  /** The ack stage ended (reply, error or timeout). */
  ackDone = false;
  ackOk = false;
  /** Commit seen, timed out or no longer expected. */
  commitDone = false;
  lastPolledMs = 0;
  /** When the request went on the wire (the transport's onWire); the handoff time until then. */
  wireMs: number;

  constructor(
    private readonly shard: Shard,
    readonly seq: number,
    readonly intendedMs: number,
    readonly sentMs: number,
    readonly node: number,
    readonly phase: Phase,
    readonly second: number,
    readonly hash: string | undefined,
    /** Its kind in the mix (0 without one). */
    readonly kind: number,
  ) {
    this.wireMs = sentMs;
  }

  onWire(): void {
    if (!this.ackDone) this.wireMs = this.shard.clock();
  }
  onReply(status: number, body: string): void {
    this.shard.onReply(this, status, body);
  }
  onOutcome(outcome: ReplyOutcome): void {
    this.shard.onOutcome(this, outcome);
  }
  onFailure(failure: TransportFailure, cause?: 'connect'): void {
    this.shard.onFailure(this, failure, cause);
  }
}

/** A FIFO with O(1) shift that compacts itself. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): void {
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
  get length(): number {
    return this.items.length - this.head;
  }
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}

export class Shard {
  readonly plan: SchedulePlan;
  private readonly protocol: Protocol;
  private readonly recorder: Recorder;
  private readonly transport: Transport;
  private readonly pick: (seq: number) => number;
  /** By kind (one without a mix): the adapter and the tx maker. */
  private readonly protocols: readonly Protocol[];
  private readonly txs: readonly TransactionFactory[];
  /** With a mix: the kind of each slot of the cycle (seq mod its length), and a recorder per kind. */
  private readonly kindCycle: Uint8Array | undefined;
  private readonly kindRecorders: readonly Recorder[] | undefined;
  /** Every kind's reply already confirms the commit (cometbft broadcast_tx_commit). */
  private readonly allRepliesConfirmCommit: boolean;
  private readonly inFlight = new Fifo<TxRequest>();
  private inFlightCount = 0;
  private readonly commitQueue = new Fifo<TxRequest>();
  private readonly pendingCommits = new Map<string, TxRequest>();
  private commitSources: CommitSource[] = [];
  private commitPolling = false;
  private pollsInFlight = 0;
  private lastPollRoundMs = 0;
  private clockOriginPerf = 0;
  /** The next sequence number this shard sends, and its intended time (Infinity past the end). */
  private nextSeq = 0;
  private nextIntendedMs = Infinity;
  /** The intended time of the send before nextSeq (-Infinity before the first). */
  private lastSentIntendedMs = -Infinity;
  private inSendDue = false;
  /** Set while the schedule runs (sends may go out from reply callbacks too): true once the run should stop. */
  private stopped: (() => boolean) | undefined;
  /** Wakes the loop between timer ticks when sends are dense (see waitUntil); made on first use. */
  private waker: Waker | undefined;
  /** Set when a Waker could not be made: the loop then waits on timer ticks. */
  private wakerFailed = false;
  /** True while the loop waits on the waker (the pump then moves its instant). */
  private wakerArmed = false;
  /** A pass of timeouts waits for the loop's check phase (checkTimeouts). */
  private expiryScheduled = false;
  private epochOriginMs = 0;
  // Progress counters (all phases).
  private progressSent = 0;
  private progressOk = 0;
  private progressFailed = 0;
  private progressCommitted = 0;
  /** The latencies completed since the last progress tick, at the stage the level measures. */
  private readonly intervalLatency: IntervalLatencyRecorder;
  /** Per endpoint: straight connection failures, and down as this shard's transport saw it (until a probe answers). */
  private readonly straightFailures: Uint16Array;
  private readonly observedDown: boolean[];
  private readonly probeTimers = new Set<NodeJS.Timeout>();
  private closed = false;

  /**
   * A shard for `settings`. undici's transport (and undici, over a megabyte of code) is loaded only
   * when it is the one asked for: each worker thread and the orchestrator load what they send with.
   * The constructor sends with it when given it, else with the raw transport.
   */
  static async create(settings: ShardSettings): Promise<Shard> {
    const undici =
      settings.transport === 'undici' ? (await import('./transport-undici.js')).UndiciTransport : undefined;
    return new Shard(settings, undici);
  }

  private constructor(
    private readonly settings: ShardSettings,
    undici: typeof UndiciTransport | undefined,
  ) {
    this.plan = planSchedule(settings.plan);
    this.intervalLatency = new IntervalLatencyRecorder(settings.confirm === 'commit' ? 'commit' : 'ack');
    this.protocol = createProtocol(settings.protocol, settings.runId);
    const nodeIds = settings.endpoints.map((e) => e.nodeId);
    this.recorder = new Recorder(nodeIds);
    const kinds = settings.mix?.kinds;
    this.protocols = kinds
      ? kinds.map((kind) => createProtocol(kind.protocol, settings.runId))
      : [this.protocol];
    this.txs = kinds
      ? kinds.map((kind) => new TransactionFactory(kind.transactionSizeBytes, settings.runId))
      : [new TransactionFactory(settings.transactionSizeBytes, settings.runId)];
    this.kindCycle = kinds ? mixCycle(kinds.map((kind) => kind.weight)) : undefined;
    this.kindRecorders = kinds ? kinds.map(() => new Recorder(nodeIds)) : undefined;
    this.allRepliesConfirmCommit = this.protocols.every((protocol) => protocol.repliesConfirmCommit);
    this.pick = createTargetPicker(settings.endpoints, settings.target);
    this.straightFailures = new Uint16Array(settings.endpoints.length);
    this.observedDown = settings.endpoints.map(() => false);
    const transportOptions = {
      endpoints: settings.endpoints,
      request: this.protocols[0]!.request,
      ...(this.protocols.length > 1
        ? { variants: this.protocols.slice(1).map((protocol) => protocol.request) }
        : {}),
      connectionsPerEndpoint: settings.connectionsPerEndpoint,
      pipelining: settings.pipelining,
      connectTimeoutMs: Math.min(settings.requestTimeoutMs, CONNECT_TIMEOUT_MS),
    };
    // A protocol that sends by itself (Protocol.send: gRPC in a user's module) needs no HTTP transport.
    this.transport = this.protocols.every((protocol) => protocol.send)
      ? new DirectTransport(settings.endpoints, this.protocols, settings.requestTimeoutMs)
      : undici
        ? new undici(transportOptions)
        : new RawTransport(transportOptions);
  }

  private get confirming(): boolean {
    return this.settings.confirm === 'commit';
  }

  /**
   * Subscribes to commit events (before the start, so none is missed). `onProblem` hears what
   * goes wrong with a node's stream (one line, naming the node).
   */
  async prepare(onProblem?: (line: string) => void): Promise<void> {
    const commits = this.protocol.commits;
    if (!this.confirming) return;
    if (!commits) {
      // Protocols without commit events: broadcast replies are the only evidence; poll is not possible.
      return;
    }
    if (this.allRepliesConfirmCommit) return;
    const urls = this.settings.commitWebsocketUrls;
    const offsets = this.settings.commitClockOffsetsMs;
    const names = this.settings.commitNodeIds;
    this.commitSources = urls.map((url, index) =>
      commits.subscribe(url, (hash, committedAtMs) => this.onCommitted(hash, committedAtMs), {
        clockOffsetMs: offsets?.[index] ?? undefined,
        ...(names?.[index] === undefined ? {} : { name: names[index] }),
        ...(onProblem ? { onProblem } : {}),
      }),
    );
    const ready = await Promise.all(this.commitSources.map((source) => source.ready));
    this.commitPolling = !ready.some(Boolean);
  }

  /** Milliseconds since the schedule start. */
  clock(): number {
    return performance.now() - this.clockOriginPerf;
  }

  private now(): number {
    return performance.now() - this.clockOriginPerf;
  }

  /**
   * Runs the schedule. `startHrNs` is the shared start (process.hrtime.bigint()
   * clock), `startEpochMs` the same instant as wall-clock time (carried in txs).
   */
  async run(
    startHrNs: bigint,
    startEpochMs: number,
    control: {
      signal?: AbortSignal;
      onProgress?: (p: LoadProgress) => void;
      stopRequested?: () => boolean;
    } = {},
  ): Promise<ShardRun> {
    this.clockOriginPerf = performance.now() - Number(process.hrtime.bigint() - startHrNs) / 1e6;
    this.epochOriginMs = startEpochMs;
    const { schedule, endSeq } = this.plan;
    let interrupted = false;
    let stoppedAtMs: number | undefined;
    let nextProgressMs = 1000;
    const stopped = () => control.signal?.aborted === true || control.stopRequested?.() === true;
    this.nextSeq = this.settings.shardIndex;
    this.nextIntendedMs = this.nextSeq < endSeq ? schedule.timeOf(this.nextSeq) : Infinity;

    // Wait for the start.
    const untilStart = -this.now();
    if (untilStart > 0) await sleep(untilStart);

    this.stopped = stopped;
    while (this.nextSeq < endSeq) {
      if (stopped()) {
        interrupted = true;
        stoppedAtMs = this.now();
        break;
      }
      this.sendDue(this.now());
      const now = this.now();
      this.checkTimeouts(now);
      if (now >= nextProgressMs) {
        nextProgressMs = now + 1000;
        this.recorder.compactSecondsBefore(Math.floor((now - this.plan.measuredStartMs) / 1000) - 1);
        control.onProgress?.(this.progress(now));
      }
      if (this.nextSeq >= endSeq) break;
      const intended = this.nextIntendedMs;
      // The schedule's own spacing here (the pump may have sent some of what the loop waited for).
      await this.waitUntil(intended, intended - this.lastSentIntendedMs);
    }
    this.stopped = undefined;

    // Drain: every in-flight request ends (reply, error or timeout), every pending commit too.
    const graceMs = interrupted ? Math.min(this.settings.requestTimeoutMs, 2000) : Infinity;
    const drainStart = this.now();
    while (this.inFlightCount > 0 || this.pendingCommits.size > 0) {
      const now = this.now();
      if (now - drainStart > graceMs) {
        this.checkTimeouts(Infinity);
        break;
      }
      this.checkTimeouts(now);
      if (now >= nextProgressMs) {
        nextProgressMs = now + 1000;
        control.onProgress?.(this.progress(now));
      }
      if (this.inFlightCount === 0 && this.pendingCommits.size === 0) break;
      await sleep(5);
    }
    control.onProgress?.(this.progress(this.now()));
    await this.close();
    return {
      recorder: this.recorder,
      ...(this.kindRecorders ? { kindRecorders: this.kindRecorders } : {}),
      interrupted,
      commitPolling: this.commitPolling,
      ...(stoppedAtMs === undefined ? {} : { stoppedAtMs }),
    };
  }

  /** Sends every tx whose intended time is at or before `now`, in order. */
  private sendDue(now: number): void {
    const { schedule, endSeq } = this.plan;
    const step = this.settings.shardCount;
    let burst = 0;
    this.inSendDue = true;
    try {
      while (this.nextIntendedMs <= now) {
        const seq = this.nextSeq;
        const intended = this.nextIntendedMs;
        this.nextSeq = seq + step;
        this.nextIntendedMs = this.nextSeq < endSeq ? schedule.timeOf(this.nextSeq) : Infinity;
        this.lastSentIntendedMs = intended;
        this.send(seq, intended);
        // Long bursts (catching up) re-read the clock now and then.
        if (++burst % 64 === 0) now = this.now();
      }
    } finally {
      this.inSendDue = false;
    }
  }

  /**
   * Called as each request ends (reply or failure): sends what fell due since the
   * loop last woke. The loop itself wakes on a ~1 ms timer and, at 10,000 tx/s, a
   * turn of replies can take as long again, so without this the sends of a busy
   * turn waited for the next timer (lag p90 about 1.4 ms, p99 about 2 ms here).
   * Replies arrive all the time under load, so sends now go out between them.
   * That is most of what the generator costs above a bare paced loop at high rates: each
   * send goes out alone, so the server answers alone and the loop turns once per reply;
   * sending only the batch due at each wake (`pacing: 'batched'`) took about a fifth less
   * CPU at 20,000 tx/s here, but the batches queued at the server and its replies measured
   * 1.3 ms at p50 instead of 0.1 (bench:loadgen --only pump, docs/benchmark.md).
   */
  private pump(): void {
    // Not from inside sendDue (a transport may end a request as it is sent).
    if (this.stopped === undefined || this.inSendDue || this.settings.pacing === 'batched') return;
    const now = this.now();
    if (this.nextIntendedMs > now) return;
    if (this.stopped()) return; // the loop sees it too and ends the run
    this.sendDue(now);
    // The loop waits for what this just sent: have it wake for the next one instead.
    if (this.wakerArmed && Number.isFinite(this.nextIntendedMs))
      this.waker?.arm(this.clockOriginPerf + this.nextIntendedMs);
  }

  /**
   * Waits until `intendedMs`. Timers have ~1 ms granularity, so it depends on this
   * shard's interval between sends:
   * - sparse (>= SPIN_MIN_INTERVAL_MS): sleep on a timer until ~1 ms before, then wait in
   *   0.1 ms slices and spin the last 0.3 ms, turning the event loop between (I/O still
   *   runs) until due: lag of a few µs at a CPU cost of about 0.3 ms per interval.
   * - from WAKER_MIN_INTERVAL_MS up: the Waker thread wakes the loop at the instant (lag
   *   of tens of µs). The loop woke once per send on 1 ms timer ticks here anyway, so this
   *   costs nothing at 500 tx/s and about 2 points of a core at 1,000, and took the lag
   *   median from 0.5 ms to 0.03 (bench:loadgen --only pacing, docs/benchmark.md).
   * - denser: sleep 1 ms and send the batch that is due (lag within a timer tick; the
   *   pump sends between replies). A wake per send would cost about 35 µs of CPU each:
   *   1.8× the generator's CPU at 2,000 tx/s, 2× at 3,000.
   */
  private async waitUntil(intendedMs: number, intervalMs: number): Promise<void> {
    for (;;) {
      const waitMs = intendedMs - this.now();
      if (waitMs <= 0) return;
      if (intervalMs < SPIN_MIN_INTERVAL_MS) {
        const waker =
          intervalMs >= WAKER_MIN_INTERVAL_MS && this.settings.pacing !== 'ticks'
            ? this.liveWaker()
            : undefined;
        if (waker) {
          this.wakerArmed = true;
          try {
            await waker.wait(this.clockOriginPerf + intendedMs);
          } finally {
            this.wakerArmed = false;
          }
          return;
        }
        await sleep(Math.max(1, Math.floor(waitMs)));
        return;
      }
      if (waitMs > SPIN_MS + 1) await sleep(Math.floor(waitMs - SPIN_MS));
      else {
        if (waitMs > SPIN_TAIL_MS) Atomics.wait(WAIT_CELL, 0, 0, Math.min(SLICE_MS, waitMs - SPIN_TAIL_MS));
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      this.checkTimeouts(this.now());
    }
  }

  /** The Waker, made on first use; undefined when it could not be made or has failed (timer ticks then). */
  private liveWaker(): Waker | undefined {
    if (!this.waker && !this.wakerFailed) {
      try {
        this.waker = new Waker();
      } catch {
        this.wakerFailed = true; // a thread the system would not give: only precision is lost
      }
    }
    return this.waker?.alive === true ? this.waker : undefined;
  }

  private progress(elapsedMs: number): LoadProgress {
    const scheduled = Math.min(this.plan.endSeq, this.plan.schedule.seqsBefore(elapsedMs));
    return {
      elapsedMs,
      scheduled: Math.ceil(scheduled / this.settings.shardCount),
      sent: this.progressSent,
      ok: this.progressOk,
      failed: this.progressFailed,
      committed: this.progressCommitted,
      inFlight: this.inFlightCount,
      latency: this.intervalLatency.take(),
    };
  }

  private phaseOf(seq: number): Phase {
    if (seq < this.plan.firstMeasuredSeq) return 'warmup';
    if (seq < this.plan.firstCooldownSeq) return 'measured';
    return 'cooldown';
  }

  /** Whether endpoint `node` is down: announced by the caller, or seen by this shard's transport. */
  private isDown(node: number): boolean {
    const announced = this.settings.downNodes;
    return (
      (announced !== undefined && Atomics.load(announced, node) !== 0) || this.observedDown[node] === true
    );
  }

  /** The next live endpoint after `node` in the round robin's order; undefined when none is. */
  private nextLive(node: number): number | undefined {
    const count = this.settings.endpoints.length;
    for (let step = 1; step < count; step++) {
      const candidate = (node + step) % count;
      if (!this.isDown(candidate)) return candidate;
    }
    return undefined;
  }

  private send(seq: number, intendedMs: number): void {
    const phase = this.phaseOf(seq);
    const second = phase === 'measured' ? Math.floor((intendedMs - this.plan.measuredStartMs) / 1000) : 0;
    const kind = this.kindCycle === undefined ? 0 : kindAt(this.kindCycle, seq);
    const kindRecorder = this.kindRecorders?.[kind];
    let node = this.pick(seq);
    if (this.settings.faultLoad !== 'keep' && this.isDown(node)) {
      const live = this.settings.faultLoad === 'redirect' ? this.nextLive(node) : undefined;
      if (live === undefined && this.settings.faultLoad === 'drop') {
        this.recorder.recordFaultDrop(phase, node);
        kindRecorder?.recordFaultDrop(phase, node);
        return;
      }
      // redirect with every node down: it goes to its own node, and its failure shows
      if (live !== undefined) {
        this.recorder.recordRedirect(phase, node, live);
        kindRecorder?.recordRedirect(phase, node, live);
        node = live;
      }
    }
    const sentMs = this.now();
    const lagMs = sentMs - intendedMs;
    if (this.inFlightCount >= this.settings.maxInFlight || lagMs > this.settings.maxScheduleLagMs) {
      this.recorder.recordDrop(phase, node, second);
      kindRecorder?.recordDrop(phase, node, second);
      this.progressFailed++;
      return;
    }
    const protocol = this.protocols[kind] as Protocol;
    const tx = (this.txs[kind] as TransactionFactory).make(seq, (this.epochOriginMs + intendedMs) * 1000);
    const hash = this.confirming && !protocol.repliesConfirmCommit ? txHash(tx.bytes) : undefined;
    const request = new TxRequest(this, seq, intendedMs, sentMs, node, phase, second, hash, kind);
    const late = lagMs > this.settings.lateThresholdMs;
    this.recorder.recordSend(phase, node, second, sentMs, lagMs, late);
    kindRecorder?.recordSend(phase, node, second, sentMs, lagMs, late);
    this.progressSent++;
    this.inFlightCount++;
    this.inFlight.push(request);
    if (hash !== undefined) {
      this.pendingCommits.set(hash, request);
      this.commitQueue.push(request);
    }
    request.handle = this.transport.send(node, protocol.body(tx, seq), request, kind);
  }

  onReply(request: TxRequest, status: number, body: string): void {
    if (request.ackDone) return; // already timed out; the late reply was still read
    this.onOutcome(request, (this.protocols[request.kind] as Protocol).parseReply(status, body));
  }

  /** A reply classified (by parseReply here, or by the protocol's own send). */
  onOutcome(request: TxRequest, reply: ReplyOutcome): void {
    if (request.ackDone) return;
    this.straightFailures[request.node] = 0;
    this.endAck(request, toAckOutcome(reply));
    if (reply.kind === 'ok' && reply.committed === true && this.confirming) {
      this.commit(request);
    }
    this.pump();
  }

  onFailure(request: TxRequest, failure: TransportFailure, cause?: 'connect'): void {
    if (request.ackDone) return;
    this.endAck(request, { kind: failure });
    if (cause === 'connect') this.onConnectionFailure(request.node);
    this.pump();
  }

  /**
   * A node that refuses or cannot be reached (not one whose connections break: an overloaded
   * node's resets stay its failures), 3 times in a row, is down for the routing
   * (--fault-load redirect|drop) until its health probe answers: a node that died on its
   * own, or that the caller did not announce.
   */
  private onConnectionFailure(node: number): void {
    if (this.settings.faultLoad === 'keep' || this.observedDown[node] === true) return;
    const failures = (this.straightFailures[node] ?? 0) + 1;
    this.straightFailures[node] = Math.min(failures, 0xffff);
    if (failures < DOWN_AFTER_FAILURES || this.closed) return;
    this.observedDown[node] = true;
    this.probeUntilUp(node);
  }

  private probeUntilUp(node: number): void {
    const endpoint = this.settings.endpoints[node] as Endpoint;
    const timer = setTimeout(() => {
      this.probeTimers.delete(timer);
      if (this.closed) return;
      this.protocol.probe(endpoint, DOWN_PROBE_MS * 2).then(
        () => {
          this.observedDown[node] = false;
          this.straightFailures[node] = 0;
        },
        () => {
          if (!this.closed) this.probeUntilUp(node);
        },
      );
    }, DOWN_PROBE_MS);
    timer.unref();
    this.probeTimers.add(timer);
  }

  private endAck(request: TxRequest, outcome: AckOutcome): void {
    request.ackDone = true;
    // Keep no reference to the transport's request (and its body) while a commit is awaited.
    request.handle = undefined;
    this.inFlightCount--;
    const now = this.now();
    const ok = outcome.kind === 'ok';
    request.ackOk = ok;
    if (ok) {
      this.progressOk++;
      if (!this.confirming) this.intervalLatency.record(now - request.intendedMs);
    } else this.progressFailed++;
    const arrivalSecond = Math.floor((now - this.plan.measuredStartMs) / 1000);
    this.recorder.recordAck(
      request.phase,
      request.node,
      request.second,
      outcome,
      now - request.intendedMs,
      now - request.wireMs,
      arrivalSecond,
    );
    this.kindRecorders?.[request.kind]?.recordAck(
      request.phase,
      request.node,
      request.second,
      outcome,
      now - request.intendedMs,
      now - request.wireMs,
      arrivalSecond,
    );
    if (!ok && request.hash !== undefined && !request.commitDone) {
      request.commitDone = true;
      this.pendingCommits.delete(request.hash);
    }
  }

  /**
   * A commit, now or at `committedAtMs` (this thread's performance.now(), from the commit
   * source: a mesh node's own delivery time), which counts between the request's wire time and now.
   */
  private commit(request: TxRequest, committedAtMs?: number): void {
    if (request.commitDone) return;
    request.commitDone = true;
    if (request.hash !== undefined) this.pendingCommits.delete(request.hash);
    const current = this.now();
    const now =
      committedAtMs === undefined
        ? current
        : Math.min(current, Math.max(request.wireMs, committedAtMs - this.clockOriginPerf));
    this.progressCommitted++;
    this.intervalLatency.record(now - request.intendedMs);
    const arrivalSecond = Math.floor((now - this.plan.measuredStartMs) / 1000);
    this.recorder.recordCommit(
      request.phase,
      request.node,
      request.second,
      now - request.intendedMs,
      now - request.wireMs,
      arrivalSecond,
    );
    this.kindRecorders?.[request.kind]?.recordCommit(
      request.phase,
      request.node,
      request.second,
      now - request.intendedMs,
      now - request.wireMs,
      arrivalSecond,
    );
  }

  private onCommitted(hash: string, committedAtMs?: number): void {
    const request = this.pendingCommits.get(hash);
    if (request) this.commit(request, committedAtMs);
  }

  /** Whether a request or commit not yet ended had its deadline at or before `now` (ended ones at the heads go). */
  private anyExpired(now: number): boolean {
    const requestTimeoutMs = this.settings.requestTimeoutMs;
    for (let head = this.inFlight.peek(); head !== undefined; head = this.inFlight.peek()) {
      if (!head.ackDone) {
        if (head.sentMs + requestTimeoutMs <= now) return true;
        break;
      }
      this.inFlight.shift();
    }
    if (!this.confirming) return false;
    const commitTimeoutMs = this.settings.commitTimeoutMs;
    for (let head = this.commitQueue.peek(); head !== undefined; head = this.commitQueue.peek()) {
      if (!head.commitDone) return head.sentMs + commitTimeoutMs <= now;
      this.commitQueue.shift();
    }
    return false;
  }

  /** Times out what is still open with its deadline at or before `now`. */
  private expire(now: number): void {
    const requestTimeoutMs = this.settings.requestTimeoutMs;
    for (let head = this.inFlight.peek(); head !== undefined; head = this.inFlight.peek()) {
      if (!head.ackDone) {
        if (head.sentMs + requestTimeoutMs > now) break;
        const handle = head.handle;
        this.endAck(head, { kind: 'timeout' });
        handle?.abort();
      }
      this.inFlight.shift();
    }
    if (!this.confirming) return;
    const commitTimeoutMs = this.settings.commitTimeoutMs;
    for (let head = this.commitQueue.peek(); head !== undefined; head = this.commitQueue.peek()) {
      if (!head.commitDone) {
        if (head.sentMs + commitTimeoutMs > now) break;
        head.commitDone = true;
        if (head.hash !== undefined) this.pendingCommits.delete(head.hash);
        this.recorder.recordCommitTimeout(head.phase);
        this.kindRecorders?.[head.kind]?.recordCommitTimeout(head.phase);
      }
      this.commitQueue.shift();
    }
  }

  /**
   * Times out requests and commits whose deadline passed by `now` (Infinity: all of them, at
   * once). Found late, they are timed out in the loop's check phase (setImmediate), after its
   * I/O poll: a reply or commit event that came while this thread was stalled (a busy
   * machine) is read first and counts as what it is. Timed out in the turn the stall ended,
   * before the poll, it counted as a timeout (a stall of 1.2 s with 40 requests in flight and
   * a 0.8 s timeout: 6-40 of them, on either transport).
   */
  private checkTimeouts(now: number): void {
    if (now === Infinity) this.expire(now);
    else if (!this.expiryScheduled && this.anyExpired(now)) {
      this.expiryScheduled = true;
      setImmediate(() => {
        this.expiryScheduled = false;
        this.expire(now);
      });
    }
    if (!this.confirming) return;
    if (
      this.commitPolling ||
      (this.commitSources.length > 0 && !this.commitSources.some((s) => s.connected))
    ) {
      this.commitPolling = true;
      this.pollCommits(now);
    }
  }

  /** Fallback when no event stream is live: ask the node with `tx?hash=` (bounded rate and concurrency). */
  private pollCommits(now: number): void {
    const commits = this.protocol.commits;
    if (!commits || !Number.isFinite(now) || now - this.lastPollRoundMs < 250) return;
    this.lastPollRoundMs = now;
    let budget = 200;
    for (const request of this.commitQueue) {
      if (budget <= 0 || this.pollsInFlight >= 32) break;
      if (request.commitDone || !request.ackOk || request.hash === undefined) continue;
      if (now - request.sentMs < 200 || now - request.lastPolledMs < 500) continue;
      request.lastPolledMs = now;
      budget--;
      this.pollsInFlight++;
      const endpoint = this.settings.endpoints[request.node] as Endpoint;
      void commits.poll(endpoint, request.hash, 2000).then((committed) => {
        this.pollsInFlight--;
        if (committed) this.commit(request);
      });
    }
  }

  private async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.probeTimers) clearTimeout(timer);
    this.probeTimers.clear();
    await this.waker?.close();
    await Promise.all(this.commitSources.map((source) => source.close()));
    await this.transport.close();
  }
}
