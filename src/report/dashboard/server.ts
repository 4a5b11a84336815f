/**
 * The dashboard's HTTP server (node:http): `GET /` the live page, `GET /events` the event
 * stream. It binds in the sweep's preflight (a busy port stops the run before anything is
 * deployed), never holds the process open (unref'd), and `close()` ends every stream and
 * stops listening. Memory stays bounded: a client that does not read (more than
 * MAX_BUFFERED_BYTES waiting) is dropped; a late one gets the history in one snapshot.
 * Events go out together every COALESCE_MS: one write per stream then, not one per event
 * (at 16 nodes a level makes some 20-40 a second, and each write to a socket is a system call
 * that also wakes the browser: issue 31, the orchestrator's footprint).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MeshbenchError } from '../../common/errors.js';
import { SSE_HEADERS, sseComment, sseEvent } from './sse.js';

/** A client with this much unsent data is not reading: it is dropped (it may reconnect). */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** A comment on every stream this often, so idle connections are not cut by a proxy. */
export const KEEPALIVE_MS = 15_000;
export const EVENTS_PATH = '/events';
/** How long close() waits for the streams to take what was written to them. */
export const FLUSH_MS = 2000;
/** Events broadcast within this long of the first not yet written go out in one write. */
export const COALESCE_MS = 200;

export interface DashboardServerOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /** The page for `GET /` (the report page in live mode, with the history so far). */
  readonly page: () => Promise<string>;
  /** The events a new stream starts with (the history so far), already framed. */
  readonly greeting: () => string;
  /** How long broadcast events wait to go out together (default COALESCE_MS). */
  readonly coalesceMs?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export class DashboardServer {
  readonly #options: DashboardServerOptions;
  #server: Server | undefined;
  readonly #streams = new Set<ServerResponse>();
  #keepalive: NodeJS.Timeout | undefined;
  /** Framed events not yet written, and the timer that writes them. */
  #pending: string[] = [];
  #coalesce: NodeJS.Timeout | undefined;

  constructor(options: DashboardServerOptions) {
    this.#options = options;
  }

  /** The port it listens on (the one the system chose for port 0). */
  get port(): number {
    const address = this.#server?.address() as AddressInfo | null | undefined;
    return address?.port ?? this.#options.port;
  }

  get url(): string {
    const host = this.#options.host.includes(':') ? `[${this.#options.host}]` : this.#options.host;
    return `http://${host}:${this.port}/`;
  }

  /** Open event streams. */
  get clients(): number {
    return this.#streams.size;
  }

  get listening(): boolean {
    return this.#server?.listening === true;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((request, response) => this.#handle(request, response));
    const { host, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new MeshbenchError(
            error.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'BAD_FLAG',
            `--dashboard ${port}: cannot listen on ${host}:${port} (${error.code ?? error.message})`,
            {
              hint:
                error.code === 'EADDRINUSE'
                  ? `port ${port} is in use: give another, e.g. --dashboard 0 for any free port`
                  : 'give --dashboard-host an address of this machine',
              exitCode: 2,
              cause: error,
            },
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    server.unref();
    this.#server = server;
    this.#keepalive = setInterval(() => this.#send(sseComment('keep-alive')), KEEPALIVE_MS);
    this.#keepalive.unref();
  }

  /** One event to every open stream (written with the others of the next COALESCE_MS). */
  broadcast(name: string, data: string): void {
    if (this.#streams.size === 0) return;
    this.#pending.push(sseEvent(name, data));
    if (this.#coalesce) return;
    this.#coalesce = setTimeout(() => this.#flush(), this.#options.coalesceMs ?? COALESCE_MS);
    this.#coalesce.unref();
  }

  /** Writes the pending events now. */
  #flush(): void {
    clearTimeout(this.#coalesce);
    this.#coalesce = undefined;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#send(text);
  }

  /** Ends every stream (after what was sent) and stops listening. */
  async close(): Promise<void> {
    this.#flush();
    clearInterval(this.#keepalive);
    this.#keepalive = undefined;
    const server = this.#server;
    this.#server = undefined;
    // Each stream ends after what was written to it (the last event may be large), for at most FLUSH_MS.
    const flushed = [...this.#streams].map(
      (stream) => new Promise<void>((resolve) => stream.end(() => resolve())),
    );
    this.#streams.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(flushed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, FLUSH_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  #send(text: string): void {
    for (const stream of this.#streams) {
      if (stream.writableLength > MAX_BUFFERED_BYTES) {
        this.#streams.delete(stream);
        stream.destroy();
        continue;
      }
      stream.write(text);
    }
  }

  #allowedHost(request: IncomingMessage): boolean {
    // Against DNS rebinding: on a loopback address, only loopback names reach the page.
    if (!LOOPBACK.has(this.#options.host)) return true;
    const header = request.headers.host ?? '';
    const name = header.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    return LOOPBACK.has(name);
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0];
    if (!this.#allowedHost(request)) {
      response.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' }).end('unknown host\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    if (path === EVENTS_PATH) {
      // the greeting holds the history so far, the pending events too: they go to the others first
      this.#flush();
      response.writeHead(200, SSE_HEADERS);
      response.write(this.#options.greeting());
      this.#streams.add(response);
      const forget = () => this.#streams.delete(response);
      response.once('close', forget);
      request.socket.setNoDelay(true);
      return;
    }
    if (path === '/' || path === '/index.html') {
      this.#options.page().then(
        (html) =>
          response
            .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
            .end(request.method === 'HEAD' ? undefined : html),
        (error: unknown) =>
          response
            .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
            .end(`the page could not be made: ${error instanceof Error ? error.message : String(error)}\n`),
      );
      return;
    }
    response
      .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      .end(`not here: the dashboard is at / and its events at ${EVENTS_PATH}\n`);
  }
}
