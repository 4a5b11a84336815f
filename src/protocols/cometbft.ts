/**
 * CometBFT JSON-RPC: `broadcast_tx_async|sync|commit` POSTed to the RPC root,
 * commits confirmed from the `/websocket` NewBlock (or Tx) events, `tx?hash=` as
 * the fallback. Follows CometBFT's RPC spec (v0.38).
 */
import { undici } from './undici-lazy.js';
import type { WebSocket } from 'ws';
import { cometbftBacklog, readHeight } from './cometbft-mempool.js';
import { closeSocket, committedHashes, websocketUrlFor } from './cometbft-events.js';
import { cometbftTransactionWatcher } from './cometbft-watch.js';
import { joinUrl, parseJson, probeRequest, readPath } from './protocol.js';
import type { CommitSource, Protocol, ProtocolDefinition, ReplyOutcome } from './protocol.js';
import { describeError, getJson, type ReadinessProbe } from './readiness.js';
import { oneOf } from './settings.js';

export { committedHashes, websocketUrlFor } from './cometbft-events.js';

export type BroadcastMode = 'async' | 'sync' | 'commit';
export const BROADCAST_MODES: readonly BroadcastMode[] = ['async', 'sync', 'commit'];

export type CometbftOptions = { readonly kind: 'cometbft'; readonly broadcastMode: BroadcastMode };

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function codeOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value !== '') return Number(value);
  return undefined;
}

/**
 * The exact bytes CometBFT (and the reference node) send for an accepted async/sync
 * broadcast: `{"jsonrpc":"2.0","id":N,"result":{"code":0,"data":"…","log":"…","codespace":"…","hash":"…"}}`,
 * strings without escapes or control characters. Such a body is valid JSON whose only
 * reading is "ok", so it skips JSON.parse (about 2 % of the generator's CPU at 5,000 tx/s);
 * any other body, even one that differs only in spacing or key order, takes the full path.
 */
const ACCEPTED_REPLY =
  /^\{"jsonrpc":"2\.0","id":-?(?:0|[1-9]\d{0,15}),"result":\{"code":0,"data":"[ !#-[\]-\uffff]*","log":"[ !#-[\]-\uffff]*","codespace":"[ !#-[\]-\uffff]*","hash":"[0-9A-Fa-f]*"\}\}$/;
const OK: ReplyOutcome = Object.freeze({ kind: 'ok' });

export function parseCometbftReply(statusCode: number, body: string, mode: BroadcastMode): ReplyOutcome {
  if (mode !== 'commit' && statusCode === 200 && ACCEPTED_REPLY.test(body)) return OK;
  return parseCometbftReplyJson(statusCode, body, mode);
}

/** `parseCometbftReply` without the fast path: every body through JSON.parse. */
export function parseCometbftReplyJson(statusCode: number, body: string, mode: BroadcastMode): ReplyOutcome {
  const json = parseJson(body);
  if (json === undefined || json === null || typeof json !== 'object') {
    return statusCode >= 200 && statusCode < 300
      ? { kind: 'badResponse' }
      : { kind: 'httpError', status: statusCode };
  }
  const error = (json as { error?: unknown }).error;
  if (error !== undefined && error !== null && error !== '') {
    const code = typeof error === 'object' ? codeOf((error as { code?: unknown }).code) : undefined;
    return { kind: 'rejected', code: `rpc:${code ?? 'unknown'}` };
  }
  if (statusCode < 200 || statusCode >= 300) return { kind: 'httpError', status: statusCode };
  const result = (json as { result?: unknown }).result;
  if (result === null || typeof result !== 'object') return { kind: 'badResponse' };
  if (mode === 'commit') {
    const check = codeOf(readPath(result, 'check_tx.code')) ?? 0;
    if (check !== 0) return { kind: 'rejected', code: `app:${check}` };
    const deliver =
      codeOf(readPath(result, 'tx_result.code')) ?? codeOf(readPath(result, 'deliver_tx.code')) ?? 0;
    if (deliver !== 0) return { kind: 'rejected', code: `app:${deliver}` };
    return { kind: 'ok', committed: true };
  }
  const code = codeOf((result as { code?: unknown }).code);
  if (code === undefined || Number.isNaN(code)) return { kind: 'badResponse' };
  return code === 0 ? { kind: 'ok' } : { kind: 'rejected', code: `app:${code}` };
}

class CometbftCommitSource implements CommitSource {
  readonly ready: Promise<boolean>;
  private socket: WebSocket | undefined;
  private live = false;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly onCommitted: (hash: string) => void,
    connectTimeoutMs = 5000,
  ) {
    // ws (and undici below) load on first use, not with the module: the protocols are
    // registered at start-up, and local-network's start-up path should not pay for them.
    this.ready = import('ws').then(({ WebSocket }) => this.connect(WebSocket, connectTimeoutMs));
  }

  private connect(WebSocketClass: typeof WebSocket, connectTimeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (value: boolean) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        settle(false);
        this.socket?.terminate();
      }, connectTimeoutMs);
      if (this.closed) {
        settle(false);
        return;
      }
      let socket: WebSocket;
      try {
        socket = new WebSocketClass(this.url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
      } catch {
        settle(false);
        return;
      }
      this.socket = socket;
      socket.on('open', () => {
        socket.send(
          JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'subscribe',
            params: { query: "tm.event='NewBlock'" },
          }),
        );
      });
      socket.on('message', (raw: Buffer) => {
        const message = parseJson(raw.toString('utf8'));
        if (message === undefined) return;
        const id = (message as { id?: unknown }).id;
        const hasError = (message as { error?: unknown }).error;
        if ((id === 1 || id === '1') && !settled) {
          if (hasError) {
            // No NewBlock subscription: fall back to Tx events.
            socket.send(
              JSON.stringify({
                jsonrpc: '2.0',
                id: 2,
                method: 'subscribe',
                params: { query: "tm.event='Tx'" },
              }),
            );
            return;
          }
          if (readPath(message, 'result.data') === undefined) {
            this.live = true;
            settle(true);
            return;
          }
        }
        if ((id === 2 || id === '2') && !settled) {
          if (hasError) {
            settle(false);
            socket.close();
            return;
          }
          if (readPath(message, 'result.data') === undefined) {
            this.live = true;
            settle(true);
            return;
          }
        }
        const hashes = committedHashes(message);
        if (hashes) for (const hash of hashes) this.onCommitted(hash);
      });
      socket.on('error', () => settle(false));
      socket.on('close', () => {
        this.live = false;
        settle(false);
      });
    });
  }

  get connected(): boolean {
    return this.live && !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    await closeSocket(this.socket);
  }
}

