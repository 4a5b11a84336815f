/**
 * The raw transport: plain `http://` over persistent keep-alive `net.Socket`s, the
 * way autocannon does it, for the least CPU per request.
 *
 * - Per endpoint up to `connectionsPerEndpoint` connections, opened on demand; each
 *   carries up to `pipelining` requests at a time (replies come back in order).
 * - A request is one string written in one call: a head prefix built once per endpoint
 *   (method, path, Host, the protocol's headers), Content-Length, the body. With
 *   pipelining, writes to a connection within one tick go out together (cork/uncork).
 * - Replies are read by the strict incremental parser in `src/common/http1-parser.ts`.
 *
 * Failures, as the generator counts them:
 * - the bytes back are not HTTP/1.x: the request they answer is a `badResponse`, the
 *   connection is dropped and the others on it are connection errors;
 * - a reset, or the connection closing before a reply ends (also after a
 *   `Connection: close` reply, for requests pipelined behind it): `connectionError`;
 * - could not connect (refused, unreachable, connect timeout): `connectionError` for the
 *   requests waiting on that connection, and, while no connection to that endpoint is up,
 *   for every request queued for it; the next connect to that endpoint waits (backoff
 *   20 ms doubling up to 1 s, reset by a successful connect), and a request sent during
 *   the backoff fails at once. So a send to a dead node ends as a connection error within
 *   the connect timeout, never as a reply timeout behind a queue;
 * - `abort()` (the generator's timeout) drops the connection the request is on (an
 *   HTTP/1.1 request cannot be cancelled otherwise); requests pipelined behind it on
 *   that connection end as connection errors, unless the generator times them out first.
 *   A request aborted while still queued for a connection is never sent.
 * Nothing is retried: the server sees each request at most once.
 */
import { Socket } from 'node:net';
import type { OnReadOpts, SocketConstructorOpts } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ResponseParser } from '../common/http1-parser.js';
import { requestPath } from './transport.js';
import type { Transport, TransportOptions, TransportRequest, TransportSink } from './transport.js';
import type { Endpoint } from '../protocols/endpoint.js';
import type { RequestTemplate } from '../protocols/protocol.js';

const BACKOFF_FIRST_MS = 20;
const BACKOFF_MAX_MS = 1000;
/** Stop reusing an idle connection this long before the server's announced keep-alive timeout. */
const KEEP_ALIVE_MARGIN_MS = 1000;
/** The size of the one buffer all connections read into. */
const READ_BUFFER_BYTES = 64 * 1024;

/** Headers the transport writes itself (framing and connection management). */
const RESERVED_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Builds the head of every request to one endpoint, up to (not including) the Content-Length value. */
export function requestHeadPrefix(endpoint: Endpoint, request: RequestTemplate): string {
  const url = new URL(endpoint.rpcUrl);
  let head = `${request.method} ${requestPath(endpoint, request)} HTTP/1.1\r\n`;
  let host = url.host;
  let extra = '';
  for (const [name, value] of Object.entries(request.headers)) {
    if (!HEADER_NAME.test(name) || /[\r\n\0]/.test(value)) {
      throw new Error(`invalid request header ${JSON.stringify(name)}: ${JSON.stringify(value)}`);
    }
    const lower = name.toLowerCase();
    if (lower === 'host') host = value;
    else if (!RESERVED_HEADERS.has(lower)) extra += `${name}: ${value}\r\n`;
  }
  head += `host: ${host}\r\nconnection: keep-alive\r\n${extra}content-length: `;
  return head;
}

class RawRequest implements TransportRequest {
  /** The connection it was written to. */
  connection: RawConnection | undefined = undefined;
  /** Reported to the sink, or aborted: nothing more is said about it. */
  done = false;

  constructor(
    readonly sink: TransportSink,
    /** The whole request (cleared once written). */
    public data: string,
    /** Every character is ASCII (so latin1 and UTF-8 give the same bytes). */
    readonly ascii: boolean,
  ) {}

  abort(): void {
    if (this.done) return;
    this.done = true;
    this.data = '';
    // Queued requests are skipped when dequeued; one on the wire takes its connection down.
    this.connection?.destroy();
  }
}

class RawConnection {
  readonly socket: Socket;
  readonly inFlight: RawRequest[] = [];
  connected = false;
  closed = false;
  /** In the endpoint's list of connections that can take another request. */
  inFree = true;
  idleSinceMs = 0;
  keepAliveTimeoutMs = Infinity;
  private corked = false;
  private readonly parser: ResponseParser;

