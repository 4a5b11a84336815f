/**
 * The resource monitor: CPU percent and rates from successive readings, the working set, the
 * host's /proc files, the summaries, the quiet check, the flags (bad intervals refused in one
 * line), the remote loop's output parser, and the monitor itself against fake nodes and hosts
 * (a node that dies mid-run is marked down, every stream is closed at the load's end).
 */
import { monitoringOf } from '../../../src/monitor/plugin.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { buildBenchmarkPlan } from '../../../src/bench/plan.js';
import { isMeshbenchError } from '../../../src/common/errors.js';
import {
  generatorBottleneck,
  HOST_FILES,
  hostInterval,
  pressureTotalUs,
  hostReading,
  nodeInterval,
  parseNetDev,
  processCpuPercent,
  summarize,
} from '../../../src/monitor/resources/figures.js';
import type { IntervalHistogram } from 'node:perf_hooks';
import { loopSampleMs, ResourceMonitor, type LevelContext } from '../../../src/monitor/resources/monitor.js';
import { parseMonitorInput } from '../../../src/monitor/resources/options.js';
import { parseProcessStat, quietCheck, type ProcessSnapshot } from '../../../src/monitor/resources/quiet.js';
import { resourcesBlockSchema, type ResourcesBlock } from '../../../src/monitor/resources/schema.js';
import { readingFromEngine, workingSetBytes } from '../../../src/testbed/docker/stats.js';
import { HostFilesParser, RemoteHostFiles } from '../../../src/testbed/remote/host-files.js';
import { LocalHost } from '../../../src/testbed/host-files.js';
import { renderResourcesTable } from '../../../src/report/resources-table.js';
import type { BenchmarkRecord } from '../../../src/results/record.js';
import type { HostHandle, NodeHandle, NodeReading, ReadingStream } from '../../../src/testbed/testbed.js';

const reading = (overrides: Partial<NodeReading> = {}): NodeReading => ({
  readAtMs: 1_000_000,
  containerId: 'c'.repeat(64),
  cpuNs: 0,
  systemCpuNs: 0,
  onlineCpus: 2,
  memoryBytes: 50 * 2 ** 20,
  networkRxBytes: 0,
  networkTxBytes: 0,
  blockReadBytes: 0,
  blockWriteBytes: 0,
  ...overrides,
});

