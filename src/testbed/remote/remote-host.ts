/**
 * What meshbench needs on one remote host: who we are (root, sudo, docker group), Docker
 * installed and answering, and the Docker client (../docker/connection.ts) over this host's
 * SSH connection:
 *  - `api`: the engine's socket forwarded over the connection (OpenSSH streamlocal): sshd
 *    opens /var/run/docker.sock as the logged-in user, so this works exactly when that user
 *    may use Docker (root or the docker group); nothing is started on the host;
 *  - `ssh`: the fallback for users who may use Docker only through sudo (or where sshd
 *    forbids forwarding): the same client over the stdio of `[sudo -n] docker system
 *    dial-stdio`, one short process per request.
 * Installing Docker and streaming an image in (`docker load`) run as commands over SSH.
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { RemoteHost } from './hosts.js';
import { MeshbenchError } from '../../common/errors.js';
import type { ExecResult } from '../../common/exec-result.js';
import { sleep } from '../../common/sleep.js';
import { describeHost, lastLine, remoteCommandError, type SshSession } from './ssh-session.js';
import { shellCommand, shellPipeline, shellScript } from './shell-quote.js';
import { engineMessage, releaseDocker, statusOf, streamDocker } from '../docker/connection.js';
import { runContainer, type ContainerSpec } from '../docker/container-spec.js';
import { containerIds } from '../docker/cleanup.js';

export const DOCKER_SOCKET = '/var/run/docker.sock';

export interface DockerReport {
  /** True when this call installed Docker. */
  readonly installed: boolean;
  /** True when this call started the daemon. */
  readonly started: boolean;
  readonly serverVersion: string;
  readonly os: string;
  /** `api`: the engine's socket over the SSH connection; `ssh`: `[sudo] docker system dial-stdio` over SSH (sudo-only users, fresh installs). */
  readonly access: 'api' | 'ssh';
  readonly durationMs: number;
}

const DOCKER_WAIT_MS = 60_000;

export function parseOsRelease(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) result[match[1]!] = match[2]!.replace(/^"(.*)"$/, '$1');
  }
  return result;
}

/** Prints `key=value` facts, then the os-release file. Constant text: no value is pasted in. */
const PROBE_SCRIPT = [
  'echo "uid=$(id -u)"',
  'if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then echo sudo=1; fi',
  'if command -v docker >/dev/null 2>&1; then v=$(timeout 20 docker version --format "{{.Server.Version}}" 2>/dev/null) && [ -n "$v" ] && echo "docker=$v"; fi',
  'echo --os-release--',
  'cat /etc/os-release 2>/dev/null',
  'exit 0',
].join('\n');

export class RemoteHostAgent {
  private sudo: readonly string[] = [];
  private dockerPrefix: readonly string[] = [];
  private root = false;
  private canSudo = false;
  private client: Docker | undefined;
  private clientAccess: 'api' | 'ssh' | undefined;

  constructor(readonly session: SshSession) {}

  /** Whether the client reaches the engine's socket directly (no process on the host per call). */
  get usesApi(): boolean {
    return this.clientAccess === 'api';
  }

  /** How the Docker client reaches this host's engine (after ensureDocker / ensureDockerQuiet). */
  get access(): 'api' | 'ssh' | undefined {
    return this.clientAccess;
  }

  /** The Docker client for this host's engine; ensureDocker (or ensureDockerQuiet) first. */
  get docker(): Docker {
    if (!this.client)
      throw new MeshbenchError('INTERNAL', `${describeHost(this.host)}: Docker not checked yet`);
    return this.client;
  }

  /** A failed engine call as the user sees it: one line naming the host, the step and the engine's words. */
  failure(what: string, error: unknown): MeshbenchError {
    if (error instanceof MeshbenchError) return error;
    if ((error as { name?: string }).name === 'AbortError')
      return new MeshbenchError('INTERRUPTED', `${describeHost(this.host)}: interrupted`, { cause: error });
    return new MeshbenchError(
      'REMOTE_COMMAND',
      `${describeHost(this.host)}: ${what} failed: ${engineMessage(error)}`,
      {
        hint: 'fix the cause on that host and re-run',
        cause: error,
      },
    );
  }

