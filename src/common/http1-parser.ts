/**
 * A small, strict, incremental HTTP/1.x response parser for the raw transport.
 *
 * Feed it the bytes of one connection as they arrive (`execute`; the input buffer may
 * be reused once it returns: whatever is kept is copied); it calls
 * `onResponse(status, body, keepAlive)` for every complete response, in order,
 * whatever the chunking (responses split across chunks or packed into one). Bodies
 * are framed by Content-Length, chunked transfer coding (trailers skipped), or the
 * end of the connection (`finish`). 1xx responses are skipped; 204 and 304 have no body.
 *
 * Strict: anything that is not a well-formed HTTP/1.0 or 1.1 response makes
 * `execute` return false, and the parser stays failed (the connection must be
 * dropped). It never throws on input and never waits for bytes it cannot get:
 * heads over 64 KiB, chunk-size lines over 4 KiB and collected bodies over 64 MiB are errors.
 * Response heads only (not requests); responses to HEAD requests are not supported
 * (the generator sends none).
 *
 * Used by the raw transport (whole replies) and by the mesh's delivery-stream reader, which
 * passes a `BodyStream`: the head is reported once parsed and the body's bytes as they come
 * (decoded from chunks, never collected, no size bound), for a body that may never end.
 */

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 4096;
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DIGITS = /^[0-9]+$/;
const HEX = /^[0-9A-Fa-f]{1,8}$/;
const BAD_CONTROL = /\0|\r(?!\n)|(?<!\r)\n/;

/** text[from, to) without leading and trailing spaces and tabs. */
function trimOws(text: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && (text.charCodeAt(a) === 32 || text.charCodeAt(a) === 9)) a++;
  while (b > a && (text.charCodeAt(b - 1) === 32 || text.charCodeAt(b - 1) === 9)) b--;
  return text.slice(a, b);
}

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailer,
  UntilClose,
  /** After a response that ends the connection: later bytes are ignored. */
  Done,
  Failed,
}

/** Framing of a body, from the head. */
const CHUNKED = -1;
const UNTIL_CLOSE = -2;

interface Head {
  readonly status: number;
  /** Body length, CHUNKED or UNTIL_CLOSE. */
  readonly length: number;
  readonly keepAlive: boolean;
  /** From `Keep-Alive: timeout=N` (ms), when the server says. */
  readonly keepAliveTimeoutMs: number | undefined;
  /** The Content-Type header's value, when there is one. */
  readonly contentType?: string;
}

