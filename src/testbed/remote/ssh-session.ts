/**
 * One SSH connection to one host (ssh2): key file, ssh-agent and a key
 * passphrase from the environment; host keys checked against known_hosts;
 * a connect budget (SSH_TIMEOUT) spent on retries with backoff; commands run
 * from argv arrays through the quoting helper.
 */
import { readFile } from 'node:fs/promises';
import type { Duplex, Readable } from 'node:stream';
import type * as Ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import type { RemoteHost } from './hosts.js';
import { MeshbenchError } from '../../common/errors.js';
import { lazyCommonJs } from '../../common/lazy-module.js';
import type { ExecResult } from '../../common/exec-result.js';
import { sleep } from '../../common/sleep.js';
import { durationText } from '../../common/duration-text.js';
import { trace, tracing } from '../../common/trace.js';
import {
  algorithmsForKeyType,
  knownHostsName,
  type KnownHostsFile,
  type StrictHostKeyChecking,
} from './known-hosts.js';
import { shellCommand } from './shell-quote.js';

type Client = Ssh2.Client;

/**
 * ssh2, loaded on the first connection: a run with no SSH host never loads it (it takes
 * ~150 ms to load here, which every `benchmark` paid at start-up: issue 31). ssh2 is CommonJS
 * (src/common/lazy-module.ts).
 */
const ssh2 = lazyCommonJs(() => import('ssh2'));

export const PASSPHRASE_VARIABLE = 'MESHBENCH_SSH_KEY_PASSPHRASE';

const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);

export type { ExecResult } from '../../common/exec-result.js';

export interface SshConnectOptions {
  readonly host: RemoteHost;
  /** Total budget for connecting, retries included. */
  readonly timeoutMs: number;
  readonly knownHosts: KnownHostsFile;
  readonly strictHostKeyChecking: StrictHostKeyChecking;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  readonly onRetry?: (attempt: number, reason: string, delayMs: number) => void;
  /**
   * Opens the stream the SSH connection runs over, instead of a TCP connection to the host:
   * a channel through a jump host (jump.ts). Called once per attempt.
   */
  readonly openSocket?: () => Promise<Duplex>;
}

/** A failure to open the stream through a jump host: retried like a refused connection. */
export class JumpChannelError extends Error {
  readonly code = 'EJUMPCHANNEL';
  readonly level: string | undefined = undefined;
}

/** `host0 (10.0.0.1:22)`: how every message names a host. */
export function describeHost(host: RemoteHost): string {
  return `${host.name} (${host.user}@${host.address}:${host.port})`;
}

const MAX_CAPTURE_BYTES = 4 * 1024 * 1024;

/**
 * Longest wait for the SSH server to answer a channel open (a command, a Unix socket, a TCP
 * forward). An answer is one round trip; without a bound, a channel the server never answered
 * held its caller for good, and a Ctrl-C could not end it (CI: a remote start-up stopped only
 * by the forced exit, 120 s after Ctrl-C).
 */
export const CHANNEL_OPEN_TIMEOUT_MS = 20_000;

/** How long a stopped command's channel may take to close before its result stops waiting. */
export const CLOSE_GRACE_MS = 2_000;

export interface ExecOptions {
  /** Piped to the command's stdin (ended when it ends). */
  readonly stdin?: Readable;
  readonly signal?: AbortSignal;
  /** Stopped after this long: exit 124. */
  readonly timeoutMs?: number;
  /**
   * With `stdin`: stopped when, before its input has all gone, it takes none of it and prints
   * nothing for this long (exit 124, saying so): what it feeds stopped answering.
   */
  readonly inputIdleMs?: number;
  /**
   * With `stdin`: stopped when it has not ended this long after its input has all gone (exit 124,
   * saying so): `docker load` waits for its engine to unpack what it took, and an engine that
   * stopped answering then kept it waiting for good.
   */
  readonly afterInputMs?: number;
}