  /**
   * Asks the engine for its version and OS through the forwarded socket. Succeeds exactly when
   * this user may use Docker and the daemon answers; any failure (no socket, permission denied,
   * forwarding disabled by sshd, an old daemon) leaves the command route in charge.
   */
  private async tryApi(signal?: AbortSignal): Promise<{ serverVersion: string; os: string } | undefined> {
    const docker = await streamDocker(() => this.session.openUnixSocket(DOCKER_SOCKET), {
      name: `engine of ${this.host.name}`,
    });
    const timeout = AbortSignal.timeout(20_000);
    try {
      const info = (await docker.info({
        abortSignal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      } as never)) as unknown as { ServerVersion?: unknown; OperatingSystem?: unknown };
      if (typeof info.ServerVersion !== 'string' || info.ServerVersion === '') return undefined;
      this.useClient(docker, 'api');
      return {
        serverVersion: info.ServerVersion,
        os: typeof info.OperatingSystem === 'string' ? info.OperatingSystem : 'unknown OS',
      };
    } catch (error) {
      if (signal?.aborted) throw new MeshbenchError('INTERRUPTED', `${describeHost(this.host)}: interrupted`);
      void error;
      return undefined;
    }
  }

  private useClient(docker: Docker, access: 'api' | 'ssh'): void {
    if (this.client && this.client !== docker) releaseDocker(this.client);
    this.client = docker;
    this.clientAccess = access;
  }

  /** The client over `[sudo -n] docker system dial-stdio`, once docker answers with that prefix. */
  private async useDialStdio(): Promise<void> {
    const argv = [...this.dockerPrefix, 'docker', 'system', 'dial-stdio'];
    const docker = await streamDocker(() => this.session.openCommandStream(argv), {
      name: `engine of ${this.host.name} (dial-stdio)`,
    });
    try {
      await docker.ping({ abortSignal: AbortSignal.timeout(20_000) } as never);
    } catch (error) {
      throw new MeshbenchError(
        'DOCKER_UNAVAILABLE',
        `${describeHost(this.host)}: the Docker API does not answer through ${argv.join(' ')}: ${engineMessage(error)}`,
        {
          hint: 'use Docker 18.09 or later there, or let this user open /var/run/docker.sock (docker group)',
          cause: error,
        },
      );
    }
    this.useClient(docker, 'ssh');
  }

  /** Whether the host has exactly this image ID. */
  async hasImage(imageId: string): Promise<boolean> {
    try {
      const info = await this.docker.getImage(imageId).inspect();
      return info.Id === imageId;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw this.failure(`inspecting image ${imageId.slice(0, 19)}`, error);
    }
  }

  /** `docker run -d` of a spec, through the client. */
  async runContainer(spec: ContainerSpec, what: string, signal?: AbortSignal): Promise<void> {
    try {
      await runContainer(this.docker, spec, signal);
    } catch (error) {
      throw this.failure(what, error);
    }
  }

  /** IDs of containers with all these labels (`key=value`), optionally in one status. */
  async containerIds(labels: readonly string[], status?: string): Promise<string[]> {
    try {
      return await containerIds(this.docker, [labels], status ? { status } : {});
    } catch (error) {
      throw this.failure('listing containers', error);
    }
  }

  /** Lets go of the client and closes the SSH connection. */
  close(): void {
    if (this.client) releaseDocker(this.client);
    this.session.close();
  }

  get host(): RemoteHost {
    return this.session.host;
  }

