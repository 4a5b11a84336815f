/**
 * A node's resources from its own Prometheus page, for nodes the testbed gives no stats
 * stream of (attach mode, `--endpoint-metrics`): the standard process metrics every
 * Prometheus client library exports (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`; with a prefix too, as the reference node's
 * `refnode_process_…`), and network and disk counters where the page has them (client_golang's
 * `process_network_*_bytes_total`, node_exporter's `node_network_*_bytes_total` without `lo`
 * and `node_disk_*_bytes_total`). Pure: the monitor reads the pages (./endpoint-source.ts).
 */
import { parsePrometheusText } from '../prometheus-text.js';

/** The cumulative counters (and the memory gauge) read from one page; absent: the page lacks it. */
export interface ProcessCounters {
  readonly cpuSeconds?: number;
  readonly residentBytes?: number;
  readonly netRxBytes?: number;
  readonly netTxBytes?: number;
  readonly blockReadBytes?: number;
  readonly blockWriteBytes?: number;
}

type Field = keyof ProcessCounters;

/** Each figure's series, best first: the first one the page has is used. */
export const PROCESS_SERIES: Readonly<
  Record<
    Field,
    readonly {
      readonly name: RegExp;
      readonly skip?: (labels: Readonly<Record<string, string>>) => boolean;
    }[]
  >
> = {
  cpuSeconds: [{ name: /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*_)?process_cpu_seconds_total$/ }],
  residentBytes: [{ name: /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*_)?process_resident_memory_bytes$/ }],
  netRxBytes: [
    { name: /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*_)?process_network_receive_bytes_total$/ },
    { name: /^node_network_receive_bytes_total$/, skip: (labels) => labels.device === 'lo' },
  ],
  netTxBytes: [
    { name: /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*_)?process_network_transmit_bytes_total$/ },
    { name: /^node_network_transmit_bytes_total$/, skip: (labels) => labels.device === 'lo' },
  ],
  blockReadBytes: [{ name: /^node_disk_read_bytes_total$/ }],
  blockWriteBytes: [{ name: /^node_disk_written_bytes_total$/ }],
};

/** Cheap test before a line is parsed: only these lines can hold a figure. */
const CANDIDATE = /process_(?:cpu_seconds_total|resident_memory_bytes|network_)|^node_(?:network_|disk_)/;

/** The counters on a Prometheus page (text format 0.0.4); every series summed over its label sets. */
export function processCounters(text: string): ProcessCounters {
  const kept: string[] = [];
  for (const line of text.split('\n'))
    if (line.charCodeAt(0) !== 35 /* # */ && CANDIDATE.test(line)) kept.push(line);
  const samples = parsePrometheusText(kept.join('\n'));
  const out: Partial<Record<Field, number>> = {};
  for (const field of Object.keys(PROCESS_SERIES) as Field[]) {
    for (const choice of PROCESS_SERIES[field]) {
      let sum: number | undefined;
      for (const sample of samples) {
        if (!choice.name.test(sample.name) || !Number.isFinite(sample.value)) continue;
        if (choice.skip?.(sample.labels)) continue;
        sum = (sum ?? 0) + sample.value;
      }
      if (sum !== undefined) {
        out[field] = sum;
        break;
      }
    }
  }
  return out;
}

/** One interval's figures between two readings of a page; absent where either lacks the counter. */
export interface ProcessInterval {
  /** Percent of one core (100 = one core busy), as `docker stats` shows it. */
  readonly cpuPercent?: number;
  /** Resident set size at the later reading. */
  readonly memoryBytes?: number;
  readonly netRxBytesPerSec?: number;
  readonly netTxBytesPerSec?: number;
  readonly blockReadBytesPerSec?: number;
  readonly blockWriteBytesPerSec?: number;
}

/**
 * The rates between two readings `elapsedMs` apart (this machine's clock at each read). A
 * counter that went down (the process restarted) gives no figure for the interval.
 */
export function processInterval(
  previous: ProcessCounters,
  current: ProcessCounters,
  elapsedMs: number,
): ProcessInterval {
  const seconds = elapsedMs / 1000;
  const rate = (field: Field, scale = 1): number | undefined => {
    const before = previous[field];
    const after = current[field];
    if (before === undefined || after === undefined || seconds <= 0 || after < before) return undefined;
    return Math.round(((after - before) / seconds) * scale * 100) / 100;
  };
  const out: { -readonly [K in keyof ProcessInterval]: ProcessInterval[K] } = {};
  const cpu = rate('cpuSeconds', 100);
  if (cpu !== undefined) out.cpuPercent = cpu;
  if (current.residentBytes !== undefined) out.memoryBytes = current.residentBytes;
  const rx = rate('netRxBytes');
  if (rx !== undefined) out.netRxBytesPerSec = Math.round(rx);
  const tx = rate('netTxBytes');
  if (tx !== undefined) out.netTxBytesPerSec = Math.round(tx);
  const read = rate('blockReadBytes');
  if (read !== undefined) out.blockReadBytesPerSec = Math.round(read);
  const write = rate('blockWriteBytes');
  if (write !== undefined) out.blockWriteBytesPerSec = Math.round(write);
  return out;
}

/**
 * The PromQL of each figure over a Prometheus that scrapes the endpoints (`--prometheus-url`):
 * one result per target (`instance`, and `node` where the page labels it). Rates by `irate`
 * over `windowSecs` (Prometheus must scrape each target at least twice in that window).
 */
export function processQueries(windowSecs: number): Readonly<Record<keyof ProcessInterval, string>> {
  const by = 'sum by (instance, node)';
  const anyPrefix = (name: string) => `{__name__=~"(.+_)?${name}"}`;
  const irate = (selector: string) => `${by} (irate(${selector}[${windowSecs}s]))`;
  return {
    cpuPercent: `${irate(anyPrefix('process_cpu_seconds_total'))} * 100`,
    memoryBytes: `${by} (${anyPrefix('process_resident_memory_bytes')})`,
    netRxBytesPerSec: `${irate(anyPrefix('process_network_receive_bytes_total'))} or ${irate('node_network_receive_bytes_total{device!="lo"}')}`,
    netTxBytesPerSec: `${irate(anyPrefix('process_network_transmit_bytes_total'))} or ${irate('node_network_transmit_bytes_total{device!="lo"}')}`,
    blockReadBytesPerSec: irate('node_disk_read_bytes_total'),
    blockWriteBytesPerSec: irate('node_disk_written_bytes_total'),
  };
}
