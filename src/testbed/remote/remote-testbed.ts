/**
 * The remote Testbed: SSH to every host in parallel (under a concurrency limit, connect.ts),
 * install Docker where missing (remote-host.ts), ship or pull the node image
 * (image-transfer.ts), start nodes with `--network host` addressed by the hosts' IPs
 * (placement.ts, remote-nodes.ts), and wait until every node is ready. On any failure
 * everything this run created on every host is removed before the error is thrown
 * (cleanup.ts). The running network is a RemoteDeployment (deployment.ts); what runs left
 * is handled by RemoteMaintenance (maintenance.ts).
 */
import { resolve } from 'node:path';
import { MeshbenchError, formatError, isMeshbenchError } from '../../common/errors.js';
import { REFNODE_IMAGE } from '../../common/defaults.js';
import { RUN_LABEL } from '../../common/labels.js';
import { newRunId } from '../../common/run-id.js';
import type { HostsConfig } from './hosts.js';
import { waitForReady } from '../readiness.js';
import { containerLogs } from '../docker/logs.js';
import type { Deployment, Endpoint, RemoteEnvironment, Testbed } from '../testbed.js';
import { firstFailure, mapSettled } from './concurrency.js';
import { cleanHost } from './cleanup.js';
import { checkClocks, type ClockPolicy } from './clock-check.js';
import {
  closeAll,
  connectAll,
  DEFAULT_REMOTE_CONCURRENCY,
  defaultKnownHostsPath,
  type HostProgress,
  type Stage,
} from './connect.js';
import { RemoteDeployment } from './deployment.js';
import {
  imageArchive,
  inspectLocalImage,
  pullImage,
  shipImage,
  type HostImageReport,
  type ImageTransfer,
  type LocalImage,
} from './image-transfer.js';
import type { StrictHostKeyChecking } from './known-hosts.js';
import { containerName, endpointOf, peerList, placeNodes, type NodePlacement } from './placement.js';
import type { DockerReport, RemoteHostAgent } from './remote-host.js';
import { nodeContainerSpec, peersFirstProbe, remoteNodeHandle } from './remote-nodes.js';
import { topologyDegrees, topologyEnvironment, topologyRecord, type TopologySpec } from '../topology.js';
import { describeHost, lastLine } from './ssh-session.js';
import { reachableEndpoint } from './node-tunnels.js';

export const DEFAULT_IMAGE = REFNODE_IMAGE;