describe('node figures from the engine', () => {
  it('computes CPU percent of one core from successive readings, as docker stats does', () => {
    // 0.5 s of CPU while the host's 2 CPUs ran 2 s: a quarter of the host, half a core.
    const figures = nodeInterval(
      reading(),
      reading({
        readAtMs: 1_001_000,
        cpuNs: 0.5e9,
        systemCpuNs: 2e9,
        networkRxBytes: 10_000,
        networkTxBytes: 4_000,
        blockWriteBytes: 8192,
      }),
    );
    expect(figures).toEqual({
      cpuPercent: 50,
      memoryBytes: 50 * 2 ** 20,
      netRxBytesPerSec: 10_000,
      netTxBytesPerSec: 4_000,
      blockReadBytesPerSec: 0,
      blockWriteBytesPerSec: 8192,
    });
  });

  it('gives rates per second over the readings’ own time', () => {
    const figures = nodeInterval(
      reading(),
      reading({ readAtMs: 1_002_000, cpuNs: 1e9, systemCpuNs: 4e9, networkRxBytes: 10_000 }),
    );
    expect(figures?.cpuPercent).toBe(50);
    expect(figures?.netRxBytesPerSec).toBe(5_000);
  });

  it('has no figures across a restart (counters from zero), a stopped container or no time', () => {
    const before = reading({ cpuNs: 5e9, systemCpuNs: 10e9, networkRxBytes: 9_000 });
    expect(
      nodeInterval(before, reading({ readAtMs: 1_001_000, cpuNs: 1e8, systemCpuNs: 12e9 })),
    ).toBeUndefined();
    expect(nodeInterval(before, reading({ readAtMs: undefined }))).toBeUndefined();
    expect(nodeInterval(before, { ...before })).toBeUndefined();
  });

  it('reads the working set as usage − inactive_file (cgroup v2) or total_inactive_file (v1)', () => {
    expect(workingSetBytes({ usage: 100, stats: { inactive_file: 30 } })).toBe(70);
    expect(workingSetBytes({ usage: 100, stats: { total_inactive_file: 40 } })).toBe(60);
    expect(workingSetBytes({ usage: 100, stats: { inactive_file: 200 } })).toBe(100);
    expect(workingSetBytes(undefined)).toBe(0);
  });

  it('reads one engine stats message as counters; the zero time marks a stopped container', () => {
    const raw = {
      read: '2026-11-24T03:37:11.267261915Z',
      id: 'a'.repeat(64),
      cpu_stats: { cpu_usage: { total_usage: 123 }, system_cpu_usage: 456, online_cpus: 2 },
      memory_stats: { usage: 1000, limit: 4000, stats: { inactive_file: 100 } },
      networks: { eth0: { rx_bytes: 10, tx_bytes: 20 }, eth1: { rx_bytes: 1, tx_bytes: 2 } },
      blkio_stats: {
        io_service_bytes_recursive: [
          { op: 'read', value: 4096 },
          { op: 'write', value: 512 },
          { op: 'Read', value: 4096 },
        ],
      },
    };
    const parsed = readingFromEngine(raw);
    expect(parsed).toMatchObject({
      containerId: 'a'.repeat(64),
      cpuNs: 123,
      systemCpuNs: 456,
      onlineCpus: 2,
      memoryBytes: 900,
      memoryLimitBytes: 4000,
      networkRxBytes: 11,
      networkTxBytes: 22,
      blockReadBytes: 8192,
      blockWriteBytes: 512,
    });
    expect(parsed.readAtMs).toBe(Date.parse('2026-11-24T03:37:11.267Z'));
    const stopped = readingFromEngine({
      read: '0001-01-01T00:00:00Z',
      id: 'a'.repeat(64),
      blkio_stats: { io_service_bytes_recursive: null },
    });
    expect(stopped.readAtMs).toBeUndefined();
    expect(stopped.blockReadBytes).toBe(0);
    expect(stopped.hostNetwork).toBeUndefined();
    expect(parsed.hostNetwork).toBeUndefined();
    // --network host (remote nodes): the engine reports no networks; the reading says so
    const { networks: _networks, ...hostNetworked } = raw;
    expect(readingFromEngine(hostNetworked)).toMatchObject({ hostNetwork: true, networkRxBytes: 0 });
  });
});

const procStat = (busy: number, idle: number) =>
  `cpu  ${busy} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\nintr 1 2 3\n`;
const meminfo = 'MemTotal:        4000000 kB\nMemFree:          100000 kB\nMemAvailable:    1000000 kB\n';
const netDev = (rx: number, tx: number) =>
  [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    `    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0`,
    `  eth0: ${rx} 10 0 0 0 0 0 0 ${tx} 10 0 0 0 0 0 0`,
    `vethab12: ${rx} 10 0 0 0 0 0 0 ${tx} 10 0 0 0 0 0 0`,
  ].join('\n');
const hostFiles = (busy: number, idle: number, uptime: number, rx: number, tx: number) => ({
  '/proc/stat': procStat(busy, idle),
  '/proc/meminfo': meminfo,
  '/proc/loadavg': '0.50 0.40 0.30 2/150 1234',
  '/proc/net/dev': netDev(rx, tx),
  '/proc/uptime': `${uptime} 100.00`,
});

/** /proc/pressure/cpu with `someUs` µs of waiting so far. */
const psi = (someUs: number) =>
  `some avg10=25.82 avg60=37.51 avg300=53.19 total=${someUs}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`;