  /** Runs the docker command with the right prefix (nothing, or `sudo -n`): image load and pull. */
  dockerCommand(
    args: readonly string[],
    options: { stdin?: Readable; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    return this.session.exec([...this.dockerPrefix, 'docker', ...args], options);
  }

  async dockerCommandOk(
    args: readonly string[],
    what: string,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<string> {
    const result = await this.dockerCommand(args, options);
    if (result.exitCode !== 0) throw remoteCommandError(this.host, what, result);
    return result.stdout;
  }

  /** A command line `… | docker ARGS` with the sudo prefix, for streaming stdin in. */
  dockerPipeline(before: readonly (readonly string[])[], args: readonly string[]): string {
    return shellPipeline([...before, [...this.dockerPrefix, 'docker', ...args]]);
  }

  /**
   * One round trip for the facts: uid, sudo, whether docker answers this user, the OS.
   * (Each SSH exec costs a channel and a process on the host; deploy time to many hosts
   * on a small machine is made of these.)
   */
  private async probe(
    signal?: AbortSignal,
  ): Promise<{ os: Record<string, string>; userDockerVersion?: string }> {
    const result = await this.session.execLine(shellScript(PROBE_SCRIPT), {
      timeoutMs: 30_000,
      ...(signal ? { signal } : {}),
    });
    const facts: Record<string, string> = {};
    let section = 'facts';
    let osText = '';
    for (const line of result.stdout.split('\n')) {
      if (line === '--os-release--') {
        section = 'os';
        continue;
      }
      if (section === 'os') osText += `${line}\n`;
      else {
        const index = line.indexOf('=');
        if (index > 0) facts[line.slice(0, index)] = line.slice(index + 1);
      }
    }
    if (facts.uid === undefined)
      throw remoteCommandError(this.host, 'probing the host (id, sudo, docker, os-release)', result);
    this.root = facts.uid === '0';
    this.canSudo = this.root || facts.sudo === '1';
    this.sudo = this.root ? [] : ['sudo', '-n'];
    return { os: parseOsRelease(osText), ...(facts.docker ? { userDockerVersion: facts.docker } : {}) };
  }

  private async dockerAnswers(prefix: readonly string[]): Promise<string | undefined> {
    const result = await this.session.exec(
      [...prefix, 'docker', 'version', '--format', '{{.Server.Version}}'],
      { timeoutMs: 20_000 },
    );
    return result.exitCode === 0 && result.stdout.trim() !== '' ? result.stdout.trim() : undefined;
  }

  private noSudo(what: string): MeshbenchError {
    return new MeshbenchError(
      'NO_SUDO',
      `${describeHost(this.host)}: ${what}, and user ${this.host.user} is not root and cannot use sudo without a password`,
      {
        hint: `log in as root, allow ${this.host.user} password-less sudo (NOPASSWD), or install Docker there and add ${this.host.user} to the docker group`,
      },
    );
  }

  /** Makes sure Docker is installed and its daemon answers, and sets up the client; idempotent. */
  async ensureDocker(
    options: { signal?: AbortSignal; log?: (line: string) => void } = {},
  ): Promise<DockerReport> {
    const report = await this.ensureDockerCommand(options);
    if (report.access === 'ssh') await this.useDialStdio();
    return report;
  }

  private async ensureDockerCommand(
    options: { signal?: AbortSignal; log?: (line: string) => void } = {},
  ): Promise<DockerReport> {
    const started = Date.now();
    // 0. The engine's API over this connection: one channel, nothing spawned on the host.
    const viaApi = await this.tryApi(options.signal);
    if (viaApi)
      return { installed: false, started: false, ...viaApi, access: 'api', durationMs: Date.now() - started };
    const probed = await this.probe(options.signal);
    const os = probed.os;
    const osName = os.PRETTY_NAME ?? os.ID ?? 'unknown OS';

    // 1. Already usable as this user (root, or in the docker group)?
    let version = probed.userDockerVersion;
    const present = (serverVersion: string): DockerReport => ({
      installed: false,
      started: false,
      serverVersion,
      os: osName,
      access: 'ssh',
      durationMs: Date.now() - started,
    });
    if (version) {
      this.dockerPrefix = [];
      return present(version);
    }
    if (!this.root && !this.canSudo) {
      const hasCli = (await this.session.exec(['sh', '-c', 'command -v docker'])).exitCode === 0;
      throw this.noSudo(hasCli ? 'Docker does not answer for this user' : 'Docker is missing');
    }
    this.dockerPrefix = this.sudo;
    version = await this.dockerAnswers(this.sudo);
    if (version) return present(version);

    // 2. Installed at all?
    let installed = false;
    const hasDockerd =
      (await this.session.exec(['sh', '-c', 'command -v dockerd && command -v docker'])).exitCode === 0;
    if (!hasDockerd) {
      const family = `${os.ID ?? ''} ${os.ID_LIKE ?? ''}`;
      if (!/\b(debian|ubuntu)\b/.test(family)) {
        throw new MeshbenchError(
          'REMOTE_COMMAND',
          `${describeHost(this.host)}: Docker is missing and meshbench installs it only on Debian/Ubuntu (this host runs ${osName})`,
          {
            hint: 'install Docker there (https://docs.docker.com/engine/install/) and re-run',
          },
        );
      }
      options.log?.(`installing docker.io with apt on ${osName}`);
      const aptEnv = ['env', 'DEBIAN_FRONTEND=noninteractive'];
      const lock = ['-o', 'DPkg::Lock::Timeout=120'];
      const update = await this.session.exec([...this.sudo, ...aptEnv, 'apt-get', ...lock, 'update', '-qq'], {
        timeoutMs: 300_000,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (update.exitCode !== 0) throw this.aptError('apt-get update', update);
      const install = await this.session.exec(
        [
          ...this.sudo,
          ...aptEnv,
          'apt-get',
          ...lock,
          'install',
          '-y',
          '-qq',
          '--no-install-recommends',
          'docker.io',
        ],
        { timeoutMs: 600_000, ...(options.signal ? { signal: options.signal } : {}) },
      );
      if (install.exitCode !== 0) throw this.aptError('apt-get install docker.io', install);
      installed = true;
    }

    // 3. Start the daemon: systemd, then the init script, then dockerd in the background.
    version = await this.dockerAnswers(this.sudo);
    let startedDaemon = false;
    if (!version) {
      startedDaemon = true;
      await this.session.exec(
        [
          ...this.sudo,
          ...[
            'sh',
            '-c',
            'if [ -d /run/systemd/system ]; then systemctl enable --now docker; elif [ -x /etc/init.d/docker ]; then service docker start; fi',
          ],
        ],
        { timeoutMs: 60_000 },
      );
      version = await this.waitForDocker(5_000);
      if (!version) {
        await this.session.execLine(
          shellCommand([
            ...this.sudo,
            'sh',
            '-c',
            'pgrep -x dockerd >/dev/null || (setsid nohup dockerd >/var/log/meshbench-dockerd.log 2>&1 </dev/null &)',
          ]),
          { timeoutMs: 30_000 },
        );
        version = await this.waitForDocker(DOCKER_WAIT_MS);
      }
    }
    if (!version) {
      const log = await this.session.exec([
        ...this.sudo,
        'tail',
        '-n',
        '5',
        '/var/log/meshbench-dockerd.log',
      ]);
      throw new MeshbenchError(
        'DOCKER_UNAVAILABLE',
        `${describeHost(this.host)}: the Docker daemon does not answer after ${installed ? 'installing and ' : ''}starting it: ${lastLine(log.stdout) || 'no log'}`,
        {
          hint: 'start Docker on that host (systemctl start docker) and check its log',
        },
      );
    }
    return {
      installed,
      started: startedDaemon,
      serverVersion: version,
      os: osName,
      access: 'ssh',
      durationMs: Date.now() - started,
    };
  }

  private async waitForDocker(timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const version = await this.dockerAnswers(this.sudo);
      if (version || Date.now() > deadline) return version;
      await sleep(500);
    }
  }

  private aptError(what: string, result: ExecResult): MeshbenchError {
    const detail = lastLine(result.stderr) || lastLine(result.stdout);
    return new MeshbenchError('REMOTE_COMMAND', `${describeHost(this.host)}: ${what} failed: ${detail}`, {
      hint: 'make apt work on that host (package sources, network, disk space) or install Docker there yourself',
    });
  }

  /**
   * For status/logs/down: set up the client without installing anything. Once it is set up,
   * there is nothing more to do (`--down` reads the swarm state, then removes: one probe).
   */
  async ensureDockerQuiet(): Promise<void> {
    if (this.client) return;
    if (await this.tryApi()) return;
    if ((await this.probe()).userDockerVersion) {
      this.dockerPrefix = [];
      await this.useDialStdio();
      return;
    }
    if (!this.root && !this.canSudo) throw this.noSudo('Docker does not answer for this user');
    this.dockerPrefix = this.sudo;
    if (!(await this.dockerAnswers(this.sudo))) {
      throw new MeshbenchError('DOCKER_UNAVAILABLE', `${describeHost(this.host)}: Docker does not answer`, {
        hint: 'start Docker on that host (systemctl start docker)',
      });
    }
    await this.useDialStdio();
  }
}
