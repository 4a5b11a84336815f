/**
 * The undici transport: one keep-alive `Pool` per endpoint (http and https),
 * requests dispatched with undici's handler interface (no promise or stream per request).
 *
 * A dead endpoint fails fast, as in the raw transport: when a connect to it fails (refused,
 * unreachable, the connect timeout), every request still queued for it ends as a connection
 * error at once, and a request sent during the backoff that follows (20 ms doubling up to
 * 1 s, until a request goes on the wire again) fails without waiting in undici's queue.
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { requestPath } from './transport.js';
import type {
  Transport,
  TransportFailure,
  TransportOptions,
  TransportRequest,
  TransportSink,
} from './transport.js';

class AbortedByGenerator extends Error {
  constructor() {
    super('request aborted by the generator (timeout)');
    this.name = 'AbortedByGenerator';
  }
}

function classifyError(error: Error): TransportFailure {
  if (error instanceof AbortedByGenerator) return 'timeout';
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  // llhttp's errors: the reply is not HTTP.
  if (error.name === 'HTTPParserError' || code?.startsWith('HPE_') === true) return 'badResponse';
  // ECONNRESET, ECONNREFUSED, EPIPE, UND_ERR_SOCKET, UND_ERR_CLOSED, connect timeouts, …
  return 'connectionError';
}

const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const BACKOFF_FIRST_MS = 20;
const BACKOFF_MAX_MS = 1000;

/** One endpoint's requests not yet on the wire, and whether it can be reached. */
class EndpointState {
  readonly queued = new Set<UndiciRequest>();
  connectFailures = 0;
  unreachableUntilMs = 0;

  /** A connect failed: what waits fails now, and new sends fail until the backoff ends. */
  onConnectFailure(): void {
    this.connectFailures++;
    this.unreachableUntilMs =
      Date.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.connectFailures - 1));
    const queued = [...this.queued];
    this.queued.clear();
    for (const request of queued) request.failNow();
  }

  onWire(request: UndiciRequest): void {
    this.queued.delete(request);
    this.connectFailures = 0;
  }
}

class UndiciRequest implements Dispatcher.DispatchHandler, TransportRequest {
  private controller: Dispatcher.DispatchController | undefined;
  private aborted = false;
  /** Reported to the sink: nothing more is said about it. */
  private done = false;
  private wired = false;
  private status = 0;
  private chunks: Buffer[] = [];

  constructor(
    private readonly sink: TransportSink,
    private readonly endpoint: EndpointState,
  ) {}

  abort(): void {
    this.aborted = true;
    this.endpoint.queued.delete(this);
    this.controller?.abort(new AbortedByGenerator());
    this.controller = undefined;
  }
  /** Its endpoint could not be reached while it waited: a connection error now, never sent. */
  failNow(): void {
    if (this.done) return;
    this.aborted = true;
    this.done = true;
    this.controller?.abort(new AbortedByGenerator());
    this.controller = undefined;
    this.sink.onFailure('connectionError', 'connect');
  }
  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Aborted while queued for a connection: never put it on the wire.
    if (this.aborted) {
      controller.abort(new AbortedByGenerator());
      return;
    }
    this.controller = controller;
    this.wired = true;
    this.endpoint.onWire(this);
    this.sink.onWire();
  }
  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
  }
  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }
  onResponseEnd(): void {
    if (this.done) return;
    this.done = true;
    const chunks = this.chunks;
    this.chunks = [];
    this.controller = undefined;
    const body =
      chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
    this.sink.onReply(this.status, body);
  }
  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.chunks = [];
    this.controller = undefined;
    this.endpoint.queued.delete(this);
    if (this.done) return;
    this.done = true;
    const code = (error as NodeJS.ErrnoException).code;
    const failure = classifyError(error);
    const unreachable =
      !this.wired && failure === 'connectionError' && code !== undefined && CONNECT_ERRORS.has(code);
    this.sink.onFailure(failure, unreachable ? 'connect' : undefined);
    if (unreachable) this.endpoint.onConnectFailure();
  }
}

export class UndiciTransport implements Transport {
  private readonly pools: Pool[];
  private readonly states: EndpointState[];
  /** Per request variant (a mix's kinds; one without a mix): paths per endpoint, method, headers. */
  private readonly paths: string[][];
  private readonly methods: string[];
  private readonly headers: string[][];

  constructor(private readonly options: TransportOptions) {
    this.pools = options.endpoints.map(
      (endpoint) =>
        new Pool(new URL(endpoint.rpcUrl).origin, {
          connections: options.connectionsPerEndpoint,
          pipelining: options.pipelining,
          keepAliveTimeout: 30_000,
          // The generator times requests out itself (no timer per request).
          headersTimeout: 0,
          bodyTimeout: 0,
          connect: { timeout: options.connectTimeoutMs },
        }),
    );
    this.states = options.endpoints.map(() => new EndpointState());
    const requests = [options.request, ...(options.variants ?? [])];
    this.paths = requests.map((template) =>
      options.endpoints.map((endpoint) => requestPath(endpoint, template)),
    );
    this.methods = requests.map((template) => template.method);
    this.headers = requests.map((template) => Object.entries(template.headers).flat());
  }

  send(node: number, body: string, sink: TransportSink, variant = 0): TransportRequest {
    const state = this.states[node] as EndpointState;
    const request = new UndiciRequest(sink, state);
    if (state.connectFailures > 0 && Date.now() < state.unreachableUntilMs) {
      queueMicrotask(() => request.failNow());
      return request;
    }
    state.queued.add(request);
    (this.pools[node] as Pool).dispatch(
      {
        path: (this.paths[variant] as string[])[node] as string,
        method: this.methods[variant] as string,
        headers: this.headers[variant] as string[],
        body,
        ...(this.options.pipelining > 1 ? { idempotent: true } : {}),
      },
      request,
    );
    return request;
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.destroy().catch(() => undefined)));
  }
}