// The remote testbed's public surface, from the files that hold each part.
export {
  connectAll,
  DEFAULT_REMOTE_CONCURRENCY,
  defaultKnownHostsPath,
  type HostProgress,
  type Stage,
} from './connect.js';
export { RemoteDeployment } from './deployment.js';
export { cleanHost } from './cleanup.js';
export {
  RemoteMaintenance,
  downRemote,
  logsRemote,
  statusRemote,
  type RemoteContainerStatus,
} from './maintenance.js';
export { BASE_PORTS, PORT_STRIDE, containerName, placeNodes, type NodePlacement } from './placement.js';
export { peersFirstProbe } from './remote-nodes.js';
export type { RemoteHost } from './hosts.js';
export type { SshSession } from './ssh-session.js';

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
  /** Images of sidecars (e.g. the network helper) each host needs too, shipped or pulled like the node image. */
  readonly sidecarImages?: readonly string[];
  /** Extra environment for every node container. */
  readonly nodeEnv?: Readonly<Record<string, string>>;
  /** Who connects to whom (--topology): REFNODE_CONNECT, MESHBENCH_PEERS and MESHBENCH_BOOTSTRAP per node. */
  readonly topology?: TopologySpec;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly onProgress?: (progress: HostProgress) => void;
  /** The clock check after connecting (--max-clock-offset, --allow-clock-offset): clock-check.ts. */
  readonly clock?: ClockPolicy;
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
    const concurrency = options.concurrency ?? DEFAULT_REMOTE_CONCURRENCY;
    const hosts = options.hosts.hosts;
    const checkAborted = () => {
      if (signal?.aborted)
        throw new MeshbenchError('INTERRUPTED', 'interrupted while deploying the remote network');
    };

    // The image must exist here before we touch any host (ship mode).
    const image = transfer === 'ship' ? await inspectLocalImage(imageReference) : undefined;
    const sidecarImages =
      transfer === 'ship'
        ? await Promise.all((options.sidecarImages ?? []).map((ref) => inspectLocalImage(ref)))
        : [];
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
      // Every host's clock, in parallel, before anything starts there: a refusal leaves nothing behind.
      const clocks = await checkClocks(
        agents.map((agent) => agent.session),
        options.clock ?? {},
        concurrency,
      );
      clocks.hosts.forEach((clock, index) => {
        if (!('error' in clock))
          this.progress(
            hosts[index]!.name,
            'clock',
            `offset ${clock.offsetMs.toFixed(3)} ms, round trip ${clock.rttMs.toFixed(3)} ms (${clock.samples} samples)`,
          );
      });
      for (const warning of clocks.warnings) this.progress('clock check', 'clock', `warning: ${warning}`);
      endStage('clock');
      checkAborted();
      // Each host goes through Docker → image → nodes on its own (a pipeline: no host waits for the
      // slowest one between steps). The first failure stops the others.
      const archive = image
        ? await imageArchive(image, options.cacheDir ?? resolve('.meshbench/cache/images'))
        : undefined;
      const sidecarArchives = await Promise.all(
        sidecarImages.map((sidecar) =>
          imageArchive(sidecar, options.cacheDir ?? resolve('.meshbench/cache/images')),
        ),
      );
      endStage('archive');
      runStarted = true;
      const placements = placeNodes(hosts.length, nodesPerHost);
      const peers = peerList(placements, hosts);
      const topologyEnv = options.topology
        ? topologyEnvironment(
            options.topology,
            placements.map((p) => ({
              id: p.nodeId,
              address: `${hosts[p.hostIndex]!.address}:${p.ports.p2p}`,
            })),
          )
        : undefined;
      const degrees = options.topology ? topologyDegrees(options.topology, placements.length) : undefined;
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
            for (const [index, reference] of (options.sidecarImages ?? []).entries()) {
              const sidecar = sidecarImages[index];
              const sidecarArchive = sidecarArchives[index];
              const report =
                sidecar && sidecarArchive
                  ? await shipImage(agent, sidecar, sidecarArchive, hostSignal)
                  : await pullImage(agent, reference, hostSignal);
              this.progress(
                agent.host.name,
                'image',
                `${reference}: ${report.action === 'present' ? 'image already present' : `${report.action} in ${(report.durationMs / 1000).toFixed(1)} s`}`,
              );
            }
            const startStarted = Date.now();
            for (const placement of placements.filter((p) => p.hostIndex === hostIndex)) {
              if (hostSignal.aborted) break;
              await this.startNode(
                agent,
                placement,
                peers,
                imageToRun,
                image,
                hostSignal,
                topologyEnv?.[placements.indexOf(placement)],
              );
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

      // behind a jump host, through ports forwarded over the host's SSH connection (node-tunnels.ts)
      const endpoints: Endpoint[] = await Promise.all(
        placements.map((p) =>
          reachableEndpoint(agents[p.hostIndex]!.session, endpointOf(p, hosts[p.hostIndex]!), p),
        ),
      );
      const startupWaitMs = options.startupWaitMs ?? 60_000;
      const byNode = new Map(placements.map((p) => [p.nodeId, p]));
      const ready = await waitForReady({
        targets: endpoints,
        probeFor: (target) =>
          peersFirstProbe(
            degrees?.[placements.findIndex((p) => p.nodeId === target.nodeId)] ?? placements.length - 1,
          ),
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
          const agent = agents[placement.hostIndex]!;
          const logs = await containerLogs(agent.docker, containerName(this.runId, nodeId), 3).catch(
            (error: unknown) => {
              throw agent.failure(`logs of ${nodeId}`, error);
            },
          );
          return `on ${hosts[placement.hostIndex]!.name}, last log: ${lastLine(logs) || 'none'}`;
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
      const nodes = placements.map((p, index) =>
        remoteNodeHandle(agents[p.hostIndex]!, this.runId, p, endpoints[index]!),
      );
      const environment: RemoteEnvironment = {
        testbed: 'remote',
        image: imageReference,
        imageId: image?.id,
        imageTransfer: transfer,
        imageTransferMs: imageMs,
        /** Milliseconds per deploy stage: connect, archive (docker save, once), hosts (Docker, image, nodes: per host, in parallel), ready. */
        stageMs,
        imageBytesShipped: imageReports.reduce((sum, r) => sum + r.bytes, 0),
        nodesPerHost,
        ...(options.topology
          ? { topology: topologyRecord(options.topology, placements.length, (i) => placements[i]!.nodeId) }
          : {}),
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
          clock: clocks.hosts[index],
        })),
        clockCheck: {
          warnMs: clocks.warnMs,
          ...(clocks.maxOffsetMs !== undefined ? { maxOffsetMs: clocks.maxOffsetMs } : {}),
          warnings: clocks.warnings,
        },
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
        // a host whose Docker step failed has no client: it never started a node of this run
        if (agent.session.isClosed || agent.access === undefined) return;
        if (runStarted) {
          await cleanHost(agent, { runId: this.runId, thorough: true }).catch(() => undefined);
          this.progress(agent.host.name, 'cleanup', 'removed what this run created');
        }
      });
      closeAll(agents);
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
    topologyEnv?: Readonly<Record<string, string>>,
  ): Promise<void> {
    await agent.runContainer(
      nodeContainerSpec({
        runId: this.runId,
        placement,
        peers,
        image: imageToRun,
        ...(image ? { imageId: image.id } : {}),
        ...(this.options.nodeEnv || topologyEnv
          ? { nodeEnv: { ...topologyEnv, ...this.options.nodeEnv } }
          : {}),
      }),
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