/** Why a command was stopped other than by a Ctrl-C: its timeout, its starved input, no end after its input. */
type StopReason = 'timeout' | 'input' | 'after-input';

function capture(chunks: Buffer[], state: { bytes: number }, chunk: Buffer): void {
  state.bytes += chunk.length;
  chunks.push(chunk);
  // keep the tail: errors are at the end
  while (state.bytes > MAX_CAPTURE_BYTES && chunks.length > 1) state.bytes -= chunks.shift()!.length;
}

export class SshSession {
  private closed = false;
  private readonly closeListeners = new Set<() => void>();

  constructor(
    readonly host: RemoteHost,
    private readonly client: Client,
    private readonly channelOpenTimeoutMs = CHANNEL_OPEN_TIMEOUT_MS,
  ) {
    client.on('close', () => this.markClosed());
  }

  /**
   * Opens a channel through `start` (an ssh2 call taking its callback): fails when the server
   * has not answered within the channel-open timeout, when `signal` aborts (INTERRUPTED) or when
   * the connection closes first; a channel that opens after that is closed at once.
   */
  private openChannel<T extends { close(): unknown }>(
    what: string,
    start: (done: (error: Error | undefined, channel: T) => void) => void,
    signal?: AbortSignal,
    fail: (message: string) => Error = (message) =>
      new MeshbenchError('SSH_CONNECT', `${describeHost(this.host)}: ${message}`, {
        hint: 'check the host (its load, its sshd) and re-run',
      }),
  ): Promise<T> {
    if (this.closed) return Promise.reject(fail('the SSH connection closed'));
    if (signal?.aborted)
      return Promise.reject(new MeshbenchError('INTERRUPTED', `${describeHost(this.host)}: interrupted`));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let forget = (): unknown => undefined;
      const settle = (error: Error | undefined, channel?: T) => {
        if (settled) {
          channel?.close();
          return;
        }
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        forget();
        if (error) reject(error);
        else resolve(channel as T);
      };
      const onAbort = () =>
        settle(new MeshbenchError('INTERRUPTED', `${describeHost(this.host)}: interrupted`));
      const timer = setTimeout(
        () =>
          settle(
            fail(
              `the SSH server did not open a channel (${what}) within ${this.channelOpenTimeoutMs / 1000} s`,
            ),
          ),
        this.channelOpenTimeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      forget = this.onClose(() => settle(fail('the SSH connection closed')));
      start((error, channel) => settle(error, error ? undefined : channel));
    });
  }

  private markClosed(): void {
    this.closed = true;
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of listeners) listener();
  }

  /** Called once when the connection closes (by `close()` or from the other side). */
  onClose(listener: () => void): () => void {
    if (this.closed) listener();
    else this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs a command line (build it with the quoting helper) and collects its output. */
  async execLine(commandLine: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed)
      throw new MeshbenchError('SSH_CONNECT', `${describeHost(this.host)}: the SSH connection closed`, {
        hint: 'check that the host is up and re-run',
      });
    // Listeners must be attached inside the exec callback, synchronously: a fast command's data,
    // exit status and close can arrive in the same TCP read as the channel confirmation.
    const result = new Promise<ExecResult>((resolve, reject) => {
      this.openChannel<ClientChannel>(
        'a command',
        (done) =>
          this.client.exec(commandLine, (error, channel) => {
            if (!error) this.collect(channel, options, resolve, reject);
            done(error, channel);
          }),
        options.signal,
      ).catch(reject);
    });
    if (!tracing) return result;
    const what = `ssh ${this.host.name}: ${commandLine.length > 80 ? `${commandLine.slice(0, 77)}...` : commandLine}`;
    const started = performance.now();
    trace(`${what}: sent`);
    const ended = (outcome: string) =>
      trace(`${what}: ${outcome} after ${(performance.now() - started).toFixed(0)} ms`);
    result.then(
      (done) => ended(`exit ${done.exitCode}`),
      () => ended('failed'),
    );
    return result;
  }

  private collect(
    channel: ClientChannel,
    options: ExecOptions,
    resolve: (result: ExecResult) => void,
    reject: (error: unknown) => void,
  ): void {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const outState = { bytes: 0 };
    const errState = { bytes: 0 };
    let exitCode: number | undefined;
    let exitSignal: string | undefined;
    /** Why the command was stopped: its timeout, its starved input, or its wait after the input (the first stop's). */
    let stoppedBy: StopReason | undefined;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let closeWait: NodeJS.Timeout | undefined;
    let inputIdle: NodeJS.Timeout | undefined;
    let afterInput: NodeJS.Timeout | undefined;
    /** Settles once: every timer and the abort listener go; false when it settled already. */
    const release = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      clearTimeout(closeWait);
      clearTimeout(inputIdle);
      clearTimeout(afterInput);
      options.signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const fail = (error: unknown) => {
      if (release()) reject(error);
    };
    const finish = () => {
      if (!release()) return;
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (options.signal?.aborted) {
        reject(new MeshbenchError('INTERRUPTED', `${describeHost(this.host)}: interrupted`));
        return;
      }
      if (stoppedBy !== undefined) {
        // what it printed, then why it was stopped
        const why = {
          timeout: `(timed out after ${durationText(options.timeoutMs ?? 0)})`,
          input: `it took none of its input for ${durationText(options.inputIdleMs ?? 0)} (what it feeds no longer answers)`,
          'after-input': `it took all of its input but had not ended ${durationText(options.afterInputMs ?? 0)} later (what it feeds no longer answers)`,
        }[stoppedBy];
        resolve({ exitCode: 124, stdout, stderr: `${stderr}\n${why}` });
        return;
      }
      resolve({ exitCode: exitCode ?? (exitSignal ? 128 : 255), stdout, stderr });
    };
    // Stopped (Ctrl-C, another host's failure, the timeout): ask the command to end and close
    // the channel. sshd answers the close only once the command's output is done, and a command
    // blocked on something that no longer answers (`docker load` into an engine that stopped)
    // never finishes it: the deploy waited on it for good after another host's refusal. So the
    // result does not wait for that answer past CLOSE_GRACE_MS.
    let stopping = false;
    const stop = (reason?: StopReason) => {
      if (stopping) return;
      stopping = true;
      stoppedBy = reason;
      if (options.stdin) {
        options.stdin.unpipe(channel);
        options.stdin.destroy();
      }
      try {
        channel.signal('TERM');
      } catch {
        // the server may not take signals; the close below still ends our side
      }
      channel.close();
      closeWait = setTimeout(finish, CLOSE_GRACE_MS);
    };
    const onAbort = () => stop();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => stop('timeout'), options.timeoutMs);
    }
    // While its input flows, a command that takes none of it and prints nothing for inputIdleMs
    // is stopped: `docker load` fed to an engine that stopped reading waited for good.
    let inputEnded = false;
    const fed = () => {
      if (options.inputIdleMs === undefined || inputEnded || stopping || settled) return;
      clearTimeout(inputIdle);
      inputIdle = setTimeout(() => stop('input'), options.inputIdleMs);
    };
    channel.on('data', (chunk: Buffer) => {
      fed();
      capture(out, outState, chunk);
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      fed();
      capture(err, errState, chunk);
    });
    channel.on('exit', (code: number | null, signal?: string) => {
      exitCode = code ?? undefined;
      if (signal) exitSignal = signal;
    });
    channel.on('error', fail);
    channel.on('close', finish);
    if (options.stdin) {
      options.stdin.on('error', (error) => {
        channel.close();
        fail(error);
      });
      options.stdin.on('data', fed);
      options.stdin.once('end', () => {
        inputEnded = true;
        clearTimeout(inputIdle);
        if (options.afterInputMs !== undefined && !stopping && !settled)
          afterInput = setTimeout(() => stop('after-input'), options.afterInputMs);
      });
      fed();
      options.stdin.pipe(channel);
    } else {
      channel.end();
    }
  }

  /** Runs argv (quoted) and returns the result whatever the exit code. */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.execLine(shellCommand(argv), options);
  }

  /** Runs argv and throws a one-line error naming the host when it fails. */
  async run(
    argv: readonly string[],
    options: { signal?: AbortSignal; timeoutMs?: number; what?: string } = {},
  ): Promise<string> {
    const result = await this.exec(argv, options);
    if (result.exitCode !== 0) throw remoteCommandError(this.host, options.what ?? argv.join(' '), result);
    return result.stdout;
  }

  /**
   * A stream to a Unix socket on the host (OpenSSH streamlocal forwarding, `direct-streamlocal`):
   * sshd connects as the logged-in user; no process is started on the host. Fails when the socket
   * is missing, the user may not open it, or sshd forbids forwarding.
   */
  openUnixSocket(socketPath: string, signal?: AbortSignal): Promise<Duplex> {
    return this.openChannel<ClientChannel>(
      `to ${socketPath}`,
      (done) => this.client.openssh_forwardOutStreamLocal(socketPath, done),
      signal,
    );
  }

  /**
   * A command's stdin/stdout as one stream (its stderr is dropped), e.g. `docker system
   * dial-stdio`, whose stdio is a connection to the engine. The channel closes when either
   * side ends.
   */
  openCommandStream(argv: readonly string[], signal?: AbortSignal): Promise<Duplex> {
    return this.openChannel<ClientChannel>(
      `for ${argv[0] ?? 'a command'}`,
      (done) =>
        this.client.exec(shellCommand(argv), (error, channel) => {
          if (!error) channel.stderr.resume();
          done(error, channel);
        }),
      signal,
    );
  }

  /**
   * A TCP stream from the host to `address:port` (`direct-tcpip`, like `ssh -W` or `-L`): how a
   * jump host reaches the host behind it, and how this machine reaches a node's port on a host
   * it cannot reach directly. No process is started on the host.
   */
  forwardTcp(address: string, port: number): Promise<Duplex> {
    return this.openChannel<ClientChannel>(
      `to ${address}:${port}`,
      (done) =>
        this.client.forwardOut('127.0.0.1', 0, address, port, (error, channel) =>
          done(
            error &&
              new JumpChannelError(
                `${describeHost(this.host)} could not open ${address}:${port}: ${error.message.replace(/^\(SSH\) Channel open failure: /, '')}`,
              ),
            channel,
          ),
        ),
      undefined,
      (message) => new JumpChannelError(`${describeHost(this.host)}: ${message}`),
    );
  }

  close(): void {
    if (!this.closed) this.client.end();
    this.markClosed();
  }
}

