/**
 * The remote Testbed: SSH to every host in parallel (under a concurrency limit, connect.ts),
 * install Docker where missing (remote-host.ts), ship or pull the node image
 * (image-transfer.ts), start nodes with `--network host` addressed by the hosts' IPs
 * (placement.ts, remote-nodes.ts), and wait until every node is ready. On any failure
 * everything this run created on every host is removed before the error is thrown
 * (cleanup.ts). The running network is a RemoteDeployment (deployment.ts); what runs left
 * is handled by RemoteMaintenance (maintenance.ts).
 */
import { refuseClaimedPorts, wantsOf } from './port-claims.js';
import { formatError, MeshbenchError } from '../../common/errors.js';
import { trace } from '../../common/trace.js';
import { REFNODE_IMAGE } from '../../common/defaults.js';
import { RUN_LABEL } from '../../common/labels.js';
import { newRunId } from '../../common/run-id.js';
import type { HostsConfig } from './hosts.js';
import { waitForReady } from '../readiness.js';
import { containerLogs } from '../docker/logs.js';
import type {
  Deployment,
  Endpoint,
  ForcedRemoval,
  RemovalSummary,
  RemoteEnvironment,
  Testbed,
} from '../testbed.js';
import { mapSettled } from './concurrency.js';
import { cleanHost } from './cleanup.js';
import { withClockOffset, type ClockPolicy } from './clock-check.js';
import { closeAll, DEFAULT_REMOTE_CONCURRENCY, type HostProgress, type Stage } from './connect.js';
import { RemoteDeployment } from './deployment.js';
import {
  connectHosts,
  hostEnvironments,
  prepareHosts,
  reachHosts,
  remoteEnvironmentBase,
  type HostPreparationOptions,
} from './host-preparation.js';
import type { ImageTransfer, LocalImage } from './image-transfer.js';
import type { StrictHostKeyChecking } from './known-hosts.js';
import { containerName, endpointOf, peerList, placeNodes, type NodePlacement } from './placement.js';
import type { RemoteHostAgent } from './remote-host.js';
import {
  checkNodesPerHost,
  nodeContainerSpec,
  remoteNodeHandle,
  systemBasePorts,
  systemProbe,
} from './remote-nodes.js';
import { REFNODE_TEMPLATE, type NodeTemplate } from '../node-template.js';
import { topologyDegrees, topologyEnvironment, topologyRecord, type TopologySpec } from '../topology.js';
import { describeHost, lastLine } from './ssh-session.js';
import { reachableEndpoint } from './node-tunnels.js';
import { DedicatedClientHosts } from './client-hosts.js';
import type { RemoteHost } from './hosts.js';

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
  /** What each node is (`--system`): its image, protocol, ports and environment; default the reference node. */
  readonly system?: NodeTemplate;
  /** The node image; default the system's. */
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
  /**
   * `--load-clients dedicated:N`: these hosts (marked `role: client`, not in `hosts`) get the
   * client image and no node; the deployment hands them out as `clientHosts` (client-hosts.ts).
   */
  readonly loadClientHosts?: { readonly hosts: readonly RemoteHost[]; readonly image: string };
}

export class RemoteTestbed implements Testbed {
  readonly kind = 'remote' as const;
  readonly runId: string;
  /** The hosts of the deploy under way or done, for a forced removal. */
  #agents: readonly RemoteHostAgent[] = [];
  /** The removals a failed deploy began, per host: a forced exit waits for them. */
  readonly #removals = new Map<RemoteHostAgent, Promise<RemovalSummary>>();

  constructor(private readonly options: RemoteTestbedOptions) {
    this.runId = options.runId ?? newRunId();
  }

  private progress(host: string, stage: Stage, message: string): void {
    this.options.onProgress?.({ host, stage, message });
  }

