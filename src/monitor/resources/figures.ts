/**
 * The resource monitor's arithmetic, pure: CPU percent and rates from two successive readings
 * of cumulative counters (a node's engine stats, a host's /proc files), the parsers of those
 * files, and the summaries (mean, p50, p99, max) the record keeps.
 */
import { mean, quantileSorted } from 'simple-statistics';
import type { NodeReading } from '../../testbed/testbed.js';
import type { Summary } from './schema.js';

/** Mean, p50, p99 and max of a series (zeros when it is empty), rounded to `digits` decimals. */
export function summarize(values: readonly number[], digits = 2): Summary {
  if (values.length === 0) return { count: 0, mean: 0, p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const round = (value: number) => Number(value.toFixed(digits));
  return {
    count: values.length,
    mean: round(mean(sorted)),
    p50: round(quantileSorted(sorted, 0.5)),
    p99: round(quantileSorted(sorted, 0.99)),
    max: round(sorted[sorted.length - 1] as number),
  };
}

export interface NodeInterval {
  /** Percent of one core (100 = one core busy), as `docker stats` shows it. */
  readonly cpuPercent: number;
  readonly memoryBytes: number;
  readonly netRxBytesPerSec: number;
  readonly netTxBytesPerSec: number;
  readonly blockReadBytesPerSec: number;
  readonly blockWriteBytesPerSec: number;
}

/**
 * A node's figures between two readings of its counters. Undefined when either reading is of
 * a stopped container, when no time passed, or when a counter went down (the container
 * restarted: its cgroup counts from zero again).
 */
export function nodeInterval(previous: NodeReading, current: NodeReading): NodeInterval | undefined {
  if (previous.readAtMs === undefined || current.readAtMs === undefined) return undefined;
  const seconds = (current.readAtMs - previous.readAtMs) / 1000;
  const cpuDelta = current.cpuNs - previous.cpuNs;
  const systemDelta = current.systemCpuNs - previous.systemCpuNs;
  const deltas = [
    current.networkRxBytes - previous.networkRxBytes,
    current.networkTxBytes - previous.networkTxBytes,
    current.blockReadBytes - previous.blockReadBytes,
    current.blockWriteBytes - previous.blockWriteBytes,
  ];
  if (seconds <= 0 || cpuDelta < 0 || systemDelta <= 0 || deltas.some((delta) => delta < 0)) return undefined;
  const [rx, tx, read, write] = deltas.map((delta) => Math.round(delta / seconds)) as [
    number,
    number,
    number,
    number,
  ];
  return {
    cpuPercent: round2((cpuDelta / systemDelta) * current.onlineCpus * 100),
    memoryBytes: current.memoryBytes,
    netRxBytesPerSec: rx,
    netTxBytesPerSec: tx,
    blockReadBytesPerSec: read,
    blockWriteBytesPerSec: write,
  };
}

// ---- a host's /proc files ----

export const HOST_FILES = [
  '/proc/stat',
  '/proc/meminfo',
  '/proc/loadavg',
  '/proc/net/dev',
  '/proc/uptime',
  // pressure stall information (Linux 4.20+, where the kernel has it): time tasks waited for a CPU
  '/proc/pressure/cpu',
];

export interface HostReading {
  /** /proc/uptime, seconds: the host's own clock for rates. */
  readonly uptimeSecs: number;
  /** The `cpu` line of /proc/stat: all jiffies, and those idle (idle + iowait). */
  readonly cpuTotal: number;
  readonly cpuIdle: number;
  readonly cpus: number;
  readonly memoryTotalBytes: number;
  readonly memoryAvailableBytes: number;
  readonly load1: number;
  readonly load5: number;
  readonly load15: number;
  /** Interface → cumulative bytes (lo left out). */
  readonly interfaces: Readonly<Record<string, { readonly rx: number; readonly tx: number }>>;
  /**
   * /proc/pressure/cpu, `some … total=`: microseconds in which at least one runnable task waited
   * for a CPU; undefined where the kernel has no pressure stall information.
   */
  readonly cpuPressureSomeUs?: number;
}

/** A host's /proc files as one reading; undefined when /proc/stat or /proc/uptime is missing or unreadable. */
export function hostReading(files: Readonly<Record<string, string>>): HostReading | undefined {
  const stat = files['/proc/stat'] ?? '';
  const cpu = /^cpu\s+(.+)$/m.exec(stat);
  const uptime = Number((files['/proc/uptime'] ?? '').trim().split(/\s+/)[0]);
  if (!cpu || !Number.isFinite(uptime)) return undefined;
  const jiffies = (cpu[1] as string).trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice)
  const total = jiffies.slice(0, 8).reduce((sum, value) => sum + (Number.isFinite(value) ? value : 0), 0);
  const idle = (jiffies[3] ?? 0) + (jiffies[4] ?? 0);
  const memory = parseMeminfo(files['/proc/meminfo'] ?? '');
  const loads = (files['/proc/loadavg'] ?? '').trim().split(/\s+/).slice(0, 3).map(Number);
  return {
    uptimeSecs: uptime,
    cpuTotal: total,
    cpuIdle: idle,
    cpus: Math.max(1, (stat.match(/^cpu\d+\s/gm) ?? []).length),
    memoryTotalBytes: memory.totalBytes,
    memoryAvailableBytes: memory.availableBytes,
    load1: loads[0] ?? 0,
    load5: loads[1] ?? 0,
    load15: loads[2] ?? 0,
    interfaces: parseNetDev(files['/proc/net/dev'] ?? ''),
    ...optional('cpuPressureSomeUs', pressureTotalUs(files['/proc/pressure/cpu'] ?? '')),
  };
}

