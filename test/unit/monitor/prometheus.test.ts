import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshbenchError } from '../../../src/common/errors.js';
import type { LoadResult } from '../../../src/load/types.js';
import { parseMonitoringInput } from '../../../src/monitor/monitoring-plan.js';
import { parsePrometheusText } from '../../../src/monitor/prometheus-text.js';
import { GeneratorExporter, GeneratorMetrics } from '../../../src/monitor/prometheus/exporter.js';
import { NodeMetricsMonitor } from '../../../src/monitor/prometheus/node-metrics.js';
import {
  placeSeries,
  probePrometheus,
  queryRange,
  rangeQueryUrl,
  seriesQuery,
  PrometheusQueryError,
} from '../../../src/monitor/prometheus/promql.js';
import { readMetricsPage, SHARE_READ_MS, seriesValues } from '../../../src/monitor/prometheus/scrape.js';

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  servers = [];
});

async function serve(handler: (url: string) => { status: number; body: string }): Promise<string> {
  const server = createServer((request, response) => {
    const { status, body } = handler(request.url ?? '');
    response.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const level = {
  runId: 'r',
  network: 'local',
  benchmarkNumber: 1,
  load: 100,
  run: 1,
  warmupMs: 0,
  durationMs: 2000,
};

describe('PromQL', () => {
  it('one range query per series, summed per target, over the window at the interval', () => {
    expect(seriesQuery('refnode_height')).toBe('sum by (instance, node) (refnode_height)');
    const url = new URL(
      rangeQueryUrl('http://prom:9090/', seriesQuery('refnode_height'), {
        startMs: 1_700_000_000_000,
        endMs: 1_700_000_008_000,
        stepMs: 1000,
      }),
    );
    expect(url.pathname).toBe('/api/v1/query_range');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      query: 'sum by (instance, node) (refnode_height)',
      start: '1700000000.000',
      end: '1700000008.000',
      step: '1s',
    });
  });

  it("places each result on a node: by the node's metrics address first, else by its node label", () => {
    const endpoints = [
      { nodeId: 'node0', rpcUrl: 'http://127.0.0.1:26657', metricsUrl: 'http://127.0.0.1:26670/metrics' },
      { nodeId: 'node1', rpcUrl: 'http://127.0.0.1:26658' },
    ];
    const placed = placeSeries(
      [
        // An earlier run's node0 elsewhere: not this one.
        { metric: { instance: '127.0.0.1:9999', node: 'node0' }, values: [[1001, '99']] },
        {
          metric: { instance: '127.0.0.1:26670', node: 'node0' },
          values: [
            [1001, '5'],
            [1003, '7'],
          ],
        },
        { metric: { instance: 'elsewhere:1', node: 'node1' }, values: [[1002, '3']] },
      ],
      endpoints,
      { startMs: 1_000_000, seconds: [1, 2, 3] },
    );
    expect(placed.get('node0')).toEqual([5, null, 7]);
    expect(placed.get('node1')).toEqual([null, 3, null]);
  });

  it('an error answer or a refused connection is one line', async () => {
    const url = await serve(() => ({
      status: 400,
      body: '{"status":"error","error":"parse error at char 5"}',
    }));
    await expect(queryRange(`${url}/api/v1/query_range?query=x`)).rejects.toThrow(
      new PrometheusQueryError('HTTP 400: parse error at char 5'),
    );
    expect(await probePrometheus('http://127.0.0.1:9')).toMatch(/ECONNREFUSED/);
    const notPrometheus = await serve(() => ({ status: 200, body: 'hello' }));
    expect(await probePrometheus(notPrometheus)).toBe('not a Prometheus API answer');
  });
});

describe('node pages', () => {
  it('keeps the named series, summing label sets', () => {
    const page = [
      '# TYPE refnode_rejected_txs_total counter',
      'refnode_rejected_txs_total{node="node0",reason="full"} 2',
      'refnode_rejected_txs_total{node="node0",reason="invalid"} 3',
      'refnode_height{node="node0"} 42',
      'refnode_other 1',
    ].join('\n');
    expect(
      Object.fromEntries(seriesValues(page, ['refnode_height', 'refnode_rejected_txs_total', 'absent'])),
    ).toEqual({
      refnode_height: 42,
      refnode_rejected_txs_total: 5,
    });
  });

  it('reads a page once for readers that ask at the same moment, and afresh after SHARE_READ_MS', async () => {
    let served = 0;
    const node = await serve(() => ({ status: 200, body: `refnode_height ${++served}\n` }));
    const url = `${node}/metrics`;
    const [a, b] = await Promise.all([readMetricsPage(url, 2000), readMetricsPage(url, 2000)]);
    expect(served).toBe(1);
    expect(a).toEqual({ status: 200, text: 'refnode_height 1\n' });
    expect(b).toBe(a);
    await new Promise((resolve) => setTimeout(resolve, SHARE_READ_MS + 20));
    expect((await readMetricsPage(url, 2000)).text).toBe('refnode_height 2\n');
    expect(served).toBe(2);
    // not 200: the status, no text
    const down = await serve(() => ({ status: 503, body: 'starting' }));
    expect(await readMetricsPage(`${down}/metrics`, 2000)).toEqual({ status: 503 });
  });

  it('an unreachable --prometheus-url: one warning, the nodes scraped instead, the block says so', async () => {
    let height = 10;
    const node = await serve(() => ({ status: 200, body: `refnode_height ${height++}\n` }));
    const warned: string[] = [];
    const monitor = new NodeMetricsMonitor({
      series: ['refnode_height', 'refnode_peers'],
      intervalMs: 200,
      prometheusUrl: 'http://127.0.0.1:9',
      warn: (line) => warned.push(line),
    });
    await monitor.preflight();
    expect(warned).toEqual([
      expect.stringMatching(/^--prometheus-url http:\/\/127.0.0.1:9: no Prometheus answers there .*scraping/),
    ]);
    const controller = new AbortController();
    const started = performance.now();
    const blocks: Record<string, unknown> = {};
    const context = {
      deployment: { endpoints: [{ nodeId: 'node0', rpcUrl: node, metricsUrl: `${node}/metrics` }] },
      signal: controller.signal,
      elapsedMs: () => performance.now() - started,
      block: (name: string, data: unknown) => (blocks[name] = data),
      log: () => undefined,
    };
    monitor.onLevelStart(level, context);
    await new Promise((resolve) => setTimeout(resolve, 700));
    controller.abort();
    await monitor.onLoadEnd(level, undefined, context);
    const block = blocks.metrics as {
      source: string;
      seconds: number[];
      nodes: Record<string, Record<string, unknown[]>>;
      missing: string[];
    };
    expect(block.source).toBe('scrape');
    expect(block.seconds.length).toBeGreaterThanOrEqual(3);
    expect(block.nodes.node0?.refnode_height?.every((value) => typeof value === 'number')).toBe(true);
    expect(block.missing).toEqual([
      expect.stringMatching(/^--prometheus-url .* no Prometheus answers there/),
      "refnode_peers: on no node's page",
    ]);
  });

  it('with --require-monitoring, an unreachable Prometheus stops the run with one line', async () => {
    const monitor = new NodeMetricsMonitor({
      series: ['x'],
      prometheusUrl: 'http://127.0.0.1:9',
      require: true,
    });
    const error = await monitor.preflight().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(MeshbenchError);
    expect((error as MeshbenchError).message).toMatch(
      /^--prometheus-url http:\/\/127.0.0.1:9: no Prometheus answers there \(.*ECONNREFUSED.*\)$/,
    );
  });
});

const load = {
  sent: 990,
  scheduled: 1000,
  outcomes: {
    ok: 980,
    rejected: { '-32000': 4 },
    httpError: { '503': 1 },
    badResponse: 0,
    timeout: 2,
    connectionError: 0,
    dropped: 10,
    committed: 975,
    commitTimeout: 3,
  },
  excluded: undefined,
  latency: {
    ack: {
      corrected: { count: 980, mean: 3, stddev: 1, min: 1, p50: 2, p90: 4, p99: 9, p999: 12, max: 20 },
      uncorrected: {},
    },
    commit: {
      corrected: {
        count: 975,
        mean: 300,
        stddev: 1,
        min: 100,
        p50: 250,
        p90: 400,
        p99: 900,
        p999: 950,
        max: 1000,
      },
      uncorrected: {},
    },
  },
  efficiency: 0.975,
  achievedRate: 99,
  acceptedThroughput: 98,
  committedThroughput: 97.5,
} as unknown as LoadResult;

describe("the generator's metrics", () => {
  it('one prefix, base units, _total on counters; live counts from the progress, the level figures at its end', async () => {
    const metrics = new GeneratorMetrics({ processMetrics: false });
    metrics.levelStarted(level);
    metrics.progress(level, {
      elapsedMs: 1000,
      scheduled: 100,
      sent: 100,
      ok: 99,
      failed: 0,
      committed: 90,
      inFlight: 4,
    });
    let samples = parsePrometheusText(await metrics.metrics());
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find(
        (sample) =>
          sample.name === name && Object.entries(labels).every(([key, v]) => sample.labels[key] === v),
      )?.value;
    expect(value('meshbench_transactions_submitted_total', { network: 'local' })).toBe(100);
    expect(value('meshbench_transactions_in_flight')).toBe(4);
    expect(value('meshbench_offered_load_transactions_per_second')).toBe(100);
    expect(value('meshbench_level_info', { benchmark: '1', run: '1' })).toBe(1);
    metrics.loadEnded(level, load);
    samples = parsePrometheusText(await metrics.metrics());
    expect(value('meshbench_transactions_submitted_total')).toBe(990);
    expect(value('meshbench_transactions_committed_total')).toBe(975);
    expect(value('meshbench_transactions_failed_total', { kind: 'dropped' })).toBe(10);
    expect(value('meshbench_transactions_failed_total', { kind: 'rejected' })).toBe(4);
    expect(value('meshbench_level_latency_seconds', { stage: 'commit', quantile: '0.99' })).toBe(0.9);
    expect(value('meshbench_level_efficiency_ratio')).toBe(0.975);
    expect(value('meshbench_offered_load_transactions_per_second')).toBe(0);
    expect(samples.every((sample) => sample.name.startsWith('meshbench_'))).toBe(true);
    const text = await metrics.metrics();
    for (const [, name] of text.matchAll(/^# TYPE (\S+) counter$/gm)) expect(name).toMatch(/_total$/);
    expect(text).not.toMatch(/_(ms|milliseconds|kb|mb)\b/);
  });

  it('--metrics-port serves /metrics and the nodes as service-discovery targets, and closes', async () => {
    const said: string[] = [];
    const exporter = new GeneratorExporter({
      port: 0,
      host: '127.0.0.1',
      say: (line) => said.push(line),
      processMetrics: false,
    });
    await exporter.preflight();
    const base = `http://127.0.0.1:${exporter.port}`;
    expect(said).toEqual([`generator metrics on ${base}/metrics (nodes as targets: /sd/nodes)`]);
    exporter.onDeploy(
      {
        endpoints: [
          { nodeId: 'node0', rpcUrl: 'http://127.0.0.1:26657', metricsUrl: 'http://127.0.0.1:26670/metrics' },
        ],
      },
      'local',
    );
    const page = await fetch(`${base}/metrics`);
    expect(page.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    expect(await page.text()).toContain('# TYPE meshbench_transactions_submitted_total counter');
    expect(await (await fetch(`${base}/sd/nodes`)).json()).toEqual([
      {
        targets: ['127.0.0.1:26670'],
        labels: {
          __metrics_path__: '/metrics',
          __scheme__: 'http',
          meshbench_node: 'node0',
          meshbench_network: 'local',
        },
      },
    ]);
    await exporter.onRunEnd();
    await expect(fetch(`${base}/metrics`)).rejects.toThrow();
  });

  it('a port in use is one line naming it', async () => {
    const first = new GeneratorExporter({ port: 0, host: '127.0.0.1', processMetrics: false });
    await first.preflight();
    const port = first.port as number;
    const second = new GeneratorExporter({ port, host: '127.0.0.1', processMetrics: false });
    const error = await second.preflight().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    await first.close();
    expect(error).toBeInstanceOf(MeshbenchError);
    expect((error as MeshbenchError).message).toBe(
      `--metrics-port ${port}: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`,
    );
  });
});

describe('monitoring flags', () => {
  const bad = (input: Parameters<typeof parseMonitoringInput>[0]) => {
    try {
      parseMonitoringInput(input);
    } catch (error) {
      return (error as MeshbenchError).message;
    }
    return 'accepted';
  };

  it('none given: no monitoring', () => {
    expect(parseMonitoringInput({})).toBeUndefined();
  });

  it('the defaults come first, named series after; a URL turns the node series on', () => {
    const plan = parseMonitoringInput({
      metricsSeries: 'refnode_peers, refnode_height',
      influxUrl: 'http://h:8086/db/',
    });
    expect(plan).toMatchObject({
      nodeMetrics: true,
      series: [
        'refnode_height',
        'refnode_committed_txs_total',
        'refnode_mempool_txs',
        'refnode_view_changes_total',
        'refnode_peers',
      ],
      influxUrl: 'http://h:8086/db',
      requireMonitoring: false,
    });
    expect(parseMonitoringInput({ metricsPort: '0' })).toMatchObject({ nodeMetrics: false, metricsPort: 0 });
  });

  it('bad values are one line naming the flag and the rule', () => {
    expect(bad({ prometheusUrl: 'localhost:9090' })).toMatch(
      /^--prometheus-url "localhost:9090" is not valid: an http\(s\) URL/,
    );
    expect(bad({ influxUrl: 'http://h:8086' })).toMatch(/^--influx-url .* database as its path/);
    expect(bad({ influxUrl: 'ftp://h/db' })).toMatch(/^--influx-url/);
    expect(bad({ metricsPort: '70000' })).toMatch(/^--metrics-port "70000" is not valid: a TCP port/);
    expect(bad({ metricsSeries: 'ok,not-a-name' })).toMatch(/"not-a-name" is not a Prometheus metric name/);
    expect(bad({ requireMonitoring: true })).toMatch(
      /^--require-monitoring true is not valid: checks --prometheus-url, --influx-url or --endpoint-metrics/,
    );
    expect(bad({ nodeMetrics: 'false', metricsSeries: 'x' })).toMatch(/^--node-metrics false/);
  });
});
