/**
 * The NodeHandle of a node that is a container, on this machine's engine or a remote one:
 * one implementation over the Docker client, whichever connection it has.
 */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { Endpoint, NodeHandle, NodeStats } from '../testbed.js';
import { statusOf } from './connection.js';
import { containerLogs } from './logs.js';
import { containerStats } from './stats.js';

export { statsFromEngine, type EngineStats } from './stats.js';

/** Turns a failed engine call into the error the user sees (e.g. naming the remote host). */
export type FailureReporter = (what: string, error: unknown) => unknown;

export interface ContainerNodeInit {
  readonly docker: Docker;
  readonly nodeId: string;
  readonly endpoint: Endpoint;
  /** The container's ID (or name). */
  readonly containerId: string;
  /** The compose service (local nodes). */
  readonly service?: string;
  /** Default: the engine's error as it is. */
  readonly onFailure?: FailureReporter;
}

export class ContainerNodeHandle implements NodeHandle {
  readonly nodeId: string;
  readonly endpoint: Endpoint;
  readonly containerId: string;
  readonly service: string;
  readonly #docker: Docker;
  readonly #onFailure: FailureReporter;

  constructor(init: ContainerNodeInit) {
    this.#docker = init.docker;
    this.nodeId = init.nodeId;
    this.service = init.service ?? init.nodeId;
    this.containerId = init.containerId;
    this.endpoint = init.endpoint;
    this.#onFailure = init.onFailure ?? ((_what, error) => error);
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

  async exec(command: readonly string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const result = await this.#call('exec in', async () => {
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
    });
    return result!;
  }

  async logs(options: { tailLines?: number } = {}): Promise<string> {
    return (await this.#call('logs of', () =>
      containerLogs(this.#docker, this.containerId, options.tailLines),
    ))!;
  }

  async stats(): Promise<NodeStats> {
    return (await this.#call('stats of', () => containerStats(this.#docker, this.containerId, this.nodeId)))!;
  }

  /** State as the engine sees it: running, exited, paused… and the exit code. */
  async state(): Promise<{ status: string; exitCode: number; health: string | undefined }> {
    const info = (await this.#call('inspect', () => this.#container.inspect()))!;
    return { status: info.State.Status, exitCode: info.State.ExitCode, health: info.State.Health?.Status };
  }
}
