/**
 * One interface for the protocols meshbench speaks, in two parts:
 *
 * - `ProtocolDefinition`: what is known before a run has options (its kind, its settings
 *   as plain data the commands turn into flags, how options are built and checked, how a
 *   deployed node is found ready, whether it can confirm commits);
 * - `Protocol`: the adapter for one run's options. It builds the request for a
 *   transaction, classifies the reply, probes an endpoint's health, and may confirm
 *   commits (an event stream, or the reply itself) and report a node's backlog.
 *
 * Nothing outside src/protocols/ asks which protocol it has: it asks these members.
 * The built-in protocols are listed in registry.ts.
 */
import { undici } from './undici-lazy.js';
import { MeshbenchError } from '../common/errors.js';
import type { Endpoint } from './endpoint.js';
import type { Transaction } from './transaction.js';
import type { ProtocolOptions } from './options.js';
import type { EtcdKeysSummary } from './etcd-keys.js';
import type { ReadinessProbe } from './readiness.js';
import type { ProtocolSetting } from './settings.js';

/** A protocol's name (`cometbft`, `etcd`, `http`, or one registered later). */
export type ProtocolKind = string;

/** How one reply is counted. */
export type ReplyOutcome =
  /** Accepted. `committed` when the reply itself proves the commit (broadcast_tx_commit). */
  | { readonly kind: 'ok'; readonly committed?: boolean }
  /** A protocol-level rejection, keyed by a code such as `app:5`, `rpc:-32603`, `grpc:3`. */
  | { readonly kind: 'rejected'; readonly code: string }
  /** A non-2xx HTTP status without a protocol-level error in the body. */
  | { readonly kind: 'httpError'; readonly status: number }
  /** A reply that is not what the protocol answers (not JSON, wrong shape). */
  | { readonly kind: 'badResponse' };

export interface RequestTemplate {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path (with query) appended to the endpoint's base path. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Every body `body()` builds is ASCII (JSON around base64 and digits), so its byte
   * length is its string length: the transport skips a UTF-8 length scan per request.
   */
  readonly asciiBodies?: boolean;
}

/** Sees committed transactions and tells the generator their hashes. */
export interface CommitSource {
  /** Resolves once subscribed (true) or given up on (false: the caller polls instead). */
  readonly ready: Promise<boolean>;
  /** True while the subscription is live. */
  readonly connected: boolean;
  close(): Promise<void>;
}

/** Options for reading a node's backlog. */
export interface BacklogReadOptions {
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** How this node answered last time (the `form` of that reading): ask the same way. */
  readonly form?: string;
}

/** One node's backlog: transactions accepted but not yet committed. */
export interface BacklogReading {
  readonly count: number;
  /** How the node answered (e.g. `uri` or `jsonrpc`), handed back on the next read. */
  readonly form: string;
}

/** The node answered, but cannot report a backlog (no such method, another shape). */
export class BacklogUnavailableError extends Error {
  override readonly name = 'BacklogUnavailableError';
}

/** Reads a node's backlog, so the sweep can let a network settle between load levels. */
export interface BacklogProbe {
  /**
   * Throws BacklogUnavailableError when the node answers but cannot report a backlog,
   * and a plain Error when it cannot be reached or fails in a way that may pass.
   */
  read(endpoint: Endpoint, options?: BacklogReadOptions): Promise<BacklogReading>;
}

/** One probe transaction of a prober's own (propagation latency): never one of the load's. */
export interface ProbeTransaction {
  /** Unique per run of a level (e.g. `<run id>-local-1-1`): no probe of another level or run shares it. */
  readonly scope: string;
  /** Unique within the scope. */
  readonly id: string;
}

/** A watch on one node for the probes of one scope. */
export interface TransactionWatch {
  /** Resolves once the watch is live (true), or given up on (false). */
  readonly ready: Promise<boolean>;
  /** True while the watch is live. */
  readonly connected: boolean;
  /**
   * How many times the live watch has gone down since it was made (the built-in watches
   * reconnect until closed). A probe armed before a drop is not waited on there any more: the
   * node may have had it while nobody watched. Absent: never counted (a probe waits as long
   * as the level and its grace allow).
   */
  readonly drops?: number;
  /**
   * Makes the watch report probe `id` once this node has it committed, and resolves once it
   * will (cometbft: subscribed to its hash; etcd: at once, the watch covers the scope).
   * Rejects when it cannot within `timeoutMs`.
   */
  expect(id: string, timeoutMs: number): Promise<void>;
  /** Stops watching for `id` (seen everywhere, or given up on). */
  forget(id: string): void;
  close(): Promise<void>;
}

/**
 * Propagation probes: a small transaction of the prober's own submitted on one node, and a
 * watch on every node that says when that node has it committed.
 */
