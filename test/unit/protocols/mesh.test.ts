/**
 * The mesh protocol (docs/mesh-protocol.md): the Server-Sent Events parser on streams cut
 * anywhere, the delivery events and their bad shapes, the count that makes a message
 * committed, and the open-loop generator against a small mesh of HTTP nodes in this process
 * that serve the contract (each publish is delivered on every node's `/deliveries` stream).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runLoad } from '../../../src/load/index.js';
import {
  DeliveryCounter,
  createMeshProtocol,
  deliveriesNeeded,
  mesh,
  meshReadiness,
} from '../../../src/protocols/mesh.js';
import { DeliveryStream, SseParser, parseDelivery } from '../../../src/protocols/mesh-stream.js';
import type { MeshDelivery } from '../../../src/protocols/mesh-stream.js';
import { LoopbackMesh } from '../../support/loopback-mesh.js';

describe('the SSE parser', () => {
  const stream =
    ': keep-alive\n\ndata: {"id":"a","origin":"node0"}\n\nevent: delivery\r\nid: 7\r\ndata: {"id":"b",\r\ndata: "origin":"nodé1"}\r\n\r\ndata:x\r\rdata\n\n';

  it('yields each event once its blank line arrives, whatever the chunk boundaries', () => {
    const whole: string[] = [];
    new SseParser((data) => whole.push(data)).push(stream);
    expect(whole).toEqual(['{"id":"a","origin":"node0"}', '{"id":"b",\n"origin":"nodé1"}', 'x', '']);
    const bytes = Buffer.from(stream, 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) {
      const pieces: string[] = [];
      const parser = new SseParser((data) => pieces.push(data));
      parser.push(bytes.subarray(0, cut));
      parser.push(bytes.subarray(cut));
      expect(pieces, `cut at byte ${cut}`).toEqual(whole);
    }
  });

  it('keeps only a copy of an unfinished line, so the reader may reuse its buffer', () => {
    const seen: string[] = [];
    const parser = new SseParser((data) => seen.push(data));
    const shared = Buffer.alloc(64);
    const feed = (text: string): void => {
      parser.push(shared.subarray(0, shared.write(text, 'utf8')));
      shared.fill(0x7e); // the next read overwrites it
    };
    for (const piece of ['data: {"id":"a",', '"origin":"é"}\r', '\n\r', '\ndata', ': x\n', '\n']) feed(piece);
    expect(seen).toEqual(['{"id":"a","origin":"é"}', 'x']);
  });

  it('holds an event back until its blank line', () => {
    const seen: string[] = [];
    const parser = new SseParser((data) => seen.push(data));
    parser.push('data: {"id":"a"');
    parser.push(',"origin":"n"}\n');
    expect(seen).toEqual([]);
    parser.push('\n');
    expect(seen).toEqual(['{"id":"a","origin":"n"}']);
  });
});

describe('delivery events', () => {
  it('reads id and origin, and names what a malformed event lacks', () => {
    expect(parseDelivery('{"id":"A1","origin":"node2","extra":1}')).toEqual({ id: 'A1', origin: 'node2' });
    expect(parseDelivery('not json')).toMatch(/not JSON/);
    expect(parseDelivery('[1]')).toMatch(/without a string "id"/);
    expect(parseDelivery('{"id":"a"}')).toMatch(/without a string "origin"/);
    expect(parseDelivery('{"origin":"n","id":3}')).toMatch(/without a string "id"/);
    expect(parseDelivery('{"id":"","origin":"n"}')).toMatch(/without a string "id"/);
    expect(parseDelivery('{"id":"a\tb","origin":"n"}')).toMatch(/not JSON/); // a raw control character
    expect(parseDelivery('{"id":"a","origin":"n"} ')).toEqual({ id: 'a', origin: 'n' });
  });

  it("reads the node's own time of a delivery, `at`, and refuses one that is not a time", () => {
    const at = 1_764_345_600_123.456;
    expect(parseDelivery(`{"id":"a","origin":"n","at":${at}}`)).toEqual({ id: 'a', origin: 'n', at });
    expect(parseDelivery(`{"id":"a","origin":"n","at":1764345600123}`)).toEqual({
      id: 'a',
      origin: 'n',
      at: 1764345600123,
    });
    expect(parseDelivery(`{"at": ${at}, "origin": "n", "id": "a"}`)).toEqual({ id: 'a', origin: 'n', at });
    expect(parseDelivery('{"id":"a","origin":"n","at":null}')).toEqual({ id: 'a', origin: 'n' });
    for (const bad of ['"1764345600123"', '-5', '0', '1e400', 'true'])
      expect(parseDelivery(`{"id":"a","origin":"n","at":${bad}}`)).toMatch(
        /"at" is not a time in ms since the Unix epoch/,
      );
  });

  it('reads the plain form nodes write exactly as JSON.parse reads it, whatever the strings', () => {
    const viaJson = (data: string): unknown => {
      try {
        const { id, origin, at } = JSON.parse(data) as { id: string; origin: string; at?: unknown };
        if (at !== undefined && at !== null && !(typeof at === 'number' && Number.isFinite(at) && at > 0))
          return 'refused';
        if (id === '' || origin === '') return 'refused';
        return typeof at === 'number' ? { id, origin, at } : { id, origin };
      } catch {
        return 'refused';
      }
    };
    const strings = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.constantFrom('"', '\\', '}', '\u2028'),
    );
    fc.assert(
      fc.property(strings, strings, fc.boolean(), (id, origin, raw) => {
        // As JSON.stringify writes it, and with the strings pasted in raw (quotes and escapes unescaped).
        const data = raw ? `{"id":"${id}","origin":"${origin}"}` : JSON.stringify({ id, origin });
        const got = parseDelivery(data);
        expect(typeof got === 'string' ? 'refused' : got).toEqual(viaJson(data));
      }),
      { numRuns: 500 },
    );
  });
});

describe('the delivery count', () => {
  it('commits a message once enough distinct nodes delivered it, duplicates not counted', () => {
    const counter = new DeliveryCounter('all');
    const nodes = [counter.addStream(), counter.addStream(), counter.addStream()];
    for (const node of nodes) counter.setLive(node, true);
    expect(counter.deliver('m', nodes[0]!)).toBe(false);
    expect(counter.deliver('m', nodes[0]!)).toBe(false); // a duplicate
    expect(counter.deliver('m', nodes[1]!)).toBe(false);
    expect(counter.deliver('m', nodes[2]!)).toBe(true);
    expect(counter.deliver('m', nodes[2]!)).toBe(false); // once only
    counter.setLive(nodes[2]!, false); // a node went down: all = the two live ones
    expect(counter.deliver('n', nodes[0]!)).toBe(false);
    expect(counter.deliver('n', nodes[1]!)).toBe(true);
  });

  it('all: a node that goes away is no longer waited for, and does not stand in for a live one', () => {
    const counter = new DeliveryCounter('all');
    const [a, b, c] = [counter.addStream(), counter.addStream(), counter.addStream()] as const;
    for (const node of [a, b, c]) counter.setLive(node, true);
    // reached a and b, on its way to c when c crashed: delivered to every live node now
    counter.deliver('in-flight', a, 10);
    counter.deliver('in-flight', b, 20);
    // reached c (which then crashed) and a, not yet b: b must still deliver it
    counter.deliver('not-at-b', c, 10);
    counter.deliver('not-at-b', a, 15);
    // reached a only
    counter.deliver('only-a', a, 12);
    expect(counter.setLive(c, false)).toEqual(['in-flight']);
    expect(counter.committedAtMs).toBeUndefined(); // committed at the reader's now: when c went
    expect(counter.deliver('in-flight', c)).toBe(false); // once only
    expect(counter.deliver('not-at-b', b, 30)).toBe(true);
    expect(counter.committedAtMs).toBe(30);
    // c back (a restarted node's new stream): what is pending waits for it again
    expect(counter.setLive(c, true)).toEqual([]);
    expect(counter.deliver('only-a', b, 25)).toBe(false);
    expect(counter.deliver('only-a', c, 40)).toBe(true);
    // a stream already down, or a rule that counts nodes: nothing to re-count
    expect(counter.setLive(c, false)).toEqual([]);
    expect(counter.setLive(c, false)).toEqual([]);
    // every stream gone (the reader cut off, or closing): nothing is committed on no node at all
    counter.deliver('at-a', a, 50);
    expect(counter.setLive(a, false)).toEqual([]); // b, live, lacks it
    expect(counter.setLive(b, false)).toEqual([]);
    const majority = new DeliveryCounter('majority');
    const m = [majority.addStream(), majority.addStream(), majority.addStream()];
    for (const node of m) majority.setLive(node, true);
    majority.deliver('x', m[0]!);
    expect(majority.setLive(m[2]!, false)).toEqual([]);
  });

  it('says when a message was committed: the latest time of the deliveries that counted', () => {
    const counter = new DeliveryCounter('all');
    const nodes = [counter.addStream(), counter.addStream(), counter.addStream()];
    for (const node of nodes) counter.setLive(node, true);
    // read in another order than they happened (a far node's event arrives last, delivered first)
    expect(counter.deliver('m', nodes[0]!, 10)).toBe(false);
    expect(counter.deliver('m', nodes[1]!, 30)).toBe(false);
    expect(counter.deliver('m', nodes[2]!, 20)).toBe(true);
    expect(counter.committedAtMs).toBe(30);
    expect(counter.deliver('u', nodes[0]!)).toBe(false);
    expect(counter.deliver('u', nodes[1]!)).toBe(false);
    expect(counter.deliver('u', nodes[2]!)).toBe(true);
    expect(counter.committedAtMs).toBeUndefined(); // untimed: the reader's now
  });

  it('counts distinct nodes past 30 streams too, and for a message begun with fewer', () => {
    const counter = new DeliveryCounter('all');
    const first = [counter.addStream(), counter.addStream()];
    for (const node of first) counter.setLive(node, true);
    expect(counter.deliver('early', first[0]!)).toBe(false);
    const more = Array.from({ length: 38 }, () => counter.addStream()); // 40 streams now
    for (const node of more) counter.setLive(node, true);
    for (const node of [first[0]!, ...more]) expect(counter.deliver('early', node)).toBe(false);
    expect(counter.deliver('early', more[0]!)).toBe(false); // a duplicate
    expect(counter.deliver('early', first[1]!)).toBe(true);
    const all = [...first, ...more];
    for (const node of all.slice(0, 39)) expect(counter.deliver('late', node)).toBe(false);
    expect(counter.deliver('late', all[39]!)).toBe(true);
  });

  it('majority and K count the nodes, not the live streams', () => {
    expect(deliveriesNeeded('majority', 2, 5)).toBe(3);
    expect(deliveriesNeeded('majority', 4, 4)).toBe(3);
    expect(deliveriesNeeded(2, 1, 4)).toBe(2);
    expect(deliveriesNeeded('all', 0, 4)).toBe(1);
  });

  it('parses --mesh-delivery, refusing a value it cannot take in one line', () => {
    expect(mesh.options({ meshDelivery: 'majority' })).toEqual({ kind: 'mesh', delivery: 'majority' });
    expect(mesh.options({ meshDelivery: '3' })).toEqual({ kind: 'mesh', delivery: 3 });
    expect(mesh.options({})).toEqual({ kind: 'mesh' });
    expect(() => mesh.options({ meshDelivery: 'most' })).toThrow(/--mesh-delivery.*most/);
    expect(mesh.settings[0]!.parse('0')).toHaveProperty('rule');
  });
});

describe('the readiness probe (GET /health)', () => {
  const target = { nodeId: 'node0', rpcUrl: 'http://node0:8080' };
  const answering = (status: number, body: string) => {
    const asked: string[] = [];
    const http = (url: string) => {
      asked.push(url);
      return Promise.resolve({ status, body });
    };
    return { asked, http };
  };

  it('is ready on 200, whatever the body', async () => {
    const { asked, http } = answering(200, '{"peers":3}');
    expect(await meshReadiness()(target, http)).toEqual({ ready: true, detail: 'ready' });
    expect(asked).toEqual(['http://node0:8080/health']);
  });

  it("shows a not-ready node's own account and takes its peer count from it", async () => {
    const libp2p = answering(503, '{"peers":1,"mesh":0,"mesh_needed":3}');
    expect(await meshReadiness()(target, libp2p.http)).toEqual({
      ready: false,
      detail: 'GET /health answered HTTP 503: {"peers":1,"mesh":0,"mesh_needed":3}',
      peers: 1,
    });
    const alone = answering(503, '{"peers":0}');
    expect((await meshReadiness()(target, alone.http)).peers).toBe(0);
  });

  it('says "no peer yet" for an empty body, and shows any other body on one short line, no peer count', async () => {
    expect(await meshReadiness()(target, answering(503, '').http)).toEqual({
      ready: false,
      detail: 'GET /health answered HTTP 503 (no peer yet)',
    });
    const text = await meshReadiness()(target, answering(500, 'starting\n  up').http);
    expect(text).toEqual({ ready: false, detail: 'GET /health answered HTTP 500: starting up' });
    const long = await meshReadiness()(
      target,
      answering(503, `{"peers":"two","x":"${'y'.repeat(300)}"}`).http,
    );
    expect(long.peers).toBeUndefined();
    expect(long.detail.length).toBeLessThan(160);
    expect(long.detail.endsWith('…')).toBe(true);
  });

  it('names a request that failed', async () => {
    const http = () =>
      Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const result = await meshReadiness()(target, http);
    expect(result.ready).toBe(false);
    expect(result.detail).toMatch(/ECONNREFUSED/);
  });
});

describe("the delivery stream's reader, against raw HTTP servers", () => {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise((done) => server?.close(done) ?? done(undefined));
    server = undefined;
  });

  /** A TCP server that answers each connection with `reply(socket, request)`; its URL. */
  async function serve(reply: (socket: Socket, request: string) => void): Promise<string> {
    server = createServer((socket) => {
      sockets.add(socket);
      let request = '';
      socket.on('data', (chunk) => {
        request += chunk.toString('latin1');
        if (request.includes('\r\n\r\n')) reply(socket, request);
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    const address = server.address() as { port: number };
    return `http://127.0.0.1:${address.port}/deliveries`;
  }

  function reader(url: string, retryMs = 60_000, connectTimeoutMs = 2000) {
    const seen: MeshDelivery[] = [];
    const problems: string[] = [];
    const states: boolean[] = [];
    const stream = new DeliveryStream(
      'node0',
      url,
      {
        onDelivery: (delivery) => seen.push(delivery),
        onProblem: (message) => problems.push(message),
        onState: (live) => states.push(live),
      },
      { connectTimeoutMs, retryMs },
    );
    return { stream, seen, problems, states };
  }

  const events = Array.from({ length: 5 }, (_, i) => `data: {"id":"m${i}","origin":"node${i % 2}"}\n\n`).join(
    '',
  );

  it('reads events byte by byte from a body the end of the connection frames (HTTP/1.0), then sees it end', async () => {
    let request = '';
    const url = await serve((socket, text) => {
      request = text;
      socket.write('HTTP/1.0 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n');
      const bytes = Buffer.from(events);
      let i = 0;
      const next = (): void => {
        if (i === bytes.length) socket.end();
        else socket.write(bytes.subarray(i, ++i), next);
      };
      next();
    });
    const { stream, seen, problems, states } = reader(url.replace('127.0.0.1', 'user:p%40ss@127.0.0.1'));
    expect(await stream.ready).toBe(true);
    await vi.waitFor(() => expect(states).toEqual([true, false]), { timeout: 5000, interval: 5 });
    expect(stream.drops).toBe(1);
    await stream.close();
    expect(stream.drops).toBe(1); // its own close is not a drop
    expect(seen.map((d) => d.id)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(problems).toEqual([]);
    expect(request).toMatch(/^GET \/deliveries HTTP\/1\.1\r\n/);
    expect(request).toContain('Accept: text/event-stream\r\n');
    expect(request).toContain(`Authorization: Basic ${Buffer.from('user:p@ss').toString('base64')}\r\n`);
  });

  it('times the events that waited for the loop together with one arrival, whatever stream they came on', async () => {
    const open: Socket[] = [];
    const url = await serve((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n');
      open.push(socket);
    });
    const arrivals: { id: string; at: number }[] = [];
    const streams = ['?a', '?b'].map(
      (query, index) =>
        new DeliveryStream(`node${index}`, `${url}${query}`, {
          onDelivery: (delivery, at) => arrivals.push({ id: delivery.id, at }),
          onProblem: () => undefined,
        }),
    );
    expect(await Promise.all(streams.map((stream) => stream.ready))).toEqual([true, true]);
    // Both streams' bytes are in their sockets before the loop polls again: one wake reads both.
    open.forEach((socket, index) => socket.write(`data: {"id":"m${index}","origin":"node0"}\n\n`));
    for (const until = performance.now() + 20; performance.now() < until;);
    await vi.waitFor(() => expect(arrivals).toHaveLength(2), { timeout: 5000, interval: 5 });
    // The next event, a wake later, has a time of its own.
    open[0]?.write('data: {"id":"m2","origin":"node0"}\n\n');
    await vi.waitFor(() => expect(arrivals).toHaveLength(3), { timeout: 5000, interval: 5 });
    await Promise.all(streams.map((stream) => stream.close()));
    expect(arrivals[0]?.at).toBe(arrivals[1]?.at);
    expect(arrivals[2]?.at).toBeGreaterThan(arrivals[1]?.at ?? Infinity);
  });

  it("times a delivery by the node's `at` when its clock's offset is known, and by its arrival otherwise", async () => {
    const open: Socket[] = [];
    const url = await serve((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n');
      open.push(socket);
    });
    const times = new Map<string, number[]>();
    const problems: string[] = [];
    // three readers of one stream: the node's clock 0 and 250 ms ahead of ours, and not known
    const offsets = [0, 250, undefined];
    const streams = offsets.map(
      (clockOffsetMs, index) =>
        new DeliveryStream(
          `reader${index}`,
          url,
          {
            onDelivery: (delivery, deliveredMs) =>
              times.set(delivery.id, [...(times.get(delivery.id) ?? []), deliveredMs]),
            onProblem: (line) => problems.push(line),
          },
          { clockOffsetMs },
        ),
    );
    expect(await Promise.all(streams.map((stream) => stream.ready))).toEqual([true, true, true]);
    const epochNow = () => performance.timeOrigin + performance.now();
    // delivered 400 ms ago on a node whose clock is ours (stamped as a node would: 3 decimals)
    const sentAt = performance.now();
    open[0]?.write(`data: {"id":"m0","origin":"n","at":${(epochNow() - 400).toFixed(3)}}\n\n`);
    await vi.waitFor(() => expect(times.get('m0')).toHaveLength(3), { timeout: 5000, interval: 5 });
    const [same, ahead, unknown] = times.get('m0')!;
    expect(unknown).toBeGreaterThanOrEqual(sentAt);
    expect(same! - (sentAt - 400)).toBeGreaterThanOrEqual(-0.01);
    expect(same!).toBeLessThanOrEqual(unknown! - 399.99);
    expect(ahead! - (same! - 250)).toBeCloseTo(0, 2);
    // a replay of what the node held a minute ago: its own old time, without a word
    open[0]?.write(`data: {"id":"old","origin":"n","at":${(epochNow() - 60_000).toFixed(3)}}\n\n`);
    await vi.waitFor(() => expect(times.get('old')).toHaveLength(3), { timeout: 5000, interval: 5 });
    const [oldSame, oldAhead, oldUnknown] = times.get('old')!;
    expect(oldUnknown! - oldSame!).toBeGreaterThanOrEqual(59_999);
    expect(oldAhead! - (oldSame! - 250)).toBeCloseTo(0, 2);
    expect(problems).toEqual([]);
    // an `at` in seconds: each reader that would use it says so once and times such events at their arrival
    for (const id of ['m1', 'm2'])
      open[0]?.write(`data: {"id":"${id}","origin":"n","at":${Math.floor(epochNow() / 1000)}}\n\n`);
    // and one 20 s ahead of the reader's clock
    open[0]?.write(`data: {"id":"m3","origin":"n","at":${(epochNow() + 20_000).toFixed(3)}}\n\n`);
    await vi.waitFor(() => expect(times.get('m3')).toHaveLength(3), { timeout: 5000, interval: 5 });
    await Promise.all(streams.map((stream) => stream.close()));
    const [m1same, , m1unknown] = times.get('m1')!;
    expect(m1same).toBe(m1unknown);
    const [m3same, , m3unknown] = times.get('m3')!;
    expect(m3same).toBe(m3unknown);
    expect(problems).toHaveLength(2); // reader0 and reader1, once each
    expect(problems[0]).toMatch(
      /^reader0: \/deliveries sent "at" \d+ s before the event arrived here .*timed at their arrival here$/,
    );
  });

  it('reads a Content-Length body and opens the stream again when it ends', async () => {
    let connections = 0;
    const url = await serve((socket) => {
      connections++;
      socket.write(
        `HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: ${events.length}\r\n\r\n${events}`,
      );
    });
    const { stream, seen, problems } = reader(url, 20);
    expect(await stream.ready).toBe(true);
    await vi.waitFor(() => expect(connections).toBeGreaterThanOrEqual(2), { timeout: 5000, interval: 5 });
    // each end of the body is a drop the propagation probes go by (a probe armed before it is not waited on)
    expect(stream.drops).toBeGreaterThanOrEqual(1);
    await stream.close();
    expect(seen.slice(0, 5).map((d) => d.id)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(problems).toEqual([]);
  });

  it('names a refused connection, a response that is not HTTP, and a node that hangs up without one', async () => {
    const refused = reader('http://127.0.0.1:1/deliveries', 60_000, 200);
    expect(await refused.stream.ready).toBe(false);
    await refused.stream.close();
    expect(refused.problems[0]).toBe('node0: GET /deliveries failed (ECONNREFUSED)');

    const garbage = reader(await serve((socket) => socket.write('SSH-2.0-OpenSSH_9.2\r\n')));
    await vi.waitFor(() => expect(garbage.problems.length).toBeGreaterThan(0), {
      timeout: 5000,
      interval: 5,
    });
    await garbage.stream.close();
    expect(garbage.problems[0]).toMatch(
      /^node0: GET \/deliveries sent a malformed HTTP response: .*mesh contract/,
    );
    await new Promise((done) => server!.close(done));

    const hangUp = reader(await serve((socket) => socket.end()));
    await vi.waitFor(() => expect(hangUp.problems.length).toBeGreaterThan(0), { timeout: 5000, interval: 5 });
    await hangUp.stream.close();
    expect(hangUp.problems[0]).toBe(
      'node0: GET /deliveries: the node closed the connection without a response',
    );
  });
});

describe('the mesh protocol against nodes that serve the contract', () => {
  let loop: LoopbackMesh | undefined;
  afterEach(async () => {
    await loop?.close();
    loop = undefined;
  });

  it('reads every node stream and commits each publish once every live node delivered it', async () => {
    loop = await LoopbackMesh.start(4);
    const result = await runLoad({
      runId: 'mesh-unit',
      endpoints: loop.endpoints(),
      protocol: { kind: 'mesh' },
      shape: { kind: 'fixed', rate: 200 },
      durationMs: 1000,
      transactionSizeBytes: 64,
      confirm: 'commit',
      commitTimeoutMs: 5000,
    });
    expect(result.sent).toBe(200);
    expect(result.outcomes.ok).toBe(200);
    expect(loop.published).toBe(200);
    expect(result.outcomes.committed).toBe(200);
    expect(result.latency.commit?.corrected.count).toBe(200);
  });

  it("times commits by the nodes' own delivery times across a slow stream, when their clocks are known", async () => {
    // every event reaches the reader 400 ms after its delivery (a far reader behind a shaped link)
    const lagMs = 400;
    loop = await LoopbackMesh.start(3, { stamp: true, lagMs });
    const run = (clockOffsetMs?: number) =>
      runLoad({
        runId: 'mesh-at',
        endpoints: loop!.endpoints().map((e) => (clockOffsetMs === undefined ? e : { ...e, clockOffsetMs })),
        protocol: { kind: 'mesh' },
        shape: { kind: 'fixed', rate: 50 },
        durationMs: 600,
        transactionSizeBytes: 32,
        confirm: 'commit',
        commitTimeoutMs: 5000,
        maxScheduleLagMs: 60_000,
      });
    const known = await run(0);
    const unknown = await run();
    for (const result of [known, unknown]) expect(result.outcomes.committed).toBe(30);
    // timed at their arrival, no commit is faster than the lag; by the nodes' times, most are
    expect(unknown.latency.commit!.corrected.min).toBeGreaterThanOrEqual(lagMs - 1);
    expect(known.latency.commit!.corrected.p50).toBeLessThan(lagMs);
    // never before the publish went out
    expect(known.latency.commit!.uncorrected.min).toBeGreaterThanOrEqual(0);
  });

  it('never commits a publish one node never delivers (all), and does with a majority', async () => {
    loop = await LoopbackMesh.start(3, { deaf: [2] });
    const base = {
      runId: 'mesh-deaf',
      endpoints: loop.endpoints(),
      shape: { kind: 'fixed', rate: 50 },
      durationMs: 400,
      transactionSizeBytes: 32,
      confirm: 'commit',
      commitTimeoutMs: 500,
    } as const;
    const all = await runLoad({ ...base, protocol: { kind: 'mesh' } });
    expect(all.outcomes.ok).toBe(20);
    expect(all.outcomes.committed).toBe(0);
    expect(all.outcomes.commitTimeout).toBe(20);
    const majority = await runLoad({ ...base, protocol: { kind: 'mesh', delivery: 'majority' } });
    expect(majority.outcomes.committed).toBe(20);
  });

  it('commits what every live node has once a node that never got it goes away (all)', async () => {
    // node2 delivers nothing; its stream ends mid-load and does not come back (a crash)
    const options: { deaf: number[]; noStream: number[] } = { deaf: [2], noStream: [] };
    loop = await LoopbackMesh.start(3, options);
    const mesh = loop;
    const crash = setTimeout(() => {
      options.noStream.push(2);
      for (const response of mesh.streams.get(2)!) response.destroy();
    }, 200);
    try {
      const result = await runLoad({
        runId: 'mesh-crash',
        endpoints: loop.endpoints(),
        shape: { kind: 'fixed', rate: 50 },
        durationMs: 400,
        transactionSizeBytes: 32,
        confirm: 'commit',
        commitTimeoutMs: 30_000,
        protocol: { kind: 'mesh' },
      });
      // those published before it went had reached node0 and node1: committed when it went
      expect(result.outcomes.ok).toBe(20);
      expect(result.outcomes.commitTimeout).toBe(0);
      expect(result.outcomes.committed).toBe(20);
    } finally {
      clearTimeout(crash);
    }
  });

  it("says once when a node holds its stream's head back until the first event (Node.js http without flushHeaders)", async () => {
    const server = http.createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      // no write: Node.js sends the head with the first one
      setTimeout(() => response.write('data: {"id":"a","origin":"node0"}\n\n'), 400);
      request.on('close', () => response.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const problems: string[] = [];
    const seen: MeshDelivery[] = [];
    const stream = new DeliveryStream(
      'node0',
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/deliveries`,
      { onDelivery: (delivery) => seen.push(delivery), onProblem: (message) => problems.push(message) },
      { slowHeadMs: 100 },
    );
    try {
      expect(await stream.ready).toBe(true); // with its first event
      expect(seen.map((delivery) => delivery.id)).toEqual(['a']);
      expect(problems).toEqual([
        expect.stringMatching(
          /^node0: GET \/deliveries sent no response head 0\.1 s after connecting.*res\.flushHeaders\(\)/,
        ),
      ]);
    } finally {
      await stream.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("runLoad says a node's stream problem once, by the node's name, with one worker or two", async () => {
    loop = await LoopbackMesh.start(2, { noStream: [1] });
    for (const workers of [1, 2]) {
      const problems: string[] = [];
      await runLoad({
        runId: `mesh-problem-${workers}`,
        endpoints: loop.endpoints(),
        shape: { kind: 'fixed', rate: 20 },
        durationMs: 200,
        transactionSizeBytes: 32,
        confirm: 'commit',
        commitTimeoutMs: 1000,
        protocol: { kind: 'mesh' },
        workers,
        onProblem: (line) => problems.push(line),
      });
      expect(problems, `workers ${workers}`).toEqual([
        expect.stringMatching(/^node1: GET \/deliveries answered HTTP 404 .*mesh contract/),
      ]);
    }
  });

  it('names the node without a delivery stream, and one that sends a malformed event', async () => {
    loop = await LoopbackMesh.start(2, { noStream: [1] });
    const [good, bad] = loop.endpoints();
    const problems: string[] = [];
    const seen: MeshDelivery[] = [];
    const missing = new DeliveryStream(
      'node1',
      `${bad!.rpcUrl}/deliveries`,
      {
        onDelivery: (delivery) => seen.push(delivery),
        onProblem: (message) => problems.push(message),
      },
      // not open at the node's answer, not at the bound (a level's load waited the 5 s out)
      { connectTimeoutMs: 60_000, retryMs: 10_000 },
    );
    expect(await missing.ready).toBe(false);
    await missing.close();
    expect(problems).toEqual([
      expect.stringMatching(/^node1: GET \/deliveries answered HTTP 404 .*mesh contract/),
    ]);

    problems.length = 0;
    const stream = new DeliveryStream('node0', `${good!.rpcUrl}/deliveries`, {
      onDelivery: (delivery) => seen.push(delivery),
      onProblem: (message) => problems.push(message),
    });
    expect(await stream.ready).toBe(true);
    for (const subscriber of loop.streams.get(0)!) {
      subscriber.write('data: {"id":"x"}\n\ndata: {"id":"y","origin":"node1"}\n\n');
    }
    const deadline = Date.now() + 5000;
    while (seen.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await stream.close();
    expect(seen).toEqual([{ id: 'y', origin: 'node1' }]);
    expect(problems).toEqual(['node0: /deliveries sent an event without a string "origin": {"id":"x"}']);
    expect(stream.malformedEvents).toBe(1);
  });

  it('publishes the transaction hash as the id, the payload as base64', () => {
    const protocol = createMeshProtocol();
    const bytes = Buffer.from('hello');
    const body = JSON.parse(protocol.body({ bytes, base64: bytes.toString('base64') }, 0)) as Record<
      string,
      string
    >;
    expect(body).toEqual({
      id: '2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824',
      payload: 'aGVsbG8=',
    });
    expect(protocol.parseReply(202, '')).toEqual({ kind: 'ok' });
    expect(protocol.parseReply(503, 'busy')).toEqual({ kind: 'httpError', status: 503 });
  });
});