describe('host figures from /proc', () => {
  it('computes CPU of the whole host, used memory, load and interface rates (lo and veth left out)', () => {
    const first = hostReading(hostFiles(100, 100, 1000, 0, 0));
    const second = hostReading(hostFiles(150, 150, 1002, 20_000, 10_000));
    expect(first?.cpus).toBe(2);
    expect(first?.memoryTotalBytes).toBe(4_000_000 * 1024);
    expect(hostInterval(first!, second!)).toEqual({
      cpuPercent: 50,
      memoryUsedBytes: 3_000_000 * 1024,
      load1: 0.5,
      netRxBytesPerSec: 10_000,
      netTxBytesPerSec: 5_000,
    });
  });

  it('reads the CPU pressure (PSI) as the share of the interval some task waited for a CPU, where the kernel has it', () => {
    expect(pressureTotalUs(psi(8_726_611_657))).toBe(8_726_611_657);
    expect(pressureTotalUs('')).toBeUndefined();
    const first = hostReading({ ...hostFiles(100, 100, 1000, 0, 0), '/proc/pressure/cpu': psi(5_000_000) });
    const second = hostReading({ ...hostFiles(150, 150, 1002, 0, 0), '/proc/pressure/cpu': psi(6_500_000) });
    // 1.5 s of waiting in 2 s
    expect(hostInterval(first!, second!)?.cpuPressurePercent).toBe(75);
    // a kernel without it: no figure, not 0
    const bare = hostReading(hostFiles(150, 150, 1002, 0, 0));
    expect(bare?.cpuPressureSomeUs).toBeUndefined();
    expect(hostInterval(first!, bare!)).not.toHaveProperty('cpuPressurePercent');
  });

  it('reads /proc/net/dev per interface without lo', () => {
    expect(parseNetDev(netDev(5, 6))).toEqual({ eth0: { rx: 5, tx: 6 }, vethab12: { rx: 5, tx: 6 } });
  });

  it('has no reading without /proc/stat, and no figures when no time passed', () => {
    expect(hostReading({ '/proc/uptime': '1 1' })).toBeUndefined();
    const one = hostReading(hostFiles(1, 1, 5, 0, 0))!;
    expect(hostInterval(one, one)).toBeUndefined();
  });

  it('splits the remote loop’s output into one record of files per round, across chunk boundaries', () => {
    const rounds: Record<string, string>[] = [];
    const parser = new HostFilesParser((files) => rounds.push({ ...files }));
    const text =
      '@@begin\n@@file /proc/loadavg\n0.1 0.2 0.3 1/2 3\n@@file /proc/uptime\n5.00 1.00\n@@end\n' +
      '@@begin\n@@file /proc/loadavg\n0.4 0.5 0.6 1/2 3\n@@end\n';
    for (let at = 0; at < text.length; at += 7) parser.push(text.slice(at, at + 7));
    expect(rounds).toEqual([
      { '/proc/loadavg': '0.1 0.2 0.3 1/2 3', '/proc/uptime': '5.00 1.00' },
      { '/proc/loadavg': '0.4 0.5 0.6 1/2 3' },
    ]);
  });
});

describe('summaries and the generator', () => {
  it('gives mean, p50, p99 and max', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(summarize(values)).toEqual({ count: 100, mean: 50.5, p50: 50.5, p99: 99.01, max: 100 });
    expect(summarize([])).toEqual({ count: 0, mean: 0, p50: 0, p99: 0, max: 0 });
    expect(summarize([1.234, 5.678], 0)).toEqual({ count: 2, mean: 3, p50: 3, p99: 6, max: 6 });
  });

  it('computes the process CPU of one core and names a generator that may be the bottleneck', () => {
    expect(processCpuPercent({ user: 400_000, system: 100_000 }, 1000)).toBe(50);
    expect(generatorBottleneck({ cpuPercentMean: 50, threads: 1, scheduleLagP99Ms: 1 })).toEqual([]);
    expect(generatorBottleneck({ cpuPercentMean: 85, threads: 1, scheduleLagP99Ms: 1 })[0]).toMatch(
      /CPU averaged 85% of a core/,
    );
    expect(generatorBottleneck({ cpuPercentMean: 150, threads: 2, scheduleLagP99Ms: undefined })).toEqual([]);
    expect(generatorBottleneck({ cpuPercentMean: 10, threads: 1, scheduleLagP99Ms: 7.5 })).toEqual([
      'its schedule lag p99 was 7.5 ms (over 5 ms)',
    ]);
  });
});

