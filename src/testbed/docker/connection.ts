/**
 * The one Docker client: dockerode, over one of two connections.
 *  - this machine's engine: the socket or address in DOCKER_HOST (as the docker CLI reads it);
 *  - a remote engine: a stream per request that the caller opens, e.g. the host's
 *    /var/run/docker.sock forwarded over the existing SSH connection, or the stdio of
 *    `sudo -n docker system dial-stdio` run over it for users who may use Docker only
 *    through sudo.
 * Everything above (node handles, stats, logs, cleanup, status) is written once against
 * dockerode and never asks which connection it has.
 *
 * dockerode is imported when first needed: its import (ssh2, gRPC, protobufjs) costs
 * 150–500 ms, which the local start-up path spends while compose starts the containers
 * (engine-reads.ts answers the few reads before that).
 */
import { Agent, type AgentOptions, type ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { inspect } from 'node:util';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { durationText } from '../../common/duration-text.js';
import { trace, tracing } from '../../common/trace.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Where the engine is, from DOCKER_HOST (as the docker CLI reads it). */
export function dockerHostOf(env: Env): string {
  return env.DOCKER_HOST && env.DOCKER_HOST !== '' ? env.DOCKER_HOST : 'unix:///var/run/docker.sock';
}

export type EngineTarget = { readonly socketPath: string } | { readonly host: string; readonly port: number };

export function engineTargetOf(env: Env): EngineTarget {
  const host = dockerHostOf(env);
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375) };
}

/** Opens one fresh stream to the engine (one per HTTP request). */
export type StreamOpener = () => Promise<Duplex>;

/** No data either way for this long and the request fails (a wedged engine, a dead channel). */
export const STREAM_IDLE_TIMEOUT_MS = 120_000;

/**
 * Gives a plain duplex stream (an SSH channel) the few socket methods node:http may call on a
 * connection; setTimeout is an idle timer, as on a socket. `destroy(error)` emits the error, as a
 * socket's does: node:http fails a request whose connection fails only by that event, and an SSH
 * channel's destroy takes no error (it ends and closes the channel). Without it, a request aborted
 * once its answer had begun (dockerode's abortSignal: a long `wait`) never settled.
 */
function socketLike(stream: Duplex): Socket {
  const socket = stream as Duplex & Partial<Socket>;
  let failed = false;
  stream.on('error', () => (failed = true));
  const destroyStream = stream.destroy.bind(stream);
  socket.destroy = ((error?: Error) => {
    if (error && !failed) stream.emit('error', error);
    destroyStream();
    return socket;
  }) as Socket['destroy'];
  let timer: NodeJS.Timeout | undefined;
  let idleMs = 0;
  const arm = () => {
    if (timer) clearTimeout(timer);
    // an idle timer never holds the process open by itself (the stream does while it lives)
    timer = idleMs > 0 ? setTimeout(() => stream.emit('timeout'), idleMs).unref() : undefined;
  };
  socket.setTimeout ??= ((ms: number, callback?: () => void) => {
    idleMs = ms;
    if (callback) stream.once('timeout', callback);
    arm();
    return socket;
  }) as Socket['setTimeout'];
  stream.on('data', () => idleMs > 0 && arm());
  stream.on('close', () => timer && clearTimeout(timer));
  socket.setNoDelay ??= (() => socket) as Socket['setNoDelay'];
  socket.setKeepAlive ??= (() => socket) as Socket['setKeepAlive'];
  socket.ref ??= (() => socket) as Socket['ref'];
  socket.unref ??= (() => socket) as Socket['unref'];
  return socket as Socket;
}

/**
 * An http.Agent whose connections are streams the opener gives: one per request, closed when
 * the answer is read (no keep-alive, so nothing stays open when the work is done).
 */
export class StreamAgent extends Agent {
  readonly #open: StreamOpener;
  readonly #idleTimeoutMs: number;
  /** Names the engine in trace lines (the host). */
  readonly #name: string;
  /** The request node:http's Agent is adding: it calls createConnection from inside addRequest. */
  #adding: ClientRequest | undefined;

  constructor(open: StreamOpener, options: AgentOptions & { idleTimeoutMs?: number; name?: string } = {}) {
    const { idleTimeoutMs, name, ...agentOptions } = options;
    super({ ...agentOptions, keepAlive: false });
    this.#open = open;
    this.#idleTimeoutMs = idleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS;
    this.#name = name ?? 'engine';
  }

