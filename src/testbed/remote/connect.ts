/** Connecting to the hosts: SSH to every host in parallel, under a concurrency limit. */
import { resolve } from 'node:path';
import type { HostsConfig } from './hosts.js';
import { firstFailure, mapSettled } from './concurrency.js';
import { KnownHostsFile, type StrictHostKeyChecking } from './known-hosts.js';
import { RemoteHostAgent } from './remote-host.js';
import { connectSsh } from './ssh-session.js';
import { connectThroughJumps, JumpPool, type HopConnector } from './jump.js';

export type Stage = 'connect' | 'clock' | 'docker' | 'image' | 'start' | 'ready' | 'cleanup';

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

/**
 * Hosts worked on at once (`remote-network --concurrency`) when nothing says otherwise.
 * `npm run bench:fanout` (docs/scaling.md): the orchestrator's CPU per host is constant, and on
 * a 2-core machine a higher limit bought no wall time at 64 hosts while it raised event-loop
 * delay; raise it for hundreds of hosts far away (round-trip-bound handshakes).
 */
export const DEFAULT_REMOTE_CONCURRENCY = 16;

export function defaultKnownHostsPath(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return resolve(env.HOME ?? '~', '.ssh', 'known_hosts');
}

/** Connects to every host in parallel; on any failure closes the others and throws the first error. */
export async function connectAll(hosts: HostsConfig, options: ConnectOptions): Promise<RemoteHostAgent[]> {
  const knownHosts = await new KnownHostsFile(options.knownHostsPath).load();
  // hosts behind the same jump host share one connection to it (jump.ts)
  const connector =
    (progressName: string): HopConnector =>
    (target, openSocket) =>
      connectSsh({
        host: target,
        timeoutMs: hosts.sshTimeoutMs,
        knownHosts,
        strictHostKeyChecking: options.strictHostKeyChecking,
        ...(options.env ? { env: options.env } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(openSocket ? { openSocket } : {}),
        onRetry: (attempt, reason, delayMs) =>
          options.onProgress?.({
            host: progressName,
            stage: 'connect',
            message: `${target.name !== progressName ? `${target.name}: ` : ''}attempt ${attempt} failed (${reason}); retrying in ${delayMs} ms`,
          }),
      });
  const pool = new JumpPool((hop, openSocket) => connector(hop.name)(hop, openSocket));
  const results = await mapSettled(hosts.hosts, options.concurrency, async (host) => {
    const started = Date.now();
    const session = await connectThroughJumps(host, pool, connector(host.name));
    const via = host.jumps?.length
      ? ` via ${host.jumps.map((hop) => hop.alias ?? hop.address).join(', ')}`
      : '';
    options.onProgress?.({
      host: host.name,
      stage: 'connect',
      message: `connected to ${host.address}:${host.port} as ${host.user}${via} (${Date.now() - started} ms)`,
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
