/**
 * One interface for the protocols the load generator speaks. A protocol builds
 * the request for a transaction, classifies the reply, probes an endpoint's
 * health, and (cometbft) knows how to confirm commits.
 */
import { request } from 'undici';
import { MeshbenchError } from '../common/errors.js';
import type { Endpoint } from './endpoint.js';
import type { Transaction } from './transaction.js';
import type { ProtocolOptions } from './options.js';
import type { EtcdKeysSummary } from './etcd-keys.js';

export type ProtocolKind = ProtocolOptions['kind'];
export const PROTOCOL_KINDS: readonly ProtocolKind[] = ['cometbft', 'etcd', 'http'];

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
    /** Subscribes to committed txs at `wsUrl`; `onCommitted` gets uppercase hex hashes. */
    subscribe(wsUrl: string, onCommitted: (hash: string) => void): CommitSource;
    /** Asks a node whether a tx (uppercase hex hash) is committed. */
    poll(endpoint: Endpoint, hash: string, timeoutMs: number): Promise<boolean>;
    /** The default WebSocket URL for an endpoint. */
    websocketUrl(endpoint: Endpoint): string;
  };
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