/** The `some` line's cumulative total (µs) of a /proc/pressure file; undefined when absent. */
export function pressureTotalUs(text: string): number | undefined {
  const match = /^some\b.*\btotal=(\d+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** MemTotal and MemAvailable (kB in the file), bytes. */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { totalBytes: field('MemTotal'), availableBytes: field('MemAvailable') };
}

/** /proc/net/dev: interface → cumulative rx and tx bytes, lo left out. */
export function parseNetDev(text: string): Record<string, { rx: number; tx: number }> {
  const interfaces: Record<string, { rx: number; tx: number }> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!match || match[1] === 'lo') continue;
    const fields = (match[2] as string).trim().split(/\s+/).map(Number);
    interfaces[match[1] as string] = { rx: fields[0] ?? 0, tx: fields[8] ?? 0 };
  }
  return interfaces;
}

/** Interfaces counted in a host's network rate: not the containers' veth ends (their traffic is already on a bridge). */
export function countedInterface(name: string): boolean {
  return !name.startsWith('veth');
}

export interface HostInterval {
  /** Percent of the whole host (100 = every core busy). */
  readonly cpuPercent: number;
  readonly memoryUsedBytes: number;
  readonly load1: number;
  readonly netRxBytesPerSec: number;
  readonly netTxBytesPerSec: number;
  /** Percent of the interval in which some runnable task waited for a CPU (PSI), where the kernel has it. */
  readonly cpuPressurePercent?: number;
}

/** A host's figures between two readings; undefined when no time passed or the host rebooted. */
export function hostInterval(previous: HostReading, current: HostReading): HostInterval | undefined {
  const seconds = current.uptimeSecs - previous.uptimeSecs;
  const total = current.cpuTotal - previous.cpuTotal;
  if (seconds <= 0 || total <= 0) return undefined;
  const busy = total - (current.cpuIdle - previous.cpuIdle);
  let rx = 0;
  let tx = 0;
  for (const [name, now] of Object.entries(current.interfaces)) {
    const before = previous.interfaces[name];
    if (!before || !countedInterface(name)) continue;
    rx += Math.max(0, now.rx - before.rx);
    tx += Math.max(0, now.tx - before.tx);
  }
  return {
    cpuPercent: round2(Math.min(100, Math.max(0, (busy / total) * 100))),
    memoryUsedBytes: Math.max(0, current.memoryTotalBytes - current.memoryAvailableBytes),
    load1: current.load1,
    netRxBytesPerSec: Math.round(rx / seconds),
    netTxBytesPerSec: Math.round(tx / seconds),
    ...optional(
      'cpuPressurePercent',
      current.cpuPressureSomeUs !== undefined && previous.cpuPressureSomeUs !== undefined
        ? round2(
            Math.min(
              100,
              Math.max(0, ((current.cpuPressureSomeUs - previous.cpuPressureSomeUs) / 1e6 / seconds) * 100),
            ),
          )
        : undefined,
    ),
  };
}

/**
 * A host whose tasks waited for a CPU this much of the time the load was offered (mean PSI
 * `some`, %) was oversubscribed: its nodes waited, and the level shows the machine's limit.
 */
export const STARVED_PRESSURE_PERCENT = 50;

/** The process's CPU between two `process.cpuUsage()` readings, percent of one core. */
export function processCpuPercent(
  delta: { readonly user: number; readonly system: number },
  elapsedMs: number,
): number {
  if (elapsedMs <= 0) return 0;
  return round2(((delta.user + delta.system) / 1000 / elapsedMs) * 100);
}

/**
 * Whether the load generator, rather than the system, may have set the pace: its process
 * above 80 % of a core per generator thread on average, or its schedule lag p99 above 5 ms.
 */
export function generatorBottleneck(figures: {
  readonly cpuPercentMean: number;
  readonly threads: number;
  readonly scheduleLagP99Ms: number | undefined;
}): string[] {
  const reasons: string[] = [];
  const limit = 80 * Math.max(1, figures.threads);
  if (figures.cpuPercentMean > limit)
    reasons.push(
      `its CPU averaged ${figures.cpuPercentMean.toFixed(0)}% of a core (over ${limit}%${figures.threads > 1 ? ` for ${figures.threads} threads` : ''})`,
    );
  if (figures.scheduleLagP99Ms !== undefined && figures.scheduleLagP99Ms > 5)
    reasons.push(`its schedule lag p99 was ${figures.scheduleLagP99Ms.toFixed(1)} ms (over 5 ms)`);
  return reasons;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
