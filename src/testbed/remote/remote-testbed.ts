/**
 * The remote Testbed: SSH to every host in parallel (under a concurrency
 * limit), install Docker where missing, ship or pull the node image, start
 * nodes with `--network host` addressed by the hosts' IPs, and wait until
 * every node is ready. On any failure everything this run created on every
 * host is removed before the error is thrown.
 */
import { resolve } from 'node:path';
import { MeshbenchError, formatError, isMeshbenchError } from '../../common/errors.js';
import { REFNODE_IMAGE } from '../../common/defaults.js';
import type { ExecResult } from '../../common/exec-result.js';
import { IMAGE_ID_LABEL, NODE_LABEL, REMOTE_LABEL, RUN_LABEL } from '../../common/labels.js';
import { newRunId } from '../../common/run-id.js';
import type { HostsConfig, RemoteHost } from './hosts.js';
import { cometbftProbe, waitForReady, type Probe } from '../readiness.js';
import type { DestroyOptions, Deployment, Endpoint, NodeHandle, NodeStats, Testbed } from '../testbed.js';
import { firstFailure, mapSettled } from './concurrency.js';
import {
  imageArchive,
  inspectLocalImage,
  pullImage,
  shipImage,
  type HostImageReport,
  type ImageTransfer,
  type LocalImage,
} from './image-transfer.js';
import { KnownHostsFile, type StrictHostKeyChecking } from './known-hosts.js';
import { RemoteHostAgent, type DockerReport } from './remote-host.js';
import { pathSegment, type RemoteDockerApi } from './docker-api.js';
import { connectSsh, describeHost, lastLine, type SshSession } from './ssh-session.js';

/** Every container a remote run creates carries this label, so `--down` finds them. */
export { IMAGE_ID_LABEL, NODE_LABEL, REMOTE_LABEL } from '../../common/labels.js';
export const DEFAULT_IMAGE = REFNODE_IMAGE;
export const BASE_PORTS = { p2p: 26656, rpc: 26657, metrics: 26660 } as const;
/** Port offset between nodes on the same host. */
export const PORT_STRIDE = 10;

export type Stage = 'connect' | 'docker' | 'image' | 'start' | 'ready' | 'cleanup';

export interface HostProgress {
  readonly host: string;
  readonly stage: Stage;
  readonly message: string;
}

export interface RemoteTestbedOptions {
  readonly hosts: HostsConfig;
  readonly image?: string;
  readonly imageTransfer?: ImageTransfer;
  readonly nodesPerHost?: number;
  readonly startupWaitMs?: number;
  readonly strictHostKeyChecking?: StrictHostKeyChecking;
  /** Overrides the hosts config's known_hosts (default ~/.ssh/known_hosts). */
  readonly knownHostsPath?: string;
  /** Hosts worked on at once. */
  readonly concurrency?: number;
  readonly runId?: string;
  readonly cacheDir?: string;
  /** Extra environment for every node container. */
  readonly nodeEnv?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly onProgress?: (progress: HostProgress) => void;
}

export interface NodePlacement {
  readonly nodeId: string;
  readonly hostIndex: number;
  readonly slot: number;
  readonly ports: { readonly p2p: number; readonly rpc: number; readonly metrics: number };
}

/** node i runs on host i mod H (slot i div H): one node per host first, then a second round… */
export function placeNodes(hostCount: number, nodesPerHost: number): NodePlacement[] {
  const placements: NodePlacement[] = [];
  for (let slot = 0; slot < nodesPerHost; slot++) {
    for (let hostIndex = 0; hostIndex < hostCount; hostIndex++) {
      const offset = slot * PORT_STRIDE;
      placements.push({
        nodeId: `node${placements.length}`,
        hostIndex,
        slot,
        ports: {
          p2p: BASE_PORTS.p2p + offset,
          rpc: BASE_PORTS.rpc + offset,
          metrics: BASE_PORTS.metrics + offset,
        },
      });
    }
  }
  return placements;
}

/**
 * The CometBFT readiness checks, peers first: while a node's peers are still connecting (most of
 * the wait) a poll costs one request (/net_info) instead of three; once they are all there, the
 * full probe (health, not catching up, peers) decides. Every poll is a request the node serves, on
 * hosts that may share their CPUs.
 */
