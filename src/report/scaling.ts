/**
 * Figures against network size (`--committees 4,8,16`, `--host-counts 2,4`): per network
 * type and load, one row per size N with throughput, latency, efficiency and, when the
 * records carry a `resources` block (runs[].blocks.resources), CPU and memory per node —
 * with the hub (node 0 of a star) beside the other nodes. A table and plain sentences;
 * pure functions, and a reporter that writes scaling.json and scaling.txt.
 */
import type { BenchmarkRecord } from '../results/record.js';
import type { Reporter } from '../results/reporter.js';
import { formatNumber, formatPercent } from './console.js';
import { formatRatio } from './compare.js';

export const SCALING_SCHEMA_VERSION = 1;

/** CPU (percent of one core) and working-set memory, means over the measured window. */
export interface NodeUse {
  readonly cpu_percent: number;
  readonly memory_bytes: number;
  readonly net_tx_bytes_per_s: number;
}

export interface ScalingResources {
  /** Means over every node. */
  readonly per_node: NodeUse;
  /** A star's hub (the topology's hub, else node 0), and the mean of the others. */
  readonly hub?: NodeUse & { readonly node_id: string };
  readonly others?: NodeUse;
}

export interface ScalingRow {
  readonly nodes: number;
  readonly benchmark_number: number;
  readonly topology?: string;
  readonly throughput: number;
  readonly p50_latency_ms: number;
  readonly p99_latency_ms: number;
  readonly efficiency: number;
  readonly latency_stage: 'commit' | 'ack';
  readonly resources?: ScalingResources;
  /**
   * The nodes' own series the run recorded (`--metrics-series`, the metrics block), each the
   * mean of a node's samples, averaged over nodes; with a hub, the hub's and the others'.
   * Only series some node served.
   */
  readonly node_series?: Readonly<Record<string, NodeSeries>>;
}

export interface NodeSeries {
  readonly per_node: number;
  readonly hub?: number;
  readonly others?: number;
}

export interface ScalingSeries {
  readonly network_type: string;
  readonly load: number;
  readonly rows: readonly ScalingRow[];
}

export interface Scaling {
  readonly schema_version: typeof SCALING_SCHEMA_VERSION;
  readonly series: readonly ScalingSeries[];
  readonly findings: readonly string[];
}

/** Whether the records hold more than one network size of one network type. */
export function hasSeveralSizes(records: readonly BenchmarkRecord[]): boolean {
  const sizes = new Map<string, Set<number>>();
  for (const record of records) {
    const set = sizes.get(record.network_type) ?? new Set<number>();
    set.add(record.parameters.nodes);
    sizes.set(record.network_type, set);
  }
  return [...sizes.values()].some((set) => set.size > 1);
}

export function scalingOf(records: readonly BenchmarkRecord[]): Scaling {
  const groups = new Map<string, Map<number, BenchmarkRecord>>();
  for (const record of records) {
    const key = `${record.network_type}\u0000${record.parameters.load}`;
    const bySize = groups.get(key) ?? new Map<number, BenchmarkRecord>();
    // a later record of the same size and load supersedes an earlier one
    bySize.set(record.parameters.nodes, record);
    groups.set(key, bySize);
  }
  const series: ScalingSeries[] = [...groups.entries()]
    .map(([key, bySize]) => {
      const [networkType, load] = key.split('\u0000') as [string, string];
      return {
        network_type: networkType,
        load: Number(load),
        rows: [...bySize.values()].sort((a, b) => a.parameters.nodes - b.parameters.nodes).map(rowOf),
      };
    })
    .sort((a, b) => a.network_type.localeCompare(b.network_type) || a.load - b.load);
  return { schema_version: SCALING_SCHEMA_VERSION, series, findings: findingsOf(series) };
}

function rowOf(record: BenchmarkRecord): ScalingRow {
  const r = record.results;
  const topology = topologyOf(record);
  const resources = resourcesOf(record, topology?.hub);
  const nodeSeries = nodeSeriesOf(record, topology?.hub);
  return {
    nodes: record.parameters.nodes,
    benchmark_number: record.benchmark_number,
    ...(topology ? { topology: topology.name } : {}),
    throughput: r.throughput,
    p50_latency_ms: r.latency_percentiles_ms.p50,
    p99_latency_ms: r.latency_percentiles_ms.p99,
    efficiency: r.efficiency,
    latency_stage: r.latency_stage,
    ...(resources ? { resources } : {}),
    ...(nodeSeries ? { node_series: nodeSeries } : {}),
  };
}

