import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePoint } from '../../../src/monitor/influx/line-protocol.js';
import { InfluxWriter, influxTarget, writeUrl } from '../../../src/monitor/influx/writer.js';
import {
  eventPoints,
  ingestPoints,
  InfluxOutput,
  nodeSeriesPoints,
  resourcePoints,
  secondPoints,
} from '../../../src/monitor/influx/influx-output.js';
import { MeshbenchError } from '../../../src/common/errors.js';

describe('line protocol', () => {
  it('escapes measurements, tag keys and values, field keys and string values', () => {
    expect(
      encodePoint({
        measurement: 'tx duration,x',
        tags: { 'a b': 'c,d=e', z: 'last', empty: '', none: undefined },
        fields: { 'f=1': 1.5, text: 'say "hi" \\ there', ok: true },
        timeMs: 1700000000123.4,
      }),
    ).toBe(
      'tx\\ duration\\,x,a\\ b=c\\,d\\=e,z=last f\\=1=1.5,text="say \\"hi\\" \\\\ there",ok=true 1700000000123',
    );
  });

  it('sorts tags, writes whole numbers as floats (no i), skips undefined and non-finite fields', () => {
    expect(
      encodePoint({
        measurement: 'tx_submitted',
        tags: { run_id: 'r1', level: '100', network: 'local' },
        fields: { value: 5, gone: undefined, nan: Number.NaN, inf: Infinity },
        timeMs: 1000,
      }),
    ).toBe('tx_submitted,level=100,network=local,run_id=r1 value=5 1000');
  });

  it('a point without a field to write is no line', () => {
    expect(encodePoint({ measurement: 'm', fields: { value: Number.NaN }, timeMs: 1 })).toBeUndefined();
  });
});

describe('InfluxDB target', () => {
  it('reads the database from the path and the credentials from the URL, never showing the password', () => {
    const target = influxTarget('http://me:secret@127.0.0.1:8086/bench');
    expect(target.database).toBe('bench');
    expect(target.baseUrl).toBe('http://127.0.0.1:8086');
    expect(target.authorization).toBe(`Basic ${Buffer.from('me:secret').toString('base64')}`);
    expect(target.shown).not.toContain('secret');
    expect(writeUrl(target)).toBe('http://127.0.0.1:8086/write?db=bench&precision=ms');
  });
});

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** An InfluxDB stand-in: records each write's body, answers with `status`. */
async function fakeInflux(
  status: number,
  body = '',
): Promise<{ url: string; writes: string[]; queries: string[] }> {
  const writes: string[] = [];
  const queries: string[] = [];
  server = createServer((request: IncomingMessage, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      writes.push(text);
      queries.push(request.url ?? '');
      response.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server?.address() as AddressInfo).port}/db`, writes, queries };
}

describe('InfluxWriter', () => {
  it('batches points into one POST per flush, in line protocol, precision ms', async () => {
    const influx = await fakeInflux(204);
    const writer = new InfluxWriter(influxTarget(influx.url), { flushMs: 10_000 });
    writer.write([{ measurement: 'a', fields: { value: 1 }, timeMs: 1 }]);
    writer.write([{ measurement: 'b', fields: { value: 2 }, timeMs: 2 }]);
    await writer.flush();
    expect(influx.writes).toEqual(['a value=1 1\nb value=2 2\n']);
    expect(influx.queries[0]).toBe('/write?db=db&precision=ms');
    expect(writer.stats).toEqual({ written: 2, lost: 0, errors: [] });
  });

  it('a refused write: its points counted lost, the reason said once, later writes still tried', async () => {
    const influx = await fakeInflux(404, '{"error":"database not found: \\"db\\""}');
    const said: string[] = [];
    const writer = new InfluxWriter(influxTarget(influx.url), { onError: (reason) => said.push(reason) });
    writer.write([{ measurement: 'a', fields: { value: 1 }, timeMs: 1 }]);
    await writer.flush();
    writer.write([{ measurement: 'a', fields: { value: 2 }, timeMs: 2 }]);
    await writer.stop();
    expect(said).toEqual(['HTTP 404: database not found: "db"']);
    expect(writer.stats.lost).toBe(2);
    expect(influx.writes).toHaveLength(2);
  });
});

describe('InfluxOutput preflight', () => {
  it('with --require-monitoring, an InfluxDB that does not answer stops the run with one line', async () => {
    const output = new InfluxOutput({ url: 'http://127.0.0.1:9/db', require: true, confirmCommit: true });
    const error = await output.preflight().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(MeshbenchError);
    const message = (error as MeshbenchError).message;
    expect(message).toContain('--influx-url http://127.0.0.1:9/db');
    expect(message).not.toContain('\n');
    expect((error as MeshbenchError).hint).toMatch(/--require-monitoring/);
  });

  it('without it: one warning, and the run record says what is missing', async () => {
    const influx = await fakeInflux(403, '{"error":"authorization failed"}');
    const warned: string[] = [];
    const output = new InfluxOutput({
      url: influx.url,
      confirmCommit: true,
      warn: (line) => warned.push(line),
    });
    await output.preflight();
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/HTTP 403: authorization failed.*goes on without InfluxDB/);
    const blocks: Record<string, unknown> = {};
    const context = {
      deployment: { endpoints: [] },
      signal: new AbortController().signal,
      elapsedMs: () => 0,
      block: (name: string, data: unknown) => (blocks[name] = data),
      log: () => undefined,
    };
    const level = {
      runId: 'r',
      network: 'local',
      benchmarkNumber: 1,
      load: 10,
      run: 1,
      warmupMs: 0,
      durationMs: 1000,
    };
    output.onLevelStart(level, context);
    await output.onLoadEnd(level, {} as never, context);
    expect(blocks.influx).toMatchObject({ written: 0, missing: [expect.stringMatching(/HTTP 403/)] });
    expect(influx.writes).toHaveLength(1);
  });
});

describe('a missing database', () => {
  it('is created before the run, as k6 does', async () => {
    let created = false;
    const urls: string[] = [];
    server = createServer((request, response) => {
      urls.push(request.url ?? '');
      request.resume();
      request.on('end', () => {
        if (request.url?.startsWith('/query')) {
          created = true;
          response.writeHead(200).end('{"results":[{"statement_id":0}]}');
        } else if (!created) response.writeHead(404).end('{"error":"database not found: \\"db\\""}');
        else response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/db`;
    const warned: string[] = [];
    await new InfluxOutput({ url, confirmCommit: true, warn: (line) => warned.push(line) }).preflight();
    expect(warned).toEqual([]);
    expect(urls.map((u) => u.split('?')[0])).toEqual(['/write', '/query', '/write']);
    expect(decodeURIComponent(urls[1] as string)).toContain('q=CREATE+DATABASE+"db"');
  });
});

