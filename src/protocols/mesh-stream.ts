/**
 * A node's delivery stream (`GET /deliveries`, Server-Sent Events, docs/mesh-protocol.md):
 * an incremental parser that turns the bytes of one stream into `{id, origin}` events, and a
 * reader that keeps one such stream open per node. One parser per node; per event it allocates
 * the event's data string and the parsed JSON, nothing more.
 */
import { connect, type Socket } from 'node:net';
import { undici } from './undici-lazy.js';
import { basicCredentials } from '../common/basic-credentials.js';
import { ResponseParser } from '../common/http1-parser.js';
import type { Dispatcher } from 'undici';
import type { Endpoint } from './endpoint.js';
import { joinUrl } from './protocol.js';

/**
 * One delivery as a node reports it: the message id, the node that published it and, when the
 * node says, its own clock's time of the delivery (ms since the Unix epoch, fractions welcome).
 */
export interface MeshDelivery {
  readonly id: string;
  readonly origin: string;
  readonly at?: number;
}

/**
 * Parses the Server-Sent Events of one stream. `onData` gets each event's data (the `data:`
 * lines joined by newlines) once its blank line arrives; comments (`:`) and other fields are
 * skipped. Accepts LF, CRLF and CR line ends, and chunks cut anywhere (inside a UTF-8 sequence
 * too). Works on the bytes: a line is decoded only when it is a `data:` line, and only the bytes
 * of an unfinished line are kept (copied, so the caller may reuse its buffer).
 */
export class SseParser {
  /** The bytes of a line not yet ended. */
  #rest: Buffer | undefined;
  #data: string | undefined;
  #skipLf = false;

  constructor(private readonly onData: (data: string) => void) {}