describe('the quiet check', () => {
  const snapshot = (
    atMs: number,
    entries: [number, { ticks: number; ppid: number; name: string }][],
  ): ProcessSnapshot => ({ atMs, processes: new Map(entries) });

  it('parses a /proc/<pid>/stat line whose name holds spaces and parentheses', () => {
    const line = '42 (my (odd) proc) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0';
    expect(parseProcessStat(line)).toEqual({ ticks: 300, ppid: 1, name: 'my (odd) proc' });
  });

  it('names busy processes and containers that are not the run’s, and leaves its own out', async () => {
    const own = 'b'.repeat(64);
    const other = 'd'.repeat(64);
    const before = snapshot(0, [
      [100, { ticks: 0, ppid: 1, name: 'node' }],
      [101, { ticks: 0, ppid: 100, name: 'docker-compose' }],
      [200, { ticks: 0, ppid: 1, name: 'refnode' }],
      [300, { ticks: 0, ppid: 1, name: 'stress' }],
      [400, { ticks: 0, ppid: 1, name: 'postgres' }],
    ]);
    const after = snapshot(2000, [
      [100, { ticks: 200, ppid: 1, name: 'node' }],
      [101, { ticks: 100, ppid: 100, name: 'docker-compose' }],
      [200, { ticks: 200, ppid: 1, name: 'refnode' }],
      [300, { ticks: 150, ppid: 1, name: 'stress' }],
      [400, { ticks: 40, ppid: 1, name: 'postgres' }],
    ]);
    const check = await quietCheck({
      before,
      after,
      selfPid: 100,
      ownContainers: new Set([own]),
      containerOf: async (pid) => (pid === 200 ? own : pid === 400 ? other : undefined),
      loadavg: '3.50 2.00 1.00 1/100 1',
      meminfo,
      cpus: 2,
      judgeLoad: true,
    });
    expect(check.busy_processes).toEqual([
      { pid: 300, name: 'stress', cpu_percent: 75 },
      { pid: 400, name: 'postgres', cpu_percent: 20, container: 'dddddddddddd' },
    ]);
    expect(check.busy_containers).toEqual([{ container: 'dddddddddddd', cpu_percent: 20 }]);
    expect(check.others_cpu_percent).toBe(95);
    expect(check.quiet).toBe(false);
    expect(check.reasons).toEqual([
      'other processes used 95% of a core (stress 75%, postgres 20%)',
      'load average 3.50 on 2 CPUs',
    ]);
    expect(check.window_ms).toBe(2000);
  });

  it('finds a machine quiet when only the run is busy', async () => {
    const check = await quietCheck({
      before: snapshot(0, [[100, { ticks: 0, ppid: 1, name: 'node' }]]),
      after: snapshot(1000, [[100, { ticks: 90, ppid: 1, name: 'node' }]]),
      selfPid: 100,
      ownContainers: new Set(),
      containerOf: async () => undefined,
      loadavg: '3.50 2.00 1.00 1/100 1',
      meminfo,
      cpus: 2,
      judgeLoad: false,
    });
    expect(check).toMatchObject({ quiet: true, reasons: [], others_cpu_percent: 0, busy_processes: [] });
  });
});

