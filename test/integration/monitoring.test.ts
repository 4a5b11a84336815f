/**
 * Monitoring with real parts: a Prometheus (Debian's 2.42) started here scrapes the
 * generator's --metrics-port and, through its /sd/nodes, the nodes of a real local 2-node
 * refnode network; the same run reads the nodes' series back from it with --prometheus-url
 * and streams per-second points to a real InfluxDB (Debian's 1.6) started here. The points
 * InfluxDB holds afterwards must equal the JSON record. A URL that does not answer stops a run
 * with --require-monitoring before it deploys, with one line.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricsBlock } from '../../src/monitor/metrics-block.js';
import { freePort, startInflux, startPrometheus, type Started } from './monitoring-fixture.js';
import { runBin } from './run-bin.js';

let dir: string;
let prometheus: Started | undefined;
let influx: Awaited<ReturnType<typeof startInflux>> | undefined;
let generatorPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-monitoring-it-'));
  generatorPort = await freePort();
  prometheus = await startPrometheus(generatorPort);
  influx = await startInflux();
});

afterAll(async () => {
  await prometheus?.stop();
  await influx?.stop();
  await rm(dir, { recursive: true, force: true });
});

function note(line: string): void {
  process.stdout.write(`    ${line}\n`);
}

interface SecondSample {
  readonly second: number;
  readonly sent: number;
  readonly ok: number;
  readonly committed: number;
}

interface RecordShape {
  readonly run_id: string;
  readonly runs: readonly {
    readonly results: { readonly sent_transactions: number; readonly time_series: readonly SecondSample[] };
    readonly blocks?: {
      metrics?: MetricsBlock;
      influx?: { written: number; measured_start_epoch_ms: number };
    };
  }[];
}

type InfluxAnswer = { results: { series?: { columns: string[]; values: unknown[][] }[]; error?: string }[] };

/** Two nodes: every series is per node, and two show it (each node container costs ~2 s of CPU to start and stop here). */
const NODES = ['node0', 'node1'];

