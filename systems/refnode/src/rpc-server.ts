/**
 * The CometBFT-compatible RPC on node:http: JSON-RPC 2.0 over POST (single and batch), URI
 * GET (`/status`, `/broadcast_tx_sync?tx=0x…`), `/websocket` (JSON-RPC plus `subscribe`),
 * `/health`, and Prometheus `/metrics`.
 *
 * HTTP status codes: a JSON-RPC POST answers 200 with the result or the method's error; an
 * unusable envelope answers 400 (parse error, bad request), 413 (body too large) or 415 (content
 * type). A URI GET answers 200 on success and 500 with the JSON-RPC error otherwise.
 *
 * Paths as CometBFT routes them: JSON-RPC only at `/`, `/<method>` for the methods served,
 * `/websocket` (an upgrade; a plain request answers 400), `/metrics`; any other path, with or
 * without a WebSocket upgrade, answers 404, so a client given a wrong URL (`…/websocket/websocket`,
 * a JSON-RPC POST to `/websocket`) fails at once instead of talking to nothing.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { CommittedBlock, Tx } from './block.js';
import { CHAIN_ID } from './keys.js';
import type { RefNode } from './node.js';
import type { ConnectionInfo } from './p2p.js';
import {
  type EventQuery,
  type ParsedEntry,
  type RpcId,
  RPC_CODES,
  RpcError,
  type RpcRequest,
  decodeBase64Param,
  decodeHashParam,
  decodeUriBytes,
  matchesQuery,
  namedParams,
  parseEventQuery,
  parseJsonRpcBody,
  parseQuery,
} from './rpc-parse.js';
import {
  BLOCK_PROTOCOL,
  ChainViews,
  P2P_PROTOCOL,
  TX_RESULT_OK_JSON,
  blockId,
  txResultOk,
  rfc3339,
} from './rpc-views.js';

export { CHAIN_ID } from './keys.js';
/** The refnode's own version (abci_info's application version). */
const VERSION = '0.1.0';
/**
 * node_info.version: clients pick their dialect by it (CosmJS's connectComet takes "0.38." to
 * mean CometBFT 0.38), and the refnode speaks CometBFT 0.38's RPC.
 */
const COMET_VERSION = `0.38.0-refnode.${VERSION}`;
/** CometBFT 0.38's channel ids (blocksync, consensus state/data/vote/set-bits, mempool, evidence, PEX). */
const CHANNELS = '40202122233038606100';
const MAX_BLOCKCHAIN_METAS = 20;
const MAX_PER_PAGE = 100;
const DEFAULT_PER_PAGE = 30;
const MAX_SUBSCRIPTIONS_PER_CLIENT = 100;
const WS_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

const PARAM_NAMES: Record<string, readonly string[]> = {
  health: [],
  status: [],
  net_info: [],
  num_unconfirmed_txs: ['limit'],
  broadcast_tx_async: ['tx'],
  broadcast_tx_sync: ['tx'],
  broadcast_tx_commit: ['tx'],
  tx: ['hash', 'prove'],
  block: ['height'],
  header: ['height'],
  blockchain: ['minHeight', 'maxHeight'],
  block_results: ['height'],
  commit: ['height'],
  validators: ['height', 'page', 'per_page'],
  genesis: [],
  abci_info: [],
  subscribe: ['query'],
  unsubscribe: ['query'],
  unsubscribe_all: [],
};

type Form = 'json' | 'uri';

