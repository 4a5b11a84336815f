/**
 * report.html without a browser: the model built from real records (test/fixtures/report-run,
 * from a real local benchmark: committee 4, two loads, a pause and a loss window, a moving
 * node, --monitor), the anomaly rules, the page being self-contained, and the bad input of
 * `benchmark report`. The page in Chromium: html-report-browser.test.ts.
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRunFolder, runReportCommand } from '../../../src/cli/report-command.js';
import { MeshbenchError } from '../../../src/common/errors.js';
import {
  anomalyRuns,
  latencyAnomalies,
  memoryGrowth,
  throughputAnomalies,
} from '../../../src/report/html/anomalies.js';
import { buildReportModel } from '../../../src/report/html/model.js';
import { MeshTally } from '../../../src/monitor/mesh/figures.js';
import { renderHtmlReport } from '../../../src/report/html-report.js';

const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'report-run');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-report-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the report model from real records', () => {
  it("cuts the resource charts at the level's end, as its other charts (samples go on while it settles)", async () => {
    const records = await readRunFolder(FIXTURE);
    // Samples go on while the network settles after the load: give every node some well past the end.
    for (const { record } of records) {
      const resources = record.runs?.[0]?.blocks?.['resources'] as
        { nodes: { series: { t_s: number }[] }[] } | undefined;
      for (const node of resources?.nodes ?? []) {
        const last = node.series.at(-1);
        if (!last) continue;
        for (let extra = 1; extra <= 8; extra++)
          node.series.push({ ...last, t_s: record.parameters.duration + 1 + extra });
      }
    }
    const model = buildReportModel({ records, generatedAt: '2026-11-24T00:00:00.000Z' });
    let checked = 0;
    for (const { record } of records) {
      const samples = (
        record.runs?.[0]?.blocks?.['resources'] as { nodes: { series: { t_s: number }[] }[] } | undefined
      )?.nodes[0]?.series;
      const level = model.levels.find((candidate) => candidate.key === `local-${record.benchmark_number}`);
      if (!samples || !level?.resources) continue;
      const endSecs = Math.max((level.series?.t.at(-1) ?? 0) + 1, record.parameters.duration);
      // the record has samples past the end (the settle), and the chart stops at the end
      expect(samples.at(-1)?.t_s).toBeGreaterThan(endSecs + 5);
      expect(Math.max(...level.resources.t)).toBeLessThanOrEqual(endSecs);
      expect(Math.max(...level.resources.t)).toBeGreaterThanOrEqual(endSecs - 2);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('titles a page with no record yet (a live dashboard before its first level) without a dangling colon', () => {
    expect(buildReportModel({ records: [], generatedAt: '2026-11-24T00:00:00.000Z' }).title).toBe(
      'meshbench report',
    );
  });

  it('summarises every level with the figures of its record', async () => {
    const records = await readRunFolder(FIXTURE);
    const model = buildReportModel({ records, generatedAt: '2026-11-24T00:00:00.000Z' });
    expect(model.summary.map((row) => row.key)).toEqual(['local-1', 'local-2']);
    for (const { record } of records) {
      const row = model.summary.find((candidate) => candidate.key === `local-${record.benchmark_number}`);
      expect(row?.throughput).toBe(record.results.throughput);
      expect(row?.p99).toBe(record.results.latency_percentiles_ms.p99);
      expect(row?.efficiency).toBe(record.results.efficiency);
    }
    const level = model.levels[1];
    expect(level?.series?.t[0]).toBe(1); // the measured window starts after the 1 s warm-up
    expect(level?.series?.total.at(-1)).toBe(
      records[1]?.record.results.time_series?.reduce((sum, sample) => sum + sample.committed, 0),
    );
    expect(level?.bands.map((band) => `${band.kind} ${band.label}`)).toEqual([
      'fault pause node2',
      "condition delay 30ms on node1's links",
    ]);
    expect(level?.resources?.nodes.map((node) => node.id)).toEqual(['node0', 'node1', 'node2', 'node3']);
    expect(level?.map?.layout).toBe('positions');
    expect(level?.map?.links).toHaveLength(6); // 4 nodes: 6 pairs
    expect(model.config[0]?.rows.some(([key]) => key.startsWith('mechanisms'))).toBe(true);
  });

  it('lays the nodes out by zone when the scenario has zones and no positions', async () => {
    const [first] = await readRunFolder(FIXTURE);
    if (!first) throw new Error('no fixture record');
    const record = structuredClone(first.record) as unknown as {
      runs: { blocks: { network: Record<string, unknown> } }[];
    };
    const network = record.runs[0]?.blocks.network;
    if (!network) throw new Error('fixture has no network block');
    delete network['positions'];
    network['conditions'] = {
      events: [],
      zones: {
        source: 'aws.csv',
        zones: ['a', 'b'],
        nodes: { node0: 'a', node1: 'b', node2: 'a', node3: 'b' },
      },
    };
    const model = buildReportModel({
      records: [{ file: first.file, record: record as unknown as typeof first.record }],
      generatedAt: '2026-11-24T00:00:00.000Z',
    });
    const map = model.levels[0]?.map;
    expect(map?.layout).toBe('zones');
    expect(map?.zones).toEqual({ node0: 'a', node1: 'b', node2: 'a', node3: 'b' });
    expect(Object.keys(map?.nodes ?? {}).sort()).toEqual(['node0', 'node1', 'node2', 'node3']);
  });

  it("says under a level's title when most of its median latency is the generator's send lag", async () => {
    const [first] = await readRunFolder(FIXTURE);
    if (!first) throw new Error('no fixture record');
    const results = first.record.results;
    // nginx on loopback at 500 tx/s: 0.54 of the 0.60 ms was the lag, 0.02 the replies
    const record = {
      ...first.record,
      results: {
        ...results,
        latency_stage: 'ack' as const,
        latency_percentiles_ms: { ...results.latency_percentiles_ms, p50: 0.6 },
        schedule_lag_ms: { ...results.schedule_lag_ms, p50: 0.54 },
        ack_latency_uncorrected_ms: { ...results.ack_latency_uncorrected_ms, p50: 0.02 },
      },
    };
    const generatedAt = '2026-11-24T00:00:00.000Z';
    const lagged = buildReportModel({ records: [{ file: first.file, record }], generatedAt });
    expect(lagged.levels[0]?.sendLag).toMatch(
      /^p50 0\.54 ms of the 0\.60 ms is the generator's own send lag, not the system's; from the actual send, p50 0\.02 ms/,
    );
    expect(await renderHtmlReport({ records: [{ file: first.file, record }], generatedAt })).toContain(
      '<p class="note">Send lag: p50 0.54 ms of the 0.60 ms is the generator&#39;s own send lag',
    );
    // the fixture's own level (commit latency in tens of ms): nothing said
    expect(buildReportModel({ records: [first], generatedAt }).levels[0]?.sendLag).toBeUndefined();
  });

  it('says under the mesh matrix when many deliveries were read before their origin’s own event, as the console does', async () => {
    const [first] = await readRunFolder(FIXTURE);
    if (!first) throw new Error('no fixture record');
    const tally = new MeshTally(['node0', 'node1']);
    // node1's event read before node0's own in 2 of 4 messages
    for (let i = 0; i < 4; i++) {
      tally.deliver(0, `m${i}`, 'node0', 1000 * i + 10);
      tally.deliver(1, `m${i}`, 'node0', 1000 * i + 10 + (i < 2 ? -0.1 : 0.2));
    }
    const record = structuredClone(first.record) as unknown as {
      runs: { blocks: Record<string, unknown> }[];
    };
    record.runs[0]!.blocks['mesh'] = tally.figures();
    const html = await renderHtmlReport({
      records: [{ file: first.file, record: record as unknown as typeof first.record }],
      generatedAt: '2026-11-24T00:00:00.000Z',
    });
    expect(html).toContain(
      '<p class="note">50 % of deliveries were read before their origin&#39;s own event and count as 0 ms: ',
    );
    // a record from before `early` existed says nothing
    const older = structuredClone(record);
    for (const pair of (older.runs[0]!.blocks['mesh'] as { pairs: { early?: number }[] }).pairs)
      delete pair.early;
    const plain = await renderHtmlReport({
      records: [{ file: first.file, record: older as unknown as typeof first.record }],
      generatedAt: '2026-11-24T00:00:00.000Z',
    });
    expect(plain).toContain('<h4>Deliveries (mesh)</h4>');
    expect(plain).not.toContain('read before their origin');
  });

  it("shows a mesh level's deliveries: the p50 / p99 matrix, each receiver's share and each window's catch-up", async () => {
    const [first] = await readRunFolder(FIXTURE);
    if (!first) throw new Error('no fixture record');
    // the block as the mesh monitor makes it: node2 misses one message published in a window
    const tally = new MeshTally(['node0', 'node1', 'node2']);
    tally.deliver(0, 'a', 'node0', 1000);
    tally.deliver(1, 'a', 'node0', 1002);
    tally.deliver(2, 'a', 'node0', 1004);
    tally.deliver(1, 'b', 'node1', 2000);
    tally.deliver(0, 'b', 'node1', 2003);
    const mesh = tally.figures({
      published: 3,
      levelStartMs: 0,
      windows: [{ id: 'w', label: 'partition bisect', startMs: 1500, endMs: 2500 }],
    });
    const record = structuredClone(first.record) as unknown as {
      runs: { blocks: Record<string, unknown> }[];
    };
    record.runs[0]!.blocks['mesh'] = mesh;
    const html = await renderHtmlReport({
      records: [{ file: first.file, record: record as unknown as typeof first.record }],
      generatedAt: '2026-11-24T00:00:00.000Z',
    });
    expect(html).toContain('<h4>Deliveries (mesh)</h4>');
    expect(html).toContain(
      '2 messages delivered, 1 to every node; 1 accepted publishes never delivered on any node.',
    );
    // node0's message reached node1 after 2 ms and node2 after 4 ms; node2 never got node1's
    expect(html).toMatch(
      /<tr><th>node0<\/th><td class="num">·<\/td><td class="num">2\.00 \/ 2\.00<\/td><td class="num">4\.00 \/ 4\.00<\/td><\/tr>/,
    );
    expect(html).toMatch(
      /<tr><th>node1<\/th><td class="num">3\.00 \/ 3\.00<\/td><td class="num">·<\/td><td class="num">– \/ –<\/td><\/tr>/,
    );
    expect(html).toMatch(
      /<tr><th>node2<\/th><td class="num">50\.0 %<\/td><td class="num">1<\/td><td class="num">0<\/td><\/tr>/,
    );
    expect(html).toContain('partition bisect: 1 published while it was open');
  });

  it("shows a level's propagation probes: submitted on → committed on, each node's own on the diagonal, and the peer round trips", async () => {
    const records = await readRunFolder(FIXTURE);
    const first = records[0];
    if (!first) throw new Error('no fixture record');
    const block = first.record.runs?.[0]?.blocks?.['propagation'] as {
      pairs: { from: string; to: string; p50_ms: number; p99_ms: number }[];
      self: { node: string; p50_ms: number; p99_ms: number }[];
      peer_rtt_ms: Record<string, Record<string, number>>;
    };
    const html = await renderHtmlReport({ records: [first], generatedAt: '2026-11-24T00:00:00.000Z' });
    expect(html).toContain('<h4>Propagation (probes)</h4>');
    const pair = block.pairs.find((entry) => entry.from === 'node0' && entry.to === 'node1')!;
    const own = block.self.find((entry) => entry.node === 'node0')!;
    const fixed = (value: number) => value.toFixed(2);
    // node0's row: its own probes first, then node1's column
    expect(html).toContain(
      `<tr><th>node0</th><td class="num">${fixed(own.p50_ms)} / ${fixed(own.p99_ms)}</td><td class="num">${fixed(pair.p50_ms)} / ${fixed(pair.p99_ms)}</td>`,
    );
    expect(html).toContain(
      `<tr><th>node0</th><td class="num">·</td><td class="num">${fixed(block.peer_rtt_ms['node0']!['node1']!)}</td>`,
    );
  });

  it('makes one self-contained page: no external URL, uPlot and the data inlined', async () => {
    const html = await renderHtmlReport({
      records: await readRunFolder(FIXTURE),
      generatedAt: '2026-11-24T00:00:00.000Z',
    });
    expect(html).toContain('id="report-data"');
    expect(html).toMatch(/uPlot/);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?https?:/i);
    expect(html).toContain(`default-src 'none'`);
  });
});

describe('anomalies, by median and MAD', () => {
  const points = (values: number[]) => values.map((value, index) => ({ atSecs: index, value }));

  it('flags a throughput drop and a latency spike, and nothing in noise', () => {
    const noisy = [100, 102, 98, 101, 99, 103, 97, 100, 101, 99];
    expect(throughputAnomalies(points(noisy))).toEqual([]);
    expect(latencyAnomalies(points(noisy))).toEqual([]);
    const drop = throughputAnomalies(points([...noisy.slice(0, 5), 10, ...noisy.slice(5)]));
    expect(drop.map((anomaly) => `${anomaly.kind} ${anomaly.atSecs}`)).toEqual(['throughput-drop 5']);
    const spike = latencyAnomalies(points([...noisy, 900]));
    expect(spike.map((anomaly) => `${anomaly.kind} ${anomaly.atSecs}`)).toEqual(['latency-spike 10']);
    // A huge outlier does not hide a second one, as it would inflate a standard deviation.
    const two = latencyAnomalies(points([...noisy, 5000, 400]));
    expect(two).toHaveLength(2);
  });

  it("lists a window's run of anomalous seconds as one line naming the window, and a lone point as itself", () => {
    // 20 steady seconds, 10 s of nothing (a partition from 10 s), a catch-up spike, then steady again
    const series = Array.from({ length: 40 }, (_, second) =>
      second >= 10 && second < 20 ? 0 : second === 21 ? 600 : 50 + (second % 3),
    );
    const marks = throughputAnomalies(points(series));
    expect(marks.length).toBe(11);
    const runs = anomalyRuns(marks, [{ fromSecs: 10, toSecs: 20, label: 'partition bisect' }]);
    expect(runs.map((run) => run.text)).toEqual([
      'throughput drop from 10 s to 19 s (10 points): 0 tx/s against a median of 50.5 tx/s, overlapping partition bisect (10–20 s)',
      'throughput spike at 21 s: 600 tx/s against a median of 50.5 tx/s',
    ]);
  });

  it('gives no verdict on a flat series or on too few points', () => {
    expect(throughputAnomalies(points([0, 0, 0, 0, 0, 0, 50]))).toEqual([]);
    expect(latencyAnomalies(points([1, 900]))).toEqual([]);
  });

  it('flags memory that only grows across a long level, not a sawtooth or a short level', () => {
    const growing = Array.from({ length: 120 }, (_, index) => ({
      atSecs: index,
      value: 100e6 + index * 1e6,
    }));
    expect(memoryGrowth('node1', growing)?.kind).toBe('memory-growth');
    const sawtooth = growing.map((point) => ({ ...point, value: 100e6 + (point.atSecs % 20) * 3e6 }));
    expect(memoryGrowth('node1', sawtooth)).toBeUndefined();
    expect(memoryGrowth('node1', growing.slice(0, 30))).toBeUndefined();
  });
});

describe('benchmark report RUN_DIR', () => {
  async function folder(name: string): Promise<string> {
    const path = join(dir, name);
    await cp(FIXTURE, path, { recursive: true });
    return path;
  }

  async function failure(path: string): Promise<MeshbenchError> {
    const error: unknown = await runReportCommand(path, { stdout: () => undefined }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(MeshbenchError);
    return error as MeshbenchError;
  }

  it('writes report.html, and report-2.html beside an earlier one', async () => {
    const path = await folder('twice');
    const lines: string[] = [];
    expect(await runReportCommand(path, { stdout: (line) => lines.push(line) })).toBe(
      join(path, 'report.html'),
    );
    const first = await readFile(join(path, 'report.html'), 'utf8');
    expect(await runReportCommand(path, { stdout: (line) => lines.push(line) })).toBe(
      join(path, 'report-2.html'),
    );
    expect(await readFile(join(path, 'report.html'), 'utf8')).toBe(first);
    expect(lines[0]).toMatch(/wrote .*report\.html \(2 records\)/);
    expect((await readdir(path)).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('refuses a folder with no records', async () => {
    const error = await failure(dir);
    expect(error.message).toMatch(/^report: ".*" holds no <network>-benchmark-<n>\.json records$/);
    expect(error.exitCode).toBe(1);
  });

  it('names a truncated record', async () => {
    const path = await folder('truncated');
    const text = await readFile(join(path, 'local-benchmark-2.json'), 'utf8');
    await writeFile(join(path, 'local-benchmark-2.json'), text.slice(0, 500));
    const error = await failure(path);
    expect(error.message).toMatch(/^report: local-benchmark-2\.json is not valid JSON \(/);
    expect(error.message).not.toContain('\n');
  });

  it('names the offending field of a corrupt record', async () => {
    const path = await folder('corrupt');
    const record = JSON.parse(await readFile(join(path, 'local-benchmark-1.json'), 'utf8')) as {
      results: Record<string, unknown>;
    };
    record.results['throughput'] = 'fast';
    await writeFile(join(path, 'local-benchmark-1.json'), JSON.stringify(record));
    const error = await failure(path);
    expect(error.message).toBe(
      'report: local-benchmark-1.json is not a meshbench record: /results/throughput: Invalid input: expected number, received string',
    );
  });

  it('refuses a record of a newer schema version', async () => {
    const path = await folder('newer');
    const record = JSON.parse(await readFile(join(path, 'local-benchmark-1.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    record['schema_version'] = 99;
    await writeFile(join(path, 'local-benchmark-1.json'), JSON.stringify(record));
    const error = await failure(path);
    expect(error.message).toBe(
      'report: local-benchmark-1.json has schema_version 99, newer than this meshbench reads (1)',
    );
    expect(error.hint).toBe('upgrade meshbench to report on it');
  });
});