/** Each recorded node series' per-node means (src/monitor/prometheus: `blocks.metrics.nodes[node][series]`), over runs. */
function nodeSeriesOf(
  record: BenchmarkRecord,
  hubId: string | undefined,
): Record<string, NodeSeries> | undefined {
  const values = new Map<string, Map<string, number[]>>();
  for (const run of record.runs ?? []) {
    const nodes = (run.blocks?.metrics as { nodes?: unknown } | undefined)?.nodes;
    if (nodes === null || typeof nodes !== 'object') continue;
    for (const [node, series] of Object.entries(nodes as Record<string, unknown>)) {
      if (series === null || typeof series !== 'object') continue;
      for (const [name, samples] of Object.entries(series as Record<string, unknown>)) {
        if (!Array.isArray(samples)) continue;
        const numbers = samples.filter((value): value is number => typeof value === 'number');
        if (numbers.length === 0) continue;
        const byNode = values.get(name) ?? new Map<string, number[]>();
        byNode.set(node, [...(byNode.get(node) ?? []), numbers.reduce((a, b) => a + b, 0) / numbers.length]);
        values.set(name, byNode);
      }
    }
  }
  if (values.size === 0) return undefined;
  const mean = (list: readonly number[]): number =>
    list.reduce((a, b) => a + b, 0) / Math.max(1, list.length);
  const out: Record<string, NodeSeries> = {};
  for (const [name, byNode] of [...values].sort(([a], [b]) => a.localeCompare(b))) {
    const perNode = new Map([...byNode].map(([node, list]) => [node, mean(list)]));
    const hub = hubId === undefined ? undefined : perNode.get(hubId);
    const others = [...perNode].filter(([node]) => node !== hubId).map(([, value]) => value);
    out[name] = {
      per_node: round(mean([...perNode.values()])),
      ...(hub !== undefined && others.length > 0 ? { hub: round(hub), others: round(mean(others)) } : {}),
    };
  }
  return out;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function topologyOf(record: BenchmarkRecord): { name: string; hub: string } | undefined {
  const topology = (
    record.environment?.testbed as { topology?: { name?: unknown; hub?: unknown } } | undefined
  )?.topology;
  if (typeof topology?.name !== 'string') return undefined;
  return { name: topology.name, hub: typeof topology.hub === 'string' ? topology.hub : 'node0' };
}

interface NodeFigures {
  readonly node_id?: unknown;
  readonly cpu_percent?: { readonly mean?: unknown };
  readonly memory_bytes?: { readonly mean?: unknown };
  readonly net_tx_bytes_per_s?: { readonly mean?: unknown };
}

/** Per-node means from each run's resources block (src/monitor/resources), averaged over runs. */
function resourcesOf(record: BenchmarkRecord, hubId: string | undefined): ScalingResources | undefined {
  const byNode = new Map<string, NodeUse[]>();
  for (const run of record.runs ?? []) {
    const nodes = (run.blocks?.resources as { nodes?: unknown } | undefined)?.nodes;
    if (!Array.isArray(nodes)) continue;
    for (const node of nodes as NodeFigures[]) {
      const cpu = node.cpu_percent?.mean;
      const memory = node.memory_bytes?.mean;
      if (typeof node.node_id !== 'string' || typeof cpu !== 'number' || typeof memory !== 'number') continue;
      const tx = node.net_tx_bytes_per_s?.mean;
      const list = byNode.get(node.node_id) ?? [];
      list.push({
        cpu_percent: cpu,
        memory_bytes: memory,
        net_tx_bytes_per_s: typeof tx === 'number' ? tx : 0,
      });
      byNode.set(node.node_id, list);
    }
  }
  if (byNode.size === 0) return undefined;
  const perNode = new Map([...byNode].map(([id, uses]) => [id, meanUse(uses)]));
  const hub = hubId !== undefined ? perNode.get(hubId) : undefined;
  const others = [...perNode].filter(([id]) => id !== hubId).map(([, use]) => use);
  return {
    per_node: meanUse([...perNode.values()]),
    ...(hub && hubId !== undefined && others.length > 0
      ? { hub: { node_id: hubId, ...hub }, others: meanUse(others) }
      : {}),
  };
}

function meanUse(uses: readonly NodeUse[]): NodeUse {
  const mean = (pick: (use: NodeUse) => number) =>
    uses.reduce((sum, use) => sum + pick(use), 0) / Math.max(1, uses.length);
  return {
    cpu_percent: mean((use) => use.cpu_percent),
    memory_bytes: mean((use) => use.memory_bytes),
    net_tx_bytes_per_s: mean((use) => use.net_tx_bytes_per_s),
  };
}

function megabytes(bytes: number): string {
  return `${formatNumber(bytes / 1e6, 1)} MB`;
}

/** One sentence per figure, from the smallest network to the largest, per network type and load. */
function findingsOf(series: readonly ScalingSeries[]): string[] {
  const out: string[] = [];
  for (const entry of series) {
    if (entry.rows.length < 2) continue;
    const first = entry.rows[0] as ScalingRow;
    const last = entry.rows.at(-1) as ScalingRow;
    const at = `${entry.network_type} at ${entry.load} tx/s`;
    const change = (from: number, to: number) => (from > 0 ? ` (${formatRatio(to / from)}×)` : '');
    out.push(
      `${at}: throughput ${formatNumber(first.throughput)} tx/s with ${first.nodes} nodes, ${formatNumber(last.throughput)} tx/s with ${last.nodes}${change(first.throughput, last.throughput)}`,
    );
    out.push(
      `${at}: p99 ${last.latency_stage} latency ${formatNumber(first.p99_latency_ms)} ms with ${first.nodes} nodes, ${formatNumber(last.p99_latency_ms)} ms with ${last.nodes}${change(first.p99_latency_ms, last.p99_latency_ms)}`,
    );
    const a = first.resources?.per_node;
    const b = last.resources?.per_node;
    if (a && b) {
      out.push(
        `${at}: CPU per node ${formatNumber(a.cpu_percent, 1)} % with ${first.nodes} nodes, ${formatNumber(b.cpu_percent, 1)} % with ${last.nodes}; memory per node ${megabytes(a.memory_bytes)} → ${megabytes(b.memory_bytes)}`,
      );
    }
    for (const row of entry.rows) {
      const { hub, others } = row.resources ?? {};
      if (!hub || !others) continue;
      out.push(
        `${at}, ${row.nodes} nodes${row.topology ? ` (${row.topology})` : ''}: ${hub.node_id} uses ${formatNumber(hub.cpu_percent, 1)} % CPU and ${megabytes(hub.memory_bytes)}, the others ${formatNumber(others.cpu_percent, 1)} % and ${megabytes(others.memory_bytes)} on average${others.cpu_percent > 0 ? ` (${formatRatio(hub.cpu_percent / others.cpu_percent)}× the CPU)` : ''}`,
      );
    }
    for (const row of entry.rows) {
      const hubId = row.resources?.hub?.node_id ?? 'node0';
      for (const [name, figures] of Object.entries(row.node_series ?? {})) {
        if (figures.hub === undefined || figures.others === undefined) continue;
        out.push(
          `${at}, ${row.nodes} nodes${row.topology ? ` (${row.topology})` : ''}: ${name} ${formatNumber(figures.hub, 1)} on ${hubId}, ${formatNumber(figures.others, 1)} on the others on average`,
        );
      }
    }
  }
  if (out.length === 0) out.push('only one network size per load ran, so nothing is compared across sizes');
  return out;
}

export function renderScalingText(scaling: Scaling): string {
  const lines = ['meshbench: figures against network size', ''];
  for (const entry of scaling.series) {
    lines.push(`${entry.network_type}, load ${entry.load} tx/s`);
    const withResources = entry.rows.some((row) => row.resources);
    const withHub = entry.rows.some((row) => row.resources?.hub);
    const header = ['nodes', 'topology', 'tx/s', 'p50 ms', 'p99 ms', 'efficiency'];
    if (withResources) header.push('cpu %/node', 'mem MB/node');
    if (withHub) header.push('hub cpu %', 'others cpu %', 'hub MB', 'others MB');
    const rows = entry.rows.map((row) => {
      const cells = [
        String(row.nodes),
        row.topology ?? 'full',
        formatNumber(row.throughput),
        formatNumber(row.p50_latency_ms),
        formatNumber(row.p99_latency_ms),
        formatPercent(row.efficiency),
      ];
      const use = row.resources;
      if (withResources)
        cells.push(
          use ? formatNumber(use.per_node.cpu_percent, 1) : '-',
          use ? formatNumber(use.per_node.memory_bytes / 1e6, 1) : '-',
        );
      if (withHub)
        cells.push(
          use?.hub ? formatNumber(use.hub.cpu_percent, 1) : '-',
          use?.others ? formatNumber(use.others.cpu_percent, 1) : '-',
          use?.hub ? formatNumber(use.hub.memory_bytes / 1e6, 1) : '-',
          use?.others ? formatNumber(use.others.memory_bytes / 1e6, 1) : '-',
        );
      return cells;
    });
    const widths = header.map((title, i) =>
      Math.max(title.length, ...rows.map((cells) => (cells[i] ?? '').length)),
    );
    const line = (cells: readonly string[]) =>
      `  ${cells.map((cell, i) => cell.padStart(widths[i] ?? 0)).join('  ')}`.trimEnd();
    lines.push(line(header), ...rows.map(line), '');
  }
  lines.push('Findings:', ...scaling.findings.map((finding) => `  - ${finding}`));
  return `${lines.join('\n')}\n`;
}

/** scaling.json and scaling.txt (and the table on the console) when more than one network size ran. */
export function scalingReporter(): Reporter {
  return {
    name: 'scaling',
    async onRunEnd(run, out) {
      if (!hasSeveralSizes(run.records)) return;
      const scaling = scalingOf(run.records);
      const text = renderScalingText(scaling);
      await out.write('scaling.json', scaling);
      await out.write('scaling.txt', text);
      out.say('');
      out.say(text.trimEnd());
      return { index: { scaling: 'scaling.json' } };
    },
  };
}