export function lastLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return lines.at(-1) ?? '';
}

export function remoteCommandError(host: RemoteHost, what: string, result: ExecResult): MeshbenchError {
  const detail = lastLine(result.stderr) || lastLine(result.stdout) || `exit code ${result.exitCode}`;
  return new MeshbenchError('REMOTE_COMMAND', `${describeHost(host)}: ${what} failed: ${detail}`, {
    hint: 'fix the cause on that host and re-run',
  });
}

interface AuthMaterial {
  privateKey?: Buffer;
  passphrase?: string;
  agent?: string;
}

async function authMaterial(
  host: RemoteHost,
  env: Readonly<Record<string, string | undefined>>,
): Promise<AuthMaterial> {
  const agent = env.SSH_AUTH_SOCK || undefined;
  const passphrase = env[PASSPHRASE_VARIABLE] || undefined;
  let privateKey: Buffer | undefined;
  try {
    privateKey = await readFile(host.keyPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !host.keyPathExplicit && agent) return { agent };
    const problem =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'is not readable'
          : `cannot be read (${code})`;
    throw new MeshbenchError('SSH_KEY_FILE', `${describeHost(host)}: SSH key ${host.keyPath} ${problem}`, {
      hint: `point the host's SSH_KEY at a readable private key${agent ? '' : ' or start an ssh-agent'}`,
      cause: error,
    });
  }
  const { utils } = await ssh2();
  const parsed = utils.parseKey(privateKey, passphrase);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    throw new MeshbenchError(
      'SSH_KEY_FILE',
      `${describeHost(host)}: SSH key ${host.keyPath} ${encrypted ? (passphrase ? 'did not open with the given passphrase' : 'is encrypted') : `is not a private key (${parsed.message})`}`,
      {
        hint: encrypted
          ? `set ${PASSPHRASE_VARIABLE} to its passphrase, or load it into ssh-agent`
          : 'use an OpenSSH or PEM private key file',
      },
    );
  }
  return { privateKey, ...(passphrase ? { passphrase } : {}), ...(agent ? { agent } : {}) };
}

