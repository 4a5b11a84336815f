/**
 * The raw transport's HTTP/1.x response parser: examples, and fast-check properties
 * (any chunking of valid responses parses identically; garbage fails, never throws
 * and never waits forever for bytes that cannot make a response).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResponseParser } from '../../../src/common/http1-parser.js';

interface Parsed {
  readonly status: number;
  readonly body: string;
  readonly keepAlive: boolean;
}

function parse(
  chunks: readonly Buffer[],
  end = false,
): { responses: Parsed[]; ok: boolean; clean?: boolean } {
  const responses: Parsed[] = [];
  const parser = new ResponseParser((status, body, keepAlive) => responses.push({ status, body, keepAlive }));
  let ok = true;
  for (const chunk of chunks) {
    ok = parser.execute(chunk);
    if (!ok) break;
  }
  return end && ok ? { responses, ok, clean: parser.finish() } : { responses, ok };
}

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('http1 parser: examples', () => {
  it('parses Content-Length bodies, several per chunk, with keep-alive and its timeout', () => {
    const got: unknown[] = [];
    const parser = new ResponseParser((status, body, keepAlive, keepAliveTimeoutMs) =>
      got.push([status, body, keepAlive, keepAliveTimeoutMs]),
    );
    const one =
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\nKeep-Alive: timeout=5\r\n\r\n{"a":1}';
    expect(parser.execute(bytes(one + one.replace('200 OK', '500 Internal Server Error')))).toBe(true);
    expect(got).toEqual([
      [200, '{"a":1}', true, 5000],
      [500, '{"a":1}', true, 5000],
    ]);
    expect(parser.idle).toBe(true);
  });

  it('re-reads a head whose bytes changed (the one-entry head cache matches exact bytes only)', () => {
    const got: unknown[] = [];
    const parser = new ResponseParser((status, body, keepAlive) => got.push([status, body, keepAlive]));
    const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const teapot = 'HTTP/1.1 418 No\r\nContent-Length: 2\r\n\r\nno';
    const closing = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';
    expect(parser.execute(bytes(ok + ok + teapot + ok + closing))).toBe(true);
    expect(got).toEqual([
      [200, 'ok', true],
      [200, 'ok', true],
      [418, 'no', true],
      [200, 'ok', true],
      [200, 'ok', false],
    ]);
  });

  it('parses chunked bodies with extensions and trailers, and utf-8 split inside a character', () => {
    const body = Buffer.from('héllo wörld ✓', 'utf8');
    const wire = Buffer.concat([
      bytes('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'),
      bytes('2;name=value\r\n'),
      body.subarray(0, 2),
      bytes('\r\n'),
      bytes(`${(body.length - 2).toString(16).toUpperCase()}\r\n`),
      body.subarray(2),
      bytes('\r\n0\r\nx-trailer: 1\r\n\r\n'),
    ]);
    // One byte at a time: every boundary, including inside "é" and inside CRLFs.
    const chunks = [...wire].map((b) => Buffer.from([b]));
    expect(parse(chunks).responses).toEqual([{ status: 200, body: body.toString('utf8'), keepAlive: true }]);
  });

  it('skips 1xx, gives 204/304 no body, and honours Connection: close and HTTP/1.0', () => {
    const wire = bytes(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n' +
        'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye',
    );
    expect(parse([wire]).responses).toEqual([
      { status: 204, body: '', keepAlive: true },
      { status: 304, body: '', keepAlive: true },
      { status: 200, body: 'ok', keepAlive: true },
      { status: 200, body: 'bye', keepAlive: false },
    ]);
    // HTTP/1.0 without keep-alive closes.
    expect(parse([bytes('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')]).responses[0]?.keepAlive).toBe(
      false,
    );
  });

  it('reads a body framed by the end of the connection, and tells a clean end from a truncated one', () => {
    const untilClose = parse([bytes('HTTP/1.1 200 OK\r\n\r\nsome'), bytes(' body')], true);
    expect(untilClose).toEqual({
      responses: [{ status: 200, body: 'some body', keepAlive: false }],
      ok: true,
      clean: true,
    });
    expect(parse([bytes('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort')], true).clean).toBe(false);
    expect(parse([bytes('HTTP/1.1 200 OK\r\nContent-Le')], true).clean).toBe(false);
    expect(parse([], true).clean).toBe(true);
  });

  it.each([
    ['not HTTP', 'hello world\r\n\r\n'],
    ['garbage without a line end', 'this is not a reply'],
    ['HTTP/2 status line', 'HTTP/2 200 OK\r\n\r\n'],
    ['two-digit status', 'HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n'],
    ['status without space', 'HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n'],
    ['101 upgrade', 'HTTP/1.1 101 Switching Protocols\r\n\r\n'],
    ['header without colon', 'HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n'],
    ['obsolete line folding', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n'],
    ['space before colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n'],
    ['bare LF in a header', 'HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\nContent-Length: 0\r\n\r\n'],
    ['non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nab'],
    ['negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['conflicting Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
    [
      'Content-Length and chunked',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    ],
    ['unsupported coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'],
    ['bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['chunk size without CR', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n'],
    ['chunk data without CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n'],
    ['huge chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n'],
    [
      'chunk data followed by two bytes that are not CRLF, whole in one read',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxYZ0\r\n\r\n',
    ],
    [
      'a chunk size of 9 hex digits (leading zeros), whole in one read',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n000000001\r\nx\r\n0\r\n\r\n',
    ],
    ['body over the limit', 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n'],
  ])('fails on %s', (_name, text) => {
    const result = parse([bytes(text)]);
    expect(result.ok).toBe(false);
    expect(result.responses).toEqual([]);
  });

  it('fails on a head that never ends instead of buffering without bound', () => {
    const parser = new ResponseParser(() => undefined);
    expect(parser.execute(bytes('HTTP/1.1 200 OK\r\n'))).toBe(true);
    let ok = true;
    for (let i = 0; i < 100 && ok; i++) ok = parser.execute(bytes(`X-Filler-${i}: ${'y'.repeat(1000)}\r\n`));
    expect(ok).toBe(false);
    expect(parser.failed).toBe(true);
    expect(parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'))).toBe(false);
  });
});

// ------------------------------------------------------------------ properties

interface ResponseSpec {
  readonly status: number;
  readonly body: string;
  readonly framing:
    { kind: 'length' } | { kind: 'chunked'; sizes: number[]; extension: boolean; trailer: boolean };
  readonly headers: readonly (readonly [string, string])[];
  readonly lengthName: string;
  readonly informational: boolean;
  readonly http10: boolean;
}

const headerArb = fc.tuple(
  fc.constantFrom('Content-Type', 'date', 'X-Request-Id', 'server', 'Vary', 'keep-alive'),
  fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/),
);

const responseArb: fc.Arbitrary<ResponseSpec> = fc.record({
  status: fc.constantFrom(200, 201, 202, 204, 304, 400, 404, 429, 500, 503),
  body: fc.string({ unit: 'binary', maxLength: 300 }),
  framing: fc.oneof(
    fc.constant({ kind: 'length' as const }),
    fc.record({
      kind: fc.constant('chunked' as const),
      sizes: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
      extension: fc.boolean(),
      trailer: fc.boolean(),
    }),
  ),
  headers: fc.array(headerArb, { maxLength: 4 }),
  lengthName: fc.constantFrom('Content-Length', 'content-length', 'CONTENT-LENGTH'),
  informational: fc.boolean(),
  http10: fc.boolean(),
});

/** The wire form of a response, and what the parser must report for it. */
function encode(spec: ResponseSpec): { wire: Buffer; expected: Parsed } {
  const noBody = spec.status === 204 || spec.status === 304;
  const body = noBody ? Buffer.alloc(0) : Buffer.from(spec.body, 'utf8');
  const version = spec.http10 ? 'HTTP/1.0' : 'HTTP/1.1';
  let head = spec.informational ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
  head += `${version} ${spec.status} Reason Phrase\r\n`;
  for (const [name, value] of spec.headers) head += `${name}:${value.length % 2 ? ' ' : ''}${value}\r\n`;
  if (spec.http10) head += 'Connection: keep-alive\r\n';
  const parts: Buffer[] = [];
  if (noBody) {
    parts.push(bytes(`${head}\r\n`));
  } else if (spec.framing.kind === 'length') {
    parts.push(bytes(`${head}${spec.lengthName}: ${body.length}\r\n\r\n`), body);
  } else {
    parts.push(bytes(`${head}Transfer-Encoding: chunked\r\n\r\n`));
    let at = 0;
    let i = 0;
    while (at < body.length) {
      const size = Math.min(spec.framing.sizes[i % spec.framing.sizes.length] as number, body.length - at);
      const ext = spec.framing.extension ? ';x=y' : '';
      parts.push(bytes(`${size.toString(16)}${ext}\r\n`), body.subarray(at, at + size), bytes('\r\n'));
      at += size;
      i++;
    }
    parts.push(bytes(spec.framing.trailer ? '0\r\nX-Checksum: abc\r\n\r\n' : '0\r\n\r\n'));
  }
  return {
    wire: Buffer.concat(parts),
    expected: { status: spec.status, body: body.toString('utf8'), keepAlive: true },
  };
}