export function peersFirstProbe(expectedPeers: number): Probe {
  const full = cometbftProbe(expectedPeers);
  if (expectedPeers === 0) return full;
  return async (target, http) => {
    try {
      const reply = await http(`${target.rpcUrl}/net_info`);
      if (reply.status === 200) {
        const peers = Number((JSON.parse(reply.body) as { result?: { n_peers?: unknown } }).result?.n_peers);
        if (peers < expectedPeers)
          return { ready: false, detail: `net_info: ${peers} of ${expectedPeers} peers` };
      }
    } catch (error) {
      // not listening yet: one refused connection per poll is enough
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string') return { ready: false, detail: code };
      // not JSON, a timeout…: the full probe says what is wrong
    }
    return full(target, http);
  };
}

export function containerName(runId: string, nodeId: string): string {
  return `meshbench-${runId}-${nodeId}`;
}

export function defaultKnownHostsPath(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return resolve(env.HOME ?? '~', '.ssh', 'known_hosts');
}

/** Connects to every host in parallel; on any failure closes the others and throws the first error. */
export async function connectAll(
  hosts: HostsConfig,
  options: {
    strictHostKeyChecking: StrictHostKeyChecking;
    knownHostsPath: string;
    concurrency: number;
    env?: Readonly<Record<string, string | undefined>>;
    signal?: AbortSignal;
    onProgress?: (progress: HostProgress) => void;
  },
): Promise<RemoteHostAgent[]> {
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
    for (const agent of values) agent.session.close();
    throw error;
  }
  return values;
}

class RemoteNodeHandle implements NodeHandle {
  constructor(
    readonly nodeId: string,
    readonly endpoint: Endpoint,
    private readonly agent: RemoteHostAgent,
    private readonly container: string,
  ) {}

  private async docker(args: readonly string[], what: string): Promise<string> {
    return this.agent.dockerOk(args, `${what} ${this.nodeId}`);
  }
  async kill(signal = 'SIGKILL'): Promise<void> {
    await this.docker(['kill', '--signal', signal, this.container], 'kill');
  }
  async stop(timeoutSeconds = 10): Promise<void> {
    await this.docker(['stop', '--time', String(timeoutSeconds), this.container], 'stop');
  }
  async start(): Promise<void> {
    await this.docker(['start', this.container], 'start');
  }
  async restart(): Promise<void> {
    await this.docker(['restart', this.container], 'restart');
  }
  async pause(): Promise<void> {
    await this.docker(['pause', this.container], 'pause');
  }
  async unpause(): Promise<void> {
    await this.docker(['unpause', this.container], 'unpause');
  }
  async exec(command: readonly string[]): Promise<ExecResult> {
    return this.agent.docker(['exec', this.container, ...command]);
  }
  async logs(options: { tailLines?: number } = {}): Promise<string> {
    const result = await this.agent.docker([
      'logs',
      ...(options.tailLines !== undefined ? ['--tail', String(options.tailLines)] : []),
      this.container,
    ]);
    return result.stdout + result.stderr;
  }
  async stats(): Promise<NodeStats> {
    const line = await this.docker(
      ['stats', '--no-stream', '--format', '{{json .}}', this.container],
      'stats',
    );
    return parseDockerStats(this.nodeId, line);
  }
}

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  TIB: 1024 ** 4,
};

export function parseSize(text: string): number {
  const match = /^\s*([\d.]+)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!match) return 0;
  return Number(match[1]) * (UNITS[(match[2] || 'B').toUpperCase()] ?? 1);
}

/** One line of `docker stats --format '{{json .}}'`. */
export function parseDockerStats(nodeId: string, line: string): NodeStats {
  const data = JSON.parse(line.trim()) as Record<string, string>;
  const [used = '0', limit = '0'] = (data.MemUsage ?? '').split('/');
  const [rx = '0', tx = '0'] = (data.NetIO ?? '').split('/');
  return {
    nodeId,
    cpuPercent: Number.parseFloat(data.CPUPerc ?? '0') || 0,
    memoryBytes: parseSize(used),
    memoryLimitBytes: parseSize(limit),
    networkRxBytes: parseSize(rx),
    networkTxBytes: parseSize(tx),
  };
}

