/**
 * The mesh protocol (docs/mesh-protocol.md): the Server-Sent Events parser on streams cut
 * anywhere, the delivery events and their bad shapes, the count that makes a message
 * committed, and the open-loop generator against a small mesh of HTTP nodes in this process
 * that serve the contract (each publish is delivered on every node's `/deliveries` stream).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../../src/load/index.js';
import { DeliveryCounter, createMeshProtocol, deliveriesNeeded, mesh } from '../../../src/protocols/mesh.js';
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
  });
});

describe('the delivery count', () => {
  it('commits a message once enough distinct nodes delivered it, duplicates not counted', () => {
    const counter = new DeliveryCounter('all');
    const nodes = [counter.addStream(), counter.addStream(), counter.addStream()];
    counter.setLive(3);
    expect(counter.deliver('m', nodes[0]!)).toBe(false);
    expect(counter.deliver('m', nodes[0]!)).toBe(false); // a duplicate
    expect(counter.deliver('m', nodes[1]!)).toBe(false);
    expect(counter.deliver('m', nodes[2]!)).toBe(true);
    expect(counter.deliver('m', nodes[2]!)).toBe(false); // once only
    counter.setLive(-1); // a node went down: all = the two live ones
    expect(counter.deliver('n', nodes[0]!)).toBe(false);
    expect(counter.deliver('n', nodes[1]!)).toBe(true);
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
      { connectTimeoutMs: 300, retryMs: 10_000 },
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
