/** Node stats from the engine's own counters, computed one way for every node, local or remote. */
import type Docker from 'dockerode';
import type { NodeStats } from '../testbed.js';

/** The part of GET /containers/{id}/stats that the figures need. */
export interface EngineStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
}

/** CPU percent (of one core = 100) and working-set memory, as `docker stats` computes them. */
export function statsFromEngine(nodeId: string, raw: EngineStats): NodeStats {
  const cpuDelta =
    (raw.cpu_stats?.cpu_usage?.total_usage ?? 0) - (raw.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (raw.cpu_stats?.system_cpu_usage ?? 0) - (raw.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = raw.cpu_stats?.online_cpus ?? 1;
  const cpuPercent = cpuDelta > 0 && systemDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
  const stats = raw.memory_stats?.stats ?? {};
  // cgroup v2 reports inactive_file, v1 total_inactive_file; docker stats subtracts it.
  const inactive = stats.inactive_file ?? stats.total_inactive_file ?? 0;
  const usage = raw.memory_stats?.usage ?? 0;
  const networks = Object.values(raw.networks ?? {});
  return {
    nodeId,
    cpuPercent: Math.round(cpuPercent * 100) / 100,
    memoryBytes: Math.max(0, usage - (inactive < usage ? inactive : 0)),
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
