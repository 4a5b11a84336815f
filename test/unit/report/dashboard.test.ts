/**
 * The live dashboard (src/report/dashboard/) without a browser: the event-stream framing
 * (read back by a parser that follows the standard), the server's lifecycle on a real
 * loopback port (a busy port is one exit-2 line; close() ends the streams and stops
 * listening; a late client gets the history), and the observer fed through the sweep's
 * hooks as the sweep calls them, with real records from the report fixture.
 */
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { MeshbenchError } from '../../../src/common/errors.js';
import { buildBenchmarkPlan } from '../../../src/bench/plan.js';
import { parseDashboardInput } from '../../../src/bench/dashboard-input.js';
import type { LevelStart, LiveEvent } from '../../../src/bench/observer.js';
import { readRunFolder } from '../../../src/cli/report-command.js';
import {
  Dashboard,
  dashboardFor,
  type LiveBand,
  type LiveResources,
} from '../../../src/report/dashboard/dashboard.js';
import type { ReportModel } from '../../../src/report/html/model.js';
import { IntervalLatencyRecorder } from '../../../src/measure/interval.js';
import { newCompactHistogram, recordMicros, summarize } from '../../../src/measure/histogram.js';
import { DashboardServer } from '../../../src/report/dashboard/server.js';
import { parseSse, sseComment, sseEvent } from '../../../src/report/dashboard/sse.js';
import type { RunEnd } from '../../../src/results/reporter.js';

const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'report-run');

/** An open event stream: what it has received so far, and its end. */
interface Stream {
  readonly response: IncomingMessage;
  text(): string;
  readonly ended: Promise<void>;
  /** Resolves once the received text passes the test. */
  until(test: (text: string) => boolean, timeoutMs?: number): Promise<string>;
}

function openStream(url: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let received = '';
      const waiters: (() => void)[] = [];
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        received += chunk;
        for (const wake of waiters.splice(0)) wake();
      });
      const ended = new Promise<void>((done) => response.on('close', () => done()));
      resolve({
        response,
        text: () => received,
        ended,
        until: (test, timeoutMs = 5000) =>
          new Promise((done, fail) => {
            const timer = setTimeout(
              () => fail(new Error(`stream: not seen in ${timeoutMs} ms: ${received}`)),
              timeoutMs,
            );
            const check = () => {
              if (test(received)) {
                clearTimeout(timer);
                done(received);
              } else waiters.push(check);
            };
            check();
          }),
      });
    }).on('error', reject);
  });
}