  constructor(private readonly pool: EndpointPool) {
    this.parser = new ResponseParser((status, body, keepAlive, keepAliveTimeoutMs) =>
      this.onResponse(status, body, keepAlive, keepAliveTimeoutMs),
    );
    // Replies are read straight into the transport's one read buffer (`onread`, a Socket
    // constructor option that @types/node lists only for net.connect): no Buffer per
    // read and no readable-stream machinery; the parser copies what it keeps.
    const options: SocketConstructorOpts & { onread: OnReadOpts } = {
      onread: {
        buffer: pool.readBuffer,
        callback: (bytes: number, buffer: Uint8Array): boolean => {
          this.onData(buffer as Buffer, bytes);
          return true;
        },
      },
    };
    const socket = new Socket(options);
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(pool.connectTimeoutMs);
    socket.on('connect', () => this.onConnect());
    socket.on('timeout', () => {
      // After a stall of this thread longer than the timeout, the timeout runs before the poll
      // that reports the connect (made in the kernel meanwhile): look again after that poll.
      if (!this.connected)
        setImmediate(() => {
          if (!this.connected) socket.destroy();
        });
    });
    socket.on('end', () => this.onEnd());
    socket.on('error', () => undefined); // 'close' follows; every error is a connection error
    socket.on('close', () => this.onClose());
    socket.connect(pool.port, pool.hostname);
  }

  write(request: RawRequest): void {
    request.connection = this;
    this.inFlight.push(request);
    if (this.pool.pipelining > 1 && !this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.socket.write(request.data, request.ascii ? 'latin1' : 'utf8');
    request.data = '';
    if (this.connected) request.sink.onWire();
  }

  uncork(): void {
    this.corked = false;
    if (!this.closed) this.socket.uncork();
  }

  destroy(): void {
    if (!this.closed) this.socket.destroy();
  }

  /** Can take another request now (an idle connection the server may be about to close cannot). */
  usable(nowMs: () => number): boolean {
    if (this.socket.destroyed || this.inFlight.length >= this.pool.pipelining) return false;
    if (this.inFlight.length === 0 && this.keepAliveTimeoutMs !== Infinity) {
      if (nowMs() - this.idleSinceMs > this.keepAliveTimeoutMs - KEEP_ALIVE_MARGIN_MS) {
        this.socket.destroy();
        return false;
      }
    }
    return true;
  }

  private onConnect(): void {
    this.connected = true;
    this.socket.setTimeout(0);
    this.pool.onConnected();
    for (const request of this.inFlight) if (!request.done) request.sink.onWire();
  }

  private onData(buffer: Buffer, bytes: number): void {
    if (this.socket.destroyed) return;
    if (!this.parser.execute(buffer.subarray(0, bytes))) {
      // Not HTTP: the request it answers is a bad response; the rest go with the connection.
      const request = this.inFlight.shift();
      if (request !== undefined && !request.done) {
        request.done = true;
        request.sink.onFailure('badResponse');
      }
      this.socket.destroy();
    }
  }

  private onResponse(
    status: number,
    body: string,
    keepAlive: boolean,
    keepAliveTimeoutMs: number | undefined,
  ): void {
    if (this.socket.destroyed) return;
    const request = this.inFlight.shift();
    if (request === undefined) {
      // A response to nothing: the stream is out of step.
      this.socket.destroy();
      return;
    }
    if (keepAliveTimeoutMs !== undefined) this.keepAliveTimeoutMs = keepAliveTimeoutMs;
    if (!keepAlive) this.socket.destroy();
    if (!request.done) {
      request.done = true;
      request.sink.onReply(status, body);
    }
    if (!keepAlive) return;
    if (this.inFlight.length === 0) this.idleSinceMs = performance.now();
    this.pool.onCapacity(this);
  }

  private onEnd(): void {
    // A body framed by the end of the connection is complete now; anything else half-read is lost.
    this.parser.finish();
    this.socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    const requests = this.inFlight.splice(0);
    this.pool.onClosed(this);
    const cause = this.connected ? undefined : 'connect';
    for (const request of requests) {
      if (request.done) continue;
      request.done = true;
      request.sink.onFailure('connectionError', cause);
    }
  }
}

function uncork(connection: RawConnection): void {
  connection.uncork();
}

/** A FIFO of requests waiting for a connection. */
class Queue {
  private items: (RawRequest | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: RawRequest): void {
    this.items.push(item);
  }
  peek(): RawRequest | undefined {
    return this.items[this.head];
  }
  shift(): RawRequest | undefined {
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

class EndpointPool {
  readonly hostname: string;
  readonly port: number;
  /** Per request variant (a mix's kinds; one without a mix): the head up to the Content-Length value. */
  readonly prefixes: string[];
  readonly prefixIsAscii: boolean[];
  /** The protocol's bodies are all ASCII (no UTF-8 length scan per request), per variant. */
  readonly asciiBodies: boolean[];
  private readonly connections = new Set<RawConnection>();
  /** Connections that may take another request (checked lazily); the last is used first. */
  private readonly free: RawConnection[] = [];
  private readonly waiting = new Queue();
  private connectFailures = 0;
  /** Connections that connected and are still open. */
  private connectedCount = 0;
  private backoffUntilMs = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly now = () => performance.now();

  constructor(
    endpoint: Endpoint,
    requests: readonly RequestTemplate[],
    readonly maxConnections: number,
    readonly pipelining: number,
    readonly connectTimeoutMs: number,
    /** Where every connection of the transport reads into (one read is handled at a time). */
    readonly readBuffer: Buffer,
  ) {
    const url = new URL(endpoint.rpcUrl);
    if (url.protocol !== 'http:') {
      throw new Error(
        `the raw transport speaks plain http:// only, not ${url.protocol}// (${endpoint.rpcUrl})`,
      );
    }
    this.hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port === '' ? 80 : Number(url.port);
    this.prefixes = requests.map((request) => requestHeadPrefix(endpoint, request));
    this.prefixIsAscii = this.prefixes.map((prefix) => Buffer.byteLength(prefix) === prefix.length);
    this.asciiBodies = requests.map((request) => request.asciiBodies === true);
  }

  send(request: RawRequest): void {
    if (this.closing || this.unreachable()) {
      request.done = true;
      const cause = this.closing ? undefined : 'connect';
      queueMicrotask(() => request.sink.onFailure('connectionError', cause));
      return;
    }
    if (this.waiting.length === 0) {
      const connection = this.take();
      if (connection !== undefined) {
        this.assign(connection, request);
        return;
      }
    }
    this.waiting.push(request);
  }

  /** The last connect failed, no connection is up, and the backoff before the next one runs. */
  private unreachable(): boolean {
    return this.connectFailures > 0 && this.connectedCount === 0 && this.now() < this.backoffUntilMs;
  }

  /** A connection that can take a request now, opening one if allowed. */
  private take(): RawConnection | undefined {
    const free = this.free;
    while (free.length > 0) {
      const connection = free[free.length - 1] as RawConnection;
      if (connection.usable(this.now)) return connection;
      free.pop();
      connection.inFree = false;
    }
    if (this.connections.size >= this.maxConnections || this.closing) return undefined;
    if (this.connectFailures > 0 && this.now() < this.backoffUntilMs) return undefined;
    const connection = new RawConnection(this);
    this.connections.add(connection);
    free.push(connection);
    return connection;
  }

  private assign(connection: RawConnection, request: RawRequest): void {
    connection.write(request);
    if (connection.inFlight.length >= this.pipelining && this.free[this.free.length - 1] === connection) {
      this.free.pop();
      connection.inFree = false;
    }
  }

  /** Sends what waits, while connections can take it. */
  private drain(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting.peek() as RawRequest;
      if (next.done) {
        this.waiting.shift();
        continue;
      }
      const connection = this.take();
      if (connection === undefined) return;
      this.waiting.shift();
      this.assign(connection, next);
    }
  }

  /** A reply ended on `connection` (kept alive): it can take another request. */
  onCapacity(connection: RawConnection): void {
    if (!connection.inFree) {
      connection.inFree = true;
      this.free.push(connection);
    }
    if (this.waiting.length > 0) this.drain();
  }

  onConnected(): void {
    this.connectFailures = 0;
    this.connectedCount++;
  }

  onClosed(connection: RawConnection): void {
    this.connections.delete(connection);
    if (connection.inFree) {
      const index = this.free.lastIndexOf(connection);
      if (index >= 0) this.free.splice(index, 1);
      connection.inFree = false;
    }
    if (connection.connected) this.connectedCount--;
    if (this.closing) return;
    if (!connection.connected) {
      this.connectFailures++;
      const delayMs = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.connectFailures - 1));
      this.backoffUntilMs = this.now() + delayMs;
      // Could not connect, and no connection is up: what waits for this endpoint fails now.
      if (this.connectedCount === 0) this.failWaiting('connect');
      // One timer, for the latest end of backoff: then what waits gets a new connection.
      if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
      this.backoffTimer = setTimeout(() => {
        this.backoffTimer = undefined;
        this.drain();
      }, delayMs + 1);
    }
    if (this.waiting.length > 0) this.drain();
  }

