/**
 * The prologue every engine on SSH hosts runs before it starts a node (the plain remote testbed,
 * remote-testbed.ts, and the swarm one, ../swarm/swarm-testbed.ts): the images checked here
 * (ship mode), SSH to every host under the concurrency limit (connect.ts), every host's clock
 * measured and judged (clock-check.ts), the image archives made once, then per host and on its
 * own (a pipeline: no host waits for the slowest between steps) Docker installed or found, the
 * node image and the sidecar images shipped or pulled, and an engine's own continuation (the
 * plain testbed starts its nodes there). The first failure stops the other hosts. What the hosts
 * report goes into the record through `hostEnvironments`.
 *
 * Cleanup of what an engine started stays with the engine; `connectHosts` closes its
 * connections itself when the clock check refuses (nothing has been started by then).
 */
import { resolve } from 'node:path';
import { MeshbenchError, formatError, isMeshbenchError } from '../../common/errors.js';
import type { RemoteHostEnvironment } from '../testbed.js';
import { ensureImage } from '../docker/ensure-image.js';
import { trace } from '../../common/trace.js';
import { checkClocks, type ClockCheck, type ClockPolicy } from './clock-check.js';
import { firstFailure, mapSettled } from './concurrency.js';
import {
  closeAll,
  connectAll,
  DEFAULT_REMOTE_CONCURRENCY,
  defaultKnownHostsPath,
  type HostProgress,
} from './connect.js';
import type { HostsConfig } from './hosts.js';
import {
  imageArchive,
  inspectLocalImage,
  pullImage,
  shipImage,
  type HostImageReport,
  type ImageArchive,
  type ImageTransfer,
  type LocalImage,
} from './image-transfer.js';
import type { StrictHostKeyChecking } from './known-hosts.js';
import type { DockerReport, RemoteHostAgent } from './remote-host.js';
import { jumpRoute } from './ssh-config-hosts.js';

export interface HostPreparationOptions {
  readonly hosts: HostsConfig;
  /** The node image (recorded as the run's image). */
  readonly image: string;
  readonly imageTransfer: ImageTransfer;
  /** Further images every host needs (the network helper, the load client, a compose file's other images). */
  readonly sidecarImages?: readonly string[];
  readonly strictHostKeyChecking?: StrictHostKeyChecking;
  /** Overrides the hosts config's known_hosts (default ~/.ssh/known_hosts). */
  readonly knownHostsPath?: string;
  readonly concurrency: number;
  readonly cacheDir?: string;
  /** The clock check after connecting (--max-clock-offset, --allow-clock-offset). */
  readonly clock?: ClockPolicy;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: HostProgress) => void;
}

/** Milliseconds per deploy stage, in the order they ran (`environment.stageMs`). */
export class StageTimer {
  readonly stageMs: Record<string, number> = {};
  #started: number;

  constructor(startedAt: number) {
    this.#started = startedAt;
  }

  end(stage: string): void {
    const now = Date.now();
    this.stageMs[stage] = now - this.#started;
    this.#started = now;
  }
}

/** Hosts connected and their clocks judged: nothing runs on them yet. */
export interface ConnectedHosts {
  readonly agents: RemoteHostAgent[];
  /** The node image here (ship mode), inspected before any host was touched. */
  readonly image: LocalImage | undefined;
  readonly sidecars: readonly (LocalImage | undefined)[];
  readonly clocks: ClockCheck;
  readonly stages: StageTimer;
}

/** What one host reported while being prepared, with the engine's own continuation's result. */
export interface PreparedHost<T> {
  readonly docker: DockerReport;
  readonly image: HostImageReport;
  readonly then: T;
}

/** What connecting to the hosts takes of the preparation's options. */
export type ReachOptions = Pick<
  HostPreparationOptions,
  'hosts' | 'concurrency' | 'strictHostKeyChecking' | 'knownHostsPath' | 'env' | 'signal' | 'onProgress'
>;