  /** The next bytes of the stream: all of `chunk`, or chunk[from, to). */
  push(chunk: Buffer | string, from = 0, to = chunk.length): void {
    let buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = typeof chunk === 'string' ? 0 : from;
    let end = typeof chunk === 'string' ? buffer.length : to;
    if (this.#rest !== undefined) {
      buffer = Buffer.concat([this.#rest, buffer.subarray(start, end)]);
      this.#rest = undefined;
      start = 0;
      end = buffer.length;
    }
    if (this.#skipLf && start < end) {
      if (buffer[start] === 10) start++; // the LF of a CRLF cut after its CR
      this.#skipLf = false;
    }
    // The next LF and CR at or after `start` (-1: none left), each searched again only once passed.
    let lf = buffer.indexOf(10, start);
    let cr = buffer.indexOf(13, start);
    while (start < end) {
      if (lf !== -1 && lf < start) lf = buffer.indexOf(10, start);
      if (cr !== -1 && cr < start) cr = buffer.indexOf(13, start);
      const eol = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (eol === -1 || eol >= end) break; // (the search runs past `end` when given a range)
      this.#line(buffer, start, eol);
      if (eol === cr) {
        if (eol + 1 === end) {
          this.#skipLf = true; // a CR last in the chunk: an LF may follow in the next one
          start = end;
          break;
        }
        start = buffer[eol + 1] === 10 ? eol + 2 : eol + 1;
      } else start = eol + 1;
    }
    if (start < end) this.#rest = Buffer.from(buffer.subarray(start, end));
  }

  /** The line buffer[start, end), without its line end. */
  #line(buffer: Buffer, start: number, end: number): void {
    if (start === end) {
      if (this.#data !== undefined) {
        const data = this.#data;
        this.#data = undefined;
        this.onData(data);
      }
      return;
    }
    // Only the field `data` (the whole name before the colon, or the whole line) is read.
    if (
      end - start < 4 ||
      buffer[start] !== 100 || // d
      buffer[start + 1] !== 97 || // a
      buffer[start + 2] !== 116 || // t
      buffer[start + 3] !== 97 || // a
      (end - start > 4 && buffer[start + 4] !== 58) // :
    ) {
      return; // a comment (':'), another field, or a field named otherwise
    }
    let from = start + 5;
    if (from < end && buffer[from] === 32) from++;
    const value = from >= end ? '' : buffer.toString('utf8', from, end);
    this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
  }
}

/**
 * Where the string starting at data[from] (just past its opening quote) ends (the index of its
 * closing quote) when it is plain: no escape, no control character. -1 otherwise.
 */
function plainStringEnd(data: string, from: number): number {
  for (let i = from; i < data.length; i++) {
    const code = data.charCodeAt(i);
    if (code === 34) return i; // "
    if (code === 92 || code < 32) return -1; // an escape or a control character: not plain
  }
  return -1;
}

const ID_OPEN = '{"id":"';
const ORIGIN_OPEN = '","origin":"';
const AT_OPEN = '","at":';

/** A delivery's `at` as the contract allows it: a finite time after the epoch, in ms. */
function validAt(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/**
 * The delivery in the forms nodes write (`{"id":"…","origin":"…"}` or
 * `{"id":"…","origin":"…","at":1764345600123.456}`, no spaces, no escapes), read without
 * JSON.parse; undefined for any other form (JSON.parse reads it then).
 */
function plainDelivery(data: string): MeshDelivery | undefined {
  if (!data.startsWith(ID_OPEN)) return undefined;
  const idEnd = plainStringEnd(data, ID_OPEN.length);
  if (idEnd <= ID_OPEN.length || !data.startsWith(ORIGIN_OPEN, idEnd)) return undefined;
  const originStart = idEnd + ORIGIN_OPEN.length;
  const originEnd = plainStringEnd(data, originStart);
  if (originEnd <= originStart || data.charCodeAt(data.length - 1) !== 125) return undefined;
  const id = data.slice(ID_OPEN.length, idEnd);
  const origin = data.slice(originStart, originEnd);
  if (originEnd === data.length - 2) return { id, origin }; // `"}` at the very end
  if (!data.startsWith(AT_OPEN, originEnd)) return undefined;
  const at = Number(data.slice(originEnd + AT_OPEN.length, data.length - 1));
  return validAt(at) ? { id, origin, at } : undefined;
}

/** An event's data as a delivery, or the one-line reason it is not one. */
export function parseDelivery(data: string): MeshDelivery | string {
  const plain = plainDelivery(data);
  if (plain !== undefined) return plain;
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
  const at = (value as { at?: unknown }).at;
  if (at === undefined || at === null) return { id, origin };
  if (!validAt(at))
    return `an event whose "at" is not a time in ms since the Unix epoch: ${data.slice(0, 80)}`;
  return { id, origin, at };
}

export interface DeliveryStreamHandlers {
  /**
   * A delivery read from the stream, with its time on the reader's monotonic clock
   * (`performance.now()`, ms): the node's own `at`, on the reader's clock through the stream's
   * `clockOffsetMs`, when it gave one and that offset is known; its arrival here otherwise.
   */
  onDelivery(delivery: MeshDelivery, deliveredMs: number): void;
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
 * One connection to a node's `/deliveries` per URL in this process, shared by every reader of
 * it (the commit count, the mesh figures, the propagation probes): each event is read and
 * parsed once, then handed to every reader with the same arrival time. It reconnects (after
 * `retryMs`) when the stream ends, until its last reader closes.
 */
/** A stream connected this long without a response head is said to hold it back. */
const SLOW_HEAD_MS = 2_000;

class SharedConnection {
  readonly readers = new Set<DeliveryStream>();
  readonly #abort = new AbortController();
  #live = false;
  #closed = false;
  /** Counts the streams opened, so a reader reports one malformed event per stream. */
  #generation = 0;
  /** A head that came late was said (once per node, not at every reconnect). */
  #slowHeadSaid = false;
  /** When the bytes being parsed were read (`wakeStamp`): every event in them arrived then. */
  #readAtMs = 0;
  readonly done: Promise<void>;

  constructor(
    readonly url: string,
    retryMs: number,
    private readonly slowHeadMs: number,
  ) {
    this.done = (async () => {
      while (!this.#closed) {
        await this.#stream();
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
    })();
  }

  get live(): boolean {
    return this.#live;
  }

  /** A plain-HTTP stream is read off its socket (the cheap path); anything else through undici. */
  #stream(): Promise<void> {
    const url = new URL(this.url);
    return url.protocol === 'http:' ? this.#socketStream(url) : this.#undiciStream();
  }

  /** Tells every reader the one-line problem. */
  #problem(message: string): void {
    if (!this.#closed) for (const reader of this.readers) reader.problem(message);
  }

  #notEventStream(status: number, type: string): void {
    // an answer, and not a stream: waiting out the readers' bound would not open it (a node
    // that restarts into one that serves it is still read, at a later attempt)
    if (!this.#closed) for (const reader of this.readers) reader.refused();
    this.#problem(
      `GET /deliveries answered HTTP ${status} ${type || 'without a content type'}, ` +
        'not a text/event-stream: the node does not serve the mesh contract (docs/mesh-protocol.md)',
    );
  }

  /** A parser that hands each event of the stream to every reader, timed at its arrival. */
  #eventParser(): SseParser {
    return new SseParser((data) => {
      const delivery = parseDelivery(data);
      if (typeof delivery === 'string') {
        for (const reader of this.readers) reader.malformed(delivery, this.#generation);
        return;
      }
      for (const reader of this.readers) reader.deliver(delivery, this.#readAtMs);
    });
  }

  #opened(): void {
    this.#generation++;
    this.#live = true;
    for (const reader of this.readers) reader.opened();
  }

  #ended(): void {
    if (!this.#live) return;
    this.#live = false;
    for (const reader of this.readers) reader.ended();
  }

  /**
   * `GET /deliveries` on a TCP socket of its own, the response read by the raw transport's
   * HTTP/1.1 parser from a buffer shared by every stream, with no stream machinery between the
   * socket and the event parser: about half the CPU per delivery of undici's body stream
   * (`npm run bench:mesh`). Resolves when the stream ends, fails or is closed.
   */
  #socketStream(url: URL): Promise<void> {
    return new Promise<void>((resolve) => {
      const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      const port = url.port === '' ? 80 : Number(url.port);
      let events: SseParser | undefined;
      let socket: Socket | undefined = undefined;
      let settled = false;
      const finish = (problem?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(headTimer);
        clearTimeout(slowHeadTimer);
        this.#abort.signal.removeEventListener('abort', onAbort);
        socket?.destroy();
        if (problem !== undefined) this.#problem(problem);
        this.#ended();
        resolve();
      };
      const onAbort = (): void => finish();
      // A node that takes the connection but never answers is asked again, as undici's head timeout would.
      const headTimer = setTimeout(() => finish('GET /deliveries sent no response head within 30 s'), 30_000);
      headTimer.unref?.();
      let slowHeadTimer: NodeJS.Timeout | undefined;
      const parser = new ResponseParser(
        () => finish(), // the body ended: the stream is reopened after the retry delay
        {
          onHead: (status, type = '') => {
            clearTimeout(headTimer);
            clearTimeout(slowHeadTimer);
            if (status !== 200 || !type.startsWith('text/event-stream')) {
              this.#notEventStream(status, type);
              finish();
              return;
            }
            events = this.#eventParser();
            this.#opened();
          },
          onBody: (chunk, from, to) => events?.push(chunk, from, to),
        },
      );
      if (this.#abort.signal.aborted) {
        finish();
        return;
      }
      this.#abort.signal.addEventListener('abort', onAbort, { once: true });
      socket = connect({
        host,
        port,
        noDelay: true,
        onread: {
          buffer: readBuffer,
          callback: (bytes) => {
            this.#readAtMs = wakeStamp();
            if (!parser.execute(readBuffer.subarray(0, bytes))) {
              finish(
                'GET /deliveries sent a malformed HTTP response: the node does not serve the mesh contract (docs/mesh-protocol.md)',
              );
              return false;
            }
            return !settled;
          },
        },
      });
      socket.on('connect', () => {
        socket?.write(
          `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n${basicAuthorization(url)}` +
            'Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n',
        );
        // Node.js's http server (the contract's own example, before) sends a response's head
        // with its first write: a stream whose head waits for its first event is not open when
        // the load starts, which then waits out its readers' bound (5 s) and counts without it
        if (!this.#slowHeadSaid)
          slowHeadTimer = setTimeout(() => {
            this.#slowHeadSaid = true;
            this.#problem(
              `GET /deliveries sent no response head ${this.slowHeadMs / 1000} s after connecting, and the load waits for it (5 s at most) at each start: ` +
                'send the head as the stream opens, not with the first event (Node.js http holds it until the first write: call res.flushHeaders(); docs/mesh-protocol.md)',
            );
          }, this.slowHeadMs);
        slowHeadTimer?.unref?.();
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (events === undefined) finish(`GET /deliveries failed (${error.code ?? error.message})`);
        else finish(); // the node went away mid-stream: reopened after the retry delay
      });
      socket.on('end', () => {
        parser.finish();
        finish(
          events === undefined
            ? 'GET /deliveries: the node closed the connection without a response'
            : undefined,
        );
      });
      socket.on('close', () => finish());
    });
  }

  async #undiciStream(): Promise<void> {
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
        for (const reader of this.readers) reader.problem(`GET /deliveries failed (${code})`);
      }
      return;
    }
    const type = String(response.headers['content-type'] ?? '');
    if (response.statusCode !== 200 || !type.startsWith('text/event-stream')) {
      await response.body.dump().catch(() => undefined);
      this.#notEventStream(response.statusCode, type);
      return;
    }
    this.#opened();
    const parser = this.#eventParser();
    try {
      for await (const chunk of response.body) {
        this.#readAtMs = wakeStamp();
        parser.push(chunk as Buffer);
      }
    } catch {
      // closed, or the node went away
    } finally {
      this.#ended();
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    return this.done;
  }
}