/** The path of a request target (origin form `/p?q`, or absolute form `http://host/p?q`). */
function pathOf(url: string): string {
  if (url.startsWith('/')) {
    const q = url.indexOf('?');
    return q < 0 ? url : url.slice(0, q);
  }
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** `/`, `/<method>` for a method served: the paths JSON-RPC and URI calls take. */
function isServedPath(path: string): boolean {
  return path === '/' || Object.hasOwn(PARAM_NAMES, path.slice(1));
}

/** CometBFT's 404 body, and what the refnode serves instead. */
function notFoundText(path: string): string {
  return (
    `404 page not found: ${path.slice(0, 100)} is not a refnode RPC path ` +
    '(JSON-RPC: POST /; a method: GET /<method>; events: ws://HOST:PORT/websocket; metrics: /metrics)\n'
  );
}

interface Subscription {
  readonly id: RpcId;
  readonly queryText: string;
  readonly query: EventQuery;
}

interface WsClient {
  readonly socket: WebSocket;
  readonly subs: Map<string, Subscription>;
}

const JSON_TYPES = new Set([
  'application/json',
  'application/json-rpc',
  'application/jsonrequest',
  'text/json',
]);

export class RpcServer {
  private server: Server | undefined;
  private metricsServer: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly clients = new Set<WsClient>();
  private readonly onBlock = (cb: CommittedBlock): void => this.publish(cb);
  private readonly views: ChainViews;
  private readonly startedAtMs = Date.now();

  constructor(private readonly node: RefNode) {
    this.views = new ChainViews(
      {
        get: (h) => node.store.get(h),
        get height() {
          return node.store.height;
        },
      },
      { validators: node.validators, maxBlockBytes: node.config.maxBlockBytes },
    );
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : this.node.config.rpcPort;
  }

  get metricsPort(): number {
    const address = this.metricsServer?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async start(): Promise<void> {
    const c = this.node.config;
    const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.handle(req, res));
    server.headersTimeout = 30_000;
    server.requestTimeout = Math.max(60_000, c.commitTimeoutMs + 5_000);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: c.maxBodyBytes });
    server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    await listen(server, c.rpcPort, c.listen);
    this.server = server;
    if (c.metricsPort !== 0) {
      const metricsServer = createServer((req, res) => {
        if ((req.url ?? '').split('?')[0] === '/metrics') void this.serveMetrics(res);
        else
          this.writeJson(res, 404, {
            jsonrpc: '2.0',
            id: -1,
            error: new RpcError(RPC_CODES.methodNotFound, 'only /metrics here'),
          });
      });
      await listen(metricsServer, c.metricsPort, c.listen);
      this.metricsServer = metricsServer;
    }
    this.node.events.on('block', this.onBlock);
  }

  async stop(): Promise<void> {
    this.node.events.off('block', this.onBlock);
    for (const client of this.clients) client.socket.terminate();
    this.clients.clear();
    this.wss?.close();
    await Promise.all(
      [this.server, this.metricsServer].map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s === undefined) return resolve();
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = pathOf(url);
    if (req.method === 'POST' && path === '/') {
      this.handlePost(req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
      this.writeJson(res, 405, {
        jsonrpc: '2.0',
        id: -1,
        error: new RpcError(
          RPC_CODES.invalidRequest,
          `HTTP method ${req.method} is not supported; use GET or POST`,
        ),
      });
      return;
    }
    // As CometBFT: a POST to any other path is routed like a GET (its body unread).
    if (req.method === 'POST') req.resume();
    if (path === '/metrics') {
      void this.serveMetrics(res);
      return;
    }
    if (path === '/websocket') {
      this.writeText(
        res,
        400,
        'Bad Request: /websocket takes a WebSocket upgrade (ws://HOST:PORT/websocket)\n',
      );
      return;
    }
    if (!isServedPath(path)) {
      this.writeText(res, 404, notFoundText(path));
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(
        `meshbench refnode ${this.node.config.id}. Endpoints:\n${Object.keys(PARAM_NAMES)
          .filter((m) => !m.includes('subscribe'))
          .map((m) => `/${m}`)
          .join('\n')}\n/websocket\n/metrics\n`,
      );
      return;
    }
    const method = path.slice(1);
    const args = parseQuery(q < 0 ? '' : url.slice(q));
    const params: Record<string, unknown> = Object.fromEntries(args);
    this.dispatch({ id: -1, method, params }, 'uri').then(
      (result) => this.writeJson(res, 200, { jsonrpc: '2.0', id: -1, result }),
      (err: unknown) => this.writeJson(res, 500, { jsonrpc: '2.0', id: -1, error: toRpcError(err) }),
    );
  }

  private handlePost(req: IncomingMessage, res: ServerResponse): void {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (type !== '' && !JSON_TYPES.has(type)) {
      req.resume();
      this.writeJson(res, 415, {
        jsonrpc: '2.0',
        id: -1,
        error: new RpcError(
          RPC_CODES.invalidRequest,
          `unsupported content type '${type}'; send application/json`,
        ),
      });
      return;
    }
    const max = this.node.config.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > max) {
      this.tooLarge(req, res, max);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      if (aborted) return;
      size += chunk.length;
      if (size > max) {
        aborted = true;
        this.tooLarge(req, res, max);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {});
    req.on('end', () => {
      if (aborted) return;
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      void this.answerBody(body.toString('utf8')).then(({ status, json }) =>
        this.writeRaw(res, status, json),
      );
    });
  }

  private tooLarge(req: IncomingMessage, res: ServerResponse, max: number): void {
    res.setHeader('connection', 'close');
    this.writeJson(res, 413, {
      jsonrpc: '2.0',
      id: -1,
      error: new RpcError(
        RPC_CODES.invalidRequest,
        `request body too large (max ${max} bytes); raise --max-body-bytes or send less`,
      ),
    });
    req.resume();
  }

  /** Answers one JSON-RPC body (HTTP POST or a WebSocket message). */
  private async answerBody(text: string, client?: WsClient): Promise<{ status: number; json: string }> {
    const parsed = parseJsonRpcBody(text, this.node.config.maxBatchSize);
    if (parsed.kind === 'error') {
      return { status: 400, json: JSON.stringify({ jsonrpc: '2.0', id: -1, error: parsed.error }) };
    }
    if (parsed.kind === 'single') {
      const answer = await this.answerEntry(parsed.entry, client);
      return { status: parsed.entry.ok ? 200 : 400, json: answer };
    }
    const answers = await Promise.all(parsed.entries.map((e) => this.answerEntry(e, client)));
    return { status: 200, json: `[${answers.join(',')}]` };
  }

  private async answerEntry(entry: ParsedEntry, client?: WsClient): Promise<string> {
    if (!entry.ok) return JSON.stringify({ jsonrpc: '2.0', id: entry.id, error: entry.error });
    try {
      const result = await this.dispatch(entry.request, 'json', client);
      return JSON.stringify({ jsonrpc: '2.0', id: entry.request.id, result });
    } catch (err) {
      return JSON.stringify({ jsonrpc: '2.0', id: entry.request.id, error: toRpcError(err) });
    }
  }

  private async serveMetrics(res: ServerResponse): Promise<void> {
    try {
      const text = await this.node.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.node.metrics.registry.contentType });
      res.end(text);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`metrics failed: ${(err as Error).message}\n`);
    }
  }

  private writeText(res: ServerResponse, status: number, text: string): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  private writeJson(res: ServerResponse, status: number, body: unknown): void {
    this.writeRaw(res, status, JSON.stringify(body));
  }

  private writeRaw(res: ServerResponse, status: number, json: string): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  // ---- methods --------------------------------------------------------------------------------

  private async dispatch(request: RpcRequest, form: Form, client?: WsClient): Promise<unknown> {
    const names = PARAM_NAMES[request.method];
    if (names === undefined || !Object.hasOwn(PARAM_NAMES, request.method)) {
      throw new RpcError(
        RPC_CODES.methodNotFound,
        `method '${request.method.slice(0, 64)}' is not served by the refnode`,
      );
    }
    const params = namedParams(request.params, names);
    const node = this.node;
    switch (request.method) {
      case 'health':
        return {};
      case 'status':
        return this.status();
      case 'net_info':
        return this.netInfo();
      case 'num_unconfirmed_txs':
        return {
          n_txs: String(node.mempool.size),
          total: String(node.mempool.size),
          total_bytes: String(node.mempool.sizeBytes),
          txs: null,
        };
      case 'broadcast_tx_async':
      case 'broadcast_tx_sync': {
        const hash = node.submitTx(this.txParam(params, form));
        return { code: 0, data: '', log: '', codespace: '', hash };
      }
      case 'broadcast_tx_commit': {
        const hash = node.submitTx(this.txParam(params, form));
        const loc = await node.waitForCommit(hash, node.config.commitTimeoutMs);
        const ok = txResultOk();
        return { check_tx: ok, tx_result: ok, deliver_tx: ok, hash, height: String(loc.height) };
      }
      case 'tx': {
        if (params.hash === undefined) throw new RpcError(RPC_CODES.invalidParams, 'missing hash');
        const hash = decodeHashParam(params.hash, form);
        const loc = node.store.txLocation(hash);
        const cb = loc === undefined ? undefined : node.store.get(loc.height);
        const tx = loc === undefined ? undefined : cb?.block.txs[loc.index];
        if (loc === undefined || tx === undefined)
          throw new RpcError(RPC_CODES.internal, `tx (${hash}) not found`);
        return {
          hash,
          height: String(loc.height),
          index: loc.index,
          tx_result: txResultOk(),
          tx: tx.bytes.toString('base64'),
        };
      }
      case 'block': {
        const cb = this.committedAt(params.height);
        return { block_id: blockId(cb.block), block: this.views.block(cb) };
      }
      case 'header':
        return { header: this.views.header(this.committedAt(params.height).block) };
      case 'blockchain':
        return this.blockchain(params);
      case 'block_results':
        return this.views.blockResults(this.committedAt(params.height));
      case 'commit': {
        const cb = this.committedAt(params.height);
        return {
          signed_header: { header: this.views.header(cb.block), commit: this.views.commit(cb) },
          canonical: cb.block.height < node.store.height,
        };
      }
      case 'validators':
        return this.validators(params);
      case 'genesis':
        return { genesis: this.views.genesis(node.store.earliest?.timeMs ?? this.startedAtMs) };
      case 'abci_info':
        return {
          response: {
            data: CHAIN_ID,
            version: VERSION,
            app_version: '0',
            last_block_height: String(node.store.height),
            last_block_app_hash: this.views.appHashAfter(node.store.height).toString('base64'),
          },
        };
      case 'subscribe':
      case 'unsubscribe':
      case 'unsubscribe_all':
        if (client === undefined) {
          throw new RpcError(RPC_CODES.methodNotFound, `${request.method} is only available over /websocket`);
        }
        return this.subscription(request, params, client);
      default:
        throw new RpcError(
          RPC_CODES.methodNotFound,
          `method '${request.method}' is not served by the refnode`,
        );
    }
  }

  /** The committed block at a `height` param (absent or 0: the latest), or CometBFT's error. */
  private committedAt(value: unknown): CommittedBlock {
    const latest = this.node.store.height;
    const requested = intParam('height', value);
    const height = requested === undefined || requested === 0 ? latest : requested;
    if (height > latest)
      throw new RpcError(
        RPC_CODES.internal,
        `height ${height} must be less than or equal to the current blockchain height ${latest}`,
      );
    const cb = height < 1 ? undefined : this.node.store.get(height);
    if (cb === undefined)
      throw new RpcError(RPC_CODES.internal, `height ${height} is not available, lowest height is 1`);
    return cb;
  }

  /** Block metas of minHeight..maxHeight (at most 20, highest first), as CometBFT's filterMinMax picks them. */
  private blockchain(params: Record<string, unknown>): unknown {
    const latest = this.node.store.height;
    let min = intParam('minHeight', params.minHeight) ?? 0;
    let max = intParam('maxHeight', params.maxHeight) ?? 0;
    if (min === 0) min = 1;
    if (max === 0) max = latest;
    max = Math.min(latest, max);
    min = Math.max(1, min, max - MAX_BLOCKCHAIN_METAS + 1);
    if (min > max && latest > 0)
      throw new RpcError(RPC_CODES.internal, `min height ${min} can't be greater than max height ${max}`);
    const metas: unknown[] = [];
    for (let h = max; h >= min; h--) {
      const cb = this.node.store.get(h);
      if (cb !== undefined) metas.push(this.views.blockMeta(cb));
    }
    return { last_height: String(latest), block_metas: metas };
  }

  private validators(params: Record<string, unknown>): unknown {
    const latest = this.node.store.height;
    const requested = intParam('height', params.height);
    const height = requested === undefined || requested === 0 ? latest : requested;
    if (height > latest + 1)
      throw new RpcError(
        RPC_CODES.internal,
        `height ${height} must be less than or equal to the next height ${latest + 1}`,
      );
    const all = this.views.validatorsJson();
    const perPage = Math.min(MAX_PER_PAGE, intParam('per_page', params.per_page) || DEFAULT_PER_PAGE);
    const pages = Math.max(1, Math.ceil(all.length / perPage));
    const page = intParam('page', params.page) ?? 1;
    if (page < 1 || page > pages)
      throw new RpcError(RPC_CODES.internal, `page should be within [1, ${pages}] range, given ${page}`);
    const slice = all.slice((page - 1) * perPage, page * perPage);
    return {
      block_height: String(height),
      validators: slice,
      count: String(slice.length),
      total: String(all.length),
    };
  }

  private txParam(params: Record<string, unknown>, form: Form): Buffer {
    const value = params.tx;
    if (value === undefined) throw new RpcError(RPC_CODES.invalidParams, 'missing tx');
    if (form === 'uri') return decodeUriBytes('tx', String(value));
    return decodeBase64Param('tx', value);
  }

  status(): unknown {
    const node = this.node;
    const c = node.config;
    const height = node.store.height;
    const last = height > 0 ? node.store.get(height) : undefined;
    const first = node.store.earliest;
    const hex = (bytes: Buffer): string => bytes.toString('hex').toUpperCase();
    // As CometBFT: the app hashes are those in the latest and the earliest header (the state
    // before that block); the empty log's before the first block.
    return {
      node_info: {
        protocol_version: { p2p: P2P_PROTOCOL, block: BLOCK_PROTOCOL, app: '0' },
        id: node.key.nodeId,
        listen_addr: `tcp://${c.listen}:${node.p2p.listenPort}`,
        network: CHAIN_ID,
        version: COMET_VERSION,
        channels: CHANNELS,
        moniker: c.id,
        other: { tx_index: 'on', rpc_address: `tcp://${c.listen}:${this.port}` },
      },
      sync_info: {
        latest_block_hash: last?.block.hashHex ?? '',
        latest_app_hash: height > 0 ? hex(this.views.appHashAfter(height - 1)) : '',
        latest_block_height: String(height),
        latest_block_time: rfc3339(last?.block.timeMs ?? 0),
        earliest_block_hash: first?.hashHex ?? '',
        earliest_app_hash: height > 0 ? hex(this.views.appHashAfter(0)) : '',
        earliest_block_height: height > 0 ? '1' : '0',
        earliest_block_time: rfc3339(first?.timeMs ?? 0),
        catching_up: node.catchingUp(),
      },
      validator_info: {
        address: node.key.addressHex,
        pub_key: { type: 'tendermint/PubKeyEd25519', value: node.key.publicKey.toString('base64') },
        voting_power: '1',
      },
    };
  }

  private netInfo(): unknown {
    const node = this.node;
    const peers = node.p2p.connectedPeers().sort();
    const byId = new Map(node.config.peers.map((p) => [p.id, p]));
    return {
      listening: true,
      listeners: [`Listener(@${node.config.listen}:${node.p2p.listenPort})`],
      n_peers: String(peers.length),
      peers: peers.map((id) => {
        const addr = byId.get(id);
        return {
          node_info: {
            protocol_version: { p2p: P2P_PROTOCOL, block: BLOCK_PROTOCOL, app: '0' },
            id: node.validators.keyOf(id).nodeId,
            moniker: id,
            version: COMET_VERSION,
            channels: CHANNELS,
            listen_addr: addr === undefined ? '' : `tcp://${addr.host}:${addr.port}`,
            network: CHAIN_ID,
          },
          is_outbound: node.config.id < id,
          connection_status: connectionStatus(node.p2p.connection(id)),
          remote_ip: addr?.host ?? '',
        };
      }),
    };
  }

  // ---- WebSocket ------------------------------------------------------------------------------

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = pathOf(req.url ?? '/');
    if (path !== '/websocket' || this.wss === undefined) {
      const text = notFoundText(path);
      socket.end(
        `HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const client: WsClient = { socket: ws, subs: new Map() };
      this.clients.add(client);
      ws.on('message', (data, isBinary) => {
        const text = isBinary
          ? ''
          : (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString('utf8');
        void this.answerBody(text, client).then(({ json }) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(json);
        });
      });
      ws.on('close', () => this.clients.delete(client));
      ws.on('error', () => this.clients.delete(client));
    });
  }

  private subscription(request: RpcRequest, params: Record<string, unknown>, client: WsClient): unknown {
    if (request.method === 'unsubscribe_all') {
      client.subs.clear();
      return {};
    }
    const query = parseEventQuery(params.query);
    const key = String(params.query).trim();
    if (request.method === 'unsubscribe') {
      if (!client.subs.delete(key)) throw new RpcError(RPC_CODES.internal, 'subscription not found');
      return {};
    }
    if (client.subs.has(key)) throw new RpcError(RPC_CODES.internal, 'already subscribed');
    if (client.subs.size >= MAX_SUBSCRIPTIONS_PER_CLIENT) {
      throw new RpcError(
        RPC_CODES.internal,
        `max_subscriptions_per_client ${MAX_SUBSCRIPTIONS_PER_CLIENT} reached`,
      );
    }
    client.subs.set(key, { id: request.id, queryText: key, query });
    return {};
  }

  /** CometBFT 0.38's EventDataNewBlock: the block, its id and the FinalizeBlock response. */
  private newBlockData(cb: CommittedBlock, txB64: (i: number) => string): string {
    const { block } = cb;
    const txs: string[] = [];
    for (let i = 0; i < block.txs.length; i++) txs.push(txB64(i));
    const results = new Array<string>(block.txs.length).fill(TX_RESULT_OK_JSON).join(',');
    return `{"type":"tendermint/event/NewBlock","value":{"block":${JSON.stringify(this.views.block(cb, txs))},"block_id":${JSON.stringify(blockId(block))},"result_finalize_block":{"events":[],"tx_results":[${results}],"validator_updates":[],"consensus_param_updates":null,"app_hash":"${block.hash.toString('base64')}"}}}`;
  }

  /** Sends NewBlock and Tx events of a committed block to matching subscriptions. */
  private publish(cb: CommittedBlock): void {
    if (this.clients.size === 0) return;
    const { block } = cb;
    const heightText = String(block.height);
    const blockEvents = { 'tm.event': ['NewBlock'], 'block.height': [heightText] };
    let blockData: string | undefined;
    let indexByHash: Map<string, number> | undefined;
    const txsB64: string[] = [];
    const txB64 = (i: number): string =>
      (txsB64[i] ??= (block.txs[i] as { bytes: Buffer }).bytes.toString('base64'));
    for (const client of this.clients) {
      if (client.subs.size === 0) continue;
      if (client.socket.bufferedAmount > WS_MAX_BUFFERED_BYTES) {
        client.socket.close(1008, 'client is not pulling messages fast enough');
        this.clients.delete(client);
        continue;
      }
      for (const sub of client.subs.values()) {
        if (matchesQuery(sub.query, blockEvents)) {
          blockData ??= this.newBlockData(cb, txB64);
          client.socket.send(eventMessage(sub, blockData, JSON.stringify(blockEvents)));
          continue;
        }
        if (!sub.query.some((c) => c.key === 'tm.event' && c.value === 'Tx')) continue;
        // One tx's subscription (`tx.hash='…'`, as broadcast_tx_commit and propagation probes
        // ask) looks its tx up instead of matching every tx of the block.
        const wanted = sub.query.find((c) => c.key === 'tx.hash' && c.contains !== true);
        if (wanted !== undefined) indexByHash ??= new Map(block.txs.map((tx, i) => [tx.hash, i]));
        const only = wanted === undefined ? undefined : indexByHash?.get(wanted.value);
        if (wanted !== undefined && only === undefined) continue;
        // `app.key CONTAINS '…'` (propagation probes of a level): a tx whose bytes lack the text
        // cannot match, and is passed over without building its events
        const needle = sub.query.find((c) => c.key === 'app.key' && c.contains === true)?.value;
        for (let i = only ?? 0; i < (only === undefined ? block.txs.length : only + 1); i++) {
          const tx = block.txs[i] as Tx;
          if (needle !== undefined && !tx.bytes.includes(needle)) continue;
          const events = txEvents(tx, heightText);
          if (!matchesQuery(sub.query, events)) continue;
          const data = `{"type":"tendermint/event/Tx","value":{"TxResult":{"height":"${heightText}","index":${i},"tx":"${txB64(i)}","result":${TX_RESULT_OK_JSON}}}}`;
          client.socket.send(eventMessage(sub, data, JSON.stringify(events)));
        }
      }
    }
  }
}

/**
 * CometBFT's connection_status, in part: `Duration` (nanoseconds the connection has been up, as
 * CometBFT gives it) and, a refnode extension, `RTT` from the pings on the connection: the
 * last and smoothed round trip and the lowest seen, in nanoseconds, and how many pings answered.
 */
function connectionStatus(conn: ConnectionInfo | undefined): Record<string, unknown> {
  if (conn === undefined) return {};
  const ns = (ms: number): string => String(Math.round(ms * 1e6));
  const rtt = conn.rtt;
  return {
    Duration: ns(conn.upForMs),
    ...(rtt === undefined
      ? {}
      : {
          RTT: {
            Last: ns(rtt.lastMs),
            Smoothed: ns(rtt.smoothedMs),
            Min: ns(rtt.minMs),
            Samples: String(rtt.samples),
          },
        }),
  };
}

/**
 * A Tx event's attributes: CometBFT's own (`tm.event`, `tx.hash`, `tx.height`) and the `app`
 * event kvstore emits for every tx, with its key (the bytes before the first `=`, or all of
 * them) and creator, so `app.key` queries select txs as they do on kvstore.
 */
function txEvents(tx: Tx, heightText: string): Record<string, string[]> {
  const equals = tx.bytes.indexOf(0x3d);
  const key = tx.bytes.toString('utf8', 0, equals < 0 ? tx.bytes.length : equals);
  return {
    'tm.event': ['Tx'],
    'tx.hash': [tx.hash],
    'tx.height': [heightText],
    'app.creator': [APP_CREATOR],
    'app.key': [key],
  };
}

/** kvstore's `app.creator` attribute, as CometBFT's example app spells it. */
const APP_CREATOR = 'Cosmoshi Netowoko';

function eventMessage(sub: Subscription, data: string, events: string): string {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(sub.id)},"result":{"query":${JSON.stringify(sub.queryText)},"data":${data},"events":${events}}}`;
}

/** A whole-number param (JSON number or string, URI text, quoted or not); absent: undefined. */
function intParam(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = String(value)
    .trim()
    .replace(/^"(.*)"$/, '$1');
  if (!/^\d{1,15}$/.test(text))
    throw new RpcError(RPC_CODES.invalidParams, `${name} must be a whole number, got '${text.slice(0, 32)}'`);
  return Number(text);
}

function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  return new RpcError(RPC_CODES.internal, err instanceof Error ? err.message : String(err));
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
