/**
 * Propagation probes for CometBFT (and the reference node): a probe is a small tx of its own
 * (`meshbench-probe/<scope>/<id>=1`, kvstore's key=value shape), submitted with
 * `broadcast_tx_sync`, and each node is watched on its `/websocket`. On connecting, the watch
 * subscribes once for the whole level: `tm.event='Tx' AND app.key CONTAINS
 * 'meshbench-probe/<scope>/'`, which matches the probes through the `app` event kvstore (and
 * the reference node) emits with each tx's key. Not every app emits that event, so until a
 * probe has come through that subscription on a node, each probe is also watched there with a
 * subscription of its own, `tm.event='Tx' AND tx.hash='<hash>'` (the query broadcast_tx_commit
 * itself uses), made before the probe is sent and dropped once the node has it. So a node sends
 * only the probes' events, never the load's; on a kvstore-like app a probe costs no websocket
 * frames but its events (the frames cost the orchestrator more than anything else the probes
 * do: each is a write through the container's network); and a client holds at most one
 * subscription more than probes are in flight (CometBFT allows 5 per client by default:
 * max_subscriptions_per_client). When the socket closes (the node crashed or restarted), the
 * watch counts a drop and reconnects every `retryMs` until closed, subscribing afresh.
 */
import { undici } from './undici-lazy.js';
import type { WebSocket } from 'ws';
import type { Endpoint } from './endpoint.js';
import { closeSocket, committedHashes, websocketUrlFor } from './cometbft-events.js';
import { joinUrl, parseJson, readPath } from './protocol.js';
import type { ProbeTransaction, TransactionWatch, TransactionWatcher } from './protocol.js';
import { txHash } from './transaction.js';

/** The bytes of a probe tx. */
export function cometbftProbeBytes(probe: ProbeTransaction): Buffer {
  return Buffer.from(`meshbench-probe/${probe.scope}/${probe.id}=1`, 'utf8');
}

/** The Tx-event query for one tx hash (uppercase hex). */
export function txQuery(hash: string): string {
  return `tm.event='Tx' AND tx.hash='${hash}'`;
}

/** The Tx-event query for every probe of a scope, by the key kvstore's `app` event carries. */
export function scopeQuery(scope: string): string {
  return `tm.event='Tx' AND app.key CONTAINS 'meshbench-probe/${scope}/'`;
}

interface Pending {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

class CometbftTxWatch implements TransactionWatch {
  readonly ready: Promise<boolean>;
  #socket: WebSocket | undefined;
  #live = false;
  #closed = false;
  #drops = 0;
  #retry: NodeJS.Timeout | undefined;
  #nextId = 1;
  /** Replies awaited, by JSON-RPC id. */
  readonly #pending = new Map<number, Pending>();
  /** Probe hash → its id, while expected. */
  readonly #byHash = new Map<string, string>();
  /** Probe id → its hash, while expected. */
  readonly #byId = new Map<string, string>();
  /** Probes watched with a subscription of their own (until the scope's has delivered one). */
  readonly #ownSubscription = new Set<string>();
  /** The level's one subscription for every probe (see the file's comment). */
  readonly #scopeQuery: string;
  /** A probe's event has come through the scope's subscription: probes need no subscription of their own. */
  #scopeDelivers = false;