type HostKeyProblem = { kind: 'mismatch' | 'revoked' | 'unknown-strict' | 'append-failed'; detail?: string };

function hostKeyError(host: RemoteHost, problem: HostKeyProblem, knownHostsPath: string): MeshbenchError {
  const name = knownHostsName(host.address, host.port);
  switch (problem.kind) {
    case 'mismatch':
      return new MeshbenchError(
        'SSH_HOST_KEY',
        `${describeHost(host)}: host key differs from the one in ${knownHostsPath} (possible man-in-the-middle, or the host was rebuilt)`,
        {
          hint: `if the change is expected, run ssh-keygen -R '${name}' -f ${knownHostsPath} and re-run`,
        },
      );
    case 'revoked':
      return new MeshbenchError(
        'SSH_HOST_KEY',
        `${describeHost(host)}: host key is marked @revoked in ${knownHostsPath}`,
        {
          hint: 'give the host a new host key, or remove the @revoked line if it is wrong',
        },
      );
    case 'unknown-strict':
      return new MeshbenchError(
        'SSH_HOST_KEY',
        `${describeHost(host)}: host key is not in ${knownHostsPath} and --strict-host-key-checking is yes`,
        {
          hint: `add it (ssh-keyscan -p ${host.port} ${host.address} >> ${knownHostsPath}) or use --strict-host-key-checking accept-new`,
        },
      );
    case 'append-failed':
      return new MeshbenchError(
        'SSH_HOST_KEY',
        `${describeHost(host)}: cannot add the host key to ${knownHostsPath}: ${problem.detail ?? ''}`,
        {
          hint: 'make the known_hosts file writable',
        },
      );
  }
}