function splitAt(wire: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const point of points) {
    chunks.push(wire.subarray(last, point));
    last = point;
  }
  chunks.push(wire.subarray(last));
  return chunks;
}

/** Feeds the chunks as a socket's reads into one reused buffer; false at the first failure. */
function feedThroughOneBuffer(parser: ResponseParser, chunks: readonly Buffer[]): boolean {
  const shared = Buffer.alloc(chunks.reduce((sum, chunk) => Math.max(sum, chunk.length), 0) + 1);
  for (const chunk of chunks) {
    chunk.copy(shared);
    const ok = parser.execute(shared.subarray(0, chunk.length));
    shared.fill(0x7e); // the next read overwrites it: nothing kept may point here
    if (!ok) return false;
  }
  return true;
}

/** Runs `check` on any sequence of valid responses, encoded, and any cuts of their bytes. */
function forAnyResponses(
  numRuns: number,
  check: (specs: ResponseSpec[], cuts: number[], encoded: ReturnType<typeof encode>[], wire: Buffer) => void,
): void {
  fc.assert(
    fc.property(
      fc.array(responseArb, { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (specs, cuts) => {
        const encoded = specs.map(encode);
        check(specs, cuts, encoded, Buffer.concat(encoded.map((e) => e.wire)));
      },
    ),
    { numRuns },
  );
}

describe('http1 parser: properties', () => {
  it('any chunking of valid responses (packed or split) parses to the same responses', () => {
    forAnyResponses(400, (specs, cuts, encoded, wire) => {
      const whole = parse([wire], true);
      expect(whole).toEqual({ responses: encoded.map((e) => e.expected), ok: true, clean: true });
      expect(parse(splitAt(wire, cuts), true)).toEqual(whole);
    });
  });

  it('parses the same when every chunk arrives in one reused buffer (as the raw transport reads)', () => {
    forAnyResponses(300, (specs, cuts, encoded, wire) => {
      const responses: Parsed[] = [];
      const parser = new ResponseParser((status, body, keepAlive) =>
        responses.push({ status, body, keepAlive }),
      );
      const ok = feedThroughOneBuffer(parser, splitAt(wire, cuts));
      expect({ responses, ok, clean: ok && parser.finish() }).toEqual(parse([wire], true));
    });
  });

  it('streams the same bodies as it collects (BodyStream), from one reused buffer, whatever the chunking', () => {
    forAnyResponses(300, (specs, cuts, encoded, wire) => {
      const streamed: { status: number; type: string | undefined; body: Buffer[] }[] = [];
      const ended: number[] = [];
      const parser = new ResponseParser(
        (status, body) => {
          expect(body).toBe('');
          ended.push(status);
        },
        {
          onHead: (status, type) => streamed.push({ status, type, body: [] }),
          onBody: (chunk, from, to) => streamed.at(-1)!.body.push(Buffer.from(chunk.subarray(from, to))),
        },
      );
      expect(feedThroughOneBuffer(parser, splitAt(wire, cuts))).toBe(true);
      expect(parser.finish()).toBe(true);
      expect(ended).toEqual(specs.map((spec) => spec.status));
      expect(
        streamed.map((r) => ({ status: r.status, body: Buffer.concat(r.body).toString('utf8') })),
      ).toEqual(encoded.map((e) => ({ status: e.expected.status, body: e.expected.body })));
      specs.forEach((spec, i) => {
        const type = spec.headers.filter(([name]) => name === 'Content-Type').at(-1)?.[1];
        expect(streamed[i]!.type).toBe(type?.trim());
      });
    });
  });

  it('streams a body past the bound on collected bodies, chunked or until the connection ends', () => {
    const block = Buffer.alloc(4 * 1024 * 1024, 0x61);
    for (const framing of ['chunked', 'close'] as const) {
      let seen = 0;
      let type: string | undefined;
      const parser = new ResponseParser(() => undefined, {
        onHead: (_status, contentType) => (type = contentType),
        onBody: (_chunk, from, to) => (seen += to - from),
      });
      const head =
        framing === 'chunked'
          ? 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n'
          : 'HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n';
      expect(parser.execute(bytes(head))).toBe(true);
      for (let i = 0; i < 20; i++) {
        if (framing === 'chunked')
          expect(parser.execute(bytes(`${block.length.toString(16)}\r\n`))).toBe(true);
        expect(parser.execute(block)).toBe(true);
        if (framing === 'chunked') expect(parser.execute(bytes('\r\n'))).toBe(true);
      }
      expect(seen).toBe(20 * block.length); // 80 MiB, over the 64 MiB a collected body may have
      expect(type).toBe('text/event-stream');
    }
  });

  it('garbage never throws, and is a failure or a wait for more of a valid prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 10 }), (raw, cuts) => {
        const wire = Buffer.from(raw);
        const result = parse(splitAt(wire, cuts), true);
        if (!wire.subarray(0, 7).equals(bytes('HTTP/1.').subarray(0, Math.min(7, wire.length)))) {
          expect(result.ok).toBe(false);
        }
        // Whatever happened, a second parse of the same bytes agrees.
        expect(parse([wire], true)).toEqual(result);
      }),
      { numRuns: 500 },
    );
  });

  it('a valid stream with one byte changed never throws, and chunking does not change the verdict', () => {
    fc.assert(
      fc.property(
        fc.array(responseArb, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (specs, where, value, cuts) => {
          const wire = Buffer.from(Buffer.concat(specs.map((s) => encode(s).wire)));
          wire[where % wire.length] = value;
          const whole = parse([wire], true);
          expect(parse(splitAt(wire, cuts), true)).toEqual(whole);
        },
      ),
      { numRuns: 400 },
    );
  });
});
