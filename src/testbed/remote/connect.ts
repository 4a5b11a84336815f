/** Connecting to the hosts: SSH to every host in parallel, under a concurrency limit. */
import { resolve } from 'node:path';
import type { HostsConfig } from './hosts.js';
import { firstFailure, mapSettled } from './concurrency.js';
import { KnownHostsFile, type StrictHostKeyChecking } from './known-hosts.js';
import { RemoteHostAgent } from './remote-host.js';
import { connectSsh } from './ssh-session.js';

export type Stage = 'connect' | 'docker' | 'image' | 'start' | 'ready' | 'cleanup';

export interface HostProgress {
  readonly host: string;
  readonly stage: Stage;
  readonly message: string;
}

export interface ConnectOptions {
  readonly strictHostKeyChecking: StrictHostKeyChecking;
  readonly knownHostsPath: string;
  readonly concurrency: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: HostProgress) => void;
}

export function defaultKnownHostsPath(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return resolve(env.HOME ?? '~', '.ssh', 'known_hosts');
}

/** Connects to every host in parallel; on any failure closes the others and throws the first error. */
export async function connectAll(hosts: HostsConfig, options: ConnectOptions): Promise<RemoteHostAgent[]> {
  const knownHosts = await new KnownHostsFile(options.knownHostsPath).load();
  const results = await mapSettled(hosts.hosts, options.concurrency, async (host) => {
    const started = Date.now();
    const session = await connectSsh({
      host,
      timeoutMs: hosts.sshTimeoutMs,
      knownHosts,
      strictHostKeyChecking: options.strictHostKeyChecking,
      ...(options.env ? { env: options.env } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (attempt, reason, delayMs) =>
        options.onProgress?.({
          host: host.name,
          stage: 'connect',
          message: `attempt ${attempt} failed (${reason}); retrying in ${delayMs} ms`,
        }),
    });
    options.onProgress?.({
      host: host.name,
      stage: 'connect',
      message: `connected to ${host.address}:${host.port} as ${host.user} (${Date.now() - started} ms)`,
    });
    return new RemoteHostAgent(session);
  });
  const { values, error } = firstFailure(results);
  if (error !== undefined) {
    for (const agent of values) agent.close();
    throw error;
  }
  return values;
}

/** Closes every host's client and SSH connection. */
export function closeAll(agents: readonly RemoteHostAgent[]): void {
  for (const agent of agents) agent.close();
}
