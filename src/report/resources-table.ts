/**
 * The text summary's resource table for one level: per node and per host, CPU, memory and
 * network from the `resources` block (src/monitor/resources/schema.ts), and the lines that
 * say when the generator may be the bottleneck or the machine was not quiet. Pure.
 */
import Table from 'cli-table3';
import type { ResourcesBlock } from '../monitor/resources/schema.js';
import type { BenchmarkRecord } from '../results/record.js';

const MIB = 1024 ** 2;
const KIB = 1024;

/** A rate's mean in KiB/s; `-` when the source has no such counter (a metrics page without it). */
function kibPerSec(summary: { readonly mean: number } | undefined): string {
  return summary ? (summary.mean / KIB).toFixed(1) : '-';
}

/** The last run's resources block of a level, if it has one. */
export function resourcesOf(record: BenchmarkRecord): ResourcesBlock | undefined {
  const block = record.runs.at(-1)?.blocks?.resources;
  return block && typeof block === 'object' && 'generator' in block ? (block as ResourcesBlock) : undefined;
}

/** The table and its notes, indented for the summary; empty when the level has no resources block. */
export function renderResourcesTable(record: BenchmarkRecord, indent = '  '): string[] {
  const block = resourcesOf(record);
  if (!block) return [];
  const lines: string[] = [];
  const runs = record.runs.length > 1 ? ` (run ${record.runs.length} of ${record.runs.length})` : '';
  if (block.absent) lines.push(`${indent}Resources${runs}: ${block.absent}`);
  {
    const table = new Table({
      head: ['', 'CPU % mean', 'CPU % p99', 'mem MiB mean', 'mem MiB max', 'rx KiB/s', 'tx KiB/s', 'down'],
      style: { head: [], border: [], compact: true },
    });
    for (const node of block.nodes) {
      table.push([
        node.host === 'local' ? node.node_id : `${node.node_id}@${node.host}`,
        node.cpu_percent.mean.toFixed(1),
        node.cpu_percent.p99.toFixed(1),
        (node.memory_bytes.mean / MIB).toFixed(1),
        (node.memory_bytes.max / MIB).toFixed(1),
        node.host_network ? 'host' : kibPerSec(node.net_rx_bytes_per_s),
        node.host_network ? 'host' : kibPerSec(node.net_tx_bytes_per_s),
        node.down_s.length > 0 ? `${node.down_s.length} samples` : '',
      ]);
    }
    for (const host of block.hosts) {
      table.push([
        `host ${host.host} (${host.cpus} CPUs, % of all)`,
        host.cpu_percent.mean.toFixed(1),
        host.cpu_percent.p99.toFixed(1),
        (host.memory_used_bytes.mean / MIB).toFixed(0),
        (host.memory_used_bytes.max / MIB).toFixed(0),
        (host.net_rx_bytes_per_s.mean / KIB).toFixed(1),
        (host.net_tx_bytes_per_s.mean / KIB).toFixed(1),
        `load ${host.load1.mean.toFixed(2)}`,
      ]);
    }
    const generator = block.generator;
    table.push([
      'generator (this process)',
      generator.cpu_percent.mean.toFixed(1),
      generator.cpu_percent.p99.toFixed(1),
      '',
      '',
      '',
      '',
      `loop p99 ${generator.event_loop_delay_ms.p99.toFixed(1)} ms`,
    ]);
    lines.push(`${indent}Resources${runs}, every ${block.interval_ms} ms:`);
    lines.push(
      ...table
        .toString()
        .split('\n')
        .map((line) => `${indent}${line}`),
    );
  }
  if (block.generator.bottleneck)
    lines.push(
      `${indent}The load generator, not the system, may be the bottleneck: ${(block.generator.bottleneck_reasons ?? []).join('; ')}`,
    );
  if (block.environment && !block.environment.quiet)
    lines.push(`${indent}Not quiet before the level: ${block.environment.reasons.join('; ')}`);
  return lines;
}
