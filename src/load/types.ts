/**
 * The contract of the shared load generator. `local-network`, `remote-network` and
 * `benchmark` all call `runLoad(options)` from `src/load/index.ts` and get a
 * `LoadResult` back: plain, serialisable data (no class instances).
 */
import type { Endpoint } from '../protocols/endpoint.js';
import type { EtcdKeysSummary } from '../protocols/etcd-keys.js';
import type { BroadcastMode, ConfirmMode, ProtocolOptions } from '../protocols/options.js';
import type { LoadMix } from './mix.js';
import type {
  IntervalLatency,
  LatencySummary,
  NodeFigures,
  OutcomeCounts,
  SecondSample,
  StageLatency,
} from '../measure/figures.js';

export type { BroadcastMode, ConfirmMode, ProtocolOptions } from '../protocols/options.js';
export type { LoadMix, MixKind } from './mix.js';
export type {
  IntervalLatency,
  LatencySummary,
  NodeFigures,
  OutcomeCounts,
  SecondSample,
  StageLatency,
} from '../measure/figures.js';

/** Load shape: the open-loop schedule's rate over time. */
export type LoadShape =
  | { readonly kind: 'fixed'; readonly rate: number }
  /** Each rate for `stepDurationMs`, in order. */
  | { readonly kind: 'steps'; readonly rates: readonly number[]; readonly stepDurationMs: number }
  /** Linear from `fromRate` to `toRate` over the whole duration. */
  | { readonly kind: 'ramp'; readonly fromRate: number; readonly toRate: number };

/**
 * What the generator does with a send due to a node that is down (`--fault-load`):
 * - `redirect` (default): it goes to the next live node in the round robin; the schedule
 *   (times, sequence numbers) is unchanged, so the load stays open-loop and exact;
 * - `drop`: it is not made, and counted; efficiency is then judged on the sends due to live nodes;
 * - `keep`: it goes to its node anyway (what clients pinned to one node see).
 * A node is down from the fault injector's own events (`downNodes`) at once, and from the
 * transport after 3 straight connection failures, until a health probe (every 500 ms) answers.
 */
export type FaultLoadMode = 'redirect' | 'drop' | 'keep';
export const FAULT_LOAD_MODES = ['redirect', 'drop', 'keep'] as const satisfies readonly FaultLoadMode[];

export type TargetSelection =
  | { readonly kind: 'round-robin' }
  | { readonly kind: 'weighted'; readonly weights: Readonly<Record<string, number>> }
  | { readonly kind: 'nodes'; readonly nodeIds: readonly string[] };

export interface LoadOptions {
  readonly runId: string;
  readonly endpoints: readonly Endpoint[];
  readonly protocol: ProtocolOptions;
  readonly shape: LoadShape;
  /** Stop after this long (ms) of scheduled sends, or … */
  readonly durationMs?: number;
  /** … after this many scheduled transactions (whichever is given; one is required). */
  readonly transactions?: number;
  /** Exact tx size in bytes before base64 (1 .. 16 MiB). */
  readonly transactionSizeBytes: number;
  /** Excluded from the figures, recorded. */
  readonly warmupMs?: number;
  readonly cooldownMs?: number;
  readonly confirm: ConfirmMode;
  /** How long to wait for a commit before counting it as a commit timeout. */
  readonly commitTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly connectionsPerEndpoint?: number;
  readonly pipelining?: number;
  /**
   * How requests go on the wire: `raw` (keep-alive sockets and a small HTTP/1.1 parser,
   * plain http:// only, least CPU) or `undici`. Default: raw when every endpoint is http://.
   */
  readonly transport?: 'undici' | 'raw';
  /**
   * How a thread waits for its next send from 250 tx/s up: `auto` (the default: the waker
   * thread up to 1,000 tx/s per thread, 1 ms timer ticks above) or `ticks` (timer ticks
   * throughout, as before 2026-11-27), or `batched` (as `auto`, but nothing is sent between
   * replies: only at the loop's wakes, in the batch that is due). Not a flag: bench:loadgen's
   * reference sides.
   */
  readonly pacing?: 'auto' | 'ticks' | 'batched';
  readonly maxInFlight?: number;
  readonly target?: TargetSelection;
  /** Worker threads sharing the schedule (1 = in the calling thread). */
  readonly workers?: number;
  readonly signal?: AbortSignal;
  /** Called about once a second with progress. */
  readonly onProgress?: (progress: LoadProgress) => void;
  /**
   * Called with a one-line problem of a node's commit stream (mesh: a node without
   * `/deliveries`, a stream whose head does not come), each once.
   */
  readonly onProblem?: (line: string) => void;
  /** Extension: a send later than this after its intended time is counted as `late` (still sent). Default 10 ms. */
  readonly lateThresholdMs?: number;
  /** Extension: a send later than this after its intended time is not sent and counted as `dropped`. Default 1000 ms. */
  readonly maxScheduleLagMs?: number;
  /** Extension: WebSocket URLs subscribed to for commits (cometbft); default: every endpoint's wsUrl (or rpcUrl + /websocket), at most 3. */
  readonly commitWebsocketUrls?: readonly string[];
  /**
   * Extension: follow the commit streams of these nodes only (a load client beside its node: its
   * own). Not for a protocol whose commit is judged over every node's stream (mesh: delivered to
   * all, a majority or K nodes), which follows them all.
   */
  readonly commitNodes?: readonly string[];
  /**
   * Extension: this run sends only its share of a larger open-loop schedule, the sequence
   * numbers ≡ `index` (mod `count`): one of `count` load clients. The shares interleave, so
   * their union is exactly the whole schedule (src/clients/).
   */
  readonly share?: LoadShare;
  /**
   * Extension: a weighted mix of transaction kinds (`--mix`, src/load/mix.ts): each kind its
   * own size and protocol options; the result then has per-kind figures in `kinds`.
   */
  readonly mix?: LoadMix;
  /** What a send due to a down node does (default `redirect`; see FaultLoadMode). */
  readonly faultLoad?: FaultLoadMode;
  /**
   * Nodes announced down, by endpoint index (non-zero: down), on a SharedArrayBuffer so the
   * worker threads read what the caller (the sweep, from the fault injector's events) writes,
   * with no message in between. Absent: only the transport's own down-marking applies.
   */
  readonly downNodes?: Int32Array;
  /** Extension: the schedule starts at this wall-clock instant (ms since the epoch), agreed by every load client, instead of just after preparing. */
  readonly startAtEpochMs?: number;
}

