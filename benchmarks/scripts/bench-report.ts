/**
 * `npm run bench:report` — report.html for a long, wide level: a record synthesized from a
 * real one (test/fixtures/report-run/local-benchmark-2.json) by extending its series to one
 * hour at one-second resolution with 16 nodes: the per-second time series, per-node
 * resources, every directed link's applied quality and every node's position, the fault
 * and condition windows spread over the hour. Measures, each round (`--repeats`, default 3):
 *   size      report.html's bytes (target < 5 MB);
 *   generate  records already read → the HTML string (renderHtmlReport; target < 1 s), and
 *             the whole `benchmark report` (reading and checking the 1-hour record too);
 *   render    headless Chromium (Debian's, test/support/report-browser.ts): from the navigation's
 *             start to every chart drawn by the page's own clock (target < 2 s); also the script's
 *             own share, and the time seen from the driver (which adds its round trips);
 *   problems  console errors, blocked requests and blank charts on the page (target: none).
 * A declaration on the bench harness (lib/harness.ts) with one side and no comparison: each
 * claim is judged over the rounds (lib/verdict.ts): inconclusive on a busy machine.
 * Writes benchmarks/results/report-<timestamp>.json.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { readRunFolder } from '../../src/cli/report-command.js';
import { runBench } from './lib/harness.js';
import { judgeThreshold, spread } from './lib/verdict.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SOURCE = join(ROOT, 'test', 'fixtures', 'report-run', 'local-benchmark-2.json');
const SECONDS = 3600;
const NODES = 16;
const TARGETS = { sizeBytes: 5 * 1024 * 1024, generateMs: 1000, renderMs: 2000 };

type Json = Record<string, unknown>;

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

interface Shared {
  readonly dir: string;
  readonly records: Awaited<ReturnType<typeof readRunFolder>>;
  readonly recordBytes: number;
  readonly startedAt: string;
}

interface Round {
  readonly sizeBytes: number;
  readonly htmlStringBytes: number;
  readonly generateMs: number;
  readonly commandMs: number;
  /** Seen from the test driver, with its round trips. */
  readonly renderMs: number;
  /** The page's own script. */
  readonly pageRenderMs: number;
  /** Navigation start to every chart drawn, by the page's clock: the judged render time. */
  readonly navigationMs: number;
  readonly decodeMs: number;
  readonly charts: number;
  readonly problems: readonly string[];
}

async function oneRound({ dir, records, startedAt }: Shared): Promise<Round> {
  const { runReportCommand } = await import('../../src/cli/report-command.js');
  const { renderHtmlReport } = await import('../../src/report/html-report.js');
  const { canvasInk, openReport } = await import('../../test/support/report-browser.js');
  let before = performance.now();
  const html = await renderHtmlReport({ records, generatedAt: startedAt });
  const generateMs = performance.now() - before;
  await rm(join(dir, 'report.html'), { force: true });
  before = performance.now();
  const reportPath = await runReportCommand(dir, { stdout: () => undefined });
  const commandMs = performance.now() - before;
  const sizeBytes = (await stat(reportPath)).size;
  const opened = await openReport(reportPath);
  try {
    const decodeMs = Number(await opened.page.evaluate<string>('document.body.dataset.decodeMs || "NaN"'));
    const ink = await canvasInk(opened.page);
    return {
      sizeBytes,
      htmlStringBytes: Buffer.byteLength(html),
      generateMs,
      commandMs,
      renderMs: opened.renderMs,
      pageRenderMs: opened.pageRenderMs,
      navigationMs: opened.navigationMs,
      decodeMs,
      charts: ink.length,
      problems: [
        ...opened.errors.map((error) => `console: ${error}`),
        ...opened.blockedRequests.map((url) => `request: ${url}`),
        ...ink.filter((canvas) => canvas.drawn < 2000).map((canvas) => `blank chart: ${canvas.chart}`),
      ],
    };
  } finally {
    await opened.close();
  }
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);
const ms = (value: number) => value.toFixed(0);

