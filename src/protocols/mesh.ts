/**
 * The mesh protocol: the contract any peer-to-peer app can serve (docs/mesh-protocol.md).
 *
 * - `POST /publish {"id": "<id>", "payload": "<base64>"}` → 2xx once the node accepted the
 *   message for dissemination (the ack stage). The id is the transaction's hash (uppercase hex
 *   SHA-256 of the payload bytes), so a delivery names the transaction the generator waits for.
 * - `GET /deliveries` → Server-Sent Events, one `{"id", "origin"}` per message the node received
 *   or published; meshbench times each event's arrival (a node's clock is never read).
 * - `GET /health` → 200 once the node has at least one peer.
 *
 * "Committed" for a mesh is "delivered to every live node" (`--mesh-delivery all`), or to a
 * majority of the nodes, or to K of them: one adapter reads every node's stream and reports a
 * message committed once enough distinct nodes delivered it.
 */
import { undici } from './undici-lazy.js';
import { badFlag } from '../common/errors.js';
import type { Endpoint } from './endpoint.js';
import type {
  CommitSource,
  Protocol,
  ProtocolDefinition,
  ReplyOutcome,
  TransactionWatch,
  TransactionWatcher,
} from './protocol.js';
import { joinUrl, probeRequest } from './protocol.js';
import { DeliveryStream, deliveriesUrl } from './mesh-stream.js';
import { describeError } from './readiness.js';
import type { ReadinessProbe } from './readiness.js';
import { txHash } from './transaction.js';

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** How many nodes must deliver a message before it counts as committed. */
export type MeshDeliveryRule = 'all' | 'majority' | number;

export type MeshOptions = {
  readonly kind: 'mesh';
  /** Default `all` (every node whose delivery stream is live). */
  readonly delivery?: MeshDeliveryRule;
};

/** Messages whose delivery count is kept at most (the oldest are forgotten beyond). */
const MAX_TRACKED_MESSAGES = 200_000;

/** How many deliveries make a message committed, with `live` streams of `total`. */
export function deliveriesNeeded(rule: MeshDeliveryRule, live: number, total: number): number {
  if (rule === 'all') return Math.max(1, live);
  if (rule === 'majority') return Math.floor(total / 2) + 1;
  return rule;
}

/**
 * Counts the distinct nodes that delivered each message, over every node's stream, and says
 * when a message reached the rule's count. One per adapter (per load worker).
 */
export class DeliveryCounter {
  /**
   * The nodes that delivered each message not yet committed: a bit per stream while there are
   * at most BIT_STREAMS streams (no allocation per message), a Set beyond.
   */
  readonly #seen = new Map<string, number | Set<number>>();
  /** The latest delivery time of each message not yet committed, when deliveries are timed. */
  readonly #latestMs = new Map<string, number>();
  readonly #done = new Set<string>();
  #committedAtMs: number | undefined;
  readonly #doneOrder: string[] = [];
  #streams = 0;
  /** The streams connected now: with `all`, the nodes a message must reach. */
  readonly #live = new Set<number>();
  /** The same as bits, for streams below BIT_STREAMS. */
  #liveBits = 0;

  constructor(private readonly rule: MeshDeliveryRule) {}

  /** A new stream's index. */
  addStream(): number {
    return this.#streams++;
  }