  constructor(
    url: string,
    private readonly scope: string,
    private readonly onSeen: (id: string) => void,
    connectTimeoutMs = 5000,
    private readonly retryMs = 250,
  ) {
    this.#scopeQuery = scopeQuery(scope);
    this.ready = import('ws').then(({ WebSocket }) => this.#connect(WebSocket, url, connectTimeoutMs));
  }

  /** One connection: resolves true once open, false when it fails; a closed one is tried again. */
  #connect(WebSocketClass: typeof WebSocket, url: string, connectTimeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      if (this.#closed) {
        resolve(false);
        return;
      }
      const timer = setTimeout(() => {
        resolve(false);
        socket.terminate();
      }, connectTimeoutMs);
      let socket: WebSocket;
      try {
        socket = new WebSocketClass(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      } catch {
        clearTimeout(timer);
        resolve(false);
        return;
      }
      this.#socket = socket;
      socket.on('open', () => {
        clearTimeout(timer);
        this.#live = true;
        // Refused (an engine without CONTAINS) or silent (an app without kvstore's event): each
        // probe keeps a subscription of its own.
        this.#call('subscribe', this.#scopeQuery, connectTimeoutMs).catch(() => undefined);
        resolve(true);
      });
      socket.on('message', (raw: Buffer) => this.#message(raw));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        if (this.#live && !this.#closed) this.#drops++;
        this.#live = false;
        resolve(false);
        for (const [rpcId, pending] of this.#pending) {
          clearTimeout(pending.timer);
          pending.reject(new Error('the event stream closed'));
          this.#pending.delete(rpcId);
        }
        if (this.#closed) return;
        // the node went away (a crash, a restart): watch it again once it is back
        this.#retry = setTimeout(() => {
          this.#retry = undefined;
          void this.#connect(WebSocketClass, url, connectTimeoutMs);
        }, this.retryMs);
        this.#retry.unref();
      });
    });
  }

  #message(raw: Buffer): void {
    const message = parseJson(raw.toString('utf8'));
    if (message === undefined || message === null || typeof message !== 'object') return;
    const hashes = committedHashes(message);
    if (hashes !== undefined) {
      if (!this.#scopeDelivers && readPath(message, 'result.query') === this.#scopeQuery)
        this.#scopeDelivers = hashes.some((hash) => this.#byHash.has(hash));
      for (const hash of hashes) {
        const id = this.#byHash.get(hash);
        if (id !== undefined) this.onSeen(id);
      }
      return;
    }
    const rpcId = Number((message as { id?: unknown }).id);
    const pending = this.#pending.get(rpcId);
    if (pending === undefined) return;
    this.#pending.delete(rpcId);
    clearTimeout(pending.timer);
    const error = (message as { error?: unknown }).error;
    if (error !== undefined && error !== null) {
      const text = readPath(error, 'data') ?? readPath(error, 'message') ?? JSON.stringify(error);
      pending.reject(new Error(`subscribe refused: ${String(text)}`));
    } else pending.resolve();
  }

  #call(method: string, query: string, timeoutMs: number): Promise<void> {
    const socket = this.#socket;
    if (!this.#live || socket === undefined) return Promise.reject(new Error('not connected'));
    const rpcId = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rpcId);
        reject(new Error(`no answer to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(rpcId, { resolve, reject, timer });
      socket.send(JSON.stringify({ jsonrpc: '2.0', id: rpcId, method, params: { query } }));
    });
  }

  get connected(): boolean {
    return this.#live && !this.#closed;
  }

  get drops(): number {
    return this.#drops;
  }

  async expect(id: string, timeoutMs: number): Promise<void> {
    if (!this.connected) throw new Error('not connected');
    const hash = txHash(cometbftProbeBytes({ scope: this.scope, id }));
    this.#byHash.set(hash, id);
    this.#byId.set(id, hash);
    if (this.#scopeDelivers) return;
    this.#ownSubscription.add(id);
    try {
      await this.#call('subscribe', txQuery(hash), timeoutMs);
    } catch (error) {
      this.#byHash.delete(hash);
      this.#byId.delete(id);
      this.#ownSubscription.delete(id);
      throw error;
    }
  }

  forget(id: string): void {
    const hash = this.#byId.get(id);
    if (hash === undefined) return;
    this.#byId.delete(id);
    this.#byHash.delete(hash);
    if (!this.#ownSubscription.delete(id)) return;
    // The answer does not matter: an unknown subscription is gone already.
    this.#call('unsubscribe', txQuery(hash), 5000).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await closeSocket(this.#socket);
  }
}

/** CometBFT's propagation probes: broadcast_tx_sync, and their Tx events on every node. */
export const cometbftTransactionWatcher: TransactionWatcher = {
  method:
    "cometbft: broadcast_tx_sync; on each node's /websocket, tm.event='Tx' AND app.key CONTAINS <the level's probes> " +
    "(kvstore's app event), and tm.event='Tx' AND tx.hash=<probe> per probe until that delivers one",
  async submit(endpoint: Endpoint, probe: ProbeTransaction, timeoutMs: number): Promise<void> {
    const tx = cometbftProbeBytes(probe).toString('base64');
    const { request } = await undici();
    const response = await request(joinUrl(endpoint.rpcUrl, '/'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_sync","params":{"tx":"${tx}"}}`,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const reply = parseJson(await response.body.text());
    const error = readPath(reply, 'error');
    const code = Number(readPath(reply, 'result.code') ?? Number.NaN);
    if (error !== undefined && error !== null) {
      const text = readPath(error, 'data') ?? readPath(error, 'message') ?? JSON.stringify(error);
      throw new Error(`${endpoint.nodeId} refused the probe: ${String(text)}`);
    }
    if (response.statusCode !== 200 || code !== 0) {
      throw new Error(
        `${endpoint.nodeId} refused the probe (HTTP ${response.statusCode}${Number.isNaN(code) ? '' : `, code ${code}`})`,
      );
    }
  },
  watch(endpoint, scope, onSeen) {
    void import('undici').catch(() => undefined); // loaded before the first submit is timed
    return new CometbftTxWatch(websocketUrlFor(endpoint), scope, onSeen);
  },
};
