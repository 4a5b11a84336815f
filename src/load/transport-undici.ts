/**
 * The undici transport: one keep-alive `Pool` per endpoint (http and https),
 * requests dispatched with undici's handler interface (no promise or stream per request).
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

class UndiciRequest implements Dispatcher.DispatchHandler, TransportRequest {
  private controller: Dispatcher.DispatchController | undefined;
  private aborted = false;
  private status = 0;
  private chunks: Buffer[] = [];

  constructor(private readonly sink: TransportSink) {}

  abort(): void {
    this.aborted = true;
    this.controller?.abort(new AbortedByGenerator());
    this.controller = undefined;
  }
  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Aborted while queued for a connection: never put it on the wire.
    if (this.aborted) {
      controller.abort(new AbortedByGenerator());
      return;
    }
    this.controller = controller;
    this.sink.onWire();
  }
  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
  }
  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }
  onResponseEnd(): void {
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
    this.sink.onFailure(classifyError(error));
  }
}

export class UndiciTransport implements Transport {
  private readonly pools: Pool[];
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
    const requests = [options.request, ...(options.variants ?? [])];
    this.paths = requests.map((template) =>
      options.endpoints.map((endpoint) => requestPath(endpoint, template)),
    );
    this.methods = requests.map((template) => template.method);
    this.headers = requests.map((template) => Object.entries(template.headers).flat());
  }

  send(node: number, body: string, sink: TransportSink, variant = 0): TransportRequest {
    const request = new UndiciRequest(sink);
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
