/**
 * `npm run bench:report` — report.html for a long, wide level: a record synthesized from a
 * real one (test/fixtures/report-run/local-benchmark-2.json) by extending its series to one
 * hour at one-second resolution with 16 nodes: the per-second time series, per-node
 * resources, every directed link's applied quality and every node's position, the fault
 * and condition windows spread over the hour. Measures, each repeated (median of 3):
 *   size      report.html's bytes (target < 5 MB);
 *   generate  records already read → the HTML string (renderHtmlReport; target < 1 s), and
 *             the whole `benchmark report` (reading and checking the 1-hour record too);
 *   render    headless Chromium (Debian's, test/support/report-browser.ts): from the navigation's
 *             start to every chart drawn by the page's own clock (target < 2 s); also the script's
 *             own share, and the time seen from the driver (which adds its round trips).
 * Each claim is judged over the rounds (lib/verdict.ts): inconclusive on a busy machine.
 * Writes benchmarks/results/report-<timestamp>.json.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../src/common/atomic-write.js';
import { readRunFolder, runReportCommand } from '../../src/cli/report-command.js';
import { renderHtmlReport } from '../../src/report/html-report.js';
import { canvasInk, openReport } from '../../test/support/report-browser.js';
import { COMMON_FLAGS, flagsOrExit, numberFlag } from './lib/flags.js';
import { judgeThreshold, LoadMonitor, loadLine, verdictLine } from './lib/verdict.js';

const USAGE = {
  name: 'bench:report',
  summary:
    'report.html for a 1-hour level at 1-second resolution with 16 nodes (synthesized from a real record):\n' +
    'its size (< 5 MB), generating it (< 1 s) and rendering it in headless Chromium (< 2 s). Needs /usr/bin/chromium.',
  notes: ['Writes benchmarks/results/report-<timestamp>.json.'],
};
const FLAGS = {
  repeats: { type: 'string', valueName: 'N', default: '3', description: 'rounds of each measurement' },
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => ({
  repeats: numberFlag('repeats', values.repeats, { integer: true, min: 1 }),
  maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
}));
const load = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});

const ROOT = resolve(import.meta.dirname, '..', '..');
const SOURCE = join(ROOT, 'test', 'fixtures', 'report-run', 'local-benchmark-2.json');
const SECONDS = 3600;
const NODES = 16;
const REPEATS = args.repeats;
const TARGETS = { sizeBytes: 5 * 1024 * 1024, generateMs: 1000, renderMs: 2000 };

type Json = Record<string, unknown>;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Deterministic noise, so every run of the script measures the same record. */
function noise(seed: number): number {
  const x = Math.sin(seed * 12.9898) * 43758.5453;
  return x - Math.floor(x);
}