describe('Prometheus and InfluxDB around a real local benchmark', () => {
  it('--metrics-port, --prometheus-url and --influx-url: the series are in the record, in Prometheus and in InfluxDB', async () => {
    const promUrl = (prometheus as Started).url;
    const influxDb = influx as NonNullable<typeof influx>;
    const output = join(dir, 'run');
    const run = await runBin('benchmark', [
      '--committee',
      '2',
      '--loads',
      '100',
      '--duration',
      '8',
      '--metrics-port',
      String(generatorPort),
      '--prometheus-url',
      promUrl,
      '--influx-url',
      `${influxDb.url}/meshbench`,
      '--require-monitoring',
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain(`generator metrics on http://127.0.0.1:${generatorPort}/metrics`);
    const [runDir] = await readdir(output);
    const record = JSON.parse(
      await readFile(join(output, runDir as string, 'local-benchmark-1.json'), 'utf8'),
    ) as RecordShape;

    // The nodes' series, read back from Prometheus for the level's window.
    const metrics = record.runs[0]?.blocks?.metrics as MetricsBlock;
    expect(metrics.source).toBe('prometheus');
    expect(Object.keys(metrics.nodes)).toEqual(NODES);
    note(`seconds ${metrics.seconds.length}, missing: ${JSON.stringify(metrics.missing ?? [])}`);
    for (const node of NODES) {
      const heights = (metrics.nodes[node]?.refnode_height ?? []).filter((v): v is number => v !== null);
      note(`${node} refnode_height ${heights.join(' ')}`);
      // A series, and a rising one: at least 2 of the level's 8 seconds. Prometheus scrapes every
      // second, but a busy machine delays it: CI at load 10-14 had 3 heights for node0
      // (64 78 91) where a quiet run has 7-8.
      expect(heights.length, node).toBeGreaterThanOrEqual(2);
      expect(heights.at(-1) as number, node).toBeGreaterThan(heights[0] as number);
      const committed = (metrics.nodes[node]?.refnode_committed_txs_total ?? []).filter((v) => v !== null);
      expect(committed.length, node).toBeGreaterThanOrEqual(2);
    }

    // The generator's own metrics, as Prometheus scraped them from --metrics-port.
    const answer = (await (
      await fetch(
        `${promUrl}/api/v1/query?query=${encodeURIComponent('max_over_time(meshbench_transactions_submitted_total[5m])')}`,
      )
    ).json()) as { data: { result: { value: [number, string] }[] } };
    const submitted = Number(answer.data.result[0]?.value[1]);
    note(
      `Prometheus meshbench_transactions_submitted_total ${submitted}, record sent ${record.runs[0]?.results.sent_transactions}`,
    );
    expect(submitted).toBeGreaterThanOrEqual(700);

    // InfluxDB: one point per second of the time series, each equal to the record's.
    const timeSeries = record.runs[0]?.results.time_series ?? [];
    const influxBlock = record.runs[0]?.blocks?.influx;
    expect(influxBlock?.written).toBeGreaterThan(0);
    const points = (await influxDb.query(
      `SELECT "value" FROM "tx_submitted" WHERE "run_id" = '${record.run_id}' ORDER BY time`,
    )) as InfluxAnswer;
    const values = points.results[0]?.series?.[0]?.values ?? [];
    note(`InfluxDB tx_submitted points ${values.length}, record seconds ${timeSeries.length}`);
    expect(values).toHaveLength(timeSeries.length);
    const start = influxBlock?.measured_start_epoch_ms as number;
    values.forEach(([time, value], index) => {
      const sample = timeSeries[index] as SecondSample;
      expect(time).toBe(start + sample.second * 1000);
      expect(value).toBe(sample.sent);
    });
    const committed = (await influxDb.query(
      `SELECT "value" FROM "tx_committed" WHERE "run_id" = '${record.run_id}' ORDER BY time`,
    )) as InfluxAnswer;
    expect(committed.results[0]?.series?.[0]?.values.map((row) => row[1])).toEqual(
      timeSeries.map((sample) => sample.committed),
    );
    const heights = (await influxDb.query(
      `SELECT count("value") FROM "refnode_height" WHERE "run_id" = '${record.run_id}' GROUP BY "node"`,
    )) as InfluxAnswer;
    expect(heights.results[0]?.series?.length).toBe(NODES.length);

    // The Grafana dashboard's queries run on what was written: no errors, and the panels of
    // throughput, latency, efficiency and heights have data.
    const dashboard = JSON.parse(await readFile('examples/grafana/meshbench-influxdb.json', 'utf8')) as {
      panels: { title: string; targets: { query: string }[] }[];
      annotations: { list: { name: string; query?: string }[] };
    };
    const bind = (query: string) =>
      query.replaceAll('$timeFilter', 'time > now() - 1h').replaceAll('/^$run_id$/', `/^${record.run_id}$/`);
    const withData: string[] = [];
    for (const panel of dashboard.panels)
      for (const target of panel.targets) {
        const answer = (await influxDb.query(bind(target.query))) as InfluxAnswer;
        expect(answer.results[0]?.error, `${panel.title}: ${target.query}`).toBeUndefined();
        if ((answer.results[0]?.series?.length ?? 0) > 0) withData.push(panel.title);
      }
    for (const annotation of dashboard.annotations.list)
      if (annotation.query) {
        const answer = (await influxDb.query(bind(annotation.query))) as InfluxAnswer;
        expect(answer.results[0]?.error, annotation.name).toBeUndefined();
      }
    note(`dashboard panels with data: ${[...new Set(withData)].join(', ')}`);
    expect(withData).toEqual(
      expect.arrayContaining([
        'Throughput (tx/s)',
        'Latency percentiles (ms)',
        'Efficiency',
        'Height by node',
        'Levels',
      ]),
    );
  });

  it("--metrics-series: the nodes' pages scraped each second, the named series kept besides the defaults", async () => {
    const output = join(dir, 'scrape');
    const run = await runBin('benchmark', [
      '--committee',
      '2',
      '--loads',
      '100',
      '--duration',
      '6',
      '--metrics-series',
      'refnode_peers',
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const [runDir] = await readdir(output);
    const record = JSON.parse(
      await readFile(join(output, runDir as string, 'local-benchmark-1.json'), 'utf8'),
    ) as RecordShape;
    const metrics = record.runs[0]?.blocks?.metrics as MetricsBlock;
    expect(metrics.source).toBe('scrape');
    expect(metrics.series).toContain('refnode_peers');
    expect(metrics.missing).toBeUndefined();
    expect(metrics.seconds.length).toBeGreaterThanOrEqual(6);
    for (const node of NODES) {
      expect(
        metrics.nodes[node]?.refnode_peers?.filter((v) => v === NODES.length - 1).length,
        node,
      ).toBeGreaterThanOrEqual(3);
      // A busy machine (CI's two cores under a network and its load) may let some scrapes
      // of a node pass their 0.9 s timeout: a null in that second, never a stall of the others.
      const heights = metrics.nodes[node]?.refnode_height ?? [];
      expect(heights).toHaveLength(metrics.seconds.length);
      const answered = heights.filter((v): v is number => v !== null);
      expect(answered.length, `${node}: ${heights.join(' ')}`).toBeGreaterThanOrEqual(heights.length / 2);
      expect(answered.at(-1), `${node}: ${heights.join(' ')}`).toBeGreaterThan(answered[0] as number);
    }
    note(`node0 heights ${metrics.nodes.node0?.refnode_height?.join(' ')} at ${metrics.seconds.join(' ')}`);
  });

  it('--require-monitoring with an InfluxDB that does not answer: one line, before deploying', async () => {
    const port = await freePort();
    const started = Date.now();
    const run = await runBin('benchmark', [
      '--committee',
      '4',
      '--loads',
      '100',
      '--duration',
      '5',
      '--influx-url',
      `http://127.0.0.1:${port}/meshbench`,
      '--require-monitoring',
      '--output-dir',
      join(dir, 'refused'),
    ]);
    note(run.stderr.trim());
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`--influx-url http://127.0.0.1:${port}/meshbench`);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).not.toMatch(/deploying|nodes ready/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