/** Removes what a run (or, with runId undefined, every remote run) left on one host. */
/** `imageId` may also be a reference (`--down` only knows the image name). */
export async function cleanHost(
  agent: RemoteHostAgent,
  options: { runId?: string; thorough: boolean; imageId?: string },
): Promise<{ containers: number; volumes: number; images: number }> {
  if (agent.api) return cleanHostApi(agent.api, options);
  const filter = options.runId ? `label=${RUN_LABEL}=${options.runId}` : `label=${REMOTE_LABEL}=1`;
  const ids = (await agent.dockerOk(['ps', '-aq', '--filter', filter], 'listing containers'))
    .split('\n')
    .filter(Boolean);
  const imageIds = new Set<string>(options.imageId ? [options.imageId] : []);
  if (ids.length > 0) {
    if (options.thorough) {
      const labels = await agent.docker([
        'inspect',
        '--format',
        `{{index .Config.Labels "${IMAGE_ID_LABEL}"}}`,
        ...ids,
      ]);
      for (const id of labels.stdout.split('\n').map((l) => l.trim()))
        if (id.startsWith('sha256:')) imageIds.add(id);
    }
    await agent.dockerOk(['rm', '-f', '-v', ...ids], 'removing containers');
  }
  let volumes = 0;
  let images = 0;
  if (options.thorough) {
    const volumeIds = (await agent.dockerOk(['volume', 'ls', '-q', '--filter', filter], 'listing volumes'))
      .split('\n')
      .filter(Boolean);
    if (volumeIds.length > 0) await agent.dockerOk(['volume', 'rm', '-f', ...volumeIds], 'removing volumes');
    volumes = volumeIds.length;
    for (const imageId of imageIds) {
      // Only when no container (ours or anyone's) still uses it.
      if ((await agent.docker(['image', 'inspect', '--format', '{{.Id}}', imageId])).exitCode !== 0) continue;
      const users = (
        await agent.dockerOk(['ps', '-aq', '--filter', `ancestor=${imageId}`], 'listing image users')
      ).trim();
      if (users === '' && (await agent.docker(['image', 'rm', '-f', imageId])).exitCode === 0) images += 1;
    }
  }
  return { containers: ids.length, volumes, images };
}

/** cleanHost through the Engine API: the same steps, no process started on the host. */
async function cleanHostApi(
  api: RemoteDockerApi,
  options: { runId?: string; thorough: boolean; imageId?: string },
): Promise<{ containers: number; volumes: number; images: number }> {
  const label = options.runId ? `${RUN_LABEL}=${options.runId}` : `${REMOTE_LABEL}=1`;
  const ids = await api.containerIds([label]);
  const imageIds = new Set<string>(options.imageId ? [options.imageId] : []);
  if (options.thorough) {
    for (const id of ids) {
      const reply = await api.request('GET', `/containers/${pathSegment(id)}/json`);
      if (reply.status !== 200) continue;
      const labels = (JSON.parse(reply.text) as { Config?: { Labels?: Record<string, string> | null } })
        .Config?.Labels;
      const imageId = labels?.[IMAGE_ID_LABEL];
      if (imageId?.startsWith('sha256:')) imageIds.add(imageId);
    }
  }
  // like `docker rm -f -v`: anonymous volumes go with their container
  await Promise.all(
    ids.map((id) =>
      api.expect('DELETE', `/containers/${pathSegment(id)}?force=1&v=1`, 'removing containers', {
        ok: [204, 404],
      }),
    ),
  );
  let volumes = 0;
  let images = 0;
  if (options.thorough) {
    const filters = encodeURIComponent(JSON.stringify({ label: [label] }));
    const listed = await api.expect('GET', `/volumes?filters=${filters}`, 'listing volumes');
    const names = ((JSON.parse(listed.text) as { Volumes?: { Name: string }[] | null }).Volumes ?? []).map(
      (volume) => volume.Name,
    );
    await Promise.all(
      names.map((name) =>
        api.expect('DELETE', `/volumes/${pathSegment(name)}?force=1`, 'removing volumes', { ok: [204, 404] }),
      ),
    );
    volumes = names.length;
    for (const imageId of imageIds) {
      // Only when no container (ours or anyone's) still uses it.
      if ((await api.request('GET', `/images/${pathSegment(imageId)}/json`)).status !== 200) continue;
      const users = await api.expect(
        'GET',
        `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ ancestor: [imageId] }))}`,
        'listing image users',
      );
      if ((JSON.parse(users.text) as unknown[]).length > 0) continue;
      if ((await api.request('DELETE', `/images/${pathSegment(imageId)}?force=1`)).status === 200)
        images += 1;
    }
  }
  return { containers: ids.length, volumes, images };
}

