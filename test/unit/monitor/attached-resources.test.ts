/**
 * Attach mode's resources from the endpoints' Prometheus pages: the counters read from a page
 * (client_golang's, prom-client's with a prefix, node_exporter's), the rates between two
 * readings, `--endpoint-metrics` in the plan, and the resource monitor reading a page served
 * by a node:http server here every interval.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBenchmarkPlan } from '../../../src/bench/plan.js';
import { MeshbenchError } from '../../../src/common/errors.js';
import { parseMonitoringInput } from '../../../src/monitor/monitoring-plan.js';
import { ResourceMonitor, type LevelContext } from '../../../src/monitor/resources/monitor.js';
import {
  processCounters,
  processInterval,
  processQueries,
} from '../../../src/monitor/resources/process-metrics.js';
import { resourcesBlockSchema, type ResourcesBlock } from '../../../src/monitor/resources/schema.js';
import type { Endpoint } from '../../../src/protocols/endpoint.js';

const ETCD_PAGE = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 0.13
process_max_fds 20000
process_resident_memory_bytes 2.4797184e+07
process_virtual_memory_bytes 1.1943866368e+10
etcd_network_client_grpc_received_bytes_total 10
`;

const NODE_EXPORTER_LINES = `node_network_receive_bytes_total{device="eth0"} 1000
node_network_receive_bytes_total{device="lo"} 99999
node_network_receive_bytes_total{device="eth1"} 500
node_network_transmit_bytes_total{device="eth0"} 300
node_disk_read_bytes_total{device="sda"} 4096
node_disk_written_bytes_total{device="sda"} 8192
node_disk_written_bytes_total{device="sdb"} 8192
`;

describe('process counters from a Prometheus page', () => {
  it('reads client_golang’s process series and nothing it lacks', () => {
    expect(processCounters(ETCD_PAGE)).toEqual({ cpuSeconds: 0.13, residentBytes: 24_797_184 });
  });

  it('reads prefixed series (prom-client’s refnode_process_…) and node_exporter’s counters without lo', () => {
    const page = `refnode_process_cpu_seconds_total{node="node0"} 2.5\nrefnode_process_resident_memory_bytes{node="node0"} 6e7\n${NODE_EXPORTER_LINES}`;
    expect(processCounters(page)).toEqual({
      cpuSeconds: 2.5,
      residentBytes: 6e7,
      netRxBytes: 1500,
      netTxBytes: 300,
      blockReadBytes: 4096,
      blockWriteBytes: 16_384,
    });
  });

  it('prefers the process’s own network counters to the host’s', () => {
    const page = `process_network_receive_bytes_total 7\nprocess_network_transmit_bytes_total 8\n${NODE_EXPORTER_LINES}`;
    expect(processCounters(page)).toMatchObject({ netRxBytes: 7, netTxBytes: 8 });
  });

  it('rates between two readings: CPU as percent of a core, memory as the later gauge; a reset gives none', () => {
    const figures = processInterval(
      { cpuSeconds: 1, residentBytes: 10, netRxBytes: 0 },
      { cpuSeconds: 1.5, residentBytes: 20, netRxBytes: 4000 },
      2000,
    );
    expect(figures).toEqual({ cpuPercent: 25, memoryBytes: 20, netRxBytesPerSec: 2000 });
    expect(processInterval({ cpuSeconds: 5 }, { cpuSeconds: 1, residentBytes: 3 }, 1000)).toEqual({
      memoryBytes: 3,
    });
  });

  it('asks Prometheus with irate over the window, for any prefix', () => {
    const queries = processQueries(5);
    expect(queries.cpuPercent).toBe(
      'sum by (instance, node) (irate({__name__=~"(.+_)?process_cpu_seconds_total"}[5s])) * 100',
    );
    expect(queries.netRxBytesPerSec).toContain('node_network_receive_bytes_total{device!="lo"}');
  });
});

describe('--endpoint-metrics in the plan', () => {
  const plan = (input: Record<string, unknown>) =>
    buildBenchmarkPlan({ loads: '100', duration: 2, ...input }, { skipFileChecks: true, env: {} });

  it('gives each attached endpoint its metrics URL, in order', async () => {
    const built = await plan({
      endpoints: 'http://a:1,http://b:2',
      endpointMetrics: 'http://a:9/metrics,http://b:9/metrics',
    });
    expect(built.networks[0]).toMatchObject({
      kind: 'endpoints',
      metricsUrls: ['http://a:9/metrics', 'http://b:9/metrics'],
    });
  });

  it('refuses a count that does not match, a non-URL, and a deployed network, each in one line', async () => {
    const message = (input: Record<string, unknown>) =>
      plan(input).then(
        () => 'accepted',
        (error: unknown) => (error instanceof MeshbenchError ? error.message : String(error)),
      );
    expect(
      await message({ endpoints: 'http://a:1,http://b:2', endpointMetrics: 'http://a:9/metrics' }),
    ).toMatch(/^--endpoint-metrics .*1 URL for 2 endpoints; give one metrics URL per --endpoints URL/);
    expect(await message({ endpoints: 'http://a:1', endpointMetrics: 'a:9' })).toMatch(
      /"a:9" is not an http\(s\) URL/,
    );
    expect(await message({ endpointMetrics: 'http://a:9/metrics' })).toMatch(/give --endpoints too/);
  });

  it('lets --require-monitoring check the metrics pages', () => {
    expect(parseMonitoringInput({ requireMonitoring: true, endpointMetrics: true })).toMatchObject({
      requireMonitoring: true,
      nodeMetrics: false,
    });
    expect(() => parseMonitoringInput({ requireMonitoring: true })).toThrow(/--endpoint-metrics/);
    expect(parseMonitoringInput({ endpointMetrics: true })).toBeUndefined();
  });
});

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A page whose CPU counter runs at half a core of wall time, with a constant resident size. */
async function servePage(): Promise<string> {
  const started = performance.now();
  server = createServer((request, response) => {
    const cpu = ((performance.now() - started) / 1000) * 0.5;
    response.end(`process_cpu_seconds_total ${cpu}\nprocess_resident_memory_bytes 5e7\n`);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

function attachedLevel(endpoints: Endpoint[]) {
  const controller = new AbortController();
  const started = performance.now();
  const blocks: Record<string, unknown> = {};
  const context: LevelContext = {
    deployment: { nodes: [], endpoints },
    signal: controller.signal,
    elapsedMs: () => performance.now() - started,
    block: (name, data) => (blocks[name] = data),
    log: () => undefined,
  };
  return { context, blocks, end: () => controller.abort() };
}

describe('the resource monitor in attach mode', () => {
  it('reads each endpoint’s page every interval into the same per-node block, marked prometheus_scrape', async () => {
    const url = await servePage();
    const endpoints = [{ nodeId: 'endpoint0', rpcUrl: 'http://127.0.0.1:1', host: 'h:1', metricsUrl: url }];
    const monitor = new ResourceMonitor({ intervalMs: 100, threads: 1, quietCheck: false });
    await monitor.onDeploy({ nodes: [], endpoints });
    const level = attachedLevel(endpoints);
    monitor.onLevelStart({ warmupMs: 0 }, level.context);
    await new Promise((resolve) => setTimeout(resolve, 650));
    level.end();
    await monitor.onLoadEnd({ warmupMs: 0 }, {}, level.context);
    const block = level.blocks.resources as ResourcesBlock;
    expect(resourcesBlockSchema.safeParse(block).success).toBe(true);
    expect(block.absent).toBeUndefined();
    expect(block.source).toMatch(/--endpoint-metrics/);
    const [node] = block.nodes;
    expect(node).toMatchObject({
      node_id: 'endpoint0',
      host: 'h:1',
      source: 'prometheus_scrape',
      metrics_url: url,
    });
    expect(node?.cpu_percent.count).toBeGreaterThanOrEqual(2);
    // Half a core of the server's clock, timed by this process's clock between answers.
    expect(node?.cpu_percent.mean).toBeGreaterThan(30);
    expect(node?.cpu_percent.mean).toBeLessThan(70);
    expect(node?.memory_bytes).toMatchObject({ mean: 5e7, max: 5e7 });
    expect(node?.net_rx_bytes_per_s).toBeUndefined();
  });

  it('without a metrics URL or Prometheus: absent with the reason, said on the console once, not as a warning', async () => {
    const warnings: string[] = [];
    const said: string[] = [];
    const monitor = new ResourceMonitor({
      intervalMs: 100,
      threads: 1,
      quietCheck: false,
      warn: (line) => warnings.push(line),
      say: (line) => said.push(line),
    });
    const endpoints = [{ nodeId: 'endpoint0', rpcUrl: 'http://127.0.0.1:1' }];
    for (let level = 0; level < 2; level++) {
      await monitor.onDeploy({ nodes: [], endpoints });
      const run = attachedLevel(endpoints);
      monitor.onLevelStart({ warmupMs: 0 }, run.context);
      run.end();
      await monitor.onLoadEnd({ warmupMs: 0 }, {}, run.context);
      expect((run.blocks.resources as ResourcesBlock).absent).toMatch(
        /neither --endpoint-metrics nor --prometheus-url/,
      );
    }
    // Monitoring is on by default: a run against endpoints that asked for nothing gets no warning.
    expect(warnings).toEqual([]);
    expect(said).toEqual([
      "resources: per-node figures need --endpoint-metrics URL,… (each endpoint's Prometheus page) or --prometheus-url in attach mode; the generator's own figures are kept",
    ]);
  });

  it('a --prometheus-url that does not answer is a warning naming it', async () => {
    const warnings: string[] = [];
    const monitor = new ResourceMonitor({
      intervalMs: 100,
      threads: 1,
      quietCheck: false,
      prometheusUrl: 'http://127.0.0.1:1',
      warn: (line) => warnings.push(line),
      say: () => undefined,
    });
    await monitor.onDeploy({ nodes: [], endpoints: [{ nodeId: 'endpoint0', rpcUrl: 'http://127.0.0.1:1' }] });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^resources: per-node figures are absent: --prometheus-url http:\/\/127\.0\.0\.1:1: no Prometheus answers there \(/,
    );
  });

  it('an unreachable page with --require-monitoring stops before the first level, in one line', async () => {
    const url = await servePage();
    const dead = url.replace(/:\d+\//, ':1/');
    const monitor = new ResourceMonitor({ intervalMs: 100, threads: 1, quietCheck: false, require: true });
    await expect(
      monitor.onDeploy({
        nodes: [],
        endpoints: [{ nodeId: 'endpoint0', rpcUrl: 'http://127.0.0.1:1', metricsUrl: dead }],
      }),
    ).rejects.toThrow(/^--endpoint-metrics: endpoint0: http:\/\/127\.0\.0\.1:1\/metrics did not answer/);
  });
});