await runBench({
  usage: {
    name: 'bench:report',
    summary:
      'report.html for a 1-hour level at 1-second resolution with 16 nodes (synthesized from a real record):\n' +
      'its size (< 5 MB), generating it (< 1 s) and rendering it in headless Chromium (< 2 s). Needs /usr/bin/chromium.',
    notes: ['Writes benchmarks/results/report-<timestamp>.json.'],
  },
  flags: {},
  defaultPairs: 3,
  // its flag before the harness: rounds of each measurement (one side: no pairs)
  pairsFlag: 'repeats',
  args: () => ({}),
  file: 'report',
  setup: async (_args, { log }): Promise<Shared> => {
    // imported here, not at the top: --help answers at once
    const { readRunFolder } = await import('../../src/cli/report-command.js');
    const { renderHtmlReport } = await import('../../src/report/html-report.js');
    const dir = await mkdtemp(join(tmpdir(), 'meshbench-bench-report-'));
    const recordText = JSON.stringify(synthesize(JSON.parse(await readFile(SOURCE, 'utf8')) as Json));
    await writeFile(join(dir, 'local-benchmark-1.json'), recordText);
    const records = await readRunFolder(dir);
    const startedAt = new Date().toISOString();
    // not counted: the first render loads the assets
    await renderHtmlReport({ records, generatedAt: startedAt });
    const recordBytes = Buffer.byteLength(recordText);
    log(`record: ${mb(recordBytes)} MB (1 h at 1 s, ${NODES} nodes, ${NODES * (NODES - 1)} links)`);
    return { dir, records, recordBytes, startedAt };
  },
  teardown: ({ dir }) => rm(dir, { recursive: true, force: true }),
  sides: ['report'],
  round: (_side, { shared }) => oneRound(shared),
  describe: (r) =>
    `report.html ${mb(r.sizeBytes)} MB; generate ${ms(r.generateMs)} ms, the whole command ${ms(r.commandMs)} ms; ` +
    `render ${ms(r.navigationMs)} ms from navigation to every chart drawn (the page's script ${ms(r.pageRenderMs)} ms, ` +
    `decoding ${ms(r.decodeMs)} ms; from the driver ${ms(r.renderMs)} ms); ${r.charts} charts; ` +
    `problems: ${r.problems.length === 0 ? 'none' : r.problems.join('; ')}`,
  figures: {
    sizeBytes: (r) => r.sizeBytes,
    generateMs: (r) => r.generateMs,
    commandMs: (r) => r.commandMs,
    renderMs: (r) => r.renderMs,
    pageRenderMs: (r) => r.pageRenderMs,
    navigationMs: (r) => r.navigationMs,
    decodeMs: (r) => r.decodeMs,
  },
  claims: ({ report = [] }, _args, load) => [
    // The size and the page's problems do not depend on the machine's load: judged without it.
    judgeThreshold({
      claim: 'report.html bytes < 5 MB',
      target: TARGETS.sizeBytes,
      values: report.map((r) => r.sizeBytes),
      minRounds: 1,
    }),
    judgeThreshold({
      claim: 'page problems (console errors, blocked requests, blank charts) = 0',
      target: 0,
      values: [report.reduce((total, r) => total + r.problems.length, 0)],
      minRounds: 1,
    }),
    judgeThreshold({
      claim: 'generate ms < 1000',
      target: TARGETS.generateMs,
      values: report.map((r) => r.generateMs),
      load,
    }),
    judgeThreshold({
      claim: 'render ms < 2000',
      target: TARGETS.renderMs,
      values: report.map((r) => r.navigationMs),
      load,
    }),
  ],
  extra: ({ report = [] }, _args, _after, shared) => {
    const median = (pick: (r: Round) => number) => spread(report.map(pick)).median;
    return {
      input: {
        seconds: SECONDS,
        nodes: NODES,
        links: NODES * (NODES - 1),
        source: 'test/fixtures/report-run/local-benchmark-2.json',
        recordBytes: shared.recordBytes,
      },
      targets: TARGETS,
      /** Each figure's median over the rounds. */
      figures: {
        sizeBytes: median((r) => r.sizeBytes),
        htmlStringBytes: median((r) => r.htmlStringBytes),
        generateMs: median((r) => r.generateMs),
        commandMs: median((r) => r.commandMs),
        renderMs: median((r) => r.renderMs),
        pageRenderMs: median((r) => r.pageRenderMs),
        navigationMs: median((r) => r.navigationMs),
        decodeMs: median((r) => r.decodeMs),
      },
      problems: [...new Set(report.flatMap((r) => r.problems))],
      chromium: '/usr/bin/chromium (Debian)',
    };
  },
});
