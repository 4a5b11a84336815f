/**
 * A node's delivery stream (`GET /deliveries`, Server-Sent Events, docs/mesh-protocol.md):
 * an incremental parser that turns the bytes of one stream into `{id, origin}` events, and a
 * reader that keeps one such stream open per node. One parser per node; per event it allocates
 * the event's data string and the parsed JSON, nothing more.
 */
import { undici } from './undici-lazy.js';
import { StringDecoder } from 'node:string_decoder';
import type { Dispatcher } from 'undici';
import type { Endpoint } from './endpoint.js';
import { joinUrl } from './protocol.js';

/** One delivery as a node reports it: the message id and the node that published it. */
export interface MeshDelivery {
  readonly id: string;
  readonly origin: string;
}

/**
 * Parses the Server-Sent Events of one stream. `onData` gets each event's data (the `data:`
 * lines joined by newlines) once its blank line arrives; comments (`:`) and other fields are
 * skipped. Accepts LF, CRLF and CR line ends, and chunks cut anywhere (inside a UTF-8 sequence
 * too).
 */
export class SseParser {
  readonly #decoder = new StringDecoder('utf8');
  #rest = '';
  #data: string | undefined;
  #skipLf = false;

  constructor(private readonly onData: (data: string) => void) {}

  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    let buffer = this.#rest + text;
    let start = 0;
    if (this.#skipLf && buffer.startsWith('\n')) start = 1;
    this.#skipLf = false;
    for (;;) {
      let end = start;
      while (end < buffer.length) {
        const code = buffer.charCodeAt(end);
        if (code === 10 || code === 13) break;
        end++;
      }
      if (end >= buffer.length) break;
      this.#line(buffer.slice(start, end));
      if (buffer.charCodeAt(end) === 13) {
        if (end + 1 >= buffer.length) {
          this.#skipLf = true;
          start = end + 1;
          break;
        }
        start = buffer.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      } else start = end + 1;
    }
    buffer = buffer.slice(start);
    this.#rest = buffer;
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data !== undefined) {
        const data = this.#data;
        this.#data = undefined;
        this.onData(data);
      }
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== 'data') return;
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
  }
}

/** An event's data as a delivery, or the one-line reason it is not one. */
export function parseDelivery(data: string): MeshDelivery | string {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return `an event that is not JSON: ${JSON.stringify(data.slice(0, 60))}`;
  }
  if (value === null || typeof value !== 'object')
    return `an event that is not a JSON object: ${data.slice(0, 60)}`;
  const { id, origin } = value as { id?: unknown; origin?: unknown };
  if (typeof id !== 'string' || id === '') return `an event without a string "id": ${data.slice(0, 60)}`;
  if (typeof origin !== 'string' || origin === '') {
    return `an event without a string "origin": ${data.slice(0, 60)}`;
  }
  return { id, origin };
}

export interface DeliveryStreamHandlers {
  /** A delivery read from the stream, with the reader's monotonic time of its arrival (ms). */
  onDelivery(delivery: MeshDelivery, arrivedMs: number): void;
  /** A one-line problem naming the node and what is missing (no stream, a malformed event). */
  onProblem?(message: string): void;
  /** The stream opened (true) or ended (false). */
  onState?(live: boolean): void;
}

/** The URL of a node's delivery stream. */
export function deliveriesUrl(endpoint: Endpoint): string {
  return joinUrl(endpoint.rpcUrl, '/deliveries');
}

/**
 * Keeps a node's `/deliveries` stream open: reconnects (after `retryMs`) when it ends, until
 * closed. `ready` resolves true once the first stream opened, false after `connectTimeoutMs`.
 */
export class DeliveryStream {
  readonly ready: Promise<boolean>;
  readonly #abort = new AbortController();
  #live = false;
  #closed = false;
  #done: Promise<void> = Promise.resolve();
  #malformed = 0;

  constructor(
    private readonly nodeId: string,
    private readonly url: string,
    private readonly handlers: DeliveryStreamHandlers,
    options: { readonly connectTimeoutMs?: number; readonly retryMs?: number } = {},
  ) {
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    const retryMs = options.retryMs ?? 250;
    this.ready = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), connectTimeoutMs);
      this.#done = (async () => {
        while (!this.#closed) {
          await this.#stream(() => {
            clearTimeout(timer);
            resolve(true);
          });
          if (this.#closed) break;
          await new Promise<void>((wake) => {
            const signal = this.#abort.signal;
            const onAbort = (): void => {
              clearTimeout(timer);
              wake();
            };
            const timer = setTimeout(() => {
              signal.removeEventListener('abort', onAbort);
              wake();
            }, retryMs);
            signal.addEventListener('abort', onAbort, { once: true });
          });
        }
      })().finally(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  }

  get connected(): boolean {
    return this.#live && !this.#closed;
  }

  /** Events that were not deliveries (each reported once per stream through onProblem). */
  get malformedEvents(): number {
    return this.#malformed;
  }

  async #stream(opened: () => void): Promise<void> {
    let response: Dispatcher.ResponseData;
    try {
      const { request } = await undici();
      response = await request(this.url, {
        method: 'GET',
        headers: { accept: 'text/event-stream' },
        signal: this.#abort.signal,
        bodyTimeout: 0, // a stream is quiet between messages
      });
    } catch (error) {
      if (!this.#closed) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        this.handlers.onProblem?.(`${this.nodeId}: GET /deliveries failed (${code})`);
      }
      return;
    }
    const type = String(response.headers['content-type'] ?? '');
    if (response.statusCode !== 200 || !type.startsWith('text/event-stream')) {
      await response.body.dump().catch(() => undefined);
      this.handlers.onProblem?.(
        `${this.nodeId}: GET /deliveries answered HTTP ${response.statusCode} ${type || 'without a content type'}, ` +
          'not a text/event-stream: the node does not serve the mesh contract (docs/mesh-protocol.md)',
      );
      return;
    }
    this.#live = true;
    this.handlers.onState?.(true);
    opened();
    let reported = false;
    const parser = new SseParser((data) => {
      const delivery = parseDelivery(data);
      if (typeof delivery === 'string') {
        this.#malformed++;
        if (!reported) this.handlers.onProblem?.(`${this.nodeId}: /deliveries sent ${delivery}`);
        reported = true;
        return;
      }
      this.handlers.onDelivery(delivery, performance.now());
    });
    try {
      for await (const chunk of response.body) parser.push(chunk as Buffer);
    } catch {
      // closed, or the node went away
    } finally {
      this.#live = false;
      this.handlers.onState?.(false);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await this.#done;
  }
}
