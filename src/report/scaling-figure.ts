/**
 * The scaling figure: the figures against network size (scaling.json) as charts on one page,
 * and that page as a PNG (`benchmark report RUN_DIR --png`), drawn by uPlot (the report's
 * chart library) and rendered by headless Chromium. Per network type and load: CPU and memory
 * per node against N (for a star, the hub beside the others' mean), throughput and latency,
 * and each node series the run recorded (a libp2p connection gauge) for the hub and the others.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { MeshbenchError } from '../common/errors.js';
import { onPath } from '../common/on-path.js';
import type { ReportAssets } from './html/assets.js';
import type { Scaling, ScalingRow } from './scaling.js';

interface Chart {
  readonly title: string;
  readonly unit: string;
  readonly x: readonly number[];
  readonly lines: readonly { readonly label: string; readonly values: readonly (number | null)[] }[];
}

/** The charts of one series (network type and load). */
function chartsOf(rows: readonly ScalingRow[], at: string): Chart[] {
  const x = rows.map((row) => row.nodes);
  const star = rows.some((row) => row.resources?.hub);
  const charts: Chart[] = [];
  const pick = (get: (row: ScalingRow) => number | undefined) => rows.map((row) => get(row) ?? null);
  if (rows.some((row) => row.resources)) {
    charts.push({
      title: `CPU per node, ${at}`,
      unit: '% of a core',
      x,
      lines: [
        { label: 'mean of all nodes', values: pick((row) => row.resources?.per_node.cpu_percent) },
        ...(star
          ? [
              { label: 'hub', values: pick((row) => row.resources?.hub?.cpu_percent) },
              { label: 'the others (mean)', values: pick((row) => row.resources?.others?.cpu_percent) },
            ]
          : []),
      ],
    });
    const mb = (bytes: number | undefined) => (bytes === undefined ? undefined : bytes / 1e6);
    charts.push({
      title: `Memory per node, ${at}`,
      unit: 'MB',
      x,
      lines: [
        { label: 'mean of all nodes', values: pick((row) => mb(row.resources?.per_node.memory_bytes)) },
        ...(star
          ? [
              { label: 'hub', values: pick((row) => mb(row.resources?.hub?.memory_bytes)) },
              { label: 'the others (mean)', values: pick((row) => mb(row.resources?.others?.memory_bytes)) },
            ]
          : []),
      ],
    });
  }
  const names = [...new Set(rows.flatMap((row) => Object.keys(row.node_series ?? {})))].sort();
  for (const name of names) {
    const withHub = rows.some((row) => row.node_series?.[name]?.hub !== undefined);
    charts.push({
      title: `${name}, ${at}`,
      unit: '',
      x,
      lines: withHub
        ? [
            { label: 'hub', values: pick((row) => row.node_series?.[name]?.hub) },
            { label: 'the others (mean)', values: pick((row) => row.node_series?.[name]?.others) },
          ]
        : [{ label: 'mean of all nodes', values: pick((row) => row.node_series?.[name]?.per_node) }],
    });
  }
  charts.push({
    title: `Throughput, ${at}`,
    unit: 'tx/s',
    x,
    lines: [{ label: 'throughput', values: pick((row) => row.throughput) }],
  });
  charts.push({
    title: `Latency, ${at}`,
    unit: 'ms',
    x,
    lines: [
      { label: 'p50', values: pick((row) => row.p50_latency_ms) },
      { label: 'p99', values: pick((row) => row.p99_latency_ms) },
    ],
  });
  return charts;
}

/** Every chart of the scaling figures. */
export function scalingCharts(scaling: Scaling): Chart[] {
  return scaling.series.flatMap((entry) =>
    entry.rows.length < 2 ? [] : chartsOf(entry.rows, `${entry.network_type} at ${entry.load} tx/s`),
  );
}