type JsonRecord = Record<string, unknown>;
const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? (value as JsonRecord)[key] : undefined;

/** CometBFT RPC: /health answers, /status says not catching up, /net_info has the peers. */
export function cometbftProbe(expectedPeers: number): ReadinessProbe {
  return async (target, http) => {
    try {
      const health = await http(`${target.rpcUrl}/health`);
      if (health.status !== 200) return { ready: false, detail: `/health answered HTTP ${health.status}` };
      const status = field(await getJson(http, `${target.rpcUrl}/status`), 'result');
      const catchingUp = field(field(status, 'sync_info'), 'catching_up');
      if (catchingUp !== false) return { ready: false, detail: `status: catching_up=${String(catchingUp)}` };
      if (expectedPeers > 0) {
        const netInfo = field(await getJson(http, `${target.rpcUrl}/net_info`), 'result');
        const peers = Number(field(netInfo, 'n_peers'));
        if (!(peers >= expectedPeers)) {
          return {
            ready: false,
            detail: `net_info: ${Number.isNaN(peers) ? '?' : peers} of ${expectedPeers} peers`,
            ...(Number.isNaN(peers) ? {} : { peers }),
          };
        }
      }
      return { ready: true, detail: 'ready' };
    } catch (error) {
      return { ready: false, detail: describeError(error) };
    }
  };
}

export function createCometbftProtocol(mode: BroadcastMode): Protocol {
  const method = `broadcast_tx_${mode}`;
  const prefix = `{"jsonrpc":"2.0","id":`;
  const middle = `,"method":"${method}","params":{"tx":"`;
  return {
    kind: 'cometbft',
    repliesConfirmCommit: mode === 'commit',
    faultModel: 'byzantine',
    backlog: cometbftBacklog,
    watchTransactions: cometbftTransactionWatcher,
    height: (endpoint, options) => readHeight(endpoint, options),
    recordedSettings: { broadcastMode: mode },
    request: { method: 'POST', path: '/', headers: JSON_HEADERS, asciiBodies: true },
    body: (tx, seq) => prefix + seq + middle + tx.base64 + '"}}',
    parseReply: (statusCode, body) => parseCometbftReply(statusCode, body, mode),
    probe: (endpoint, timeoutMs) =>
      probeRequest(
        joinUrl(endpoint.rpcUrl, '/health'),
        { method: 'GET' },
        timeoutMs,
        (status) => status === 200,
      ),
    commits: {
      subscribe: (wsUrl, onCommitted) => new CometbftCommitSource(wsUrl, onCommitted),
      websocketUrl: websocketUrlFor,
      async poll(endpoint, hash, timeoutMs) {
        try {
          const { request } = await undici();
          const response = await request(joinUrl(endpoint.rpcUrl, `/tx?hash=0x${hash}`), {
            method: 'GET',
            signal: AbortSignal.timeout(timeoutMs),
          });
          const json = parseJson(await response.body.text());
          if (response.statusCode !== 200 || json === undefined) return false;
          const result = readPath(json, 'result');
          return result !== undefined && result !== null && readPath(json, 'error') === undefined;
        } catch {
          return false;
        }
      },
    },
  };
}

/** CometBFT JSON-RPC (and the reference node): the default protocol. */
export const cometbft: ProtocolDefinition<CometbftOptions> = {
  kind: 'cometbft',
  settings: [
    {
      key: 'broadcastMode',
      describe: 'cometbft broadcast: async | sync | commit',
      defaultDescription: 'async',
      default: 'async',
      parse: oneOf(BROADCAST_MODES),
    },
  ],
  options: (values) => ({
    kind: 'cometbft',
    broadcastMode: (values.broadcastMode as BroadcastMode | undefined) ?? 'async',
  }),
  check: (options) =>
    BROADCAST_MODES.includes(options.broadcastMode)
      ? undefined
      : {
          message: `broadcast mode ${JSON.stringify(options.broadcastMode)} is not known`,
          hint: 'use async, sync or commit',
        },
  create: (options) => createCometbftProtocol(options.broadcastMode),
  mixFields: {
    fields: { mode: `the broadcast mode: ${BROADCAST_MODES.join(' | ')}` },
    apply: (base, fields) => {
      const mode = fields.mode === undefined ? base.broadcastMode : String(fields.mode).trim();
      return (BROADCAST_MODES as readonly string[]).includes(mode)
        ? { ...base, broadcastMode: mode as BroadcastMode }
        : { field: 'mode', rule: BROADCAST_MODES.join(' | ') };
    },
  },
  confirmsCommits: true,
  readiness: cometbftProbe,
  defaultRpcPort: 26657,
  describe: (options) => `cometbft (${options.broadcastMode})`,
};