describe('the flags', () => {
  it('monitors every second by default, or never with --monitor false', () => {
    expect(parseMonitorInput({}, 30)).toBe(1000);
    expect(parseMonitorInput({ monitorInterval: '250' }, 30)).toBe(250);
    expect(parseMonitorInput({ monitor: 'false' }, 30)).toBeUndefined();
    expect(parseMonitorInput({ monitor: false }, 30)).toBeUndefined();
  });

  it.each([
    ['50', /below 100 ms; give 100 or more/],
    ['99', /below 100 ms/],
    ['31000', /longer than a level \(--duration 30 s\); give at most 30000, or a longer --duration/],
    ['1.5', /a whole number of milliseconds/],
    ['soon', /a whole number of milliseconds/],
  ])('refuses --monitor-interval %s in one line naming the flag and the fix', async (value, rule) => {
    const error = await buildBenchmarkPlan(
      { monitorInterval: value, duration: '30' },
      { skipFileChecks: true, env: {} },
    ).catch((caught: unknown) => caught);
    expect(isMeshbenchError(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toMatch(/^--monitor-interval /);
    expect(message).toMatch(rule);
    expect(message).not.toContain('\n');
  });

  it('refuses an interval with --monitor false, and puts the interval in the plan', async () => {
    await expect(parseMonitorInput.bind(null, { monitor: false, monitorInterval: 500 }, 30)).toThrow(
      /leave out --monitor false/,
    );
    const plan = await buildBenchmarkPlan(
      { monitorInterval: 500, duration: 10 },
      { skipFileChecks: true, env: {} },
    );
    expect(monitoringOf(plan).monitorIntervalMs).toBe(500);
    const off = await buildBenchmarkPlan({ monitor: 'false' }, { skipFileChecks: true, env: {} });
    expect(monitoringOf(off).monitorIntervalMs).toBeUndefined();
  });
});

// ---- the monitor against fake nodes and hosts ----

class FakeNode {
  readonly onReadings: ((reading: NodeReading) => void)[] = [];
  readonly onEnds: ((error?: unknown) => void)[] = [];
  open = 0;
  opened = 0;
  constructor(readonly nodeId: string) {}
  get endpoint() {
    return { nodeId: this.nodeId, rpcUrl: 'http://127.0.0.1:1', host: 'local' };
  }
  async statsStream(onReading: (reading: NodeReading) => void, onEnd?: (error?: unknown) => void) {
    this.onReadings.push(onReading);
    if (onEnd) this.onEnds.push(onEnd);
    this.open++;
    this.opened++;
    let closed = false;
    return {
      close: () => {
        if (!closed) this.open--;
        closed = true;
      },
    } satisfies ReadingStream;
  }
  emit(reading: NodeReading): void {
    for (const listener of this.onReadings) listener(reading);
  }
}

class FakeHost implements HostHandle {
  readonly name = 'local';
  open = 0;
  listener: ((files: Readonly<Record<string, string>>) => void) | undefined;
  async watchFiles(
    _paths: readonly string[],
    _intervalMs: number,
    onRead: (files: Record<string, string>) => void,
  ) {
    this.listener = onRead;
    this.open++;
    return { close: () => void this.open-- };
  }
}

function fakeLevel(nodes: FakeNode[], hosts: FakeHost[]) {
  let elapsed = 0;
  const controller = new AbortController();
  const blocks: Record<string, unknown> = {};
  const context: LevelContext = {
    deployment: { nodes: nodes as unknown as NodeHandle[], hosts },
    signal: controller.signal,
    elapsedMs: () => elapsed,
    block: (name, data) => (blocks[name] = data),
    log: () => undefined,
  };
  return {
    context,
    blocks,
    end: () => controller.abort(),
    at: (ms: number) => (elapsed = ms),
  };
}

/** A monitor sampling every second, without the quiet check, keeping its console warnings. */
function warningMonitor(): { monitor: ResourceMonitor; warnings: string[] } {
  const warnings: string[] = [];
  const monitor = new ResourceMonitor({
    intervalMs: 1000,
    threads: 1,
    quietCheck: false,
    warn: (line) => warnings.push(line),
  });
  return { monitor, warnings };
}

describe('the resource monitor', () => {
  it('samples nodes and hosts, marks a node that dies as down, goes on, and closes every stream', async () => {
    const nodes = [new FakeNode('node0'), new FakeNode('node1')];
    const host = new FakeHost();
    const { monitor, warnings } = warningMonitor();
    const level = fakeLevel(nodes, [host]);
    monitor.onLevelStart({ warmupMs: 0 }, level.context);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(nodes.map((node) => node.open)).toEqual([1, 1]);
    for (let second = 0; second <= 4; second++) {
      level.at(second * 1000);
      const base = 1_000_000 + second * 1000;
      nodes[0]!.emit(reading({ readAtMs: base, cpuNs: second * 0.2e9, systemCpuNs: second * 2e9 }));
      // node1 dies after its third reading: the engine sends readings without a time
      nodes[1]!.emit(
        second < 3
          ? reading({ readAtMs: base, cpuNs: second * 1e9, systemCpuNs: second * 2e9 })
          : reading({ readAtMs: undefined }),
      );
      host.listener?.(hostFiles(100 + second * 50, 100 + second * 50, 1000 + second, second * 1000, 0));
    }
    level.end();
    await monitor.onLoadEnd({ warmupMs: 0 }, { scheduleLag: { count: 10, p99: 0.5 } }, level.context);
    expect(nodes.map((node) => node.open)).toEqual([0, 0]);
    expect(host.open).toBe(0);
    const block = level.blocks.resources as ResourcesBlock;
    expect(resourcesBlockSchema.safeParse(block).success).toBe(true);
    const [node0, node1] = block.nodes;
    expect(node0?.cpu_percent).toMatchObject({ count: 4, mean: 20, max: 20 });
    expect(node0?.down_s).toEqual([]);
    expect(node1?.cpu_percent).toMatchObject({ count: 2, mean: 100 });
    expect(node1?.down_s).toEqual([3, 4]);
    expect(node1?.series.filter((sample) => 'down' in sample)).toEqual([
      { t_s: 3, down: true },
      { t_s: 4, down: true },
    ]);
    expect(block.hosts[0]).toMatchObject({ host: 'local', cpus: 2, cpu_percent: { count: 4, mean: 50 } });
    expect(block.hosts[0]?.net_rx_bytes_per_s.mean).toBe(1000);
    expect(block.generator.bottleneck).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('says when a host was short of CPU while the load was offered (its CPU pressure), not diluted by a quiet drain', async () => {
    const run = async (waitedPerSecond: number) => {
      const host = new FakeHost();
      const { monitor, warnings } = warningMonitor();
      const level = fakeLevel([], [host]);
      monitor.onLevelStart({ warmupMs: 1000, durationMs: 3000 }, level.context);
      await new Promise((resolve) => setTimeout(resolve, 10));
      let waitedUs = 0;
      // load offered from 1 s to 4 s, then 6 s of a quiet drain (no waiting)
      for (let second = 0; second <= 10; second++) {
        level.at(second * 1000);
        if (second > 1 && second <= 4) waitedUs += waitedPerSecond * 1e6;
        host.listener?.({
          ...hostFiles(100 + second * 50, 100 + second * 50, 1000 + second, 0, 0),
          '/proc/pressure/cpu': psi(waitedUs),
        });
      }
      level.end();
      await monitor.onLoadEnd({ warmupMs: 1000 }, { scheduleLag: { count: 10, p99: 0.5 } }, level.context);
      const block = level.blocks.resources as ResourcesBlock;
      expect(resourcesBlockSchema.safeParse(block).success).toBe(true);
      return { warnings, pressure: block.hosts[0]?.cpu_pressure_percent };
    };
    const starved = await run(0.9);
    // over the whole window the mean is diluted by the drain (below 50); while offered it is 90
    expect(starved.pressure?.mean).toBeLessThan(50);
    expect(starved.warnings).toEqual([
      expect.stringMatching(
        /^resources: host local was short of CPU: tasks waited for one 90% of the time the load was offered/,
      ),
    ]);
    expect((await run(0.2)).warnings).toEqual([]);
  });

  it('samples the event loop every tenth of its interval, at least 5 times an interval and at most every 100 ms', () => {
    expect(loopSampleMs(1000)).toBe(100);
    expect(loopSampleMs(5000)).toBe(100);
    expect(loopSampleMs(500)).toBe(50);
    expect(loopSampleMs(100)).toBe(20);
    for (const interval of [100, 250, 1000, 60_000])
      expect(interval / loopSampleMs(interval)).toBeGreaterThanOrEqual(5);
  });

  it("reports the event loop's delay, not the sampling period with it (an idle loop read 20 ms, then 100)", async () => {
    const period = loopSampleMs(100);
    // Node's histogram records the time between its timer's runs: the period plus the delay
    const recorded = { p99: period + 3, max: period + 150 };
    let samples = 0; // the monitor resets the histogram after each sample
    const histogram = {
      count: 5,
      percentile: () => recorded.p99 * 1e6,
      get max() {
        return recorded.max * 1e6;
      },
      reset: () => {
        samples++;
      },
      enable: () => true,
      disable: () => true,
    };
    const resolutions: number[] = [];
    const monitor = new ResourceMonitor({
      intervalMs: 100,
      threads: 1,
      quietCheck: false,
      loopDelay: (resolution) => {
        resolutions.push(resolution);
        return histogram as unknown as IntervalHistogram;
      },
    });
    const level = fakeLevel([], []);
    monitor.onLevelStart({ warmupMs: 0 }, level.context);
    level.at(100);
    await vi.waitFor(() => expect(samples).toBe(1), { timeout: 5000 });
    // a quiet second sample: its timer ran a little early
    recorded.p99 = period - 0.4;
    recorded.max = period - 0.2;
    level.at(200);
    await vi.waitFor(() => expect(samples).toBe(2), { timeout: 5000 });
    level.end();
    await monitor.onLoadEnd({ warmupMs: 0 }, { scheduleLag: { count: 5, p99: 0.1 } }, level.context);
    const block = level.blocks.resources as ResourcesBlock;
    expect(resolutions).toEqual([period]);
    expect(block.generator.series.slice(0, 2)).toEqual([
      {
        t_s: expect.any(Number),
        cpu_percent: expect.any(Number),
        event_loop_delay_p99_ms: 3,
        event_loop_delay_max_ms: 150,
      },
      {
        t_s: expect.any(Number),
        cpu_percent: expect.any(Number),
        event_loop_delay_p99_ms: 0,
        event_loop_delay_max_ms: 0,
      },
    ]);
  });

  it('in attach mode says node and host figures are absent, and still watches the generator', async () => {
    const monitor = new ResourceMonitor({ intervalMs: 100, threads: 1, quietCheck: false });
    const level = fakeLevel([], []);
    monitor.onLevelStart({ warmupMs: 0 }, level.context);
    level.end();
    await monitor.onLoadEnd({ warmupMs: 0 }, { scheduleLag: { count: 5, p99: 9 } }, level.context);
    const block = level.blocks.resources as ResourcesBlock;
    expect(block.absent).toMatch(/attach mode/);
    expect(block.generator).toMatchObject({ bottleneck: true, schedule_lag_p99_ms: 9 });
    expect(resourcesBlockSchema.safeParse(block).success).toBe(true);
  });
});

describe('host files, for real', () => {
  it('reads this machine’s /proc every interval until closed', async () => {
    const reads: Readonly<Record<string, string>>[] = [];
    const watch = await new LocalHost().watchFiles(HOST_FILES, 100, (files) => reads.push(files));
    await new Promise((resolve) => setTimeout(resolve, 350));
    watch.close();
    const count = reads.length;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(reads.length).toBe(count);
    expect(count).toBeGreaterThanOrEqual(3);
    const [first, last] = [hostReading(reads[0]!)!, hostReading(reads.at(-1)!)!];
    expect(first.cpus).toBeGreaterThanOrEqual(1);
    expect(hostInterval(first, last)?.memoryUsedBytes).toBeGreaterThan(0);
  });

  it('runs the remote loop in bash (builtins only), parses its rounds, and it exits as soon as its stdin closes', async () => {
    const children: ChildProcessWithoutNullStreams[] = [];
    const session = {
      openCommandStream: async (argv: readonly string[]) => {
        const [command, ...rest] = argv as [string, ...string[]];
        const child = spawn(command, rest);
        children.push(child);
        return Duplex.from({ readable: child.stdout, writable: child.stdin });
      },
    };
    const exitOf = (child: ChildProcessWithoutNullStreams) =>
      new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // rounds: every 100 ms
    const reads: Readonly<Record<string, string>>[] = [];
    const watch = await new RemoteHostFiles('host0', session).watchFiles(HOST_FILES, 100, (files) =>
      reads.push(files),
    );
    await vi.waitFor(() => expect(reads.length).toBeGreaterThanOrEqual(3), { timeout: 20_000, interval: 20 });
    const [fast] = children as [ChildProcessWithoutNullStreams];
    const fastExit = exitOf(fast);
    fast.stdin.end();
    expect(await fastExit).toBe(0);
    watch.close();
    expect(Object.keys(reads[0]!).sort()).toEqual([...HOST_FILES].sort());
    expect(hostReading(reads[0]!)?.uptimeSecs).toBeGreaterThan(0);

    // the exit: a loop between two rounds of a minute, its stdin closed (what an SSH channel's
    // close gives the command) right after its first round, exits long before its next round
    // (waiting the round out would take 60 s; a busy machine takes a few hundred ms at most)
    let slowReads = 0;
    const slowWatch = await new RemoteHostFiles('host0', session).watchFiles(HOST_FILES, 60_000, () => {
      slowReads += 1;
    });
    await vi.waitFor(() => expect(slowReads).toBe(1), { timeout: 20_000, interval: 20 });
    const slow = children[1] as ChildProcessWithoutNullStreams;
    const slowExit = exitOf(slow);
    const closedAt = performance.now();
    slow.stdin.end();
    expect(await slowExit).toBe(0);
    expect(performance.now() - closedAt).toBeLessThan(10_000);
    slowWatch.close();
  });
});

describe('the summary’s resource table', () => {
  it('shows each node, the host and the generator, and says when the generator may be the bottleneck', () => {
    const summary = (mean: number) => ({ count: 5, mean, p50: mean, p99: mean * 2, max: mean * 2 });
    const block: ResourcesBlock = {
      interval_ms: 1000,
      source: 'test',
      nodes: ['node0', 'node1'].map((node_id, index) => ({
        node_id,
        host: 'local',
        cpu_percent: summary(10 + index),
        memory_bytes: summary(20 * 2 ** 20),
        net_rx_bytes_per_s: summary(2048),
        net_tx_bytes_per_s: summary(1024),
        block_read_bytes_per_s: summary(0),
        block_write_bytes_per_s: summary(0),
        down_s: index === 1 ? [3, 4] : [],
        series: [],
      })),
      hosts: [],
      generator: {
        threads: 1,
        cpu_percent: summary(90),
        event_loop_delay_ms: summary(1),
        bottleneck: true,
        bottleneck_reasons: ['its CPU averaged 90% of a core (over 80%)'],
        series: [],
      },
    };
    const record = { runs: [{ blocks: { resources: block } }] } as unknown as BenchmarkRecord;
    const text = renderResourcesTable(record).join('\n');
    expect(text).toMatch(/Resources, every 1000 ms:/);
    expect(text).toMatch(/node0\s+│ 10\.0\s+│ 20\.0\s+│ 20\.0\s+│ 40\.0\s+│ 2\.0\s+│ 1\.0/);
    expect(text).toMatch(/node1 .*│ 2 samples/);
    expect(text).toMatch(/generator \(this process\)\s+│ 90\.0/);
    expect(text).toMatch(/may be the bottleneck: its CPU averaged 90% of a core/);
    expect(renderResourcesTable({ runs: [{}] } as unknown as BenchmarkRecord)).toEqual([]);
  });
});
