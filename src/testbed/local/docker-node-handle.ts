/** NodeHandle for a node that is a container on this machine's engine (dockerode). */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { ExecResult } from '../../common/exec-result.js';
import type { Endpoint, NodeHandle, NodeStats } from '../testbed.js';
import { containerLogs } from './container-logs.js';

interface EngineStats {
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

export class DockerNodeHandle implements NodeHandle {
  readonly nodeId: string;
  readonly endpoint: Endpoint;
  readonly containerId: string;
  readonly service: string;
  readonly #docker: Docker;

  constructor(docker: Docker, nodeId: string, service: string, containerId: string, endpoint: Endpoint) {
    this.#docker = docker;
    this.nodeId = nodeId;
    this.service = service;
    this.containerId = containerId;
    this.endpoint = endpoint;
  }

  get #container() {
    return this.#docker.getContainer(this.containerId);
  }

  async kill(signal = 'SIGKILL'): Promise<void> {
    await this.#container.kill({ signal });
  }

  async stop(timeoutSeconds = 10): Promise<void> {
    try {
      await this.#container.stop({ t: timeoutSeconds });
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 304) throw error; // already stopped
    }
  }

  async start(): Promise<void> {
    try {
      await this.#container.start();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 304) throw error; // already running
    }
  }

  async restart(): Promise<void> {
    await this.#container.restart({ t: 10 });
  }

  async pause(): Promise<void> {
    await this.#container.pause();
  }

  async unpause(): Promise<void> {
    await this.#container.unpause();
  }

  async exec(command: readonly string[]): Promise<ExecResult> {
    const exec = await this.#container.exec({ Cmd: [...command], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => out.push(chunk));
    stderr.on('data', (chunk: Buffer) => err.push(chunk));
    this.#docker.modem.demuxStream(stream, stdout, stderr);
    await new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    const info = await exec.inspect();
    return {
      exitCode: info.ExitCode ?? -1,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    };
  }

  logs(options: { tailLines?: number } = {}): Promise<string> {
    return containerLogs(this.#docker, this.containerId, options.tailLines);
  }

  async stats(): Promise<NodeStats> {
    const raw = (await this.#container.stats({ stream: false })) as unknown as EngineStats;
    return statsFromEngine(this.nodeId, raw);
  }

  /** State as the engine sees it: running, exited, paused… and the exit code. */
  async state(): Promise<{ status: string; exitCode: number; health: string | undefined }> {
    const info = await this.#container.inspect();
    return { status: info.State.Status, exitCode: info.State.ExitCode, health: info.State.Health?.Status };
  }
}