  /** Every host, node and client, answers over SSH (connected and closed again), before anything runs. */
  async preflight(preflightOptions: { signal?: AbortSignal } = {}): Promise<void> {
    const { hosts, loadClientHosts } = this.options;
    const all = { ...hosts, hosts: [...(loadClientHosts?.hosts ?? []), ...hosts.hosts] };
    await reachHosts(all, this.options, preflightOptions.signal);
  }

  async deploy(deployOptions: { signal?: AbortSignal } = {}): Promise<Deployment> {
    return this.deployRemote(deployOptions);
  }

  async deployRemote(deployOptions: { signal?: AbortSignal } = {}): Promise<RemoteDeployment> {
    const { signal } = deployOptions;
    const options = this.options;
    const started = Date.now();
    const system = options.system ?? REFNODE_TEMPLATE;
    const imageReference = options.image ?? system.image;
    const transfer = options.imageTransfer ?? 'ship';
    const nodesPerHost = options.nodesPerHost ?? 1;
    checkNodesPerHost(system, nodesPerHost);
    const concurrency = options.concurrency ?? DEFAULT_REMOTE_CONCURRENCY;
    const hosts = options.hosts.hosts;
    const checkAborted = () => {
      if (signal?.aborted)
        throw new MeshbenchError('INTERRUPTED', 'interrupted while deploying the remote network');
    };
    // SSH, clocks, Docker and the images: the prologue the swarm engine shares (host-preparation.ts)
    const preparation: HostPreparationOptions = {
      hosts: options.hosts,
      image: imageReference,
      imageTransfer: transfer,
      concurrency,
      ...(options.sidecarImages ? { sidecarImages: options.sidecarImages } : {}),
      ...(options.strictHostKeyChecking ? { strictHostKeyChecking: options.strictHostKeyChecking } : {}),
      ...(options.knownHostsPath ? { knownHostsPath: options.knownHostsPath } : {}),
      ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(signal ? { signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    };
    // dedicated load client hosts first: a refusal there (clock, image with pull) leaves nothing behind
    const clientSide = options.loadClientHosts?.hosts.length
      ? await DedicatedClientHosts.connect(preparation, options.loadClientHosts)
      : undefined;
    const connected = await connectHosts(preparation).catch((error: unknown) => {
      clientSide?.close();
      throw error;
    });
    const { agents, image, clocks, stages } = connected;
    this.#agents = agents;
    let runStarted = false;
    try {
      checkAborted();
      runStarted = true;
      const placements = placeNodes(hosts.length, nodesPerHost, systemBasePorts(system));
      const peers = peerList(placements, hosts);
      // a P2P system dials MESHBENCH_PEERS even in a full mesh (system-template.ts)
      const topology = options.topology ?? (system.peersAlways ? { kind: 'full' as const } : undefined);
      const topologyEnv = topology
        ? topologyEnvironment(
            topology,
            placements.map((p) => ({
              id: p.nodeId,
              address: `${hosts[p.hostIndex]!.address}:${p.ports.p2p}`,
            })),
          )
        : undefined;
      const degrees = options.topology ? topologyDegrees(options.topology, placements.length) : undefined;
      const imageToRun = image ? image.id : imageReference;
      // the client hosts get Docker and their image while the node hosts get theirs
      const clientsPrepared = clientSide?.prepare();
      clientsPrepared?.catch(() => undefined);
      // Each host goes through Docker → image → nodes on its own (a pipeline: no host waits for the
      // slowest one between steps). The first failure stops the others.
      const prepared = await prepareHosts(connected, preparation, async (agent, hostIndex, hostSignal) => {
        const startStarted = Date.now();
        const here = placements.filter((p) => p.hostIndex === hostIndex);
        // another run left running on this host holds the ports (host networking): say so first
        await refuseClaimedPorts(agent, this.runId, wantsOf(here));
        for (const placement of here) {
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
        return { startMs: Date.now() - startStarted };
      });
      await clientsPrepared;
      checkAborted();

      // behind a jump host, through ports forwarded over the host's SSH connection (node-tunnels.ts)
      // each with its host's measured clock offset: a node's own times are read on this clock
      const atHost = (p: NodePlacement) =>
        withClockOffset(endpointOf(p, hosts[p.hostIndex]!), clocks.hosts[p.hostIndex]);
      const endpoints: Endpoint[] = await Promise.all(
        placements.map((p) => reachableEndpoint(agents[p.hostIndex]!.session, atHost(p), p)),
      );
      const startupWaitMs = options.startupWaitMs ?? 60_000;
      const byNode = new Map(placements.map((p) => [p.nodeId, p]));
      const ready = await waitForReady({
        targets: endpoints,
        probeFor: (target) =>
          systemProbe(
            system,
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
      stages.end('ready');
      for (const placement of placements) {
        this.progress(
          hosts[placement.hostIndex]!.name,
          'ready',
          `${placement.nodeId} ready after ${ready.readyAtMs[placement.nodeId]} ms`,
        );
      }
      const nodes = placements.map((p, index) =>
        remoteNodeHandle(agents[p.hostIndex]!, this.runId, p, endpoints[index]!, atHost(p)),
      );
      const environment: RemoteEnvironment = {
        ...remoteEnvironmentBase(preparation, connected, prepared),
        nodesPerHost,
        ...(options.topology
          ? { topology: topologyRecord(options.topology, placements.length, (i) => placements[i]!.nodeId) }
          : {}),
        hosts: hostEnvironments(options.hosts, prepared, clocks).map((host, index) => ({
          ...host,
          startMs: prepared[index]?.then.startMs,
        })),
        ...(clientSide ? { clientHosts: clientSide.environments() } : {}),
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
        clientSide
          ? {
              agents: clientSide.agents,
              // a client host reaches the nodes over the hosts' network, at their own addresses
              handles: clientSide.handles(this.runId, placements.map(atHost)),
            }
          : undefined,
      );
    } catch (error) {
      trace(`remote: deploy failed (${formatError(error)}); removing what it made`);
      // Leave every host as we found it (containers, volumes of this run), then report the first error.
      await mapSettled(agents, concurrency, async (agent) => {
        // a host whose Docker step failed has no client: it never started a node of this run
        if (agent.session.isClosed || agent.access === undefined) return;
        if (runStarted) {
          const removal = cleanHost(agent, { runId: this.runId, thorough: true });
          this.#removals.set(agent, removal);
          await removal.then(
            () => this.progress(agent.host.name, 'cleanup', 'removed what this run created'),
            (failure: unknown) =>
              this.progress(
                agent.host.name,
                'cleanup',
                `${failure instanceof Error ? failure.message : String(failure)}; remove what is left with remote-network --down`,
              ),
          );
        }
      });
      closeAll(agents);
      await clientSide?.cleanup(this.runId);
      trace('remote: removed what the failed deploy made');
      throw error;
    }
  }

  /**
   * Removes every object labelled with this run on each connected host (a forced exit). A host
   * whose removal the failed deploy already began is waited for (cleanHost joins it), not raced.
   */
  async forceRemove(): Promise<ForcedRemoval> {
    const total = { containers: 0, networks: 0, volumes: 0, errors: [] as string[] };
    await Promise.all(
      this.#agents.map(async (agent) => {
        const begun = this.#removals.get(agent);
        if (begun === undefined && (agent.session.isClosed || agent.access === undefined)) return;
        try {
          const removed = await (begun ?? cleanHost(agent, { runId: this.runId, thorough: true }));
          total.containers += removed.containers;
          total.networks += removed.networks;
          total.volumes += removed.volumes;
        } catch (error) {
          total.errors.push(error instanceof Error ? error.message : String(error));
        }
      }),
    );
    return total;
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
        ...(this.options.system ? { system: this.options.system } : {}),
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
}
