/**
 * `benchmark report RUN_DIR --png`: the figures against network size drawn by uPlot in a page
 * and rendered to a PNG by headless Chromium (Debian's `chromium`, scripts/setup.sh), checked
 * as a file anyone can open: a PNG of the page's size, with the hub's and the leaves' lines.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReportCommand } from '../../../src/cli/report-command.js';
import { reportAssets } from '../../../src/report/html/assets.js';
import { scalingOf } from '../../../src/report/scaling.js';
import {
  renderPng,
  scalingCharts,
  scalingFigureHeight,
  scalingFigureHtml,
} from '../../../src/report/scaling-figure.js';
import type { BenchmarkRecord } from '../../../src/results/schema.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-scaling-png-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A star of `nodes` with the hub busier than its leaves, and a connection gauge. */
function record(nodes: number): BenchmarkRecord {
  const ids = Array.from({ length: nodes }, (_, i) => `node${i}`);
  return {
    network_type: 'local',
    benchmark_number: nodes,
    parameters: { nodes, load: 50 },
    results: {
      throughput: 50,
      efficiency: 1,
      latency_stage: 'commit',
      latency_percentiles_ms: { p50: 5, p99: 20 + nodes },
    },
    environment: { testbed: { topology: { name: 'star', hub: 'node0' } } },
    runs: [
      {
        blocks: {
          resources: {
            nodes: ids.map((id) => ({
              node_id: id,
              cpu_percent: { mean: id === 'node0' ? 10 + nodes : 10 },
              memory_bytes: { mean: 56e6 },
              net_tx_bytes_per_s: { mean: 1000 },
            })),
          },
          metrics: {
            nodes: Object.fromEntries(
              ids.map((id) => [
                id,
                { libp2p_connection_manager_connections: [id === 'node0' ? nodes - 1 : 1] },
              ]),
            ),
          },
        },
      },
    ],
  } as unknown as BenchmarkRecord;
}

describe('the scaling figure', () => {
  it('has CPU, memory, each node series, throughput and latency against N', () => {
    const charts = scalingCharts(scalingOf([record(3), record(5), record(9)]));
    expect(charts.map((chart) => chart.title)).toEqual([
      'CPU per node, local at 50 tx/s',
      'Memory per node, local at 50 tx/s',
      'libp2p_connection_manager_connections, local at 50 tx/s',
      'Throughput, local at 50 tx/s',
      'Latency, local at 50 tx/s',
    ]);
    expect(charts[0]?.x).toEqual([3, 5, 9]);
    expect(charts[0]?.lines.find((line) => line.label === 'hub')?.values).toEqual([13, 15, 19]);
    expect(charts[2]?.lines.map((line) => [line.label, line.values])).toEqual([
      ['hub', [2, 4, 8]],
      ['the others (mean)', [1, 1, 1]],
    ]);
  });

  it('renders to a PNG of the page with headless Chromium', async () => {
    const scaling = scalingOf([record(3), record(5), record(9)]);
    const html = join(dir, 'scaling.html');
    await writeFile(html, scalingFigureHtml(scaling, await reportAssets()));
    const png = join(dir, 'scaling.png');
    const height = scalingFigureHeight(scalingCharts(scaling).length);
    await renderPng(html, png, { width: 1200, height });
    const bytes = await readFile(png);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('\x89PNG\r\n\x1a\n');
    // IHDR: width and height, big-endian, at bytes 16 and 20
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1200, height]);
    // a blank page compresses to a few KB; five charts with their lines do not
    expect(bytes.length).toBeGreaterThan(20_000);
  }, 60_000);

  it('refuses a run of one network size in one line, exit 2, before writing anything', async () => {
    const folder = join(dir, 'one-size');
    await cp(join(ROOT, 'test', 'fixtures', 'report-run'), folder, { recursive: true });
    const before = (await readdir(folder)).sort();
    const refusal = await runReportCommand(folder, { stdout: () => undefined, png: true }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect((refusal as Error).message).toMatch(
      /drawn against network size, and this run has one size per network/,
    );
    expect((refusal as { exitCode?: number }).exitCode).toBe(2);
    // no second report.html beside the first
    expect((await readdir(folder)).sort()).toEqual(before);
  });
});