export class RemoteDeployment implements Deployment {
  readonly kind = 'remote' as const;
  private destroyed = false;

  constructor(
    readonly runId: string,
    readonly endpoints: readonly Endpoint[],
    readonly nodes: readonly NodeHandle[],
    readonly environment: Readonly<Record<string, unknown>>,
    readonly readyAfterMs: number,
    readonly agents: readonly RemoteHostAgent[],
    private readonly image: LocalImage | undefined,
    private readonly concurrency: number,
    private readonly onProgress?: (progress: HostProgress) => void,
  ) {}

  /** Removes this run's containers (and with `thorough`, volumes and the shipped image) on every host. */
  async destroy(options: DestroyOptions = {}): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const results = await mapSettled(this.agents, this.concurrency, async (agent) => {
      const removed = await cleanHost(agent, {
        runId: this.runId,
        thorough: options.thorough ?? false,
        ...(this.image ? { imageId: this.image.id } : {}),
      });
      this.onProgress?.({
        host: agent.host.name,
        stage: 'cleanup',
        message: `removed ${removed.containers} container(s)${options.thorough ? `, ${removed.volumes} volume(s), ${removed.images} image(s)` : ''}`,
      });
    });
    for (const agent of this.agents) agent.session.close();
    const { error } = firstFailure(results);
    if (error !== undefined) throw error;
  }

  /** Closes the SSH connections and leaves the nodes running (`--down` removes them later). */
  async release(): Promise<void> {
    this.destroyed = true;
    for (const agent of this.agents) agent.session.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}

export class RemoteTestbed implements Testbed {
  readonly kind = 'remote' as const;
  readonly runId: string;

  constructor(private readonly options: RemoteTestbedOptions) {
    this.runId = options.runId ?? newRunId();
  }

  private progress(host: string, stage: Stage, message: string): void {
    this.options.onProgress?.({ host, stage, message });
  }

  async deploy(deployOptions: { signal?: AbortSignal } = {}): Promise<Deployment> {
    return this.deployRemote(deployOptions);
  }

