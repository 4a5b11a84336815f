/**
 * How a shard puts requests on the wire. One interface, one file per implementation:
 * `transport-undici.ts` (undici Pool; http and https) and `transport-raw.ts` (plain
 * `http://` over keep-alive `net.Socket`s with a small HTTP/1.1 parser: the lean one).
 *
 * A transport sends the same method and path (per endpoint) for every request; only
 * the body changes. It reports each request's end exactly once to its sink, unless
 * the generator aborted it first (then it reports nothing the generator still counts).
 */
import type { Endpoint } from '../protocols/endpoint.js';
import type { RequestTemplate } from '../protocols/protocol.js';

export type TransportKind = 'undici' | 'raw';
export const TRANSPORT_KINDS: readonly TransportKind[] = ['undici', 'raw'];

/** How a request failed before a whole reply came back (a reply is classified by the protocol). */
export type TransportFailure =
  /** The generator aborted it (its timeout), or the transport saw no answer in time. */
  | 'timeout'
  /** Could not connect, the connection was reset or closed before the reply ended. */
  | 'connectionError'
  /** The bytes that came back are not a valid HTTP/1.x response. */
  | 'badResponse';

/** Receives the end of one request. */
export interface TransportSink {
  /** The request was written to a connection (its uncorrected latency starts here). */
  onWire(): void;
  /** A whole reply: status and body as text. */
  onReply(status: number, body: string): void;
  /**
   * `cause` `connect`: the endpoint could not be reached at all (refused, unreachable, the
   * connect timeout, or the backoff after one), as opposed to a connection that broke; only
   * these take a node for down (--fault-load), so an overloaded node's resets stay failures.
   */
  onFailure(failure: TransportFailure, cause?: 'connect'): void;
}

/** One request in flight, as the generator sees it. */
export interface TransportRequest {
  /** Gives up on the request (the generator counted it as a timeout already). */
  abort(): void;
}

export interface Transport {
  /**
   * Sends `body` to endpoint `node` (an index into the endpoints the transport was made for),
   * as request `variant` (0: `request`; k: `variants[k - 1]`, a mix's kinds).
   */
  send(node: number, body: string, sink: TransportSink, variant?: number): TransportRequest;
  /** Closes every connection; requests still in flight end as connection errors. */
  close(): Promise<void>;
}

export interface TransportOptions {
  readonly endpoints: readonly Endpoint[];
  readonly request: RequestTemplate;
  /** Further requests (method, path, headers) sent over the same connections: a mix's kinds 1…n. */
  readonly variants?: readonly RequestTemplate[];
  readonly connectionsPerEndpoint: number;
  /** Requests written to one connection before its first reply (1 = no pipelining). */
  readonly pipelining: number;
  readonly connectTimeoutMs: number;
}

/** The path requests go to on an endpoint: its base path joined with the protocol's path. */
export function requestPath(endpoint: Endpoint, request: RequestTemplate): string {
  const base = new URL(endpoint.rpcUrl).pathname.replace(/\/$/, '');
  const path = request.path;
  return base + (path.startsWith('/') ? path : `/${path}`);
}

/**
 * The transport used when none is asked for: `raw` when every endpoint is plain
 * `http://`, else `undici` (the raw transport speaks no TLS).
 */
export function defaultTransport(endpoints: readonly Endpoint[]): TransportKind {
  return endpoints.every((e) => e.rpcUrl.startsWith('http://')) ? 'raw' : 'undici';
}