export interface TransactionWatcher {
  /** How the nodes are watched, in a few words (the record says it). */
  readonly method: string;
  /** Submits `probe` through `endpoint`: resolves once the node accepted it, throws an Error naming why not. */
  submit(endpoint: Endpoint, probe: ProbeTransaction, timeoutMs: number): Promise<void>;
  /**
   * Watches `endpoint` for `scope`'s probes: `onSeen(id, seenAtMs?)` when the node has one
   * committed; `seenAtMs` (performance.now()) when the node said when itself (a mesh node's
   * `at`, its clock known through `endpoint.clockOffsetMs`), absent: now.
   */
  watch(endpoint: Endpoint, scope: string, onSeen: (id: string, seenAtMs?: number) => void): TransactionWatch;
}

export interface Protocol {
  readonly kind: ProtocolKind;
  /** Method, path and headers, the same for every transaction. */
  readonly request: RequestTemplate;
  /** The request body for one transaction. */
  body(tx: Transaction, seq: number): string;
  /** Key-value protocols (etcd): which keys the puts write, every default filled in. */
  readonly keys?: EtcdKeysSummary;
  /** Classifies a reply. `body` is the whole reply body as text. */
  parseReply(statusCode: number, body: string): ReplyOutcome;
  /** Throws MeshbenchError('ENDPOINT_UNREACHABLE') unless the endpoint answers its health check. */
  probe(endpoint: Endpoint, timeoutMs: number): Promise<void>;
  /** Commit confirmation, when the protocol supports it. */
  readonly commits?: {
    /**
     * Subscribe to every node, not the first few (mesh: a message is committed once enough
     * distinct nodes delivered it, so every node's stream counts).
     */
    readonly everyNode?: boolean;
    /**
     * Subscribes to committed txs at `wsUrl`; `onCommitted` gets uppercase hex hashes and, when
     * the source knows it, when the commit happened on this thread's `performance.now()` clock
     * (mesh: the node's own delivery time; absent: now). `clockOffsetMs` is the node's clock −
     * this machine's, when known (0 on this machine).
     */
    subscribe(
      wsUrl: string,
      onCommitted: (hash: string, committedAtMs?: number) => void,
      options?: {
        readonly clockOffsetMs?: number | undefined;
        /** The node's name, for problems said about its stream. */
        readonly name?: string;
        /** A one-line problem with the node's stream (not an event stream, no head…), said once. */
        readonly onProblem?: (line: string) => void;
      },
    ): CommitSource;
    /** Asks a node whether a tx (uppercase hex hash) is committed. */
    poll(endpoint: Endpoint, hash: string, timeoutMs: number): Promise<boolean>;
    /** The event-stream (WebSocket) URL of an endpoint: its `wsUrl`, else the protocol's default. */
    websocketUrl(endpoint: Endpoint): string;
  };
  /**
   * True when an accepted reply already means committed (cometbft broadcast_tx_commit):
   * nothing to subscribe to, no hash to wait for.
   */
  readonly repliesConfirmCommit: boolean;
  /** Reads a node's backlog (mempool) for settling between levels; absent: nothing to poll. */
  readonly backlog?: BacklogProbe;
  /**
   * The failures the system is built to survive: `byzantine` (BFT, n >= 3f + 1: CometBFT),
   * `crash` (Raft/Paxos, n >= 2f + 1: etcd); absent: unknown, so no stall is predicted.
   */
  readonly faultModel?: 'byzantine' | 'crash';
  /**
   * Reads a node's height (cometbft: status → sync_info.latest_block_height; etcd: the
   * member's raft index), for the resync time after a restart: a number every node counts
   * alike, so a node has caught up when it reaches the others'; absent: no height to compare.
   */
  height?(
    endpoint: Endpoint,
    options?: { readonly timeoutMs?: number; readonly signal?: AbortSignal },
  ): Promise<number>;
  /**
   * Probes of one's own and a watch per node for them (propagation latency per node pair);
   * absent: the protocol cannot tell when a node has a transaction.
   */
  readonly watchTransactions?: TransactionWatcher;
  /** Settings the result's `generator` block records besides the kind (cometbft: broadcastMode). */
  readonly recordedSettings?: Readonly<Record<string, unknown>>;
  /**
   * Sends one transaction itself instead of an HTTP request: for a protocol that is not
   * HTTP request/reply (gRPC, a binary socket), typically in a user's module (docs/protocols.md).
   * `body` is what `body(tx, seq)` built. Resolves with how the node answered; rejects when the
   * node could not be reached or the call broke on the way (a connection error). `signal` is
   * aborted when the generator gives up (its timeout); what the call does after that is ignored.
   * With `send`, `request` and `parseReply` are not used.
   */
  send?(
    endpoint: Endpoint,
    body: string,
    options: { readonly signal: AbortSignal; readonly timeoutMs: number },
  ): Promise<ReplyOutcome>;
  /** Releases what `send` opened (channels, connections) once a load is done with this adapter. */
  close?(): Promise<void>;
}

/** A problem with a protocol's options, as one line and its fix. */
export interface OptionsProblem {
  readonly message: string;
  readonly hint: string;
}