  async deployRemote(deployOptions: { signal?: AbortSignal } = {}): Promise<RemoteDeployment> {
    const { signal } = deployOptions;
    const options = this.options;
    const started = Date.now();
    const env = options.env ?? process.env;
    const imageReference = options.image ?? DEFAULT_IMAGE;
    const transfer = options.imageTransfer ?? 'ship';
    const nodesPerHost = options.nodesPerHost ?? 1;
    const concurrency = options.concurrency ?? 16;
    const hosts = options.hosts.hosts;
    const checkAborted = () => {
      if (signal?.aborted)
        throw new MeshbenchError('INTERRUPTED', 'interrupted while deploying the remote network');
    };

    // The image must exist here before we touch any host (ship mode).
    const image = transfer === 'ship' ? await inspectLocalImage(imageReference) : undefined;
    const knownHostsPath =
      options.knownHostsPath ?? options.hosts.knownHostsPath ?? defaultKnownHostsPath(env);
    const agents = await connectAll(options.hosts, {
      strictHostKeyChecking: options.strictHostKeyChecking ?? 'accept-new',
      knownHostsPath,
      concurrency,
      env,
      ...(signal ? { signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const stageMs: Record<string, number> = { connect: Date.now() - started };
    let stageStarted = Date.now();
    const endStage = (stage: string) => {
      stageMs[stage] = Date.now() - stageStarted;
      stageStarted = Date.now();
    };
    let runStarted = false;
    try {
      checkAborted();
      // Each host goes through Docker → image → nodes on its own (a pipeline: no host waits for the
      // slowest one between steps). The first failure stops the others.
      const archive = image
        ? await imageArchive(image, options.cacheDir ?? resolve('.meshbench/cache/images'))
        : undefined;
      endStage('archive');
      runStarted = true;
      const placements = placeNodes(hosts.length, nodesPerHost);
      const peers = placements
        .map((p) => `${p.nodeId}@${hosts[p.hostIndex]!.address}:${p.ports.p2p}`)
        .join(',');
      const imageToRun = image ? image.id : imageReference;
      const failFast = new AbortController();
      const hostSignal = signal ? AbortSignal.any([signal, failFast.signal]) : failFast.signal;
      const prepared = await this.onAll(
        agents,
        concurrency,
        async (
          agent,
          hostIndex,
        ): Promise<{ docker: DockerReport; image: HostImageReport; startMs: number }> => {
          try {
            const dockerReport = await agent.ensureDocker({
              signal: hostSignal,
              log: (line) => this.progress(agent.host.name, 'docker', line),
            });
            this.progress(
              agent.host.name,
              'docker',
              `${dockerReport.installed ? 'installed' : dockerReport.started ? 'started' : 'found'} Docker ${dockerReport.serverVersion} on ${dockerReport.os} (${dockerReport.durationMs} ms)`,
            );
            const imageReport =
              image && archive
                ? await shipImage(agent, image, archive, hostSignal)
                : await pullImage(agent, imageReference, hostSignal);
            const detail =
              imageReport.action === 'present'
                ? 'image already present'
                : imageReport.action === 'shipped'
                  ? `shipped ${(imageReport.bytes / 1e6).toFixed(1)} MB in ${(imageReport.durationMs / 1000).toFixed(1)} s`
                  : `pulled in ${(imageReport.durationMs / 1000).toFixed(1)} s`;
            this.progress(agent.host.name, 'image', `${imageReference}: ${detail}`);
            const startStarted = Date.now();
            for (const placement of placements.filter((p) => p.hostIndex === hostIndex)) {
              if (hostSignal.aborted) break;
              await this.startNode(agent, placement, peers, imageToRun, image, hostSignal);
            }
            return { docker: dockerReport, image: imageReport, startMs: Date.now() - startStarted };
          } catch (error) {
            failFast.abort();
            throw error;
          }
        },
        // a host stopped because another failed reports nothing of its own
        (reason) => failFast.signal.aborted && isMeshbenchError(reason) && reason.code === 'INTERRUPTED',
      );
      const dockerReports = prepared.map((p) => p.docker);
      const imageReports = prepared.map((p) => p.image);
      // hosts receive the image in parallel, each after its own Docker step: the slowest transfer
      const imageMs = Math.max(0, ...imageReports.map((report) => report.durationMs));
      endStage('hosts');
      checkAborted();

      const endpoints: Endpoint[] = placements.map((p) => {
        const address = hosts[p.hostIndex]!.address;
        const hostPart = address.includes(':') ? `[${address}]` : address;
        return {
          nodeId: p.nodeId,
          rpcUrl: `http://${hostPart}:${p.ports.rpc}`,
          wsUrl: `ws://${hostPart}:${p.ports.rpc}/websocket`,
          metricsUrl: `http://${hostPart}:${p.ports.metrics}/metrics`,
          host: hosts[p.hostIndex]!.name,
        };
      });
      const startupWaitMs = options.startupWaitMs ?? 60_000;
      const byNode = new Map(placements.map((p) => [p.nodeId, p]));
      const ready = await waitForReady({
        targets: endpoints,
        probeFor: () => peersFirstProbe(placements.length - 1),
        timeoutMs: startupWaitMs,
        intervalMs: 100,
        ...(signal ? { signal } : {}),
        fatal: async () => {
          const exited = await Promise.all(
            agents.map((agent) => agent.containerIds([`${RUN_LABEL}=${this.runId}`], 'exited')),
          );
          const index = exited.findIndex((ids) => ids.length > 0);
          return index >= 0
            ? `${describeHost(hosts[index]!)}: a node container exited during startup`
            : undefined;
        },
        describe: async (nodeId) => {
          const placement = byNode.get(nodeId)!;
          const logs = await agents[placement.hostIndex]!.docker([
            'logs',
            '--tail',
            '3',
            containerName(this.runId, nodeId),
          ]);
          return `on ${hosts[placement.hostIndex]!.name}, last log: ${lastLine(logs.stdout + logs.stderr) || 'none'}`;
        },
      });
      endStage('ready');
      for (const placement of placements) {
        this.progress(
          hosts[placement.hostIndex]!.name,
          'ready',
          `${placement.nodeId} ready after ${ready.readyAtMs[placement.nodeId]} ms`,
        );
      }
      const nodes = placements.map(
        (p, index) =>
          new RemoteNodeHandle(
            p.nodeId,
            endpoints[index]!,
            agents[p.hostIndex]!,
            containerName(this.runId, p.nodeId),
          ),
      );
      const environment = {
        testbed: 'remote',
        image: imageReference,
        imageId: image?.id,
        imageTransfer: transfer,
        imageTransferMs: imageMs,
        /** Milliseconds per deploy stage: connect, archive (docker save, once), hosts (Docker, image, nodes: per host, in parallel), ready. */
        stageMs,
        imageBytesShipped: imageReports.reduce((sum, r) => sum + r.bytes, 0),
        nodesPerHost,
        hosts: hosts.map((host, index) => ({
          name: host.name,
          address: host.address,
          ...(host.region ? { region: host.region } : {}),
          ...(Object.keys(host.labels).length > 0 ? { labels: host.labels } : {}),
          os: dockerReports[index]?.os,
          dockerVersion: dockerReports[index]?.serverVersion,
          dockerAccess: dockerReports[index]?.access,
          dockerInstalled: dockerReports[index]?.installed,
          image: imageReports[index]?.action,
          imageBytes: imageReports[index]?.bytes,
          imageMs: imageReports[index]?.durationMs,
          dockerMs: dockerReports[index]?.durationMs,
          startMs: prepared[index]?.startMs,
        })),
      };
      return new RemoteDeployment(
        this.runId,
        endpoints,
        nodes,
        environment,
        Date.now() - started,
        agents,
        image,
        concurrency,
        options.onProgress,
      );
    } catch (error) {
      // Leave every host as we found it (containers, volumes of this run), then report the first error.
      await mapSettled(agents, concurrency, async (agent) => {
        if (agent.session.isClosed) return;
        if (runStarted) {
          await cleanHost(agent, { runId: this.runId, thorough: true }).catch(() => undefined);
          this.progress(agent.host.name, 'cleanup', 'removed what this run created');
        }
      });
      for (const agent of agents) agent.session.close();
      throw error;
    }
  }

  private async startNode(
    agent: RemoteHostAgent,
    placement: NodePlacement,
    peers: string,
    imageToRun: string,
    image: LocalImage | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    const name = containerName(this.runId, placement.nodeId);
    const labels: Record<string, string> = {
      [RUN_LABEL]: this.runId,
      [REMOTE_LABEL]: '1',
      [NODE_LABEL]: placement.nodeId,
    };
    const nodeEnv: Record<string, string> = {
      REFNODE_ID: placement.nodeId,
      REFNODE_PEERS: peers,
      REFNODE_RPC_PORT: String(placement.ports.rpc),
      REFNODE_P2P_PORT: String(placement.ports.p2p),
      REFNODE_METRICS_PORT: String(placement.ports.metrics),
      REFNODE_DATA_DIR: '/data',
      ...this.options.nodeEnv,
    };
    // the data volume is created with the container, labelled like it (one round trip)
    await agent.runContainer(
      {
        name,
        image: imageToRun,
        labels: { ...labels, ...(image ? { [IMAGE_ID_LABEL]: image.id } : {}) },
        env: nodeEnv,
        networkMode: 'host',
        volume: { name, target: '/data', labels },
      },
      `starting ${placement.nodeId}`,
      signal,
    );
    this.progress(
      agent.host.name,
      'start',
      `${placement.nodeId} started (rpc :${placement.ports.rpc}, p2p :${placement.ports.p2p})`,
    );
  }

  /** Runs a task on all hosts; if any fails, throws the first failure (other failures are reported as progress). */
  private async onAll<R>(
    agents: readonly RemoteHostAgent[],
    concurrency: number,
    task: (agent: RemoteHostAgent, index: number) => Promise<R>,
    quiet: (reason: unknown) => boolean = () => false,
  ): Promise<R[]> {
    const results = await mapSettled(agents, concurrency, task);
    const first = results.findIndex((r) => r.status === 'rejected' && !quiet(r.reason));
    results.forEach((result, index) => {
      if (result.status === 'rejected' && index !== first && !quiet(result.reason)) {
        this.progress(agents[index]!.host.name, 'cleanup', `also failed: ${formatError(result.reason)}`);
      }
    });
    if (first >= 0) {
      const error = (results[first] as PromiseRejectedResult).reason;
      throw isMeshbenchError(error)
        ? error
        : new MeshbenchError('INTERNAL', formatError(error), { cause: error });
    }
    const { values, error } = firstFailure(results);
    if (error !== undefined) throw error;
    return values;
  }
}

/** Connects to the hosts and removes every remote meshbench container (and with `thorough`, volumes and images). */
export async function downRemote(options: {
  hosts: HostsConfig;
  thorough: boolean;
  strictHostKeyChecking?: StrictHostKeyChecking;
  knownHostsPath?: string;
  concurrency?: number;
  image?: string;
  env?: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  onProgress?: (progress: HostProgress) => void;
}): Promise<{ containers: number; volumes: number; images: number }> {
  const env = options.env ?? process.env;
  const agents = await connectAll(options.hosts, {
    strictHostKeyChecking: options.strictHostKeyChecking ?? 'accept-new',
    knownHostsPath: options.knownHostsPath ?? options.hosts.knownHostsPath ?? defaultKnownHostsPath(env),
    concurrency: options.concurrency ?? 16,
    env,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  try {
    const results = await mapSettled(agents, options.concurrency ?? 16, async (agent) => {
      await agent.ensureDockerQuiet();
      const removed = await cleanHost(agent, {
        thorough: options.thorough,
        ...(options.image ? { imageId: options.image } : {}),
      });
      options.onProgress?.({
        host: agent.host.name,
        stage: 'cleanup',
        message: `removed ${removed.containers} container(s)${options.thorough ? `, ${removed.volumes} volume(s), ${removed.images} image(s)` : ''}`,
      });
      return removed;
    });
    const { values, error } = firstFailure(results);
    if (error !== undefined) throw error;
    return values.reduce(
      (sum, r) => ({
        containers: sum.containers + r.containers,
        volumes: sum.volumes + r.volumes,
        images: sum.images + r.images,
      }),
      { containers: 0, volumes: 0, images: 0 },
    );
  } finally {
    for (const agent of agents) agent.session.close();
  }
}

export interface RemoteContainerStatus {
  readonly host: string;
  readonly name: string;
  readonly node: string;
  readonly runId: string;
  readonly state: string;
  readonly status: string;
}

/** Lists remote meshbench containers on every host. */
export async function statusRemote(
  agents: readonly RemoteHostAgent[],
  concurrency = 16,
): Promise<RemoteContainerStatus[]> {
  const results = await mapSettled(agents, concurrency, async (agent) => {
    await agent.ensureDockerQuiet();
    const out = await agent.dockerOk(
      [
        'ps',
        '-a',
        '--filter',
        `label=${REMOTE_LABEL}=1`,
        '--format',
        `{{.Names}}\t{{.Label "${NODE_LABEL}"}}\t{{.Label "${RUN_LABEL}"}}\t{{.State}}\t{{.Status}}`,
      ],
      'listing containers',
    );
    return out
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name = '', node = '', runId = '', state = '', status = ''] = line.split('\t');
        return { host: agent.host.name, name, node, runId, state, status };
      });
  });
  const { values, error } = firstFailure(results);
  if (error !== undefined) throw error;
  return values.flat();
}

/** The last lines of every remote meshbench container's log, fetched from all hosts in parallel. */
export async function logsRemote(
  agents: readonly RemoteHostAgent[],
  tailLines: number,
  concurrency = 16,
): Promise<{ host: string; name: string; text: string }[]> {
  const statuses = await statusRemote(agents, concurrency);
  const byHost = new Map(agents.map((a) => [a.host.name, a]));
  const results = await mapSettled(statuses, concurrency, async (status) => {
    const result = await byHost.get(status.host)!.docker(['logs', '--tail', String(tailLines), status.name]);
    return { host: status.host, name: status.name, text: result.stdout + result.stderr };
  });
  return firstFailure(results).values;
}

export type { RemoteHost, SshSession };