/**
 * The arrival time of what is read now: the first read after the event loop woke takes the
 * clock, and every read of the same wake (until its check phase) gets that time. Events that
 * wait for the loop together arrived together as far as meshbench can tell. Timed one by one
 * as each was parsed, they were ordered by the streams' places in the wake: with 4 crdt-sync
 * nodes on one machine, node3's deliveries to every other node read 0 ms and node0's
 * 0.13-0.29 ms (the receivers' events read before the origin's own counted as 0). Reads come
 * in the poll phase (socket callbacks, and undici's body chunks in their microtasks); one made
 * in a check phase would keep its time through the next poll phase.
 */
let wakeStampMs: number | undefined;
function wakeStamp(): number {
  if (wakeStampMs === undefined) {
    wakeStampMs = performance.now();
    setImmediate(clearWakeStamp);
  }
  return wakeStampMs;
}
function clearWakeStamp(): void {
  wakeStampMs = undefined;
}

/**
 * The one buffer every delivery stream's socket reads into: a read is parsed at once, and
 * whatever the parsers keep of it (an unfinished line, a partial head) they copy.
 */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

/** An `Authorization` header line for a URL's user and password, or nothing. */
function basicAuthorization(url: URL): string {
  return url.username === '' && url.password === '' ? '' : `Authorization: ${basicCredentials(url)}\r\n`;
}