function synthesize(record: Json): Json {
  const results = record['results'] as Json;
  const series = results['time_series'] as Json[];
  const longSeries = Array.from({ length: SECONDS }, (_, second) => {
    const base = series[second % series.length] as Json;
    const spike = second === 1800 ? 8 : 1; // one latency spike for the anomaly list
    return {
      ...base,
      second,
      committedArrived: Math.round(180 + 20 * noise(second)),
      commitP50Ms: Math.round((base['commitP50Ms'] as number) * (0.9 + 0.2 * noise(second + 1))),
      commitP99Ms: Math.round((base['commitP99Ms'] as number) * (0.9 + 0.2 * noise(second + 2)) * spike),
    };
  });
  const nodeIds = Array.from({ length: NODES }, (_, index) => `node${index}`);
  const run = (record['runs'] as Json[])[0] as Json;
  const blocks = run['blocks'] as Json;
  const resources = blocks['resources'] as Json;
  const template = (resources['nodes'] as Json[])[0] as Json;
  const nodes = nodeIds.map((node_id, index) => ({
    ...template,
    node_id,
    series: Array.from({ length: SECONDS }, (_, second) => ({
      t_s: second + 0.3,
      cpu_percent: Math.round(1000 * (5 + 20 * noise(second * NODES + index))) / 1000,
      // node3 leaks: its memory only grows; the others saw-tooth.
      memory_bytes: index === 3 ? 30e6 + second * 20_000 : 30e6 + ((second + index * 37) % 300) * 50_000,
      net_rx_bytes_per_s: Math.round(1e5 * noise(second + index)),
      net_tx_bytes_per_s: Math.round(1e5 * noise(second + index + 7)),
      block_read_bytes_per_s: 0,
      block_write_bytes_per_s: 0,
    })),
  }));
  const network = blocks['network'] as Json;
  const t_s = Array.from({ length: SECONDS }, (_, second) => second);
  const links: Json = {};
  for (const from of nodeIds) {
    for (const to of nodeIds) {
      if (from === to) continue;
      const seed = nodeIds.indexOf(from) * NODES + nodeIds.indexOf(to);
      links[`${from}->${to}`] = {
        delay_ms: t_s.map((second) => 1 + Math.round(noise(seed + second) * 10)),
        jitter_ms: t_s.map(() => 0),
        loss_pct: t_s.map((second) => (second > 1200 && second < 1500 && seed % 5 === 0 ? 10 : 0)),
        rate_mbit: t_s.map(() => 54),
        up: t_s.map((second) => !(seed % 7 === 0 && second > 2400)),
      };
    }
  }
  const positions: Json = {};
  nodeIds.forEach((node, index) => {
    const angle = (2 * Math.PI * index) / NODES;
    positions[node] = t_s.map((second) => [
      Math.round((50 + 40 * Math.cos(angle + second / 600)) * 10) / 10,
      Math.round((50 + 40 * Math.sin(angle + second / 600)) * 10) / 10,
    ]);
  });
  const faults = blocks['faults'] as Json;
  const scale = (entries: unknown, keys: string[]): Json[] =>
    (entries as Json[]).map((entry) => {
      const out: Json = { ...entry };
      for (const key of keys) if (typeof out[key] === 'number') out[key] = (out[key] as number) * 400;
      return out;
    });
  return {
    ...record,
    parameters: { ...(record['parameters'] as Json), nodes: NODES, duration: SECONDS },
    results: { ...results, time_series: longSeries, duration_secs: SECONDS },
    runs: [
      {
        ...run,
        results: { ...(run['results'] as Json), time_series: longSeries },
        blocks: {
          ...blocks,
          faults: { ...faults, faults: scale(faults['faults'], ['down_ms', 'up_ms']) },
          resources: { ...resources, interval_ms: 1000, nodes },
          network: {
            ...network,
            windows: scale(network['windows'], ['from_ms', 'to_ms']),
            quality: { t_s, links },
            positions: { t_s, nodes: positions },
          },
        },
      },
    ],
  };
}

