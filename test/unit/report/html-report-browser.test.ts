/**
 * report.html in a real browser: headless Chromium from Debian's `chromium` package
 * (scripts/setup.sh), driven by playwright-core. Made from real records
 * (test/fixtures/report-run: a local benchmark, committee 4, two loads, a pause, a loss
 * window, a moving node, resources), and from a trimmed copy (one level, one node, an
 * interrupted run). Checks: every chart canvas has drawn pixels, the numbers in the page
 * equal the records', no network request, no console error. A screenshot is taken; with
 * MESHBENCH_UPDATE_SCREENSHOT=1 it replaces docs/report-example.png.
 */
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRunFolder, runReportCommand } from '../../../src/cli/report-command.js';
import type { BenchmarkRecord } from '../../../src/results/schema.js';
import { canvasInk, openReport } from '../../support/report-browser.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'report-run');
/** A chart has drawn when this many of its pixels are not background (axes alone draw more). */
const MIN_DRAWN_PIXELS = 2000;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-report-browser-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function checkPage(folder: string, screenshot: string, fullPage = true): Promise<void> {
  const report = await runReportCommand(folder, { stdout: () => undefined });
  const records = await readRunFolder(folder);
  const opened = await openReport(report);
  try {
    expect(opened.errors).toEqual([]);
    expect(opened.blockedRequests).toEqual([]);
    expect(await opened.page.evaluate<string>('document.body.dataset.rendered')).toBe('true');
    const ink = await canvasInk(opened.page);
    const levelCharts = records.flatMap(({ record }) => {
      const run = record.runs[0];
      const key = `${record.network_type}-${record.benchmark_number}`;
      return [
        ...(record.results.time_series?.length ? ['throughput', 'latency', 'total'] : []),
        ...(run?.blocks?.['resources'] ? ['cpu', 'memory'] : []),
        ...((run?.blocks?.['network'] as { positions?: unknown } | undefined)?.positions ? ['map'] : []),
      ].map((chart) => `${chart} ${key}`);
    });
    expect(ink.map((canvas) => canvas.chart).sort()).toEqual(['curve', 'percentiles', ...levelCharts].sort());
    for (const canvas of ink) {
      expect(canvas.drawn, `${canvas.chart} has drawn pixels`).toBeGreaterThan(MIN_DRAWN_PIXELS);
    }
    for (const { record } of records) {
      const key = `${record.network_type}-${record.benchmark_number}`;
      const cell = (field: string) =>
        opened.page.evaluate<string>(`document.querySelector('[data-key="${key}.${field}"]').textContent`);
      expect(await cell('throughput')).toBe(record.results.throughput.toFixed(2));
      expect(await cell('mean')).toBe(record.results.avg_latency_ms.toFixed(2));
      expect(await cell('stddev')).toBe(record.results.latency_std_dev_ms.toFixed(2));
      expect(await cell('p50')).toBe(record.results.latency_percentiles_ms.p50.toFixed(2));
      expect(await cell('p99')).toBe(record.results.latency_percentiles_ms.p99.toFixed(2));
      expect(await cell('efficiency')).toBe(`${(record.results.efficiency * 100).toFixed(1)} %`);
      expect(await cell('ok')).toBe(String(record.results.successful_transactions));
    }
    await opened.page.screenshot({ path: screenshot, fullPage });
    expect((await stat(screenshot)).size).toBeGreaterThan(10_000);
  } finally {
    await opened.close();
  }
}

describe('report.html in headless Chromium', () => {
  it('draws every chart of real records, with their numbers, offline and without errors', async () => {
    const folder = join(dir, 'full');
    await cp(FIXTURE, folder, { recursive: true });
    await checkPage(folder, join(dir, 'full.png'));
    if (process.env['MESHBENCH_UPDATE_SCREENSHOT'] === '1') {
      const opened = await openReport(join(folder, 'report.html'), { width: 1280, height: 1700 });
      try {
        await opened.page.evaluate<void>(`document.getElementById('level-local-2').scrollIntoView()`);
        await opened.page.screenshot({ path: join(ROOT, 'docs', 'report-example.png') });
      } finally {
        await opened.close();
      }
    }
  }, 60_000);

  it('works with one level, one node and an interrupted run', async () => {
    const folder = join(dir, 'partial');
    await cp(FIXTURE, folder, { recursive: true });
    await rm(join(folder, 'local-benchmark-1.json'));
    const path = join(folder, 'local-benchmark-2.json');
    const record = JSON.parse(await readFile(path, 'utf8')) as BenchmarkRecord & {
      interrupted: boolean;
      results: { time_series: unknown[] };
      runs: { interrupted: boolean; results: { time_series: unknown[] }; blocks: Record<string, unknown> }[];
    };
    record.interrupted = true;
    record.results.time_series = record.results.time_series.slice(0, 3);
    const run = record.runs[0];
    if (!run) throw new Error('fixture has no run');
    run.interrupted = true;
    run.results.time_series = run.results.time_series.slice(0, 3);
    const resources = run.blocks['resources'] as { nodes: unknown[] };
    resources.nodes = resources.nodes.slice(0, 1);
    delete run.blocks['network'];
    await writeFile(path, JSON.stringify(record));
    await checkPage(folder, join(dir, 'partial.png'), false);
  }, 60_000);
});