const WIDTH = 560;
const HEIGHT = 260;
/** One colour per line, the same in every chart: the hub red, the others green. */
const COLORS: Readonly<Record<string, string>> = {
  'mean of all nodes': '#1f77b4',
  hub: '#d62728',
  'the others (mean)': '#2ca02c',
  throughput: '#1f77b4',
  p50: '#1f77b4',
  p99: '#d62728',
};

/** One self-contained page (uPlot inlined) with the charts, two to a row. */
export function scalingFigureHtml(
  scaling: Scaling,
  assets: Pick<ReportAssets, 'uplotJs' | 'uplotCss'>,
): string {
  const charts = scalingCharts(scaling);
  const data = JSON.stringify(charts).replaceAll('<', '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>meshbench: figures against network size</title>
<style>${assets.uplotCss}
body { font: 13px system-ui, sans-serif; margin: 16px; background: #fff; color: #222; width: ${2 * WIDTH + 48}px; }
h1 { font-size: 16px; margin: 0 0 8px; }
#charts { display: grid; grid-template-columns: ${WIDTH}px ${WIDTH}px; gap: 16px; }
.title { font-weight: 600; margin-bottom: 4px; }
</style></head><body>
<h1>meshbench: figures against network size (nodes)</h1>
<div id="charts"></div>
<script>${assets.uplotJs}</script>
<script>
const charts = ${data};
const colors = ${JSON.stringify(COLORS)};
for (const chart of charts) {
  const box = document.createElement('div');
  const title = document.createElement('div');
  title.className = 'title';
  title.textContent = chart.title + (chart.unit ? ' (' + chart.unit + ')' : '');
  box.append(title);
  document.getElementById('charts').append(box);
  new uPlot({
    width: ${WIDTH}, height: ${HEIGHT},
    scales: { x: { time: false } },
    legend: { live: false },
    axes: [{ label: 'nodes', splits: () => chart.x }, {}],
    series: [{ label: 'nodes' }, ...chart.lines.map((line) => ({ label: line.label, stroke: colors[line.label] ?? '#9467bd', width: 2, points: { show: true, size: 6 } }))],
  }, [chart.x, ...chart.lines.map((line) => line.values)], box);
}
document.body.dataset.drawn = String(charts.length);
</script></body></html>
`;
}

/** The page's height for `charts` charts, two to a row. */
export function scalingFigureHeight(charts: number): number {
  return 60 + Math.ceil(charts / 2) * (HEIGHT + 90);
}

/** Chromium on this machine: MESHBENCH_CHROMIUM, else the first of the usual names on PATH. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.MESHBENCH_CHROMIUM) return env.MESHBENCH_CHROMIUM;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const found = onPath(name, env);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Renders a local HTML file to a PNG with headless Chromium (a screenshot of the whole page). */
export async function renderPng(
  htmlPath: string,
  pngPath: string,
  size: { readonly width: number; readonly height: number },
): Promise<void> {
  const chromium = findChromium();
  if (chromium === undefined) {
    throw new MeshbenchError('NO_BROWSER', 'report --png needs Chromium, and none is on this machine', {
      hint: 'install it (apt-get install -y chromium) or name it with MESHBENCH_CHROMIUM=/path/to/chrome',
    });
  }
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--hide-scrollbars',
    '--no-first-run',
    '--force-device-scale-factor=1',
    `--window-size=${size.width},${size.height}`,
    `--screenshot=${pngPath}`,
    pathToFileURL(htmlPath).href,
  ];
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(chromium, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve(status);
    });
  });
  if (code !== 0 || !existsSync(pngPath)) {
    const last = output.join('').trim().split('\n').at(-1) ?? '';
    throw new MeshbenchError(
      'RENDER_FAILED',
      `report --png: Chromium did not write ${pngPath} (exit ${code}${last ? `: ${last}` : ''})`,
      {
        hint: 'run it with --verbose, or name another browser with MESHBENCH_CHROMIUM',
      },
    );
  }
}