describe('points from the record', () => {
  const tags = { run_id: 'r', network: 'local', benchmark: '1', level: '100', run: '1' };

  it('one point per second of the time series and measurement, at the measured start + second', () => {
    const points = secondPoints(
      {
        timeSeries: [
          {
            second: 0,
            sent: 100,
            ok: 99,
            failed: 1,
            committed: 98,
            ackP50Ms: 2,
            ackP99Ms: 5,
            commitP50Ms: 30,
            commitP99Ms: 60,
          },
          { second: 1, sent: 100, ok: 100, failed: 0, committed: 100, ackP50Ms: 2, ackP99Ms: 4 },
        ],
      },
      { tags, measuredStartMs: 5000 },
      true,
      100,
    );
    const of = (name: string) => points.filter((point) => point.measurement === name);
    expect(of('tx_submitted').map((p) => [p.timeMs, p.fields.value])).toEqual([
      [5000, 100],
      [6000, 100],
    ]);
    expect(of('efficiency').map((p) => p.fields.value)).toEqual([0.98, 1]);
    expect(of('tx_duration').map((p) => p.tags?.stage)).toEqual(['ack', 'commit', 'ack']);
  });

  it('the metrics block per node and series, events as annotations, resources per node', () => {
    const blocks = {
      metrics: {
        source: 'scrape',
        interval_ms: 1000,
        series: ['refnode_height'],
        seconds: [1, 2],
        start_epoch_ms: 10_000,
        nodes: { node0: { refnode_height: [5, null] } },
      },
      faults: { events: [{ action: 'kill', nodes: ['node3'], cause: 'scenario', fired_ms: 2500 }] },
      network: {
        events: [
          { event: 0, edge: 'start', fired_ms: 1000 },
          { event: null, edge: 'tick', fired_ms: 1500 },
        ],
      },
      resources: {
        nodes: [
          { node_id: 'node0', host: 'local', series: [{ t_s: 1, cpu_percent: 12.5, memory_bytes: 1e6 }] },
        ],
        generator: { series: [{ t_s: 1, cpu_percent: 40, event_loop_delay_p99_ms: 1.2 }] },
      },
    };
    expect(nodeSeriesPoints(blocks, tags)).toEqual([
      {
        measurement: 'refnode_height',
        tags: { ...tags, node: 'node0' },
        fields: { value: 5 },
        timeMs: 11_000,
      },
    ]);
    const events = eventPoints(blocks, tags, 10_000);
    expect(events.map((p) => [p.tags?.kind, p.fields.title, p.timeMs])).toEqual([
      ['fault', 'kill node3', 12_500],
      ['condition', 'condition start (events[0])', 11_000],
    ]);
    expect(
      ingestPoints(
        {
          ingest: {
            points: [{ name: 'app_sync_ms', value: 12, tags: { peer: 'b' }, t_ms: 5, wall_ms: 10_005 }],
          },
        },
        tags,
      ),
    ).toEqual([
      {
        measurement: 'app_sync_ms',
        tags: { peer: 'b', ...tags, source: 'ingest' },
        fields: { value: 12 },
        timeMs: 10_005,
      },
    ]);
    const resources = resourcePoints(blocks, tags, 10_000);
    expect(resources.map((p) => [p.measurement, p.fields.cpu_percent, p.timeMs])).toEqual([
      ['node_resources', 12.5, 11_000],
      ['generator_resources', 40, 11_000],
    ]);
  });
});
