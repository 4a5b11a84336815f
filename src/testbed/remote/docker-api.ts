/**
 * The remote Docker Engine API, reached over the host's existing SSH connection by
 * OpenSSH streamlocal forwarding to /var/run/docker.sock. sshd opens the socket as the
 * logged-in user, so this works exactly when that user could run `docker` (root or the
 * docker group), and it spawns nothing on the host: no shell, no docker CLI, no sshd
 * session. Each request opens its own channel (one SSH round trip, no process).
 */
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { MeshbenchError } from '../../common/errors.js';
import { describeHost, type SshSession } from './ssh-session.js';

export const DOCKER_SOCKET = '/var/run/docker.sock';

export interface DockerApiReply {
  readonly status: number;
  readonly text: string;
}

/** A container started detached, the same for the API and the CLI route. */
export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  /** `host` for remote nodes. */
  readonly networkMode: string;
  /** A named volume, created with these labels when missing. */
  readonly volume?: {
    readonly name: string;
    readonly target: string;
    readonly labels: Readonly<Record<string, string>>;
  };
}

/** The body of POST /containers/create for a spec (the same container `docker run -d` makes). */
export function createContainerBody(spec: ContainerSpec): Record<string, unknown> {
  return {
    Image: spec.image,
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    Labels: spec.labels,
    HostConfig: {
      NetworkMode: spec.networkMode,
      RestartPolicy: { Name: 'no' },
      ...(spec.volume
        ? {
            Mounts: [
              {
                Type: 'volume',
                Source: spec.volume.name,
                Target: spec.volume.target,
                VolumeOptions: { Labels: spec.volume.labels },
              },
            ],
          }
        : {}),
    },
  };
}

/** `docker run -d` arguments for a spec (the CLI route). */
export function runArguments(spec: ContainerSpec): string[] {
  const volume = spec.volume;
  return [
    'run',
    '-d',
    '--name',
    spec.name,
    ...Object.entries(spec.labels).flatMap(([key, value]) => ['--label', `${key}=${value}`]),
    '--network',
    spec.networkMode,
    '--restart',
    'no',
    ...(volume
      ? [
          '--mount',
          [
            'type=volume',
            `source=${volume.name}`,
            `target=${volume.target}`,
            ...Object.entries(volume.labels).map(([key, value]) => `volume-label=${key}=${value}`),
          ].join(','),
        ]
      : []),
    ...Object.entries(spec.env).flatMap(([key, value]) => ['-e', `${key}=${value}`]),
    spec.image,
  ];
}

/** The `message` of a Docker API error body, or the text itself. */
export function apiErrorMessage(reply: DockerApiReply): string {
  try {
    const parsed = JSON.parse(reply.text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON
  }
  return reply.text.trim() || `HTTP ${reply.status}`;
}

/** A path segment: image IDs (`sha256:…`) stay readable, anything else is percent-encoded. */
export function pathSegment(value: string): string {
  return /^sha256:[0-9a-f]{64}$/.test(value) ? value : encodeURIComponent(value);
}

export class RemoteDockerApi {
  constructor(
    private readonly session: SshSession,
    private readonly socketPath = DOCKER_SOCKET,
  ) {}

  /** One HTTP/1.1 request on a fresh forwarded channel. Rejects when the channel cannot be opened. */
  request(
    method: string,
    path: string,
    options: { body?: unknown; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<DockerApiReply> {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    return new Promise<DockerApiReply>((resolve, reject) => {
      let settled = false;
      let channel: Duplex | undefined;
      const finish = (error: unknown, reply?: DockerApiReply) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (error !== undefined) {
          channel?.destroy();
          reject(error);
        } else resolve(reply!);
      };
      const timer = setTimeout(
        () =>
          finish(
            new MeshbenchError(
              'REMOTE_COMMAND',
              `${describeHost(this.session.host)}: Docker API ${method} ${path} timed out after ${options.timeoutMs} ms`,
              { hint: 'check Docker on that host' },
            ),
          ),
        options.timeoutMs ?? 60_000,
      );
      const onAbort = () =>
        finish(new MeshbenchError('INTERRUPTED', `${describeHost(this.session.host)}: interrupted`));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.session.openUnixSocket(this.socketPath).then(
        (opened) => {
          channel = opened;
          if (settled) {
            opened.destroy();
            return;
          }
          const req = request(
            {
              method,
              path,
              host: 'docker',
              createConnection: () => opened as never,
              headers: {
                ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
              },
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (chunk: Buffer) => chunks.push(chunk));
              res.on('end', () => {
                finish(undefined, {
                  status: res.statusCode ?? 0,
                  text: Buffer.concat(chunks).toString('utf8'),
                });
                opened.end();
              });
              res.on('error', (error) => finish(error));
            },
          );
          req.on('error', (error) => finish(error));
          req.end(payload);
        },
        (error: unknown) => finish(error),
      );
    });
  }

  /** A request that must answer one of `ok`; anything else is a one-line error naming the host. */
  async expect(
    method: string,
    path: string,
    what: string,
    options: { body?: unknown; timeoutMs?: number; signal?: AbortSignal; ok?: readonly number[] } = {},
  ): Promise<DockerApiReply> {
    const reply = await this.request(method, path, options);
    if (!(options.ok ?? [200]).includes(reply.status)) {
      throw new MeshbenchError(
        'REMOTE_COMMAND',
        `${describeHost(this.session.host)}: ${what} failed: ${apiErrorMessage(reply)}`,
        { hint: 'fix the cause on that host and re-run' },
      );
    }
    return reply;
  }

  /** Creates and starts a container; returns its ID. */
  async run(spec: ContainerSpec, what: string, signal?: AbortSignal): Promise<string> {
    const created = await this.expect(
      'POST',
      `/containers/create?name=${encodeURIComponent(spec.name)}`,
      what,
      { body: createContainerBody(spec), ok: [201], ...(signal ? { signal } : {}) },
    );
    const id = (JSON.parse(created.text) as { Id: string }).Id;
    await this.expect('POST', `/containers/${pathSegment(id)}/start`, what, {
      ok: [204, 304],
      ...(signal ? { signal } : {}),
    });
    return id;
  }

  /** IDs of the containers matching the label filters (and optionally a status). */
  async containerIds(labels: readonly string[], status?: string): Promise<string[]> {
    const filters = JSON.stringify({ label: labels, ...(status ? { status: [status] } : {}) });
    const reply = await this.expect(
      'GET',
      `/containers/json?all=1&filters=${encodeURIComponent(filters)}`,
      'listing containers',
    );
    return (JSON.parse(reply.text) as { Id: string }[]).map((container) => container.Id);
  }
}