const started = new Date();
const dir = await mkdtemp(join(tmpdir(), 'meshbench-bench-report-'));
try {
  const record = synthesize(JSON.parse(await readFile(SOURCE, 'utf8')) as Json);
  const recordText = JSON.stringify(record);
  await writeFile(join(dir, 'local-benchmark-1.json'), recordText);
  const records = await readRunFolder(dir);

  const window = load.window();
  const generateMs: number[] = [];
  let html = '';
  for (let repeat = 0; repeat < REPEATS + 1; repeat++) {
    const before = performance.now();
    html = await renderHtmlReport({ records, generatedAt: started.toISOString() });
    if (repeat > 0) generateMs.push(performance.now() - before); // the first loads the assets
  }
  const commandMs: number[] = [];
  let reportPath = '';
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    await rm(join(dir, 'report.html'), { force: true });
    const before = performance.now();
    reportPath = await runReportCommand(dir, { stdout: () => undefined });
    commandMs.push(performance.now() - before);
  }
  const sizeBytes = (await stat(reportPath)).size;

  const renderMs: number[] = [];
  const pageRenderMs: number[] = [];
  const navigationMs: number[] = [];
  const decodeMs: number[] = [];
  let problems: string[] = [];
  let charts = 0;
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const opened = await openReport(reportPath);
    try {
      renderMs.push(opened.renderMs);
      pageRenderMs.push(opened.pageRenderMs);
      navigationMs.push(opened.navigationMs);
      decodeMs.push(Number(await opened.page.evaluate<string>('document.body.dataset.decodeMs || "NaN"')));
      const ink = await canvasInk(opened.page);
      charts = ink.length;
      problems = [
        ...opened.errors.map((error) => `console: ${error}`),
        ...opened.blockedRequests.map((url) => `request: ${url}`),
        ...ink.filter((canvas) => canvas.drawn < 2000).map((canvas) => `blank chart: ${canvas.chart}`),
      ];
    } finally {
      await opened.close();
    }
  }

  const loadRecord = window.close();
  const figures = {
    sizeBytes,
    recordBytes: Buffer.byteLength(recordText),
    htmlStringBytes: Buffer.byteLength(html),
    generateMs: median(generateMs),
    commandMs: median(commandMs),
    renderMs: median(renderMs),
    pageRenderMs: median(pageRenderMs),
    navigationMs: median(navigationMs),
    decodeMs: median(decodeMs),
  };
  const judgements = [
    // The size does not depend on the machine's load: judged without it.
    judgeThreshold({
      claim: 'report.html bytes < 5 MB',
      target: TARGETS.sizeBytes,
      values: [sizeBytes],
      minRounds: 1,
    }),
    judgeThreshold({
      claim: 'generate ms < 1000',
      target: TARGETS.generateMs,
      values: generateMs,
      load: loadRecord,
    }),
    judgeThreshold({
      claim: 'render ms < 2000',
      target: TARGETS.renderMs,
      values: navigationMs,
      load: loadRecord,
    }),
  ];
  const verdicts = {
    size: figures.sizeBytes < TARGETS.sizeBytes,
    generate: figures.generateMs < TARGETS.generateMs,
    render: figures.navigationMs < TARGETS.renderMs,
    clean: problems.length === 0,
  };
  const results = {
    script: 'bench:report',
    started_at: started.toISOString(),
    input: {
      seconds: SECONDS,
      nodes: NODES,
      links: NODES * (NODES - 1),
      source: 'test/fixtures/report-run/local-benchmark-2.json',
    },
    targets: TARGETS,
    figures,
    samples: { generateMs, commandMs, renderMs, pageRenderMs, navigationMs, decodeMs },
    charts,
    problems,
    verdicts,
    judgements,
    load: loadRecord,
    loadAverage: load.stop(),
    chromium: '/usr/bin/chromium (Debian)',
  };
  const out = join(ROOT, 'benchmarks', 'results');
  await mkdir(out, { recursive: true });
  const file = join(out, `report-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFileAtomic(file, `${JSON.stringify(results, null, 2)}\n`);
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);
  process.stdout.write(
    [
      `record: ${mb(figures.recordBytes)} MB (1 h at 1 s, ${NODES} nodes, ${NODES * (NODES - 1)} links)`,
      `report.html: ${mb(figures.sizeBytes)} MB (target < 5 MB) ${verdicts.size ? 'ok' : 'OVER'}`,
      `generate: ${figures.generateMs.toFixed(0)} ms from parsed records (target < 1000 ms) ${verdicts.generate ? 'ok' : 'OVER'}; the whole command with reading the record: ${figures.commandMs.toFixed(0)} ms`,
      `render in Chromium: ${figures.navigationMs.toFixed(0)} ms from navigation to every chart drawn, by the page's clock (target < 2000 ms) ${verdicts.render ? 'ok' : 'OVER'}; the page's script alone: ${figures.pageRenderMs.toFixed(0)} ms (decoding the data: ${figures.decodeMs.toFixed(0)} ms); seen from the test driver (with its round trips): ${figures.renderMs.toFixed(0)} ms; ${charts} charts`,
      `problems: ${problems.length === 0 ? 'none' : problems.join('; ')}`,
      ...judgements.map(verdictLine),
      loadLine(loadRecord),
      `wrote ${file}`,
      '',
    ].join('\n'),
  );
  process.exitCode =
    problems.length === 0 && judgements.every((judgement) => judgement.verdict !== 'fail') ? 0 : 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