/** Parses a response head (without the final CRLFCRLF); undefined if malformed. */
export function parseHead(text: string): Head | undefined {
  // CR and LF only as CRLF line ends, no NUL: checked once for the whole head.
  // An empty last line would be an empty header line.
  if (BAD_CONTROL.test(text) || text.endsWith('\r\n')) return undefined;
  const firstEnd = text.indexOf('\r\n');
  const statusLine = firstEnd < 0 ? text : text.slice(0, firstEnd);
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (!statusLine.startsWith('HTTP/1.') || statusLine.charCodeAt(8) !== 32) return undefined;
  const minor = statusLine.charCodeAt(7);
  if (minor !== 48 && minor !== 49) return undefined;
  if (statusLine.length !== 12 && statusLine.charCodeAt(12) !== 32) return undefined;
  const statusText = statusLine.slice(9, 12);
  if (!DIGITS.test(statusText) || statusText.charCodeAt(0) === 48) return undefined;
  const status = Number(statusText);
  let contentLength = -1;
  let chunked = false;
  let sawTransferEncoding = false;
  let close = false;
  let keepAliveToken = false;
  let keepAliveTimeoutMs: number | undefined;
  let contentType: string | undefined;
  let start = firstEnd < 0 ? text.length : firstEnd + 2;
  while (start < text.length) {
    let end = text.indexOf('\r\n', start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', start);
    if (colon <= start || colon > end) return undefined;
    const name = text.slice(start, colon);
    if (!TOKEN.test(name)) return undefined;
    const lineStart = colon + 1;
    const lineEnd = end;
    start = end + 2;
    // Only the headers that matter are read further; the rest were validated above.
    if (name.length !== 14 && name.length !== 17 && name.length !== 10 && name.length !== 12) continue;
    const value = trimOws(text, lineStart, lineEnd);
    switch (name.length) {
      case 14: {
        if (name.toLowerCase() !== 'content-length') break;
        if (!DIGITS.test(value) || value.length > 15) return undefined;
        const length = Number(value);
        if (contentLength !== -1 && contentLength !== length) return undefined;
        contentLength = length;
        break;
      }
      case 17:
        if (name.toLowerCase() !== 'transfer-encoding') break;
        // Only `chunked` alone: no codings are decoded here, and a second header is an error.
        if (sawTransferEncoding || value.toLowerCase() !== 'chunked') return undefined;
        sawTransferEncoding = true;
        chunked = true;
        break;
      case 10: {
        const lower = name.toLowerCase();
        if (lower === 'connection') {
          for (const option of value.toLowerCase().split(',')) {
            const token = option.trim();
            if (token === 'close') close = true;
            else if (token === 'keep-alive') keepAliveToken = true;
          }
        } else if (lower === 'keep-alive') {
          const timeout = /(?:^|[,;\s])timeout=(\d{1,6})/i.exec(value)?.[1];
          if (timeout !== undefined) keepAliveTimeoutMs = Number(timeout) * 1000;
        }
        break;
      }
      case 12:
        if (name.toLowerCase() === 'content-type') contentType = value;
        break;
      default:
        break;
    }
  }
  // Both framings at once is how response smuggling looks: an error (RFC 9112 §6.3).
  if (chunked && contentLength !== -1) return undefined;
  if (status === 101) return undefined; // no upgrade was asked for
  let length: number;
  if (status < 200 || status === 204 || status === 304) length = 0;
  else if (chunked) length = CHUNKED;
  else if (contentLength !== -1) length = contentLength;
  else length = UNTIL_CLOSE;
  if (length > MAX_BODY_BYTES) return undefined;
  const keepAlive = length !== UNTIL_CLOSE && !close && (minor === 49 || keepAliveToken);
  return {
    status,
    length,
    keepAlive,
    keepAliveTimeoutMs,
    ...(contentType === undefined ? {} : { contentType }),
  };
}

/** The value of an ASCII hex digit, or -1. */
function hexDigit(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
}

const STATUS_PREFIX = Buffer.from('HTTP/1.', 'latin1');

/** Whether the bytes so far can begin a status line (garbage fails at once, not after 64 KiB). */
function startsLikeStatusLine(chunk: Buffer, pos: number, end: number): boolean {
  const n = Math.min(end - pos, STATUS_PREFIX.length);
  for (let i = 0; i < n; i++) if (chunk[pos + i] !== STATUS_PREFIX[i]) return false;
  return true;
}

/**
 * A copy of chunk[from, to): bytes the parser keeps across calls are copied, so the
 * caller may reuse its input buffer once `execute` returns.
 */
function copyOf(chunk: Buffer, from: number, to: number): Buffer {
  const copy = Buffer.allocUnsafe(to - from);
  chunk.copy(copy, 0, from, to);
  return copy;
}

export type ResponseHandler = (
  status: number,
  body: string,
  keepAlive: boolean,
  keepAliveTimeoutMs: number | undefined,
) => void;

/**
 * Streams a body instead of collecting it: `onHead` once a final response's head is parsed,
 * `onBody` with each run of body bytes (chunk[from, to); the chunk may be reused once the
 * call returns), then `onResponse` with an empty body when the body ends.
 */
export interface BodyStream {
  onHead(status: number, contentType: string | undefined): void;
  onBody(chunk: Buffer, from: number, to: number): void;
}

export class ResponseParser {
  private state = State.Head;
  /** Bytes of an incomplete head, or of an incomplete chunk-size / trailer line. */
  private pending: Buffer | undefined;
  private line = '';
  private head: Head | undefined;
  private remaining = 0;
  private parts: Buffer[] = [];
  private bodyBytes = 0;

  constructor(
    private readonly onResponse: ResponseHandler,
    private readonly stream?: BodyStream,
  ) {}

  /**
   * The head parsed last: its bytes and what they mean. A server sends the same head
   * bytes again and again (same status, length and headers; the Date changes once a
   * second), so an exact byte match skips parsing. Only a well-formed head is kept.
   */
  private lastHeadBytes: Buffer | undefined;
  private lastHead: Head | undefined;

  /** False once the input is not a valid response stream (the parser then stays failed). */
  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** True between responses (no partial response buffered). */
  get idle(): boolean {
    return this.state === State.Head && this.pending === undefined;
  }

  /** Feeds the next bytes. Returns false on a protocol error. */
  execute(input: Buffer): boolean {
    const chunk = input;
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      switch (this.state) {
        case State.Head: {
          if (this.pending !== undefined) {
            const joined = Buffer.concat([this.pending, chunk.subarray(pos)]);
            this.pending = undefined;
            return this.execute(joined);
          }
          const at = chunk.indexOf(HEAD_END, pos);
          if (at < 0) {
            if (end - pos > MAX_HEAD_BYTES || !startsLikeStatusLine(chunk, pos, end)) return this.fail();
            this.pending = Buffer.from(chunk.subarray(pos));
            return true;
          }
          if (at - pos > MAX_HEAD_BYTES) return this.fail();
          const head = this.headOf(chunk, pos, at);
          if (head === undefined) return this.fail();
          pos = at + 4;
          if (head.status < 200) continue; // informational: the real response follows
          this.head = head;
          this.bodyBytes = 0;
          // A streamed body takes no fast path: its bytes go out through the body states.
          const stream = this.stream;
          stream?.onHead(head.status, head.contentType);
          if (head.length === CHUNKED) {
            // Fast path: the whole body is in this chunk, in its plainest form.
            const body = stream === undefined ? this.plainChunkedBody(chunk, pos, end) : undefined;
            if (body !== undefined) {
              pos = this.plainChunkedEnd;
              this.complete(body);
              break;
            }
            this.state = State.ChunkSize;
            this.line = '';
          } else if (head.length === UNTIL_CLOSE) {
            this.state = State.UntilClose;
          } else {
            this.remaining = head.length;
            this.state = State.Length;
            // Fast path: the whole body is in this chunk (for a streamed one, only when empty).
            if (stream === undefined ? end - pos >= head.length : head.length === 0) {
              const body = chunk.toString('utf8', pos, pos + head.length);
              pos += head.length;
              this.complete(body);
            }
          }
          break;
        }
        case State.Length: {
          const take = Math.min(this.remaining, end - pos);
          if (this.stream !== undefined) this.stream.onBody(chunk, pos, pos + take);
          else this.parts.push(copyOf(chunk, pos, pos + take));
          this.remaining -= take;
          pos += take;
          if (this.remaining === 0) this.complete(this.takeBody());
          break;
        }
        case State.ChunkSize:
        case State.Trailer: {
          if (this.state === State.ChunkSize && this.line === '') {
            // Fast path: a size line whole in this chunk in its plainest form (hex digits
            // straight followed by CRLF); every other form and every error takes the line path.
            let p = pos;
            let size = 0;
            for (let v; p < end && p - pos < 9 && (v = hexDigit(chunk[p] as number)) >= 0; p++)
              size = size * 16 + v;
            const digits = p - pos;
            if (digits > 0 && digits <= 8 && p + 1 < end && chunk[p] === 13 && chunk[p + 1] === 10) {
              pos = p + 2;
              if (!this.chunkSize(size)) return this.fail();
              break;
            }
          }
          const newline = chunk.indexOf(10, pos);
          const stop = newline < 0 ? end : newline;
          this.line += chunk.toString('latin1', pos, stop);
          if (this.line.length > MAX_LINE_BYTES) return this.fail();
          if (newline < 0) return true;
          pos = newline + 1;
          const line = this.line;
          this.line = '';
          if (!line.endsWith('\r')) return this.fail();
          const content = line.slice(0, -1);
          if (content.includes('\r')) return this.fail();
          if (this.state === State.Trailer) {
            if (content === '') this.complete(this.takeBody());
            else if (content.indexOf(':') <= 0 || !TOKEN.test(content.slice(0, content.indexOf(':'))))
              return this.fail();
            break;
          }
          const semicolon = content.indexOf(';');
          const sizeText = (semicolon < 0 ? content : content.slice(0, semicolon)).replace(/[ \t]+$/, '');
          if (!HEX.test(sizeText)) return this.fail();
          if (!this.chunkSize(parseInt(sizeText, 16))) return this.fail();
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, end - pos);
          if (this.stream !== undefined) this.stream.onBody(chunk, pos, pos + take);
          else {
            this.parts.push(copyOf(chunk, pos, pos + take));
            this.bodyBytes += take;
          }
          this.remaining -= take;
          pos += take;
          if (this.remaining === 0) {
            this.state = State.ChunkDataEnd;
            this.line = '';
          }
          break;
        }
        case State.ChunkDataEnd: {
          // Exactly CRLF after the data, possibly split across chunks.
          const expected = this.line.length === 0 ? 13 : 10;
          if (chunk[pos] !== expected) return this.fail();
          pos++;
          if (expected === 13) this.line = '\r';
          else {
            this.line = '';
            this.state = State.ChunkSize;
          }
          break;
        }
        case State.UntilClose: {
          const take = end - pos;
          if (this.stream !== undefined) this.stream.onBody(chunk, pos, end);
          else {
            if (this.bodyBytes + take > MAX_BODY_BYTES) return this.fail();
            this.parts.push(copyOf(chunk, pos, end));
            this.bodyBytes += take;
          }
          pos = end;
          break;
        }
        case State.Done:
          return true;
        case State.Failed:
          return false;
      }
    }
    return true;
  }

  /**
   * The connection ended. Returns true when that was a clean end: between responses,
   * or the end of a body framed by the connection's end (delivered now).
   */
  finish(): boolean {
    if (this.state === State.UntilClose) {
      this.complete(this.takeBody());
      return true;
    }
    return this.idle || this.state === State.Done;
  }

  /**
   * A chunk's size was read: its data follows, or the trailer after the last (size 0). False
   * when a collected body would pass its bound (a streamed one has none).
   */
  private chunkSize(size: number): boolean {
    if (size === 0) {
      this.state = State.Trailer;
      return true;
    }
    if (this.stream === undefined && this.bodyBytes + size > MAX_BODY_BYTES) return false;
    this.remaining = size;
    this.state = State.ChunkData;
    return true;
  }

  /** Where the body `plainChunkedBody` returned ends (just past its last CRLF). */
  private plainChunkedEnd = 0;

  /**
   * A chunked body that lies whole in chunk[pos, end) in its plainest form, as servers
   * send small replies (Node's own http among them): each size in hex digits straight
   * followed by CRLF, no extensions, no trailers. Returns the body (its end in
   * `plainChunkedEnd`), or undefined having consumed nothing: the chunk states then parse
   * it, including every form this skips and every error.
   */
  private plainChunkedBody(chunk: Buffer, pos: number, end: number): string | undefined {
    let p = pos;
    let from = -1;
    let to = -1;
    let parts: Buffer[] | undefined;
    let total = 0;
    for (;;) {
      let size = 0;
      const digitsStart = p;
      while (p < end) {
        const v = hexDigit(chunk[p] as number);
        if (v < 0) break;
        size = size * 16 + v;
        p++;
      }
      const digits = p - digitsStart;
      if (digits === 0 || digits > 8 || p + 2 > end || chunk[p] !== 13 || chunk[p + 1] !== 10)
        return undefined;
      p += 2;
      if (size === 0) {
        // The last chunk, then no trailer: CRLF at once.
        if (p + 2 > end || chunk[p] !== 13 || chunk[p + 1] !== 10) return undefined;
        p += 2;
        break;
      }
      total += size;
      if (total > MAX_BODY_BYTES || p + size + 2 > end) return undefined;
      if (chunk[p + size] !== 13 || chunk[p + size + 1] !== 10) return undefined;
      if (from < 0) {
        from = p;
        to = p + size;
      } else {
        parts ??= [chunk.subarray(from, to)];
        parts.push(chunk.subarray(p, p + size));
      }
      p += size + 2;
    }
    this.plainChunkedEnd = p;
    if (from < 0) return '';
    // Several chunks are joined before decoding: a UTF-8 sequence may straddle two.
    return parts === undefined ? chunk.toString('utf8', from, to) : Buffer.concat(parts).toString('utf8');
  }

  /** The head in chunk[from, to): from the one-entry cache when the bytes are the same. */
  private headOf(chunk: Buffer, from: number, to: number): Head | undefined {
    const last = this.lastHeadBytes;
    if (
      last !== undefined &&
      last.length === to - from &&
      chunk.compare(last, 0, last.length, from, to) === 0
    ) {
      return this.lastHead;
    }
    const head = parseHead(chunk.toString('latin1', from, to));
    if (head !== undefined && to - from <= 1024) {
      this.lastHeadBytes = Buffer.from(chunk.subarray(from, to));
      this.lastHead = head;
    }
    return head;
  }

  private takeBody(): string {
    const parts = this.parts;
    this.parts = [];
    if (parts.length === 0) return '';
    if (parts.length === 1) return (parts[0] as Buffer).toString('utf8');
    return Buffer.concat(parts).toString('utf8');
  }

  private complete(body: string): void {
    const head = this.head as Head;
    this.head = undefined;
    this.state = head.keepAlive ? State.Head : State.Done;
    this.remaining = 0;
    this.bodyBytes = 0;
    this.onResponse(head.status, body, head.keepAlive, head.keepAliveTimeoutMs);
  }

  private fail(): false {
    this.state = State.Failed;
    this.pending = undefined;
    this.parts = [];
    this.line = '';
    return false;
  }
}