/** One load client's part of a schedule split across `count` clients. */
export interface LoadShare {
  readonly index: number;
  readonly count: number;
}

/** One kind of a mix: what it is and what it got, measured like the totals. */
export interface KindFigures {
  readonly name: string;
  readonly weight: number;
  /** weight / sum of weights. */
  readonly share: number;
  readonly transactionSizeBytes: number;
  /** The protocol fields the kind set (http method and route, cometbft mode). */
  readonly fields: Readonly<Record<string, string>>;
  readonly scheduled: number;
  readonly sent: number;
  readonly inputRate: number;
  readonly acceptedThroughput: number;
  readonly committedThroughput: number;
  readonly efficiency: number;
  readonly outcomes: OutcomeCounts;
  readonly latency: { readonly ack: StageLatency; readonly commit?: StageLatency };
}

export interface LoadProgress {
  readonly elapsedMs: number;
  readonly scheduled: number;
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  readonly committed: number;
  readonly inFlight: number;
  /**
   * The latencies completed since the previous tick (commit or ok reply, as the level
   * measures), merged exactly across worker threads. Absent where the progress was summed
   * from parts' last reports (`sumProgress`: load clients), which cannot be merged per interval.
   */
  readonly latency?: IntervalLatency;
}

export interface LoadResult {
  readonly runId: string;
  readonly protocol: ProtocolOptions['kind'];
  readonly startedAt: string;
  readonly endedAt: string;
  /** Measured window (excludes warm-up and cool-down), seconds. */
  readonly durationSecs: number;
  readonly warmupSecs: number;
  readonly cooldownSecs: number;
  readonly transactionSizeBytes: number;
  /** Scheduled (input) rate, tx/s. */
  readonly inputRate: number;
  /** Achieved send rate, tx/s. */
  readonly achievedRate: number;
  /** Accepted (ok acks) per second. */
  readonly acceptedThroughput: number;
  /** Committed per second (0 when confirm = none). */
  readonly committedThroughput: number;
  /** committed / input when confirming commits, else accepted / input. */
  readonly efficiency: number;
  readonly scheduled: number;
  readonly sent: number;
  readonly outcomes: OutcomeCounts;
  readonly latency: { readonly ack: StageLatency; readonly commit?: StageLatency };
  /** Schedule lag (actual - intended send time), ms. */
  readonly scheduleLag: LatencySummary;
  readonly perNode: readonly NodeFigures[];
  readonly timeSeries: readonly SecondSample[];
  /** True when the run was stopped early (Ctrl-C / abort); figures cover what ran. */
  readonly interrupted: boolean;
  /** Key-value protocols (etcd): the key pattern the puts followed, every default filled in. */
  readonly keys?: EtcdKeysSummary;
  /** Extension: what the warm-up and cool-down windows saw (excluded from every figure above). */
  readonly excluded?: {
    readonly warmup: {
      readonly scheduled: number;
      readonly sent: number;
      readonly ok: number;
      readonly failed: number;
    };
    readonly cooldown: {
      readonly scheduled: number;
      readonly sent: number;
      readonly ok: number;
      readonly failed: number;
    };
  };
  /** Extension: with a mix, the figures of each kind (their counts add up to the totals above). */
  readonly kinds?: readonly KindFigures[];
  /**
   * Extension: what `--fault-load` did with the sends due to down nodes (their per-node
   * counts are in `perNode`). Efficiency with `drop` is judged on scheduled − dropped.
   */
  readonly faultLoad?: {
    readonly mode: FaultLoadMode;
    /** Sends due to a down node that went to a live one instead. */
    readonly redirected: number;
    /** Sends due to a down node that were not made (`drop`). */
    readonly dropped: number;
  };
  /** Extension: generator settings that shape the figures. */
  readonly generator?: {
    readonly workers: number;
    readonly connectionsPerEndpoint: number;
    readonly pipelining: number;
    readonly transport?: 'undici' | 'raw';
    readonly maxInFlight: number;
    readonly requestTimeoutMs: number;
    readonly commitTimeoutMs: number;
    readonly endpoints: readonly string[];
    readonly shape: LoadShape;
    readonly confirm: ConfirmMode;
    readonly broadcastMode?: BroadcastMode;
  };
}
