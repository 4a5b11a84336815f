/**
 * The few read-only Engine API calls the local checks before `compose up` need (version,
 * info, image inspect, container list), as plain GETs over node:http on the same connection
 * (connection.ts) the Docker client uses. They are not a second client: dockerode does every
 * other call, local and remote; it is loaded while compose starts the containers, because
 * its import (ssh2, gRPC, protobufjs) costs 150–500 ms that would otherwise sit on the
 * start-up path.
 */
import { request } from 'node:http';
import type { ContainerInfo, ContainerInspectInfo, ImageInspectInfo } from 'dockerode';
import { engineTargetOf, type EngineTarget } from './connection.js';

export { dockerHostOf, engineTargetOf, type EngineTarget } from './connection.js';

type Env = Readonly<Record<string, string | undefined>>;

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

  inspectContainer(id: string): Promise<ContainerInspectInfo> {
    return this.get(`/containers/${encodeURIComponent(id)}/json`);
  }
}
