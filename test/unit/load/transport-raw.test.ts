/**
 * The transports against real servers on loopback (port 0) that send exact bytes:
 * chunked replies, `Connection: close`, resets mid-reply, garbage, aborts (the
 * generator's timeout), refused connections, pipelining order, close with requests
 * in flight. The failure kinds must be the same for both transports.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Endpoint } from '../../../src/testbed/testbed.js';
import { defaultTransport } from '../../../src/load/transport.js';
import type { Transport, TransportFailure, TransportKind } from '../../../src/load/transport.js';
import { validateLoadOptions } from '../../../src/load/validate.js';
import { RawTransport, requestHeadPrefix } from '../../../src/load/transport-raw.js';
import { UndiciTransport } from '../../../src/load/transport-undici.js';

type Outcome = { reply: [number, string] } | { failure: TransportFailure };

interface Sent {
  readonly outcome: Promise<Outcome>;
  wired: boolean;
  abort(): void;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function makeTransport(
  kind: TransportKind,
  url: string,
  options: { connections?: number; pipelining?: number } = {},
): Transport {
  const settings = {
    endpoints: [{ nodeId: 'n0', rpcUrl: url }],
    request: { method: 'POST' as const, path: '/', headers: { 'content-type': 'application/json' } },
    connectionsPerEndpoint: options.connections ?? 1,
    pipelining: options.pipelining ?? 1,
    connectTimeoutMs: 2000,
  };
  const transport = kind === 'raw' ? new RawTransport(settings) : new UndiciTransport(settings);
  cleanups.push(() => transport.close());
  return transport;
}

function send(transport: Transport, body: string): Sent {
  let resolve!: (o: Outcome) => void;
  const outcome = new Promise<Outcome>((r) => (resolve = r));
  let count = 0;
  const sent: Sent = {
    outcome,
    wired: false,
    abort: () => undefined,
  };
  const handle = transport.send(0, body, {
    onWire: () => (sent.wired = true),
    onReply: (status, text) => {
      count++;
      resolve({ reply: [status, text] });
    },
    onFailure: (failure) => {
      count++;
      resolve({ failure });
    },
  });
  sent.abort = () => handle.abort();
  // Exactly one end per request: a second one would be a bug.
  void outcome.then(() => setImmediate(() => expect(count).toBe(1)));
  return sent;
}

/** A TCP server that reads HTTP requests (Content-Length bodies) and answers with `respond`. */
async function rawServer(
  respond: (socket: Socket, body: string, index: number) => void,
): Promise<{ url: string; connections: number; requests: string[] }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const state = { url: '', connections: 0, requests };
  const server: Server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const headEnd = buffered.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = buffered.toString('latin1', 0, headEnd);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < headEnd + 4 + length) return;
        const body = buffered.toString('utf8', headEnd + 4, headEnd + 4 + length);
        buffered = buffered.subarray(headEnd + 4 + length);
        requests.push(`${head}\r\n\r\n${body}`);
        respond(socket, body, requests.length - 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe.each(['raw', 'undici'] as const)('transport %s', (kind) => {
  it('reads chunked replies written piece by piece', async () => {
    const server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.write('{"parts":');
        setTimeout(() => res.end('[1,2,3]}'), 5);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const transport = makeTransport(kind, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const replies = await Promise.all([1, 2, 3].map((i) => send(transport, `{"i":${i}}`).outcome));
    expect(replies).toEqual([1, 2, 3].map(() => ({ reply: [201, '{"parts":[1,2,3]}'] })));
  });

  it('handles Connection: close (the next request gets a new connection)', async () => {
    const server = await rawServer((socket, body) => {
      socket.end(ok(body, 'Connection: close\r\n'));
    });
    const transport = makeTransport(kind, server.url);
    const first = await send(transport, '"a"').outcome;
    const second = await send(transport, '"b"').outcome;
    expect([first, second]).toEqual([{ reply: [200, '"a"'] }, { reply: [200, '"b"'] }]);
    expect(server.connections).toBe(2);
  });

  it('counts a reset mid-reply as a connection error, and carries on with a new connection', async () => {
    const server = await rawServer((socket, body, index) => {
      if (index === 0) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial":');
        setTimeout(() => socket.resetAndDestroy(), 5);
      } else socket.write(ok(body));
    });
    const transport = makeTransport(kind, server.url);
    expect(await send(transport, '1').outcome).toEqual({ failure: 'connectionError' });
    expect(await send(transport, '2').outcome).toEqual({ reply: [200, '2'] });
  });

  it('counts a reply that is not HTTP as a bad response', async () => {
    const server = await rawServer((socket, body, index) => {
      socket.write(index === 0 ? 'SSH-2.0-OpenSSH_9.2\r\n\r\n' : ok(body));
    });
    const transport = makeTransport(kind, server.url);
    expect(await send(transport, '1').outcome).toEqual({ failure: 'badResponse' });
    expect(await send(transport, '2').outcome).toEqual({ reply: [200, '2'] });
  });

  it('abort (the generator timeout) drops the connection and says nothing more', async () => {
    let closedByClient = false;
    const server = await rawServer((socket, body, index) => {
      if (index === 0) socket.on('close', () => (closedByClient = true));
      else socket.write(ok(body));
    });
    const transport = makeTransport(kind, server.url);
    const hung = send(transport, '1');
    // on the wire once the connection is up: waited for, not slept on (a busy machine takes longer)
    await vi.waitFor(() => expect(hung.wired).toBe(true), { timeout: 10_000, interval: 5 });
    hung.abort();
    expect(await send(transport, '2').outcome).toEqual({ reply: [200, '2'] });
    const late = await Promise.race([hung.outcome, new Promise((r) => setTimeout(() => r('none'), 50))]);
    // undici reports the abort back (as a timeout); raw says nothing (the generator counted it).
    expect(late).toEqual(kind === 'raw' ? 'none' : { failure: 'timeout' });
    expect(closedByClient).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('a request aborted while queued for a connection is never sent', async () => {
    const server = await rawServer((socket, body) => {
      setTimeout(() => socket.write(ok(body)), 30);
    });
    const transport = makeTransport(kind, server.url);
    const first = send(transport, '1');
    const queued = send(transport, '2');
    queued.abort();
    const third = send(transport, '3');
    expect(await first.outcome).toEqual({ reply: [200, '1'] });
    expect(await third.outcome).toEqual({ reply: [200, '3'] });
    expect(server.requests.map((r) => r.slice(r.indexOf('\r\n\r\n') + 4))).toEqual(['1', '3']);
  });

  it('counts a refused connection as a connection error', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const transport = makeTransport(kind, `http://127.0.0.1:${port}`, { connections: 2 });
    const outcomes = await Promise.all([1, 2, 3].map((i) => send(transport, String(i)).outcome));
    expect(outcomes).toEqual([1, 2, 3].map(() => ({ failure: 'connectionError' })));
  });
});

describe.each(['raw', 'undici'] as const)('transport %s, its thread stalled', (kind) => {
  it('keeps a connection made while its thread was stalled past the connect timeout', async () => {
    const server = await rawServer((socket, body) => socket.write(ok(body)));
    const settings = {
      endpoints: [{ nodeId: 'n0', rpcUrl: server.url }],
      request: { method: 'POST' as const, path: '/', headers: { 'content-type': 'application/json' } },
      connectionsPerEndpoint: 1,
      pipelining: 1,
      connectTimeoutMs: 100,
    };
    const transport = kind === 'raw' ? new RawTransport(settings) : new UndiciTransport(settings);
    cleanups.push(() => transport.close());
    const sent = send(transport, 'x');
    // the connect is under way (the kernel completes it); this thread is busy past the timeout
    const end = performance.now() + 300;
    while (performance.now() < end);
    expect(await sent.outcome).toEqual({ reply: [200, 'x'] });
  });
});

describe('transport raw', () => {
  it('pipelines in order on one connection, replies packed into one write or split byte-wise', async () => {
    const waiting: { socket: Socket; body: string }[] = [];
    const server = await rawServer((socket, body) => {
      waiting.push({ socket, body });
      if (waiting.length === 3) {
        const [a, b, c] = waiting.splice(0) as unknown as [
          { body: string },
          { body: string },
          { body: string },
        ];
        // Two replies in one write, then the third one byte at a time.
        socket.write(ok(a.body) + ok(b.body));
        const third = Buffer.from(ok(c.body));
        let i = 0;
        const drip = () => {
          if (i < third.length) socket.write(third.subarray(i, ++i), () => setImmediate(drip));
        };
        drip();
      }
    });
    const transport = makeTransport('raw', server.url, { connections: 1, pipelining: 3 });
    const outcomes = await Promise.all(['"x"', '"y"', '"zé"'].map((b) => send(transport, b).outcome));
    expect(outcomes).toEqual([{ reply: [200, '"x"'] }, { reply: [200, '"y"'] }, { reply: [200, '"zé"'] }]);
    expect(server.connections).toBe(1);
  });

  it('fails the requests pipelined behind a dropped one as connection errors', async () => {
    const server = await rawServer((socket, body, index) => {
      if (index === 0) socket.write(ok(body));
      if (index === 2) setTimeout(() => socket.destroy(), 10);
    });
    const transport = makeTransport('raw', server.url, { connections: 1, pipelining: 3 });
    const outcomes = await Promise.all(['1', '2', '3'].map((b) => send(transport, b).outcome));
    expect(outcomes).toEqual([
      { reply: [200, '1'] },
      { failure: 'connectionError' },
      { failure: 'connectionError' },
    ]);
  });

  it('close() ends requests still in flight as connection errors', async () => {
    const server = await rawServer(() => undefined);
    const transport = new RawTransport({
      endpoints: [{ nodeId: 'n0', rpcUrl: server.url }],
      request: { method: 'POST', path: '/', headers: {} },
      connectionsPerEndpoint: 1,
      pipelining: 1,
      connectTimeoutMs: 1000,
    });
    const inFlight = send(transport, '1');
    const queued = send(transport, '2');
    await new Promise((resolve) => setTimeout(resolve, 30));
    await transport.close();
    expect(await inFlight.outcome).toEqual({ failure: 'connectionError' });
    expect(await queued.outcome).toEqual({ failure: 'connectionError' });
  });

  it('writes one head: method, path under the base path, host, headers, exact Content-Length', async () => {
    const endpoint: Endpoint = { nodeId: 'n', rpcUrl: 'http://127.0.0.1:9/base/' };
    expect(
      requestHeadPrefix(endpoint, {
        method: 'PUT',
        path: 'tx?x=1',
        headers: { 'X-Test': '1', 'content-length': '5', Host: 'example' },
      }),
    ).toBe(
      'PUT /base/tx?x=1 HTTP/1.1\r\nhost: example\r\nconnection: keep-alive\r\nX-Test: 1\r\ncontent-length: ',
    );
    expect(() =>
      requestHeadPrefix(endpoint, { method: 'POST', path: '/', headers: { 'x-a': 'b\r\nx-evil: 1' } }),
    ).toThrow(/invalid request header/);
    const server = await rawServer((socket, body) => socket.write(ok(body)));
    const transport = makeTransport('raw', server.url);
    expect(await send(transport, '"héllo"').outcome).toEqual({ reply: [200, '"héllo"'] });
    expect(server.requests[0]).toMatch(/^POST \/ HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    expect(server.requests[0]).toContain('content-length: 8\r\n\r\n"héllo"');
  });
});

describe('transport choice', () => {
  it('defaults to raw for http:// endpoints and undici when any is https://', () => {
    expect(defaultTransport([{ nodeId: 'a', rpcUrl: 'http://127.0.0.1:26657' }])).toBe('raw');
    expect(
      defaultTransport([
        { nodeId: 'a', rpcUrl: 'http://127.0.0.1:26657' },
        { nodeId: 'b', rpcUrl: 'https://node.example:443' },
      ]),
    ).toBe('undici');
  });

  it('rejects an unknown transport, and raw with an https:// endpoint, in one line', () => {
    const base = {
      runId: 'r',
      endpoints: [{ nodeId: 'a', rpcUrl: 'https://node.example' }],
      protocol: { kind: 'cometbft', broadcastMode: 'async' } as const,
      shape: { kind: 'fixed', rate: 10 } as const,
      durationMs: 1000,
      transactionSizeBytes: 64,
      confirm: 'none' as const,
    };
    expect(() => validateLoadOptions({ ...base, transport: 'raw' })).toThrow(
      /transport raw speaks plain http:\/\/ only, not https:\/\/node\.example/,
    );
    expect(() => validateLoadOptions({ ...base, transport: 'curl' as 'raw' })).toThrow(
      /transport "curl" is not known/,
    );
    expect(() => validateLoadOptions({ ...base, transport: 'undici' })).not.toThrow();
  });
});