  private failWaiting(cause?: 'connect'): void {
    while (this.waiting.length > 0) {
      const request = this.waiting.shift() as RawRequest;
      if (request.done) continue;
      request.done = true;
      request.sink.onFailure('connectionError', cause);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.failWaiting();
    const closed = [...this.connections].map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (connection.closed) resolve();
          else connection.socket.once('close', () => resolve());
          connection.destroy();
        }),
    );
    await Promise.all(closed);
  }
}

export class RawTransport implements Transport {
  private readonly pools: EndpointPool[];

  constructor(options: TransportOptions) {
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    this.pools = options.endpoints.map(
      (endpoint) =>
        new EndpointPool(
          endpoint,
          [options.request, ...(options.variants ?? [])],
          options.connectionsPerEndpoint,
          options.pipelining,
          options.connectTimeoutMs,
          readBuffer,
        ),
    );
  }

  send(node: number, body: string, sink: TransportSink, variant = 0): TransportRequest {
    const pool = this.pools[node] as EndpointPool;
    const length = pool.asciiBodies[variant] ? body.length : Buffer.byteLength(body);
    const request = new RawRequest(
      sink,
      `${pool.prefixes[variant]}${length}\r\n\r\n${body}`,
      // All ASCII (JSON with base64, the usual case): written as latin1, one copy, no UTF-8 pass.
      pool.prefixIsAscii[variant] === true && length === body.length,
    );
    pool.send(request);
    return request;
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.close()));
  }
}
