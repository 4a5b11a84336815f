/**
 * The live dashboard's page in headless Chromium (Debian's `chromium`), without Docker: the
 * Dashboard serves on a loopback port and is fed through the sweep's hooks as the sweep
 * calls them (real records from test/fixtures/report-run, the generator's progress ticks).
 * A browser that comes late gets the history so far; the running level's chart gains points
 * and drawn pixels as ticks arrive; at the run's end the page shows what report.html shows
 * and nothing listens. No request leaves the dashboard's origin; no console error.
 * test/integration/dashboard.test.ts does the same against a real run of the command.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBenchmarkPlan } from '../../../src/bench/plan.js';
import type { LevelStart } from '../../../src/bench/observer.js';
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

async function sample(page: OpenedReport['page']): Promise<{ points: number; drawn: number }> {
  const points = Number(await page.evaluate<string>(`document.querySelector('${CHART}').dataset.points`));
  const ink = await canvasInk(page);
  return { points, drawn: ink.find((canvas) => canvas.chart === 'throughput local-2')?.drawn ?? 0 };
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
      const tick = (second: number) => {
        sent += 200;
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
          },
          undefined as never,
        );
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
      expect(
        await live.page.evaluate<string>(
          `document.querySelector('[data-key="local-1.throughput"]').textContent`,
        ),
      ).toBe(first.results.throughput.toFixed(2));
      for (let second = 4; second <= 8; second++) tick(second);
      await waitFor(live.page, `document.querySelector('${CHART}').dataset.points === '8'`);
      const after = await sample(live.page);
      expect(after.drawn, `drawn pixels ${before.drawn} then ${after.drawn}`).toBeGreaterThan(before.drawn);

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