async function fetchText(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; type: string }> {
  const response = await fetch(url, { headers });
  return {
    status: response.status,
    body: await response.text(),
    type: response.headers.get('content-type') ?? '',
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('server-sent events framing', () => {
  it('frames an event as event:, one data: line per line, and a blank line', () => {
    expect(sseEvent('point', '{"t":1}')).toBe('event: point\ndata: {"t":1}\n\n');
    expect(sseEvent('note', 'one\ntwo\r\nthree')).toBe('event: note\ndata: one\ndata: two\ndata: three\n\n');
    expect(sseComment('keep\nalive')).toBe(': keep alive\n\n');
  });

  it('reads back what it framed, skipping comments and an unfinished event', () => {
    const text =
      sseEvent('snapshot', JSON.stringify({ a: 'x: y' })) +
      sseComment('keep-alive') +
      sseEvent('note', 'line 1\nline 2') +
      'event: point\ndata: {"partial":';
    expect(parseSse(text)).toEqual([
      { event: 'snapshot', data: '{"a":"x: y"}' },
      { event: 'note', data: 'line 1\nline 2' },
    ]);
  });

  it('refuses an event name that would break the stream', () => {
    expect(() => sseEvent('bad\nname', 'x')).toThrow(/plain word/);
  });
});

describe('--dashboard in the plan', () => {
  it('is off by default, 5665 alone, a port when given, 0 for any free port', () => {
    expect(parseDashboardInput(undefined, undefined)).toBeUndefined();
    expect(parseDashboardInput('', undefined)).toEqual({ port: 5665, host: '127.0.0.1' });
    expect(parseDashboardInput(true, undefined)).toEqual({ port: 5665, host: '127.0.0.1' });
    expect(parseDashboardInput('0', '0.0.0.0')).toEqual({ port: 0, host: '0.0.0.0' });
    expect(parseDashboardInput(8080, undefined)).toEqual({ port: 8080, host: '127.0.0.1' });
  });

  it('rejects a port out of range and a host without --dashboard, as BAD_FLAG lines', () => {
    for (const [raw, host, text] of [
      ['70000', undefined, /--dashboard "70000" is not valid: a port from 0 to 65535/],
      ['abc', undefined, /--dashboard "abc"/],
      [undefined, '0.0.0.0', /--dashboard-host "0.0.0.0" is not valid: needs --dashboard/],
    ] as const) {
      const error = (() => {
        try {
          parseDashboardInput(raw, host);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(MeshbenchError);
      expect((error as MeshbenchError).exitCode).toBe(2);
      expect((error as Error).message).toMatch(text);
    }
  });

  it('reaches the plan through the flags, and dashboardFor builds nothing without it', async () => {
    const plan = await buildBenchmarkPlan({ dashboard: '0', loads: '10' }, { env: {} });
    expect(plan.dashboard).toEqual({ port: 0, host: '127.0.0.1' });
    const without = await buildBenchmarkPlan({ loads: '10' }, { env: {} });
    expect(dashboardFor(without, { say: () => undefined })).toBeUndefined();
  });
});

describe('the dashboard server', () => {
  async function started(greeting = () => sseEvent('snapshot', '{}')): Promise<DashboardServer> {
    const server = new DashboardServer({
      host: '127.0.0.1',
      port: 0,
      page: async () => '<!doctype html><p>page</p>',
      greeting,
    });
    await server.start();
    cleanups.push(() => server.close());
    return server;
  }

  it('a busy port stops it with one line that names the port and the fix (exit 2)', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise((resolve) => holder.close(() => resolve())));
    const port = (holder.address() as AddressInfo).port;
    const server = new DashboardServer({ host: '127.0.0.1', port, page: async () => '', greeting: () => '' });
    const error = await server.start().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(MeshbenchError);
    expect((error as MeshbenchError).code).toBe('PORT_IN_USE');
    expect((error as MeshbenchError).exitCode).toBe(2);
    expect((error as Error).message).toBe(
      `--dashboard ${port}: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`,
    );
    expect((error as MeshbenchError).hint).toContain('--dashboard 0');
    expect(server.listening).toBe(false);
  });

  it('serves the page at /, the stream at /events, 404 elsewhere, and refuses a foreign Host', async () => {
    const server = await started();
    const page = await fetchText(server.url);
    expect(page).toMatchObject({ status: 200, body: '<!doctype html><p>page</p>' });
    expect(page.type).toContain('text/html');
    expect((await fetchText(`${server.url}nothing`)).status).toBe(404);
    // DNS rebinding: a name that resolves to loopback but is not a loopback name (fetch cannot set Host).
    const foreign = await new Promise<number | undefined>((resolve, reject) =>
      get(server.url, { headers: { host: `evil.example:${server.port}` } }, (response) => {
        response.resume();
        resolve(response.statusCode);
      }).on('error', reject),
    );
    expect(foreign).toBe(421);
    const stream = await openStream(`${server.url}events`);
    expect(stream.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await stream.until((text) => text.includes('event: snapshot'));
    stream.response.destroy();
  });

  it('writes the events of a window together: none before it ends, a new stream or close()', async () => {
    // a window longer than the test: only a new stream and close() write what is pending
    const server = new DashboardServer({
      host: '127.0.0.1',
      port: 0,
      page: async () => '',
      greeting: () => sseEvent('snapshot', '{}'),
      coalesceMs: 60_000,
    });
    await server.start();
    cleanups.push(() => server.close());
    const first = await openStream(`${server.url}events`);
    await first.until((text) => text.includes('event: snapshot'));
    server.broadcast('a', '1');
    await new Promise((resolve) => setImmediate(resolve));
    server.broadcast('b', '2');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(first.text()).not.toContain('event: a');
    // the newcomer's greeting has the history: the others get the pending events before it joins
    const second = await openStream(`${server.url}events`);
    await first.until((text) => text.includes('event: b'));
    server.broadcast('c', '3');
    await server.close();
    await Promise.all([first.ended, second.ended]);
    expect(parseSse(first.text()).map((event) => event.event)).toEqual(['snapshot', 'a', 'b', 'c']);
    expect(parseSse(second.text()).map((event) => event.event)).toEqual(['snapshot', 'c']);
  });

  it('close() ends every open stream after what was sent, and stops listening', async () => {
    const server = await started();
    const streams = await Promise.all([openStream(`${server.url}events`), openStream(`${server.url}events`)]);
    for (const stream of streams) await stream.until((text) => text.includes('event: snapshot'));
    expect(server.clients).toBe(2);
    const big = 'x'.repeat(3 * 1024 * 1024);
    server.broadcast('final', JSON.stringify({ big }));
    await server.close();
    for (const stream of streams) {
      await stream.ended;
      const events = parseSse(stream.text());
      expect(events.map((event) => event.event)).toEqual(['snapshot', 'final']);
      expect((JSON.parse(events[1]?.data ?? '{}') as { big: string }).big.length).toBe(big.length);
    }
    expect(server.listening).toBe(false);
    expect(server.clients).toBe(0);
    await expect(fetch(server.url)).rejects.toThrow();
  });
});

describe('the dashboard observer', () => {
  const level = (benchmarkNumber: number, run = 1): LevelStart => ({
    runId: 'dash-test',
    network: 'local',
    benchmarkNumber,
    load: 100,
    run,
    durationMs: 9000,
    warmupMs: 1000,
  });
  const progress = (elapsedMs: number, sent: number) => ({
    elapsedMs,
    scheduled: sent,
    sent,
    ok: sent,
    failed: 0,
    committed: sent - 10,
    inFlight: 10,
  });

  async function dashboard(maxPoints?: number): Promise<{ dashboard: Dashboard; lines: string[] }> {
    const lines: string[] = [];
    const made = new Dashboard({
      host: '127.0.0.1',
      port: 0,
      confirmCommit: true,
      say: (line) => lines.push(line),
      ...(maxPoints ? { maxPoints } : {}),
    });
    await made.observer.preflight?.({});
    cleanups.push(() => made.close());
    return { dashboard: made, lines };
  }

  it('prints its URL once, streams per-second points, and a late client gets the history so far', async () => {
    const { dashboard: live, lines } = await dashboard();
    expect(lines).toEqual([`dashboard: ${live.url} (live while the run goes)`]);
    const early = await openStream(`${live.url}events`);
    await early.until((text) => text.includes('event: snapshot'));
    const hooks = live.observer;
    const context = undefined as never;
    await hooks.onLevelStart?.(level(1), context);
    for (let second = 1; second <= 3; second++)
      hooks.onLoadProgress?.(level(1), progress(second * 1000, second * 100), context);
    await early.until((text) => (text.match(/event: point/g) ?? []).length === 3);
    const points = parseSse(early.text())
      .filter((event) => event.event === 'point')
      .map((event) => JSON.parse(event.data) as Record<string, number>);
    expect(
      points.map((point) => [
        point['t'],
        point['sent'],
        point['committed'],
        point['total'],
        point['inFlight'],
      ]),
    ).toEqual([
      [1, 100, 90, 90, 10],
      [2, 100, 100, 190, 10],
      [3, 100, 100, 290, 10],
    ]);
    // A browser that comes now: one snapshot with the three seconds in the running level.
    const late = await openStream(`${live.url}events`);
    const [snapshot] = parseSse(
      await late.until((text) => text.endsWith('\n\n') && text.includes('snapshot')),
    );
    const model = (
      JSON.parse(snapshot?.data ?? '{}') as {
        model: { levels: { key: string; series: { t: number[] }; untilSecs: number }[] };
      }
    ).model;
    expect(model.levels).toHaveLength(1);
    expect(model.levels[0]).toMatchObject({ key: 'local-1', untilSecs: 10, series: { t: [1, 2, 3] } });
    // The page at / is the report page in live mode.
    const page = await fetchText(live.url);
    expect(page.body).toContain('data-live="/events"');
    expect(page.body).toContain("connect-src 'self'");
    expect(page.body).toContain('data-chart="throughput" data-level="local-1"');
  });

  it("streams each tick's latency, the nodes' resource samples and the fault windows of the running level", async () => {
    const { dashboard: live } = await dashboard();
    const stream = await openStream(`${live.url}events`);
    await stream.until((text) => text.includes('event: snapshot'));
    const hooks = live.observer;
    const context = undefined as never;
    const shard = new IntervalLatencyRecorder('commit');
    await hooks.onLevelStart?.(level(1), context);
    // Second 1: nothing completed (no latency); second 2: 10 ms and 30 ms.
    hooks.onLoadProgress?.(level(1), { ...progress(1000, 100), latency: shard.take() }, context);
    for (const ms of [10, 10, 10, 30]) shard.record(ms);
    hooks.onLoadProgress?.(level(1), { ...progress(2000, 200), latency: shard.take() }, context);
    // A tick 100 ms after the last is folded into the next, latencies included.
    shard.record(500);
    hooks.onLoadProgress?.(level(1), { ...progress(2100, 210), latency: shard.take() }, context);
    shard.record(20);
    hooks.onLoadProgress?.(level(1), { ...progress(3000, 300), latency: shard.take() }, context);
    await stream.until((text) => (text.match(/event: point/g) ?? []).length === 3);
    const points = parseSse(stream.text())
      .filter((event) => event.event === 'point')
      .map((event) => JSON.parse(event.data) as { t: number; p50: number | null; p99: number | null });
    // HDR figures at 2 significant digits: what one histogram of those values reports.
    const figures = (values: number[]) => {
      const histogram = newCompactHistogram();
      for (const ms of values) recordMicros(histogram, ms * 1000);
      const summary = summarize(histogram);
      return [summary.p50, summary.p99];
    };
    expect(points.map((point) => [point.t, point.p50, point.p99])).toEqual([
      [1, null, null],
      [2, ...figures([10, 10, 10, 30])],
      [3, ...figures([500, 20])],
    ]);
    expect(points[1]?.p99).toBeCloseTo(30, -1);

    // The resource monitor's first samples: the page is sent again with the nodes' charts.
    const sample = (node: string, atMs: number, cpuPercent?: number): LiveEvent => ({
      kind: 'resource-sample',
      node,
      host: 'local',
      atMs,
      intervalMs: 1000,
      ...(cpuPercent === undefined ? {} : { figures: { cpuPercent, memoryBytes: 64e6 } }),
    });
    hooks.onLiveEvent?.(level(1), sample('node0', 1000, 50));
    hooks.onLiveEvent?.(level(1), sample('node1', 1100, 20));
    await stream.until((text) => (text.match(/event: snapshot/g) ?? []).length === 3);
    const resources = () => {
      const snapshots = parseSse(stream.text()).filter((event) => event.event === 'snapshot');
      const model = (JSON.parse(snapshots.at(-1)?.data ?? '{}') as { model: ReportModel }).model;
      return model.levels.at(-1);
    };
    expect(resources()?.resources).toEqual({
      t: [1],
      nodes: [
        { id: 'node0', cpu: [50], memoryMb: [64] },
        { id: 'node1', cpu: [20], memoryMb: [64] },
      ],
    });
    const main = (
      JSON.parse(
        parseSse(stream.text())
          .filter((event) => event.event === 'snapshot')
          .at(-1)?.data ?? '{}',
      ) as { main: string }
    ).main;
    expect(main).toContain('data-chart="cpu" data-level="local-1"');
    // Later samples stream one by one; a node down is null.
    hooks.onLiveEvent?.(level(1), sample('node0', 2000, 60));
    hooks.onLiveEvent?.(level(1), sample('node1', 2000));
    await stream.until((text) => (text.match(/event: resources/g) ?? []).length === 2);
    expect(
      parseSse(stream.text())
        .filter((event) => event.event === 'resources')
        .map((event) => JSON.parse(event.data) as LiveResources)
        .map((event) => [event.node, event.t, event.cpu, event.memoryMb]),
    ).toEqual([
      ['node0', 2, 60, 64],
      ['node1', 2, null, null],
    ]);

    // A fault opens, then closes: a band event each, and the snapshot has it.
    hooks.onLiveEvent?.(level(1), {
      kind: 'window-start',
      id: 'fault-1',
      category: 'fault',
      label: 'kill node1',
      nodes: ['node1'],
      links: [],
      atMs: 2500,
    });
    expect(live.snapshot().model.levels.at(-1)?.bands).toEqual([
      { fromSecs: 2.5, toSecs: 3, label: 'kill node1', kind: 'fault', id: 'fault-1', open: true },
    ]);
    hooks.onLiveEvent?.(level(1), { kind: 'window-end', id: 'fault-1', category: 'fault', atMs: 4200 });
    // Another level's events are not this one's.
    hooks.onLiveEvent?.(level(2), { kind: 'window-end', id: 'fault-1', category: 'fault', atMs: 9000 });
    await stream.until((text) => (text.match(/event: band/g) ?? []).length === 2);
    expect(
      parseSse(stream.text())
        .filter((event) => event.event === 'band')
        .map((event) => JSON.parse(event.data) as LiveBand),
    ).toEqual([
      { level: 'local-1', id: 'fault-1', kind: 'fault', label: 'kill node1', fromSecs: 2.5, toSecs: null },
      { level: 'local-1', id: 'fault-1', kind: 'fault', label: 'kill node1', fromSecs: 2.5, toSecs: 4.2 },
    ]);
    expect(live.snapshot().model.levels.at(-1)?.bands).toEqual([
      { fromSecs: 2.5, toSecs: 4.2, label: 'kill node1', kind: 'fault', id: 'fault-1' },
    ]);
  });

  it('keeps at most maxPoints of the running level', async () => {
    const { dashboard: live } = await dashboard(5);
    await live.observer.onLevelStart?.(level(1), undefined as never);
    for (let second = 1; second <= 12; second++)
      live.observer.onLoadProgress?.(level(1), progress(second * 1000, second * 10), undefined as never);
    const running = live.snapshot().model.levels.at(-1);
    expect(running?.series?.t).toEqual([8, 9, 10, 11, 12]);
    expect(running?.series?.total).toHaveLength(5);
    expect(running?.series?.p99).toHaveLength(5);
    // Resource slots too: the last five, each with every node.
    for (let second = 1; second <= 12; second++)
      for (const node of ['node0', 'node1'])
        live.observer.onLiveEvent?.(level(1), {
          kind: 'resource-sample',
          node,
          host: 'local',
          atMs: second * 1000,
          intervalMs: 1000,
          figures: { cpuPercent: second, memoryBytes: 1e6 },
        });
    const resources = live.snapshot().model.levels.at(-1)?.resources;
    expect(resources?.t).toEqual([8, 9, 10, 11, 12]);
    expect(resources?.nodes.map((node) => node.cpu)).toEqual([
      [8, 9, 10, 11, 12],
      [8, 9, 10, 11, 12],
    ]);
  });

  it("ends with report.html's model (real records), then nothing listens", async () => {
    const { dashboard: live } = await dashboard();
    const records = (await readRunFolder(FIXTURE)).map((entry) => entry.record);
    const stream = await openStream(`${live.url}events`);
    await stream.until((text) => text.includes('event: snapshot'));
    for (const record of records)
      await live.reporter.onRecord?.(record, { say: () => undefined, write: async () => undefined });
    await stream.until((text) => (text.match(/event: snapshot/g) ?? []).length === 1 + records.length);
    const plan = await buildBenchmarkPlan({ loads: '10' }, { env: {} });
    const run = { plan, records, findings: [], runId: 'x', endedAt: 'e' } as unknown as RunEnd;
    await live.reporter.onRunEnd?.(run, { say: () => undefined, write: async () => undefined });
    await stream.ended;
    const final = parseSse(stream.text()).at(-1);
    expect(final?.event).toBe('final');
    const shown = JSON.parse(final?.data ?? '{}') as {
      header: string;
      model: { summary: unknown[]; files: string[] };
    };
    expect(shown.model.summary).toHaveLength(records.length);
    expect(shown.model.files).toContain('summary.txt');
    expect(shown.header).toContain(`from ${records.length} records`);
    expect(live.server.listening).toBe(false);
  });
});
