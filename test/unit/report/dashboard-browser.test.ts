/**
 * The live dashboard's page in headless Chromium (Debian's `chromium`), without Docker: the
 * Dashboard serves on a loopback port and is fed through the sweep's hooks as the sweep
 * calls them (real records from test/fixtures/report-run, the generator's progress ticks).
 * A browser that comes late gets the history so far; the running level's charts gain points
 * and drawn pixels as ticks arrive (throughput and latency), as the resource monitor's samples
 * arrive (CPU and memory per node), and a fault's band appears when it starts, before the
 * level's record; at the run's end the page shows what report.html shows and nothing listens. No request leaves the dashboard's origin; no console error.
 * test/integration/dashboard.test.ts does the same against a real run of the command.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBenchmarkPlan } from '../../../src/bench/plan.js';
import type { LevelStart, LiveEvent } from '../../../src/bench/observer.js';
import { IntervalLatencyRecorder } from '../../../src/measure/interval.js';
import { readRunFolder } from '../../../src/cli/report-command.js';
import { Dashboard } from '../../../src/report/dashboard/dashboard.js';
import { renderHtmlReport, reportInputFor } from '../../../src/report/html-report.js';
import type { RunEnd } from '../../../src/results/reporter.js';
import { canvasInk, openReport, type OpenedReport } from '../../support/report-browser.js';

const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'report-run');
const CHART = '[data-chart="throughput"][data-level="local-2"]';
const NO_OUTPUT = { say: () => undefined, write: async () => undefined };

let dir: string;
const opened: OpenedReport[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-dashboard-browser-'));
});
afterAll(async () => {
  for (const page of opened) await page.close();
  await rm(dir, { recursive: true, force: true });
});

async function waitFor(page: OpenedReport['page'], expression: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate<boolean>(expression))) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${expression}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

async function sample(
  page: OpenedReport['page'],
  chart = 'throughput',
): Promise<{ points: number; drawn: number }> {
  const holder = `[data-chart="${chart}"][data-level="local-2"]`;
  const points = Number(await page.evaluate<string>(`document.querySelector('${holder}')?.dataset.points`));
  const ink = await canvasInk(page);
  return { points, drawn: ink.find((canvas) => canvas.chart === `${chart} local-2`)?.drawn ?? 0 };
}

describe('the live dashboard in Chromium', () => {
  it('gives a late browser the history, grows its charts, and ends as report.html', async () => {
    const records = (await readRunFolder(FIXTURE)).map((entry) => entry.record);
    const [first, second] = records;
    if (!first || !second) throw new Error('the fixture has two records');
    const dashboard = new Dashboard({
      host: '127.0.0.1',
      port: 0,
      confirmCommit: true,
      say: () => undefined,
    });
    await dashboard.observer.preflight?.({});
    try {
      const level: LevelStart = {
        runId: first.run_id,
        network: 'local',
        benchmarkNumber: 2,
        load: 200,
        run: 1,
        durationMs: 6000,
        warmupMs: 2000,
      };
      let sent = 0;
      const shard = new IntervalLatencyRecorder('commit');
      const tick = (second: number) => {
        sent += 200;
        // The commits of this second: 40 to 80 ms, a slower tail as the level goes.
        for (let index = 0; index < 160; index++) shard.record(40 + (index % 40) + second * (index % 3));
        dashboard.observer.onLoadProgress?.(
          level,
          {
            elapsedMs: second * 1000,
            scheduled: sent,
            sent,
            ok: sent - 5,
            failed: 0,
            committed: sent - 40,
            inFlight: 40,
            latency: shard.take(),
          },
          undefined as never,
        );
      };
      const publish = (event: LiveEvent) => dashboard.observer.onLiveEvent?.(level, event);
      // The resource monitor's samples of the second (two nodes).
      const resources = (second: number) => {
        for (const [index, node] of ['node0', 'node1'].entries())
          publish({
            kind: 'resource-sample',
            node,
            host: 'local',
            atMs: second * 1000 + 30,
            intervalMs: 1000,
            figures: { cpuPercent: 20 + 10 * index + second, memoryBytes: (80 + 5 * index + second) * 1e6 },
          });
      };
      await dashboard.reporter.onRecord?.(first, NO_OUTPUT);
      await dashboard.observer.onLevelStart?.(level, undefined as never);
      for (let second = 1; second <= 3; second++) tick(second);

      // Late: three seconds of level 2 are already there.
      const origin = dashboard.url.replace(/\/$/, '');
      const live = await openReport(dashboard.url, undefined, { allowOrigin: origin });
      opened.push(live);
      await waitFor(live.page, `document.body.dataset.snapshots === '1'`);
      const before = await sample(live.page);
      expect(before.points).toBe(3);
      const latencyBefore = await sample(live.page, 'latency');
      expect(latencyBefore.points).toBe(3);
      expect(latencyBefore.drawn).toBeGreaterThan(0);
      // The first resource samples: the page gets the nodes' charts (one more snapshot), then grows them.
      expect(
        await live.page.evaluate<boolean>(
          `!document.querySelector('[data-chart="cpu"][data-level="local-2"]')`,
        ),
      ).toBe(true);
      resources(1);
      await waitFor(live.page, `document.body.dataset.snapshots === '2'`);
      const cpuBefore = await sample(live.page, 'cpu');
      expect(cpuBefore.points).toBe(1);
      expect(
        await live.page.evaluate<string>(
          `document.querySelector('[data-key="local-1.throughput"]').textContent`,
        ),
      ).toBe(first.results.throughput.toFixed(2));
      for (let second = 2; second <= 8; second++) {
        if (second >= 4) tick(second);
        resources(second);
      }
      await waitFor(live.page, `document.querySelector('${CHART}').dataset.points === '8'`);
      await waitFor(
        live.page,
        `document.querySelector('[data-chart="memory"][data-level="local-2"]').dataset.points === '8'`,
      );
      const after = await sample(live.page);
      expect(after.drawn, `drawn pixels ${before.drawn} then ${after.drawn}`).toBeGreaterThan(before.drawn);
      const latencyAfter = await sample(live.page, 'latency');
      expect(latencyAfter.points).toBe(8);
      expect(latencyAfter.drawn).toBeGreaterThan(latencyBefore.drawn);
      const cpuAfter = await sample(live.page, 'cpu');
      expect(cpuAfter.points).toBe(8);
      expect(cpuAfter.drawn).toBeGreaterThan(cpuBefore.drawn);
      expect((await sample(live.page, 'memory')).drawn).toBeGreaterThan(0);

      // A fault starts: its band is shaded on the level's charts and listed, before the record.
      const total = await sample(live.page, 'total');
      publish({
        kind: 'window-start',
        id: 'fault-1',
        category: 'fault',
        label: 'kill node1',
        nodes: ['node1'],
        links: [],
        atMs: 5500,
      });
      await waitFor(live.page, `document.body.dataset.bands === '1'`);
      const shaded = await sample(live.page, 'total');
      expect(shaded.points).toBe(total.points);
      expect(shaded.drawn, `drawn pixels ${total.drawn} then ${shaded.drawn}`).toBeGreaterThan(total.drawn);
      const listed = "document.querySelector('#level-local-2 ul.bands').textContent";
      expect(await live.page.evaluate<string>(listed)).toBe('kill node1: 5.5 s – now');
      publish({ kind: 'window-end', id: 'fault-1', category: 'fault', atMs: 7250 });
      await waitFor(live.page, `document.body.dataset.bands === '2'`);
      expect(await live.page.evaluate<string>(listed)).toBe('kill node1: 5.5 s – 7.3 s');

      // The level's record, then the run's end.
      await dashboard.reporter.onRecord?.(second, NO_OUTPUT);
      const plan = await buildBenchmarkPlan({ loads: '100,200' }, { env: {} });
      const run = { plan, records, findings: [] } as unknown as RunEnd;
      await dashboard.reporter.onRunEnd?.(run, NO_OUTPUT);
      await waitFor(live.page, `document.body.dataset.live === 'ended'`);
      expect(dashboard.server.listening).toBe(false);

      const file = join(dir, 'report.html');
      await writeFile(file, await renderHtmlReport(reportInputFor(run, new Date().toISOString())));
      const report = await openReport(file);
      opened.push(report);
      const main = "document.querySelector('main').innerText";
      const charts =
        "[...document.querySelectorAll('[data-chart]')].map((e) => e.dataset.chart + ' ' + (e.dataset.level || '') + ' ' + e.dataset.points).join('|')";
      expect(await live.page.evaluate<string>(main)).toBe(await report.page.evaluate<string>(main));
      expect(await live.page.evaluate<string>(charts)).toBe(await report.page.evaluate<string>(charts));
      expect(live.errors).toEqual([]);
      expect(live.blockedRequests).toEqual([]);
    } finally {
      await dashboard.close();
    }
  }, 180_000);
});