  /**
   * docker-modem formats every request's options with `util.inspect(options, { showHidden:
   * true, depth: null })` before its debug logger decides to print nothing, and the options hold
   * this agent: its open connections are SSH channels that reach the whole ssh2 client. Walking
   * that took 407 ms of the CLI's CPU in a profile of a 16 s remote benchmark on 4 hosts; a name is
   * all a debug line needs.
   */
  [inspect.custom](): string {
    return `StreamAgent { open requests: ${Object.keys(this.requests).length} }`;
  }

  /** node:http's Agent method (not in its typings) that creates a request's connection. */
  addRequest(request: ClientRequest, options: unknown): void {
    if (tracing) {
      // each request and its end: what a command that does not end is waiting on
      const what = `${this.#name}: ${request.method} ${request.path.split('?')[0]}`;
      const started = performance.now();
      trace(`${what}: sent`);
      request.once('close', () =>
        trace(`${what}: closed after ${(performance.now() - started).toFixed(0)} ms`),
      );
    }
    this.#adding = request;
    try {
      (Agent.prototype as unknown as { addRequest(r: ClientRequest, o: unknown): void }).addRequest.call(
        this,
        request,
        options,
      );
    } finally {
      this.#adding = undefined;
    }
  }

  override createConnection(
    _options: unknown,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): undefined {
    // node:http says nothing of a request destroyed (its abort signal: Ctrl-C, a timeout) while
    // its connection opens, until a socket comes; a stream that never opens never brings one, and
    // the request waited for good. Its destruction fails the connection now; a stream that opens
    // after that is closed.
    let settled = false;
    const request = this.#adding;
    if (request) {
      const destroy = request.destroy.bind(request);
      request.destroy = (error?: Error) => {
        destroy(error);
        if (!settled) {
          settled = true;
          callback?.(error ?? new Error('the request was destroyed'), undefined as never);
        }
        return request;
      };
    }
    this.#open().then(
      (stream) => {
        if (settled) {
          stream.destroy();
          return;
        }
        settled = true;
        const socket = socketLike(stream);
        socket.setTimeout(this.#idleTimeoutMs);
        socket.once('timeout', () => {
          const silent = Object.assign(
            new Error(`the engine sent nothing for ${durationText(this.#idleTimeoutMs)}`),
            { code: 'ETIMEDOUT' },
          );
          // The request fails with this, not with the "socket hang up" of a connection that closed.
          socket.destroy(silent);
        });
        callback?.(null, socket);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        callback?.(error instanceof Error ? error : new Error(String(error)), undefined as never);
      },
    );
    return undefined;
  }
}

async function dockerode(options: Docker.DockerOptions): Promise<Docker> {
  const { default: Dockerode } = await import('dockerode');
  return new Dockerode(options);
}

/** dockerode for this machine's engine (DOCKER_HOST, else the default socket). */
export function localDocker(env: Env = process.env): Promise<Docker> {
  return dockerode({ ...engineTargetOf(env) });
}

/**
 * dockerode over streams the opener gives. The socket path only names the connection for
 * node:http; `host` is cleared so DOCKER_HOST (which docker-modem reads itself) cannot
 * send these requests to this machine's engine.
 */
export function streamDocker(
  open: StreamOpener,
  options: { idleTimeoutMs?: number; name?: string } = {},
): Promise<Docker> {
  return dockerode({
    socketPath: '/var/run/docker.sock',
    host: undefined,
    protocol: 'http',
    agent: new StreamAgent(open, options),
  } as Docker.DockerOptions);
}

/** Lets go of a client's connections (a stream agent holds none between requests). */
export function releaseDocker(docker: Docker): void {
  (docker.modem as { agent?: { destroy(): void } } | undefined)?.agent?.destroy();
}

/** The engine's own message in a dockerode error (`No such container: x`), else the error's. */
export function engineMessage(error: unknown): string {
  const json = (error as { json?: unknown }).json;
  if (json && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string')
    return (json as { message: string }).message.trim();
  if (typeof json === 'string' && json.trim() !== '') return json.trim();
  if (Buffer.isBuffer(json) && json.length > 0) return json.toString('utf8').trim();
  return error instanceof Error ? error.message.trim() : String(error);
}

/** The HTTP status of a dockerode error (404 no such object, 304 already so, 409 conflict). */
export function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}