interface AttemptFailure {
  readonly error: Error & { level?: string; code?: string };
  readonly hostKeyProblem?: HostKeyProblem;
}

async function attempt(
  config: ConnectConfig,
  host: RemoteHost,
  options: SshConnectOptions,
  timeoutMs: number,
): Promise<Client> {
  const sock = options.openSocket ? await options.openSocket() : undefined;
  const { Client } = await ssh2();
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKeyProblem: HostKeyProblem | undefined;
    let settled = false;
    const done = (error?: AttemptFailure) => {
      if (settled) return;
      settled = true;
      if (error) {
        client.removeAllListeners('ready');
        client.on('error', () => undefined);
        client.destroy();
        reject(error);
      } else {
        resolve(client);
      }
    };
    client.on('ready', () => done());
    client.on('error', (error: Error & { level?: string; code?: string }) =>
      done(hostKeyProblem ? { error, hostKeyProblem } : { error }),
    );
    client.on('close', () =>
      done({
        error: Object.assign(new Error('connection closed before the handshake finished'), {
          code: 'ECONNRESET',
        }),
      }),
    );
    client.connect({
      ...config,
      ...(sock ? { sock } : {}),
      readyTimeout: Math.max(1000, timeoutMs),
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        const verdict = options.knownHosts.check(host.address, host.port, key);
        if (verdict === 'match' || options.strictHostKeyChecking === 'no') return verify(true);
        if (verdict === 'unknown' && options.strictHostKeyChecking === 'accept-new') {
          options.knownHosts.add(host.address, host.port, key).then(
            () => verify(true),
            (error: Error) => {
              hostKeyProblem = { kind: 'append-failed', detail: error.message };
              verify(false);
            },
          );
          return;
        }
        hostKeyProblem = { kind: verdict === 'unknown' ? 'unknown-strict' : verdict };
        verify(false);
      },
    } as ConnectConfig);
    // The handshake and every later exchange (an API call, a short command) are small
    // request/answer steps: without this each could wait up to 40 ms for a delayed ACK.
    client.setNoDelay(true);
  });
}

