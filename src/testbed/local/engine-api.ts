/**
 * The few read-only Engine API calls the checks before `compose up` need (version, image
 * inspect, container list), over node:http. dockerode stays the client for everything
 * else; it is loaded while compose starts the containers, because its import (ssh2, gRPC,
 * protobufjs) costs 150–500 ms that would otherwise sit on the start-up path.
 */
import { request } from 'node:http';
import type { ContainerInfo, ImageInspectInfo } from 'dockerode';

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

export class EngineApiError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
  }
}

export class EngineApi {
  readonly target: EngineTarget;

  constructor(target: EngineTarget) {
    this.target = target;
  }

  static fromEnv(env: Env = process.env): EngineApi {
    return new EngineApi(engineTargetOf(env));
  }

  /** GET a JSON document; throws EngineApiError (with statusCode) for a non-2xx answer. */
  get<T>(path: string, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = request(
        { ...this.target, path, method: 'GET', timeout: timeoutMs, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) {
              let message = text;
              try {
                message = (JSON.parse(text) as { message?: string }).message ?? text;
              } catch {
                // plain text
              }
              reject(
                new EngineApiError(status, `engine answered HTTP ${status} for ${path}: ${message.trim()}`),
              );
              return;
            }
            try {
              resolve(JSON.parse(text) as T);
            } catch (error) {
              reject(error as Error);
            }
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error(`engine did not answer ${path}`), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
      req.end();
    });
  }

  version(): Promise<{ Version: string; ApiVersion: string; Os: string; Arch: string }> {
    return this.get('/version');
  }

  info(): Promise<Record<string, unknown>> {
    return this.get('/info');
  }

  inspectImage(name: string): Promise<ImageInspectInfo> {
    return this.get(`/images/${name}/json`);
  }

  listContainers(options: { all?: boolean } = {}): Promise<ContainerInfo[]> {
    return this.get(`/containers/json${options.all ? '?all=1' : ''}`);
  }
}
