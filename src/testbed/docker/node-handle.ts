/**
 * The NodeHandle of a node that is a container, on this machine's engine or a remote one:
 * one implementation over the Docker client, whichever connection it has.
 */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { ExecResult } from '../../common/exec-result.js';
import type {
  Endpoint,
  NodeHandle,
  NodeReading,
  NodeStats,
  ReadingStream,
  Sidecar,
  SidecarSpec,
} from '../testbed.js';
import { startAttachedContainer } from './attached-container.js';
import { statusOf } from './connection.js';
import { containerLogs } from './logs.js';
import { containerStats, containerStatsStream } from './stats.js';

export { statsFromEngine, type EngineStats } from './stats.js';

/** Turns a failed engine call into the error the user sees (e.g. naming the remote host). */
export type FailureReporter = (what: string, error: unknown) => unknown;

export interface ContainerNodeInit {
  readonly docker: Docker;
  readonly nodeId: string;
  readonly endpoint: Endpoint;
  /** The node as a sidecar in its namespace reaches it, when not `endpoint` (NodeHandle.sidecarEndpoint). */
  readonly sidecarEndpoint?: Endpoint;
  /** The container's ID (or name). */
  readonly containerId: string;
  /** The compose service (local nodes). */
  readonly service?: string;
  /** Default: the engine's error as it is. */
  readonly onFailure?: FailureReporter;
  /** The labels a sidecar gets, so the testbed's cleanup finds it with the run (default: none: no sidecars). */
  readonly sidecarLabels?: Readonly<Record<string, string>>;
  /** Where the node runs, for messages: `local` or the host's name (default `local`). */
  readonly host?: string;
  /** NodeHandle.onThisMachinesNetwork. */
  readonly onThisMachinesNetwork?: boolean;
}

/** The label a sidecar carries with its node's ID. */
export const SIDECAR_OF_LABEL = 'meshbench.sidecar-of';

export class ContainerNodeHandle implements NodeHandle {
  readonly nodeId: string;
  readonly endpoint: Endpoint;
  readonly sidecarEndpoint?: Endpoint;
  readonly containerId: string;
  readonly service: string;
  readonly onThisMachinesNetwork?: boolean;
  readonly #docker: Docker;
  readonly #onFailure: FailureReporter;
  readonly #sidecarLabels: Readonly<Record<string, string>> | undefined;
  readonly #host: string;

  constructor(init: ContainerNodeInit) {
    this.#docker = init.docker;
    this.nodeId = init.nodeId;
    this.service = init.service ?? init.nodeId;
    this.containerId = init.containerId;
    this.endpoint = init.endpoint;
    if (init.sidecarEndpoint) this.sidecarEndpoint = init.sidecarEndpoint;
    if (init.onThisMachinesNetwork) this.onThisMachinesNetwork = true;
    this.#onFailure = init.onFailure ?? ((_what, error) => error);
    this.#sidecarLabels = init.sidecarLabels;
    this.#host = init.host ?? 'local';
  }

  get #container() {
    return this.#docker.getContainer(this.containerId);
  }

  /** Runs one engine call; `alreadyOk` statuses (304: already stopped/started) count as done. */
  async #call<T>(
    what: string,
    call: () => Promise<T>,
    alreadyOk: readonly number[] = [],
  ): Promise<T | undefined> {
    try {
      return await call();
    } catch (error) {
      const status = statusOf(error);
      if (status !== undefined && alreadyOk.includes(status)) return undefined;
      throw this.#onFailure(`${what} ${this.nodeId}`, error);
    }
  }

  async kill(signal = 'SIGKILL'): Promise<void> {
    await this.#call('kill', () => this.#container.kill({ signal }));
  }

  async stop(timeoutSeconds = 10): Promise<void> {
    await this.#call('stop', () => this.#container.stop({ t: timeoutSeconds }), [304]);
  }

  async start(): Promise<void> {
    await this.#call('start', () => this.#container.start(), [304]);
  }

  async restart(): Promise<void> {
    await this.#call('restart', () => this.#container.restart({ t: 10 }));
  }

  async pause(): Promise<void> {
    await this.#call('pause', () => this.#container.pause());
  }

  async unpause(): Promise<void> {
    await this.#call('unpause', () => this.#container.unpause());
  }

  async exec(command: readonly string[]): Promise<ExecResult> {
    const result = await this.#call('exec in', () => execIn(this.#docker, this.containerId, command));
    return result!;
  }

  /**
   * A helper container in this node's network namespace (`--network container:<id>`), with
   * the run's labels. Its main process gets stdin from an attach this process holds open:
   * when the attach ends (close(), or this process dies and its connection with it) the
   * helper's stdin closes, it undoes what it did and exits, and the engine removes it.
   */
  async sidecar(spec: SidecarSpec): Promise<Sidecar> {
    const labels = this.#sidecarLabels;
    if (!labels) throw new Error(`node ${this.nodeId} takes no sidecars`);
    return startAttachedContainer({
      docker: this.#docker,
      spec,
      labels: { ...labels, [SIDECAR_OF_LABEL]: this.nodeId },
      networkMode: `container:${this.containerId}`,
      host: this.#host,
      call: async (what, call) => (await this.#call(`${what} for`, call))!,
      exec: (containerId, command) => execIn(this.#docker, containerId, command),
    });
  }

  async logs(options: { tailLines?: number } = {}): Promise<string> {
    return (await this.#call('logs of', () =>
      containerLogs(this.#docker, this.containerId, options.tailLines),
    ))!;
  }

  async stats(): Promise<NodeStats> {
    return (await this.#call('stats of', () => containerStats(this.#docker, this.containerId, this.nodeId)))!;
  }

  async statsStream(
    onReading: (reading: NodeReading) => void,
    onEnd?: (error?: unknown) => void,
  ): Promise<ReadingStream> {
    return (await this.#call('stats of', () =>
      containerStatsStream(this.#docker, this.containerId, onReading, onEnd),
    ))!;
  }

  /** State as the engine sees it: running, exited, paused… and the exit code. */
  async state(): Promise<{ status: string; exitCode: number; health: string | undefined }> {
    const info = (await this.#call('inspect', () => this.#container.inspect()))!;
    return { status: info.State.Status, exitCode: info.State.ExitCode, health: info.State.Health?.Status };
  }
}

/** Runs a command in a container and collects its output and exit code. */
export async function execIn(
  docker: Docker,
  containerId: string,
  command: readonly string[],
): Promise<ExecResult> {
  const exec = await docker
    .getContainer(containerId)
    .exec({ Cmd: [...command], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  docker.modem.demuxStream(stream, stdout, stderr);
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