/** SSH to every host (new host keys accepted into known_hosts unless told otherwise). */
function connectHostAgents(options: ReachOptions): Promise<RemoteHostAgent[]> {
  const env = options.env ?? process.env;
  return connectAll(options.hosts, {
    strictHostKeyChecking: options.strictHostKeyChecking ?? 'accept-new',
    knownHostsPath: options.knownHostsPath ?? options.hosts.knownHostsPath ?? defaultKnownHostsPath(env),
    concurrency: options.concurrency,
    env,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

/**
 * Connects to every host over SSH and closes again: a preflight, so a host that does not answer
 * (or a key it refuses) is found before anything else of a run happens (a `both` run's local
 * part). Throws the first failure, as the deploy would.
 */
export async function reachHosts(
  hosts: HostsConfig,
  options: Partial<Omit<ReachOptions, 'hosts' | 'signal'>>,
  signal?: AbortSignal,
): Promise<void> {
  if (hosts.hosts.length === 0) return;
  const agents = await connectHostAgents({
    ...options,
    hosts,
    concurrency: options.concurrency ?? DEFAULT_REMOTE_CONCURRENCY,
    ...(signal ? { signal } : {}),
  });
  closeAll(agents);
}

/**
 * Checks the images here (ship), connects to every host and judges their clocks. A refusal
 * (an image missing here, a host unreachable, a clock too far off) leaves nothing behind.
 */
export async function connectHosts(options: HostPreparationOptions): Promise<ConnectedHosts> {
  const started = Date.now();
  const say = (host: string, stage: HostProgress['stage'], message: string) =>
    options.onProgress?.({ host, stage, message });
  // The images must exist here before we touch any host (ship mode).
  const ship = options.imageTransfer === 'ship';
  // meshbench's own images are built here on first use, then shipped (one at a time: one engine)
  if (ship)
    for (const reference of [options.image, ...(options.sidecarImages ?? [])])
      await ensureImage(reference, { log: (line) => say('local', 'image', line) });
  const image = ship ? await inspectLocalImage(options.image) : undefined;
  const sidecars = ship
    ? await Promise.all((options.sidecarImages ?? []).map((reference) => inspectLocalImage(reference)))
    : (options.sidecarImages ?? []).map(() => undefined);
  const agents = await connectHostAgents(options);
  const stages = new StageTimer(started);
  stages.end('connect');
  try {
    if (options.signal?.aborted)
      throw new MeshbenchError('INTERRUPTED', 'interrupted while connecting to the hosts');
    // Every host's clock, in parallel, before anything starts there: a refusal leaves nothing behind.
    const clocks = await checkClocks(
      agents.map((agent) => agent.session),
      options.clock ?? {},
      options.concurrency,
    );
    clocks.hosts.forEach((clock, index) => {
      if (!('error' in clock))
        say(
          agents[index]!.host.name,
          'clock',
          `offset ${clock.offsetMs.toFixed(3)} ms, round trip ${clock.rttMs.toFixed(3)} ms (${clock.samples} samples)`,
        );
    });
    for (const warning of clocks.warnings) say('clock check', 'clock', `warning: ${warning}`);
    stages.end('clock');
    return { agents, image, sidecars, clocks, stages };
  } catch (error) {
    closeAll(agents);
    throw error;
  }
}

/**
 * Makes the image archives once (stage `archive`), then on every host, each on its own: Docker,
 * the node image, the sidecar images, and `then` (stage `hosts`). The first failure stops the
 * others and is thrown (the others' own failures are reported as progress lines); the caller
 * removes what `then` started.
 */
export async function prepareHosts<T>(
  connected: ConnectedHosts,
  options: HostPreparationOptions,
  then: (agent: RemoteHostAgent, hostIndex: number, signal: AbortSignal) => Promise<T>,
): Promise<PreparedHost<T>[]> {
  const { image, sidecars } = connected;
  const cacheDir = options.cacheDir ?? resolve('.meshbench/cache/images');
  // Each archive is leased while the hosts are prepared (no run's pruning removes it), then released.
  const made = await Promise.allSettled(
    [image, ...sidecars].map((one) => one && imageArchive(one, cacheDir)),
  );
  try {
    const failed = made.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const [archive, ...sidecarArchives] = made.map((result) =>
      result.status === 'fulfilled' ? result.value : undefined,
    );
    return await prepareEachHost(connected, options, then, { archive, sidecarArchives });
  } finally {
    await Promise.all(made.map((result) => result.status === 'fulfilled' && result.value?.release()));
  }
}

async function prepareEachHost<T>(
  connected: ConnectedHosts,
  options: HostPreparationOptions,
  then: (agent: RemoteHostAgent, hostIndex: number, signal: AbortSignal) => Promise<T>,
  {
    archive,
    sidecarArchives,
  }: { archive: ImageArchive | undefined; sidecarArchives: (ImageArchive | undefined)[] },
): Promise<PreparedHost<T>[]> {
  const { agents, image, sidecars, stages } = connected;
  const { signal } = options;
  const say = (host: string, stage: HostProgress['stage'], message: string) =>
    options.onProgress?.({ host, stage, message });
  stages.end('archive');
  if (signal?.aborted) throw new MeshbenchError('INTERRUPTED', 'interrupted while preparing the hosts');
  const failFast = new AbortController();
  const hostSignal = signal ? AbortSignal.any([signal, failFast.signal]) : failFast.signal;
  const results = await mapSettled(agents, options.concurrency, async (agent, hostIndex) => {
    try {
      trace(`remote ${agent.host.name}: docker`);
      const docker = await agent.ensureDocker({
        signal: hostSignal,
        log: (line) => say(agent.host.name, 'docker', line),
      });
      say(
        agent.host.name,
        'docker',
        `${docker.installed ? 'installed' : docker.started ? 'started' : 'found'} Docker ${docker.serverVersion} on ${docker.os} (${docker.durationMs} ms)`,
      );
      trace(`remote ${agent.host.name}: image`);
      const imageReport =
        image && archive
          ? await shipImage(agent, image, archive, hostSignal)
          : await pullImage(agent, options.image, hostSignal);
      const detail =
        imageReport.action === 'present'
          ? 'image already present'
          : imageReport.action === 'shipped'
            ? `shipped ${(imageReport.bytes / 1e6).toFixed(1)} MB in ${(imageReport.durationMs / 1000).toFixed(1)} s`
            : `pulled in ${(imageReport.durationMs / 1000).toFixed(1)} s`;
      say(agent.host.name, 'image', `${options.image}: ${detail}`);
      for (const [index, reference] of (options.sidecarImages ?? []).entries()) {
        const sidecar = sidecars[index];
        const sidecarArchive = sidecarArchives[index];
        const report =
          sidecar && sidecarArchive
            ? await shipImage(agent, sidecar, sidecarArchive, hostSignal)
            : await pullImage(agent, reference, hostSignal);
        say(
          agent.host.name,
          'image',
          `${reference}: ${report.action === 'present' ? 'image already present' : `${report.action} in ${(report.durationMs / 1000).toFixed(1)} s`}`,
        );
      }
      trace(`remote ${agent.host.name}: start`);
      const started = await then(agent, hostIndex, hostSignal);
      trace(`remote ${agent.host.name}: started`);
      return { docker, image: imageReport, then: started };
    } catch (error) {
      trace(`remote ${agent.host.name}: failed (${formatError(error)})`);
      failFast.abort();
      throw error;
    }
  });
  // Ctrl-C: whatever failed after it (a request cut off mid-way: "socket hang up") failed
  // because of it, not because of its host
  if (signal?.aborted) throw new MeshbenchError('INTERRUPTED', 'interrupted while preparing the hosts');
  // a host stopped because another failed reports nothing of its own
  const quiet = (reason: unknown) =>
    failFast.signal.aborted && isMeshbenchError(reason) && reason.code === 'INTERRUPTED';
  const first = results.findIndex((r) => r.status === 'rejected' && !quiet(r.reason));
  results.forEach((result, index) => {
    if (result.status === 'rejected' && index !== first && !quiet(result.reason))
      say(agents[index]!.host.name, 'cleanup', `also failed: ${formatError(result.reason)}`);
  });
  if (first >= 0) {
    const error = (results[first] as PromiseRejectedResult).reason;
    throw isMeshbenchError(error)
      ? error
      : new MeshbenchError('INTERNAL', formatError(error), { cause: error });
  }
  const { values, error } = firstFailure(results);
  if (error !== undefined) throw error;
  stages.end('hosts');
  return values;
}

/** Each host as the record keeps it: who it is, how it was reached, what Docker and the image did, its clock. */
export function hostEnvironments(
  hosts: HostsConfig,
  prepared: readonly PreparedHost<unknown>[],
  clocks: ClockCheck,
): RemoteHostEnvironment[] {
  return hosts.hosts.map((host, index) => {
    const via = jumpRoute(host);
    const facts = prepared[index];
    return {
      name: host.name,
      address: host.address,
      ...(host.region ? { region: host.region } : {}),
      ...(Object.keys(host.labels).length > 0 ? { labels: host.labels } : {}),
      ...(via ? { via } : {}),
      os: facts?.docker.os,
      dockerVersion: facts?.docker.serverVersion,
      dockerAccess: facts?.docker.access,
      dockerInstalled: facts?.docker.installed,
      image: facts?.image.action,
      imageBytes: facts?.image.bytes,
      imageMs: facts?.image.durationMs,
      dockerMs: facts?.docker.durationMs,
      clock: clocks.hosts[index],
    };
  });
}

/** The record's fields every engine on SSH hosts shares (`environment.testbed`). */
export function remoteEnvironmentBase(
  options: HostPreparationOptions,
  connected: ConnectedHosts,
  prepared: readonly PreparedHost<unknown>[],
) {
  const { clocks } = connected;
  return {
    testbed: 'remote' as const,
    image: options.image,
    imageId: connected.image?.id,
    imageTransfer: options.imageTransfer,
    // hosts receive the image in parallel, each after its own Docker step: the slowest transfer
    imageTransferMs: Math.max(0, ...prepared.map((host) => host.image.durationMs)),
    /** Milliseconds per deploy stage: connect, clock, archive (docker save, once), hosts (per host, in parallel), then the engine's own. */
    stageMs: connected.stages.stageMs,
    imageBytesShipped: prepared.reduce((sum, host) => sum + host.image.bytes, 0),
    ...(options.hosts.sshConfigPaths ? { sshConfig: options.hosts.sshConfigPaths } : {}),
    clockCheck: {
      warnMs: clocks.warnMs,
      ...(clocks.maxOffsetMs !== undefined ? { maxOffsetMs: clocks.maxOffsetMs } : {}),
      warnings: clocks.warnings,
    },
  };
}