  /**
   * Stream `node` connected or went away. With `all`, a node that went away is no longer
   * waited for: the messages every node still live has delivered are committed now (at the
   * reader's now: that is when "delivered to every live node" became true), and returned.
   * Without this, a message that had reached every node but one that then crashed was never
   * re-counted and ended as a commit timeout.
   */
  setLive(node: number, live: boolean): string[] {
    if (live) {
      this.#live.add(node);
      if (node < BIT_STREAMS) this.#liveBits |= 1 << node;
      return [];
    }
    if (!this.#live.delete(node)) return [];
    if (node < BIT_STREAMS) this.#liveBits &= ~(1 << node);
    // no stream left (the reader lost them all, or they are being closed): "every live node" says
    // nothing, and nothing is committed on it
    if (this.rule !== 'all' || this.#live.size === 0) return [];
    const committed: string[] = [];
    for (const [id, nodes] of this.#seen) if (this.#reachedEveryLive(nodes)) committed.push(id);
    for (const id of committed) this.#commit(id, undefined);
    return committed;
  }

  get liveStreams(): number {
    return this.#live.size;
  }

  /** Every live stream has delivered a message delivered by `nodes` (at least one). */
  #reachedEveryLive(nodes: number | Set<number>): boolean {
    if (typeof nodes === 'number' && this.#streams <= BIT_STREAMS) return (this.#liveBits & ~nodes) === 0;
    for (const node of this.#live) {
      const has =
        typeof nodes === 'number' ? node < BIT_STREAMS && (nodes & (1 << node)) !== 0 : nodes.has(node);
      if (!has) return false;
    }
    return true;
  }

  #commit(id: string, latestMs: number | undefined): void {
    this.#seen.delete(id);
    this.#latestMs.delete(id);
    this.#committedAtMs = latestMs;
    this.#done.add(id);
    this.#doneOrder.push(id);
    if (this.#doneOrder.length > MAX_TRACKED_MESSAGES) {
      for (const old of this.#doneOrder.splice(0, MAX_TRACKED_MESSAGES / 2)) this.#done.delete(old);
    }
  }

  /**
   * When the message that last reached the count did (`deliver` returned true): the latest
   * time given with its counted deliveries, or undefined when they came without one.
   */
  get committedAtMs(): number | undefined {
    return this.#committedAtMs;
  }

  /**
   * Records that stream `node` delivered `id`, at `atMs` when timed (any one clock for all);
   * true when `id` just reached the count.
   */
  deliver(id: string, node: number, atMs?: number): boolean {
    if (this.#done.has(id)) return false;
    const nodes = this.#seen.get(id);
    if (nodes === undefined && this.#seen.size >= MAX_TRACKED_MESSAGES) {
      const oldest = this.#seen.keys().next().value as string;
      this.#seen.delete(oldest);
      this.#latestMs.delete(oldest);
    }
    let latestMs: number | undefined;
    if (atMs !== undefined) {
      const before = this.#latestMs.get(id);
      latestMs = before === undefined || atMs > before ? atMs : before;
      this.#latestMs.set(id, latestMs);
    }
    let delivered: number | Set<number>;
    if (typeof nodes === 'object') {
      nodes.add(node);
      delivered = nodes;
    } else if (this.#streams <= BIT_STREAMS) {
      delivered = (nodes ?? 0) | (1 << node);
      this.#seen.set(id, delivered);
    } else {
      const set = new Set<number>();
      for (let bit = 0; nodes !== undefined && bit < BIT_STREAMS; bit++) if (nodes & (1 << bit)) set.add(bit);
      set.add(node);
      this.#seen.set(id, set);
      delivered = set;
    }
    // all: every node live now has it (a node that delivered it and went away does not stand
    // in for one that has not); majority and K: how many distinct nodes delivered it
    const reached =
      this.rule === 'all'
        ? this.#reachedEveryLive(delivered)
        : (typeof delivered === 'number' ? bitCount(delivered) : delivered.size) >=
          deliveriesNeeded(this.rule, this.#live.size, this.#streams);
    if (!reached) return false;
    this.#commit(id, latestMs);
    return true;
  }
}

/** Up to this many streams, a message's delivering nodes are bits of one number (1 << 29 at most). */
const BIT_STREAMS = 30;

/** The number of bits set in a 32-bit integer. */
function bitCount(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** A publish reply: any 2xx is an ack. */
export function parseMeshReply(statusCode: number): ReplyOutcome {
  return statusCode >= 200 && statusCode < 300 ? { kind: 'ok' } : { kind: 'httpError', status: statusCode };
}

/** Ready once `GET /health` answers 200 (the node has a peer). */
export function meshReadiness(): ReadinessProbe {
  return async (target, http) => {
    try {
      const reply = await http(`${target.rpcUrl}/health`);
      if (reply.status === 200) return { ready: true, detail: 'ready' };
      return { ready: false, ...notReadyDetail(reply.status, reply.body) };
    } catch (error) {
      return { ready: false, detail: describeError(error) };
    }
  };
}

const HEALTH_BODY_CHARS = 120;

/**
 * What a node that is not ready said: its body, on one short line, is the node's own account
 * (meshbench's libp2p node: `{"peers":1,"mesh":0,"mesh_needed":3}`, connected but not yet in the
 * gossip mesh, which a bare "no peer yet" did not tell apart from no connection at all); a whole
 * number `peers` in a JSON body is its peer count. An empty body reads as the contract says:
 * not ready, no peer yet.
 */
function notReadyDetail(status: number, body: string): { detail: string; peers?: number } {
  const text = body.replace(/\s+/g, ' ').trim();
  if (text === '') return { detail: `GET /health answered HTTP ${status} (no peer yet)` };
  const shown = text.length > HEALTH_BODY_CHARS ? `${text.slice(0, HEALTH_BODY_CHARS - 1)}…` : text;
  let peers: number | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    const count = (parsed as { peers?: unknown } | null)?.peers;
    if (typeof count === 'number' && Number.isInteger(count) && count >= 0) peers = count;
  } catch {
    // not JSON: shown as it is
  }
  return {
    detail: `GET /health answered HTTP ${status}: ${shown}`,
    ...(peers === undefined ? {} : { peers }),
  };
}

class MeshCommitSource implements CommitSource {
  readonly #stream: DeliveryStream;

  constructor(
    url: string,
    counter: DeliveryCounter,
    onCommitted: (hash: string, committedAtMs?: number) => void,
    options: {
      readonly clockOffsetMs?: number | undefined;
      readonly name?: string;
      readonly onProblem?: (line: string) => void;
    },
  ) {
    const index = counter.addStream();
    const nodeId = options.name ?? `node at ${url.replace(/\/deliveries$/, '')}`;
    this.#stream = new DeliveryStream(
      nodeId,
      url,
      {
        // a message is committed when the last delivery the rule counts happened; a stream whose
        // clock is not known gives its arrival, which must count too (one host's clock check may
        // fail while the others' pass)
        onDelivery: ({ id }, deliveredMs) => {
          if (counter.deliver(id, index, deliveredMs)) onCommitted(id, counter.committedAtMs);
        },
        onState: (live) => {
          for (const id of counter.setLive(index, live)) onCommitted(id);
        },
        ...(options.onProblem ? { onProblem: options.onProblem } : {}),
      },
      { connectTimeoutMs: 5000, clockOffsetMs: options.clockOffsetMs },
    );
  }

  get ready(): Promise<boolean> {
    return this.#stream.ready;
  }

  get connected(): boolean {
    return this.#stream.connected;
  }

  close(): Promise<void> {
    return this.#stream.close();
  }
}

/** Propagation probes: a publish of `<scope>/<id>`, and each node's delivery stream. */
export const meshTransactionWatcher: TransactionWatcher = {
  method: 'mesh: POST /publish of <scope>/<id>; on each node, its GET /deliveries stream',
  async submit(endpoint: Endpoint, probe, timeoutMs): Promise<void> {
    const { request } = await undici();
    const response = await request(joinUrl(endpoint.rpcUrl, '/publish'), {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({ id: `${probe.scope}/${probe.id}`, payload: 'MQ==' }),
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await response.body.dump().catch(() => undefined);
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new Error(`${endpoint.nodeId} refused the probe publish (HTTP ${response.statusCode})`);
    }
  },
  watch(endpoint, scope, onSeen): TransactionWatch {
    const prefix = `${scope}/`;
    // with the node's clock known, a probe is timed by its delivery there (`at`), as the load is
    const timed = endpoint.clockOffsetMs !== undefined;
    const stream = new DeliveryStream(
      endpoint.nodeId,
      deliveriesUrl(endpoint),
      {
        onDelivery: ({ id }, deliveredMs) => {
          if (id.startsWith(prefix)) onSeen(id.slice(prefix.length), timed ? deliveredMs : undefined);
        },
      },
      { clockOffsetMs: endpoint.clockOffsetMs },
    );
    return {
      ready: stream.ready,
      get connected() {
        return stream.connected;
      },
      get drops() {
        return stream.drops;
      },
      expect: () =>
        stream.connected ? Promise.resolve() : Promise.reject(new Error('the delivery stream is not live')),
      forget: () => undefined,
      close: () => stream.close(),
    };
  },
};

export function createMeshProtocol(options: Omit<MeshOptions, 'kind'> = {}): Protocol {
  const rule = options.delivery ?? 'all';
  const counter = new DeliveryCounter(rule);
  return {
    kind: 'mesh',
    repliesConfirmCommit: false,
    request: { method: 'POST', path: '/publish', headers: JSON_HEADERS, asciiBodies: true },
    body: (tx) => `{"id":"${txHash(tx.bytes)}","payload":"${tx.base64}"}`,
    parseReply: (statusCode) => parseMeshReply(statusCode),
    probe: (endpoint, timeoutMs) =>
      probeRequest(
        joinUrl(endpoint.rpcUrl, '/health'),
        { method: 'GET' },
        timeoutMs,
        (status) => status === 200,
      ),
    commits: {
      everyNode: true,
      subscribe: (url, onCommitted, options) =>
        new MeshCommitSource(url, counter, onCommitted, options ?? {}),
      // A delivery stream cannot be asked about one message afterwards: no poll.
      poll: () => Promise.resolve(false),
      websocketUrl: (endpoint) => deliveriesUrl(endpoint),
    },
    watchTransactions: meshTransactionWatcher,
    recordedSettings: { meshDelivery: rule },
  };
}

/** `all`, `majority`, or a whole number of nodes. */
export function parseDeliveryRule(value: unknown): MeshDeliveryRule | undefined {
  if (value === 'all' || value === 'majority') return value;
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isInteger(number) && number >= 1 && number <= 10_000 ? number : undefined;
}

const DELIVERY_RULE = 'all, majority, or a whole number of nodes from 1 to 10000';

/** A P2P app serving the mesh contract. */
export const mesh: ProtocolDefinition<MeshOptions> = {
  kind: 'mesh',
  settings: [
    {
      key: 'meshDelivery',
      describe: 'mesh: a message is committed once delivered to all live nodes | a majority | K nodes',
      defaultDescription: 'all',
      parse: (value) => {
        const rule = parseDeliveryRule(value);
        return rule === undefined ? { rule: DELIVERY_RULE } : { value: rule };
      },
    },
  ],
  options: (values, given = values) => {
    const delivery = values.meshDelivery;
    if (delivery !== undefined && parseDeliveryRule(delivery) === undefined) {
      throw badFlag('mesh-delivery', given.meshDelivery, DELIVERY_RULE);
    }
    return { kind: 'mesh', ...(delivery === undefined ? {} : { delivery: parseDeliveryRule(delivery)! }) };
  },
  check: (options) =>
    options.delivery === undefined || parseDeliveryRule(options.delivery) !== undefined
      ? undefined
      : {
          message: `mesh delivery rule ${JSON.stringify(options.delivery)} is not allowed`,
          hint: `use ${DELIVERY_RULE}`,
        },
  checkNodes: (options, nodes, network) =>
    typeof options.delivery === 'number' && options.delivery > nodes
      ? {
          message: `mesh delivery to ${options.delivery} nodes: ${network} has ${nodes}, so no message would ever count as committed`,
          hint: `give --mesh-delivery ${nodes} or fewer, majority or all`,
        }
      : undefined,
  create: (options) => createMeshProtocol(options),
  confirmsCommits: true,
  readiness: () => meshReadiness(),
  defaultRpcPort: 8080,
  describe: (options) => `mesh (delivery ${options.delivery ?? 'all'})`,
};