export interface DeliveryStreamOptions {
  readonly connectTimeoutMs?: number;
  readonly retryMs?: number;
  /**
   * The node's clock − this process's, ms (0 on this machine; a remote host's measured
   * offset): with it a delivery is timed by the node's own `at`. Absent: at its arrival here.
   */
  readonly clockOffsetMs?: number | undefined;
  /** After how long without a response head the node is said to hold it back (default 2 s). */
  readonly slowHeadMs?: number;
}

/** How far after its arrival a node's `at` may fall (a clock's error) and still be used, ms. */
const AHEAD_AT_MS = 10_000;

/**
 * How far before its arrival a node's `at` may fall and still be used (ms: a day): an old
 * delivery replayed; further is a unit mistake (seconds) or a clock far off.
 */
const REPLAY_AT_MS = 86_400_000;

/** The open connections, by URL. */
const connections = new Map<string, SharedConnection>();

/**
 * A reader of a node's `/deliveries` stream: the stream is kept open (reconnecting when it
 * ends) until closed, and shared with every other reader of the same URL in this process.
 * `ready` resolves true once the stream is open, false after `connectTimeoutMs`.
 */
export class DeliveryStream {
  readonly ready: Promise<boolean>;
  readonly #connection: SharedConnection;
  #resolveReady: (opened: boolean) => void = () => undefined;
  #live = false;
  #closed = false;
  #drops = 0;
  #malformed = 0;
  #reportedGeneration = -1;