/** Connects, retrying connection-level failures with backoff until `timeoutMs` is spent. */
export async function connectSsh(options: SshConnectOptions): Promise<SshSession> {
  const { host } = options;
  const env = options.env ?? process.env;
  const auth = await authMaterial(host, env);
  const preferred = options.knownHosts.knownKeyTypes(host.address, host.port).flatMap(algorithmsForKeyType);
  // Known key types first (in our default order, like OpenSSH), so a host known by key is checked by that key.
  const algorithms = [
    ...HOST_KEY_ALGORITHMS.filter((a) => preferred.includes(a)),
    ...HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a)),
  ];
  const config: ConnectConfig = {
    host: host.address,
    port: host.port,
    username: host.user,
    ...auth,
    algorithms: { serverHostKey: algorithms as never },
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
  };
  const deadline = Date.now() + options.timeoutMs;
  let delayMs = 250;
  for (let attemptNumber = 1; ; attemptNumber++) {
    if (options.signal?.aborted)
      throw new MeshbenchError('INTERRUPTED', `${describeHost(host)}: interrupted`);
    const remainingMs = deadline - Date.now();
    try {
      return new SshSession(host, await attempt(config, host, options, remainingMs));
    } catch (caught) {
      const { error, hostKeyProblem } =
        caught instanceof JumpChannelError
          ? { error: caught, hostKeyProblem: undefined }
          : (caught as AttemptFailure);
      if (error instanceof MeshbenchError) throw error;
      if (hostKeyProblem) throw hostKeyError(host, hostKeyProblem, options.knownHosts.path);
      if (error.level === 'client-authentication') {
        const how = [auth.privateKey ? `key ${host.keyPath}` : '', auth.agent ? 'ssh-agent' : '']
          .filter(Boolean)
          .join(' and ');
        throw new MeshbenchError(
          'SSH_AUTH',
          `${describeHost(host)}: user ${host.user} was refused with ${how}`,
          {
            hint: `check the host's SSH_USER and SSH_KEY (its public key must be in ~${host.user}/.ssh/authorized_keys there)`,
            cause: error,
          },
        );
      }
      const retryable =
        error.level === 'client-timeout' ||
        error instanceof JumpChannelError ||
        (error.code !== undefined && RETRYABLE_CODES.has(error.code));
      const leftMs = deadline - Date.now();
      if (!retryable || leftMs <= 0) {
        const seconds = (options.timeoutMs / 1000).toFixed(0);
        const reason =
          error.level === 'client-timeout'
            ? 'no SSH handshake'
            : error instanceof JumpChannelError
              ? error.message
              : (error.code ?? error.message);
        throw new MeshbenchError(
          'SSH_CONNECT',
          `${describeHost(host)} is unreachable: ${reason}${retryable ? ` within SSH_TIMEOUT=${seconds}s` : ''}`,
          {
            hint: 'check the address, port, that sshd runs and the firewall, or raise SSH_TIMEOUT',
            cause: error,
          },
        );
      }
      const waitMs = Math.min(delayMs, leftMs);
      options.onRetry?.(
        attemptNumber,
        error instanceof JumpChannelError ? error.message : (error.code ?? error.message),
        waitMs,
      );
      await sleep(waitMs, options.signal);
      delayMs = Math.min(delayMs * 2, 4000);
    }
  }
}