/**
 * One protocol, before a run has chosen its options. A new protocol is one file that
 * exports such a definition, and one line in registry.ts.
 */
export interface ProtocolDefinition<Options extends ProtocolOptions = ProtocolOptions> {
  readonly kind: ProtocolKind;
  /**
   * The settings this protocol adds (plain data: the commands make flags of them, the
   * plan parses them). Each key starts with the kind (`httpMethod` → `--http-method`),
   * so no two protocols share one.
   */
  readonly settings: readonly ProtocolSetting[];
  /**
   * Options from parsed setting values, keyed by setting key. A setting left out is
   * undefined (or its `default` when the caller applied defaults). Throws a one-line
   * BAD_FLAG error for a value only the whole can judge, quoting the value as `given`.
   */
  options(values: Readonly<Record<string, unknown>>, given?: Readonly<Record<string, unknown>>): Options;
  /** A problem with options a script built by hand, or undefined. */
  check?(options: Options): OptionsProblem | undefined;
  /**
   * A problem with the options on a network of `nodes` nodes (`network` names it, e.g. "the
   * remote network"), or undefined: a rule no network of that size can meet (mesh's delivery to
   * more nodes than there are). Asked when the plan is made of each network whose size is known
   * then, and of every network once it is up, before any load.
   */
  checkNodes?(options: Options, nodes: number, network: string): OptionsProblem | undefined;
  /** The adapter for one run; `runId` is the generator run's. */
  create(options: Options, runId: string): Protocol;
  /** Whether its adapters confirm commits (`--confirm commit`; then also the default). */
  readonly confirmsCommits: boolean;
  /** How a deployed node is found ready (`expectedPeers`: how many peers it should see). */
  readiness(expectedPeers: number): ReadinessProbe;
  /** The RPC port its nodes listen on when a compose file does not say. */
  readonly defaultRpcPort?: number;
  /**
   * Whether it reaches any HTTP service as its settings say (`http`'s method and path), so it
   * may load nodes of any system. Otherwise its nodes must speak it: a generated network of
   * reference nodes is refused a protocol they do not answer (src/testbed/node-template.ts).
   */
  readonly anyService?: boolean;
  /** How reports name the options, e.g. `cometbft (async)`. Default: the kind. */
  describe?(options: Options): string;
  /** What a workload-mix kind (`--mix`) may set besides its weight and size; absent: nothing. */
  readonly mixFields?: MixFields<Options>;
}

/** The protocol fields of a workload-mix kind (http: method, route; cometbft: mode). */
export interface MixFields<Options extends ProtocolOptions = ProtocolOptions> {
  /** Field name → what it accepts (errors and docs quote it). */
  readonly fields: Readonly<Record<string, string>>;
  /**
   * One kind's options: `base` (the run's) with the kind's fields applied. Only names listed in
   * `fields` reach here; a value it cannot take comes back as the field and its rule.
   */
  apply(
    base: Options,
    fields: Readonly<Record<string, unknown>>,
  ): Options | { readonly field: string; readonly rule: string };
}

/** Joins a base URL (which may carry a path) and a path. */
export function joinUrl(base: string, path: string): string {
  const trimmed = base.endsWith('/') ? base.slice(0, -1) : base;
  if (path === '' || path === '/') return `${trimmed}/`;
  return `${trimmed}${path.startsWith('/') ? path : `/${path}`}`;
}

/** Reads a dot path (`result.code`) out of a parsed JSON value. */
export function readPath(value: unknown, dotPath: string): unknown {
  let current: unknown = value;
  for (const part of dotPath.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

function unreachable(url: string, reason: string, cause?: unknown): MeshbenchError {
  return new MeshbenchError('ENDPOINT_UNREACHABLE', `endpoint ${url} is not reachable (${reason})`, {
    hint: 'start the node or fix the URL in --endpoints (e.g. http://127.0.0.1:26657)',
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * One health request. `accept(status, body)` says whether the answer counts as
 * healthy; any network error or timeout throws ENDPOINT_UNREACHABLE naming the URL.
 */
export async function probeRequest(
  url: string,
  init: { method: 'GET' | 'POST'; body?: string; headers?: Record<string, string> },
  timeoutMs: number,
  accept: (status: number, body: string) => boolean,
): Promise<void> {
  let status: number;
  let text: string;
  try {
    const { request } = await undici(); // on first use: see cometbft.ts
    const response = await request(url, {
      method: init.method,
      ...(init.body === undefined ? {} : { body: init.body }),
      headers: init.headers ?? {},
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = response.statusCode;
    text = await response.body.text();
  } catch (error) {
    const name = (error as Error).name;
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT'
        ? `no answer within ${timeoutMs} ms`
        : (code ?? (error as Error).message);
    throw unreachable(url, reason, error);
  }
  if (!accept(status, text)) {
    throw unreachable(url, `health check answered HTTP ${status}: ${text.slice(0, 80).replace(/\s+/g, ' ')}`);
  }
}
