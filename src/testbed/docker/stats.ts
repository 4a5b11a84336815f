/** Node stats from the engine's own counters, computed one way for every node, local or remote. */
import type Docker from 'dockerode';
import type { NodeReading, NodeStats, ReadingStream } from '../testbed.js';

/** The part of GET /containers/{id}/stats that the figures need. */
export interface EngineStats {
  read?: string;
  id?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null };
}

/** Working set, as `docker stats` shows it: usage − inactive_file (cgroup v2; v1: total_inactive_file). */
export function workingSetBytes(memory: EngineStats['memory_stats']): number {
  const stats = memory?.stats ?? {};
  const inactive = stats.inactive_file ?? stats.total_inactive_file ?? 0;
  const usage = memory?.usage ?? 0;
  return Math.max(0, usage - (inactive < usage ? inactive : 0));
}

/** A stopped container's readings carry the zero time (0001-01-01T00:00:00Z) and no counters. */
function readAtMs(read: string | undefined): number | undefined {
  if (!read || read.startsWith('0001-')) return undefined;
  const ms = Date.parse(read);
  return Number.isFinite(ms) ? ms : undefined;
}

/** One stats reading as cumulative counters (the stream's and the one-shot request's shape alike). */
export function readingFromEngine(raw: EngineStats, containerId = raw.id ?? ''): NodeReading {
  const networks = Object.values(raw.networks ?? {});
  const blockIo = raw.blkio_stats?.io_service_bytes_recursive ?? [];
  const blockBytes = (op: string) =>
    blockIo.reduce((sum, entry) => sum + (entry.op?.toLowerCase() === op ? (entry.value ?? 0) : 0), 0);
  const limit = raw.memory_stats?.limit;
  return {
    readAtMs: readAtMs(raw.read),
    containerId: raw.id ?? containerId,
    cpuNs: raw.cpu_stats?.cpu_usage?.total_usage ?? 0,
    systemCpuNs: raw.cpu_stats?.system_cpu_usage ?? 0,
    onlineCpus: raw.cpu_stats?.online_cpus ?? 1,
    memoryBytes: workingSetBytes(raw.memory_stats),
    ...(limit ? { memoryLimitBytes: limit } : {}),
    networkRxBytes: networks.reduce((sum, net) => sum + (net.rx_bytes ?? 0), 0),
    networkTxBytes: networks.reduce((sum, net) => sum + (net.tx_bytes ?? 0), 0),
    ...(raw.networks === undefined && readAtMs(raw.read) !== undefined ? { hostNetwork: true } : {}),
    blockReadBytes: blockBytes('read'),
    blockWriteBytes: blockBytes('write'),
  };
}

/**
 * The engine's stats stream for one container (`GET /containers/{id}/stats?stream=1`: one
 * request held open, newline-delimited JSON about every second), over whichever connection
 * the client has (this machine's engine, or a remote one forwarded over SSH).
 */
export async function containerStatsStream(
  docker: Docker,
  containerId: string,
  onReading: (reading: NodeReading) => void,
  onEnd?: (error?: unknown) => void,
): Promise<ReadingStream> {
  const stream = (await docker
    .getContainer(containerId)
    .stats({ stream: true })) as unknown as NodeJS.ReadableStream & {
    destroy(): void;
  };
  let pending = '';
  let closed = false;
  const end = (error?: unknown) => {
    if (closed) return;
    closed = true;
    onEnd?.(error);
  };
  stream.on('data', (chunk: Buffer | string) => {
    pending += chunk.toString();
    for (let at = pending.indexOf('\n'); at >= 0; at = pending.indexOf('\n')) {
      const line = pending.slice(0, at).trim();
      pending = pending.slice(at + 1);
      if (line === '') continue;
      try {
        onReading(readingFromEngine(JSON.parse(line) as EngineStats, containerId));
      } catch {
        // a line that is not JSON (a proxy's error page) is skipped; the stream's end says the rest
      }
    }
  });
  stream.on('error', (error: unknown) => end(error));
  stream.on('end', () => end());
  stream.on('close', () => end());
  return {
    close: () => {
      closed = true;
      stream.destroy();
    },
  };
}

/** CPU percent (of one core = 100) and working-set memory, as `docker stats` computes them. */
export function statsFromEngine(nodeId: string, raw: EngineStats): NodeStats {
  const cpuDelta =
    (raw.cpu_stats?.cpu_usage?.total_usage ?? 0) - (raw.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (raw.cpu_stats?.system_cpu_usage ?? 0) - (raw.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = raw.cpu_stats?.online_cpus ?? 1;
  const cpuPercent = cpuDelta > 0 && systemDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
  const networks = Object.values(raw.networks ?? {});
  return {
    nodeId,
    cpuPercent: Math.round(cpuPercent * 100) / 100,
    memoryBytes: workingSetBytes(raw.memory_stats),
    ...(raw.memory_stats?.limit ? { memoryLimitBytes: raw.memory_stats.limit } : {}),
    networkRxBytes: networks.reduce((sum, net) => sum + (net.rx_bytes ?? 0), 0),
    networkTxBytes: networks.reduce((sum, net) => sum + (net.tx_bytes ?? 0), 0),
  };
}

/** One sample (the engine waits for a second reading, so the CPU delta covers about a second). */
export async function containerStats(
  docker: Docker,
  containerId: string,
  nodeId: string,
): Promise<NodeStats> {
  const raw = (await docker.getContainer(containerId).stats({ stream: false })) as unknown as EngineStats;
  return statsFromEngine(nodeId, raw);
}