  /** The node's clock − this process's, ms; undefined: not known, so the node's `at` is not used. */
  readonly #clockOffsetMs: number | undefined;
  #implausibleReported = false;

  constructor(
    private readonly nodeId: string,
    url: string,
    private readonly handlers: DeliveryStreamHandlers,
    options: DeliveryStreamOptions = {},
  ) {
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#clockOffsetMs = options.clockOffsetMs;
    this.ready = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), connectTimeoutMs);
      this.#resolveReady = (opened) => {
        clearTimeout(timer);
        resolve(opened);
      };
    });
    let connection = connections.get(url);
    if (!connection) {
      connection = new SharedConnection(url, options.retryMs ?? 250, options.slowHeadMs ?? SLOW_HEAD_MS);
      connections.set(url, connection);
    }
    this.#connection = connection;
    connection.readers.add(this);
    if (connection.live) this.opened();
  }

  get connected(): boolean {
    return this.#live && !this.#closed;
  }

  /** How many times the stream has ended while this reader was on it (it reconnects until closed). */
  get drops(): number {
    return this.#drops;
  }

  /** Events that were not deliveries (each reported once per stream through onProblem). */
  get malformedEvents(): number {
    return this.#malformed;
  }

  /** @internal The shared stream opened (or was open when this reader joined). */
  opened(): void {
    this.#live = true;
    this.handlers.onState?.(true);
    this.#resolveReady(true);
  }

  /** @internal The node answered, with something other than an event stream: not open now. */
  refused(): void {
    this.#resolveReady(false);
  }

  /** @internal The shared stream ended. */
  ended(): void {
    if (!this.#live) return;
    this.#live = false;
    if (!this.#closed) this.#drops++; // its own close is not a drop
    this.handlers.onState?.(false);
  }

  /** @internal */
  deliver(delivery: MeshDelivery, arrivedMs: number): void {
    const at = delivery.at;
    if (at === undefined || this.#clockOffsetMs === undefined) {
      this.handlers.onDelivery(delivery, arrivedMs);
      return;
    }
    // the node's time on this process's monotonic clock: never after the event arrived here
    const deliveredMs = at - this.#clockOffsetMs - performance.timeOrigin;
    const earlierMs = arrivedMs - deliveredMs;
    // Up to a day before: a delivery as it came, or a replay of what the node held before this
    // stream opened (the contract allows one: crdt-sync replays every entry), which keeps its
    // own old time, so a reader can tell it from the deliveries of its own span.
    if (earlierMs >= -AHEAD_AT_MS && earlierMs < REPLAY_AT_MS) {
      this.handlers.onDelivery(delivery, Math.min(arrivedMs, deliveredMs));
      return;
    }
    // seconds for ms (a day or more before), or a clock ahead of its measured offset: said once
    if (!this.#implausibleReported) {
      this.#implausibleReported = true;
      this.handlers.onProblem?.(
        `${this.nodeId}: /deliveries sent "at" ${Math.round(Math.abs(earlierMs) / 1000)} s ${earlierMs > 0 ? 'before' : 'after'} the event arrived here (ms since the Unix epoch on the node's clock, docs/mesh-protocol.md); such deliveries are timed at their arrival here`,
      );
    }
    this.handlers.onDelivery(delivery, arrivedMs);
  }

  /** @internal An event that is not a delivery: counted, reported once per stream. */
  malformed(reason: string, generation: number): void {
    this.#malformed++;
    if (this.#reportedGeneration === generation) return;
    this.#reportedGeneration = generation;
    this.handlers.onProblem?.(`${this.nodeId}: /deliveries sent ${reason}`);
  }

  /** @internal */
  problem(message: string): void {
    this.handlers.onProblem?.(`${this.nodeId}: ${message}`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.ended();
    this.#resolveReady(false);
    const connection = this.#connection;
    connection.readers.delete(this);
    if (connection.readers.size > 0) return;
    // the last reader: the connection goes (a new reader of the URL opens another)
    if (connections.get(connection.url) === connection) connections.delete(connection.url);
    await connection.close();
  }
}
