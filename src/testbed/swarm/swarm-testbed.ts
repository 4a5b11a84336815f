/**
 * The swarm Testbed (`--engine swarm`): the SSH hosts are connected, their clocks checked, Docker
 * found or installed and the images shipped exactly as for plain hosts (the shared prologue,
 * ../remote/host-preparation.ts); then the hosts form a Docker Swarm (or one they are in is
 * adopted, membership.ts), and the network is deployed as a stack with `docker stack deploy`
 * through the manager's CLI over SSH (Compose-file semantics are Docker's own): one node per host
 * by a placement constraint, ports published in host mode, a restart policy (stack-file.ts).
 *
 * The stack is local-network's generated project, or the user's compose files
 * (`--docker-compose-path`) as `docker compose config` resolves them, with the same node rule as
 * local-network (../local/compose-file.ts). The nodes talk over the stack's overlay network; for
 * a generated project that cannot (the readiness wait fails with `--swarm-network auto`), the
 * stack is removed and deployed again on the hosts' own networks, and the record says which
 * applied and why. On any failure, or an interrupt, the stack, its volumes and the swarm
 * membership this run created are removed before the error is thrown.
 */
import { Readable } from 'node:stream';
import { MeshbenchError, formatError } from '../../common/errors.js';
import { REFNODE_IMAGE } from '../../common/defaults.js';
import { newRunId } from '../../common/run-id.js';
import { readUserCompose } from '../local/user-compose.js';
import { containerLogs } from '../docker/logs.js';
import type { ComposeModel } from '../local/compose-file.js';
import {
  REFNODE_METRICS_PORT,
  REFNODE_RPC_PORT,
  refnodeNodeId,
  renderCompose,
} from '../local/compose-generate.js';
import { alonenessWatch, probeForProtocol, waitForReady } from '../readiness.js';
import { withClockOffset, type ClockPolicy } from '../remote/clock-check.js';
import { closeAll, DEFAULT_REMOTE_CONCURRENCY, type HostProgress } from '../remote/connect.js';
import {
  connectHosts,
  hostEnvironments,
  prepareHosts,
  reachHosts,
  remoteEnvironmentBase,
  type HostPreparationOptions,
} from '../remote/host-preparation.js';
import type { HostsConfig } from '../remote/hosts.js';
import type { ImageTransfer } from '../remote/image-transfer.js';
import type { StrictHostKeyChecking } from '../remote/known-hosts.js';
import type { RemoteHostAgent } from '../remote/remote-host.js';
import { refuseClaimedPorts } from '../remote/port-claims.js';
import { peersFirstProbe } from '../remote/remote-nodes.js';
import { describeHost, lastLine } from '../remote/ssh-session.js';
import type { Deployment, Endpoint, RemoteEnvironment, Testbed } from '../testbed.js';
import { topologyDegrees, topologyRecord, type TopologySpec } from '../topology.js';
import { formSwarm, leaveSwarm, type Swarm } from './membership.js';
import { removeStack } from './stack-removal.js';
import {
  generatedHostPorts,
  serviceName,
  stackName,
  swarmStack,
  userSwarmStack,
  type StackNode,
  type SwarmNetwork,
} from './stack-file.js';
import { SwarmDeployment } from './swarm-deployment.js';
import { SwarmNodeHandle, taskContainers } from './swarm-nodes.js';

/** `--swarm-network`: auto tries the overlay and falls back to the hosts' networks. */
export type SwarmNetworkChoice = SwarmNetwork | 'auto';

/**
 * How long every node of a generated stack may answer with 0 peers on the overlay before auto
 * deploys it again on the hosts' networks. On a working overlay the reference nodes dial each
 * other within a second or two of answering.
 */
const OVERLAY_ALONE_MS = 20_000;
export const SWARM_NETWORK_VALUES: readonly SwarmNetworkChoice[] = ['auto', 'overlay', 'host'];

export interface SwarmTestbedOptions {
  readonly hosts: HostsConfig;
  readonly image?: string;
  readonly imageTransfer?: ImageTransfer;
  readonly network?: SwarmNetworkChoice;
  readonly startupWaitMs?: number;
  readonly strictHostKeyChecking?: StrictHostKeyChecking;
  readonly knownHostsPath?: string;
  readonly concurrency?: number;
  readonly runId?: string;
  readonly cacheDir?: string;
  readonly sidecarImages?: readonly string[];
  readonly nodeEnv?: Readonly<Record<string, string>>;
  readonly topology?: TopologySpec;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly onProgress?: (progress: HostProgress) => void;
  /** The clock check after connecting (--max-clock-offset, --allow-clock-offset), as on plain hosts. */
  readonly clock?: ClockPolicy;
  /** The user's compose files (`--docker-compose-path`), absolute: the stack instead of the generated project. */
  readonly composePaths?: readonly string[];
  /** The default protocol of the compose file's nodes (a service's `meshbench.protocol` label wins). */
  readonly protocol?: string;
  /** Parent of compose's resolved-project cache (default .meshbench/cache). */
  readonly composeCacheDir?: string;
}

/** The swarm's facts in the record (`environment.testbed.swarm`). */
export interface SwarmFacts {
  /** formed: meshbench created the swarm (and dissolves it); adopted: it existed. */
  readonly mode: 'formed' | 'adopted';
  readonly clusterId: string;
  readonly manager: string;
  readonly stack: string;
  /** The nodes' P2P network that applied: Swarm's overlay, or the hosts' own. */
  readonly network: SwarmNetwork;
  /** The user's compose files the stack was made from (absent: generated). */
  readonly composeFile?: string;
  /** Why the overlay was given up (auto), as the readiness wait saw it. */
  readonly overlayProblem?: string;
  /** Hosts this run joined (they leave at the end). */
  readonly joined: readonly string[];
}

export interface SwarmEnvironment extends RemoteEnvironment {
  readonly engine: 'swarm';
  readonly swarm: SwarmFacts;
}

/** What the stack is made from: local-network's generated project, or the user's compose files. */
interface StackSource {
  readonly hosts: HostsConfig;
  readonly image: string;
  readonly sidecarImages: readonly string[];
  /** The user's project as compose resolved it, and its nodes (absent: generated). */
  readonly user?: {
    readonly project: Record<string, unknown>;
    readonly model: ComposeModel;
    readonly shown: string;
  };
}

export class SwarmTestbed implements Testbed {
  readonly kind = 'remote' as const;
  readonly runId: string;

  constructor(private readonly options: SwarmTestbedOptions) {
    this.runId = options.runId ?? newRunId();
  }

  private progress(host: string, stage: HostProgress['stage'], message: string): void {
    this.options.onProgress?.({ host, stage, message });
  }

  /** Every host the stack would use answers over SSH (connected and closed again), before anything runs. */
  async preflight(preflightOptions: { signal?: AbortSignal } = {}): Promise<void> {
    await reachHosts((await this.stackSource()).hosts, this.options, preflightOptions.signal);
  }

  async deploy(deployOptions: { signal?: AbortSignal } = {}): Promise<Deployment> {
    return this.deploySwarm(deployOptions);
  }

  /**
   * The user's compose files as compose resolves them (`docker compose config`: merged,
   * interpolated, extended), checked before any host is touched: every service has an image
   * (Swarm builds nothing), and there are no more nodes than hosts (one per host).
   */
  private async stackSource(): Promise<StackSource> {
    const options = this.options;
    const image = options.image ?? REFNODE_IMAGE;
    const sidecarImages = options.sidecarImages ?? [];
    const paths = options.composePaths;
    if (!paths || paths.length === 0) return { hosts: options.hosts, image, sidecarImages };
    const shown = paths.join(', ');
    if ((options.network ?? 'auto') === 'host')
      throw new MeshbenchError(
        'BAD_FLAG',
        `--swarm-network host cannot run ${shown}: its nodes find each other by service name, which only the stack's overlay network resolves`,
        { hint: 'leave out --swarm-network (or give overlay) with --docker-compose-path', exitCode: 2 },
      );
    const { model, project } = await readUserCompose({
      files: paths,
      protocol: options.protocol,
      ...(options.env ? { env: options.env } : {}),
      cacheDir: options.composeCacheDir ?? '.meshbench/cache',
    });
    const built = model.services.find((service) => service.image === undefined);
    if (built)
      throw new MeshbenchError(
        'COMPOSE_FILE',
        `compose file ${shown}: service ${built.name} has only build:, and a swarm stack runs images, it builds none`,
        {
          hint: `build it here and name the image in the file (image: …), which meshbench then ships to the hosts`,
        },
      );
    const count = options.hosts.hosts.length;
    if (model.nodes.length > count)
      throw new MeshbenchError(
        'COMPOSE_FILE',
        `compose file ${shown} has ${model.nodes.length} node services and ${options.hosts.source} ${count} host(s); a swarm run places one node per host`,
        { hint: `give at least ${model.nodes.length} hosts, or fewer node services` },
      );
    const images = [...new Set(model.services.map((service) => service.image!))];
    const nodeImage = model.nodes[0]!.image!;
    return {
      hosts: { ...options.hosts, hosts: options.hosts.hosts.slice(0, model.nodes.length) },
      image: nodeImage,
      sidecarImages: [...images.filter((other) => other !== nodeImage), ...sidecarImages],
      user: { project, model, shown },
    };
  }

  async deploySwarm(deployOptions: { signal?: AbortSignal } = {}): Promise<SwarmDeployment> {
    const { signal } = deployOptions;
    const options = this.options;
    const started = Date.now();
    const source = await this.stackSource();
    const { user } = source;
    const hostsConfig = source.hosts;
    const hosts = hostsConfig.hosts;
    if (user && hosts.length < options.hosts.hosts.length)
      this.progress(
        hosts[0]!.name,
        'connect',
        `${user.shown} has ${hosts.length} node(s): using the first ${hosts.length} of ${options.hosts.hosts.length} hosts`,
      );
    const imageReference = source.image;
    const transfer = options.imageTransfer ?? 'ship';
    const concurrency = options.concurrency ?? DEFAULT_REMOTE_CONCURRENCY;
    const checkAborted = () => {
      if (signal?.aborted)
        throw new MeshbenchError('INTERRUPTED', 'interrupted while deploying the swarm network');
    };
    // SSH, clocks, Docker and the images: as on plain hosts (../remote/host-preparation.ts)
    const preparation: HostPreparationOptions = {
      hosts: hostsConfig,
      image: imageReference,
      imageTransfer: transfer,
      concurrency,
      sidecarImages: source.sidecarImages,
      ...(options.strictHostKeyChecking ? { strictHostKeyChecking: options.strictHostKeyChecking } : {}),
      ...(options.knownHostsPath ? { knownHostsPath: options.knownHostsPath } : {}),
      ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(signal ? { signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    };
    const connected = await connectHosts(preparation);
    const { agents, stages } = connected;
    let swarm: Swarm | undefined;
    let stackDeployed = false;
    try {
      checkAborted();
      const prepared = await prepareHosts(connected, preparation, async () => undefined);
      checkAborted();

      swarm = await formSwarm(agents, {
        log: (index, line) => this.progress(hosts[index]!.name, 'start', `swarm: ${line}`),
      });
      stages.end('swarm');
      checkAborted();
      const manager = agents[swarm.managerIndex]!;
      const members = hosts.map((_, index) => swarm!.members.find((m) => m.hostIndex === index)!);
      const placed = hosts.map((host, index) => ({ nodeId: members[index]!.nodeId, address: host.address }));
      const userStack = user
        ? userSwarmStack(user.project, user.model, {
            runId: this.runId,
            hosts: placed,
            ...(options.nodeEnv ? { nodeEnv: options.nodeEnv } : {}),
          })
        : undefined;
      const choice = user ? 'overlay' : (options.network ?? 'auto');
      const stackNodes: readonly StackNode[] =
        userStack?.nodes ??
        hosts.map((_, index) => ({
          nodeId: refnodeNodeId(index),
          hostIndex: index,
          rpcPort: REFNODE_RPC_PORT,
          metricsPort: REFNODE_METRICS_PORT,
          // auto may deploy again on the hosts' network, where the p2p port is the host's too
          hostPorts: generatedHostPorts(choice === 'overlay' ? 'overlay' : 'host'),
        }));
      const endpoints: Endpoint[] = stackNodes.map((node) => {
        const host = hosts[node.hostIndex]!;
        const hostPart = host.address.includes(':') ? `[${host.address}]` : host.address;
        // placed on that host (stack-file.ts): its clock's offset is that host's
        return withClockOffset(
          {
            nodeId: node.nodeId,
            rpcUrl: `http://${hostPart}:${node.rpcPort}`,
            wsUrl: `ws://${hostPart}:${node.rpcPort}/websocket`,
            ...(node.metricsPort !== undefined
              ? { metricsUrl: `http://${hostPart}:${node.metricsPort}/metrics` }
              : {}),
            host: host.name,
          },
          connected.clocks.hosts[node.hostIndex],
        );
      });
      const degrees = options.topology ? topologyDegrees(options.topology, hosts.length) : undefined;
      const protocolOf = (index: number) => stackNodes[index]?.protocol ?? options.protocol ?? 'cometbft';
      const probeFor = (index: number) => {
        const peers = degrees?.[index] ?? endpoints.length - 1;
        return protocolOf(index) === 'cometbft'
          ? peersFirstProbe(peers)
          : probeForProtocol(protocolOf(index), peers);
      };
      // another run left running on these hosts holds the ports (host mode): say so before deploying
      await Promise.all(
        agents.map((agent, hostIndex) =>
          refuseClaimedPorts(
            agent,
            this.runId,
            stackNodes.filter((node) => node.hostIndex === hostIndex),
          ),
        ),
      );
      checkAborted();
      let network: SwarmNetwork = choice === 'host' ? 'host' : 'overlay';
      let overlayProblem: string | undefined;
      let ready;
      for (;;) {
        const stack =
          userStack?.stack ??
          swarmStack({
            runId: this.runId,
            image: imageReference,
            hosts: placed,
            network,
            ...(options.topology ? { topology: options.topology } : {}),
            ...(options.nodeEnv ? { nodeEnv: options.nodeEnv } : {}),
          });
        // Not cut off by Ctrl-C: `docker stack deploy` goes on on the manager when its SSH
        // channel closes, and a stack this run did not know it had made kept its volumes
        // after the swarm was left. The deploy is one short command; the check follows it.
        stackDeployed = true;
        await this.deployStack(
          manager,
          stack,
          user ? `${user.shown} as a swarm stack` : `a swarm stack (${network} network)`,
        );
        checkAborted();
        this.progress(
          manager.host.name,
          'start',
          `stack ${stackName(this.runId)} deployed (${user ? `${user.shown}, ` : ''}${network} network)`,
        );
        // With auto, an overlay that connects no node is given up on once every node has answered
        // alone for OVERLAY_ALONE_MS, not after the whole --startup-wait (CI #63, #68: 180 s).
        const alone =
          choice === 'auto' && network === 'overlay'
            ? alonenessWatch(
                endpoints.map((endpoint) => endpoint.nodeId),
                OVERLAY_ALONE_MS,
              )
            : undefined;
        try {
          ready = await waitForReady({
            targets: endpoints,
            probeFor: (target) => {
              const probe = probeFor(endpoints.indexOf(target as Endpoint));
              if (!alone) return probe;
              return async (polled, http) => {
                const result = await probe(polled, http);
                alone.record(polled.nodeId, result);
                return result;
              };
            },
            ...(alone ? { fatal: async () => alone.check() } : {}),
            timeoutMs: options.startupWaitMs ?? 60_000,
            intervalMs: 200,
            ...(signal ? { signal } : {}),
            describe: async (nodeId) => {
              const index = stackNodes.findIndex((node) => node.nodeId === nodeId);
              const hostIndex = stackNodes[index]!.hostIndex;
              const agent = agents[hostIndex]!;
              const tasks = await taskContainers(agent.docker, serviceName(this.runId, nodeId)).catch(
                () => [],
              );
              if (tasks.length === 0)
                return `on ${hosts[hostIndex]!.name}, no task container yet (${await this.taskError(manager, nodeId)})`;
              // demultiplexed: the raw answer carries each frame's 8-byte header
              const logs = await containerLogs(agent.docker, tasks[0]!.id, 3).catch(() => '');
              return `on ${hosts[hostIndex]!.name}, task ${tasks[0]!.state}, last log: ${lastLine(logs) || 'none'}`;
            },
          });
          break;
        } catch (error) {
          if (choice !== 'auto' || network !== 'overlay' || signal?.aborted) throw error;
          // what the wait saw, without its fix (the fix is this fallback)
          overlayProblem = (error instanceof Error ? error.message : formatError(error)).split('\n')[0];
          this.progress(
            manager.host.name,
            'start',
            `overlay network did not connect the nodes (${overlayProblem}); deploying again on the hosts' networks`,
          );
          await removeStack(agents, manager, this.runId);
          stackDeployed = false;
          network = 'host';
        }
      }
      stages.end('ready');
      for (const endpoint of endpoints)
        this.progress(
          endpoint.host ?? '',
          'ready',
          `${endpoint.nodeId} ready after ${ready.readyAtMs[endpoint.nodeId]} ms`,
        );
      const nodes = endpoints.map(
        (endpoint, index) =>
          new SwarmNodeHandle(
            agents[stackNodes[index]!.hostIndex]!,
            manager,
            this.runId,
            serviceName(this.runId, endpoint.nodeId),
            endpoint.nodeId,
            endpoint,
          ),
      );
      const environment: SwarmEnvironment = {
        ...remoteEnvironmentBase(preparation, connected, prepared),
        engine: 'swarm',
        nodesPerHost: 1,
        ...(options.topology && !user
          ? { topology: topologyRecord(options.topology, hosts.length, (i) => `node${i}`) }
          : {}),
        hosts: hostEnvironments(hostsConfig, prepared, connected.clocks),
        swarm: {
          mode: swarm.mode,
          clusterId: swarm.clusterId,
          manager: manager.host.name,
          stack: stackName(this.runId),
          network,
          ...(user ? { composeFile: user.shown } : {}),
          ...(overlayProblem ? { overlayProblem } : {}),
          joined: swarm.members.filter((m) => m.joinedByRun).map((m) => hosts[m.hostIndex]!.name),
        },
      };
      return new SwarmDeployment(
        this.runId,
        endpoints,
        nodes,
        environment,
        Date.now() - started,
        agents,
        swarm,
        connected.image,
        concurrency,
        options.onProgress,
      );
    } catch (error) {
      // leave the hosts as they were: the stack and its volumes, then the membership this run made
      if (stackDeployed && swarm) {
        await removeStack(agents, agents[swarm.managerIndex]!, this.runId, { volumes: true }).catch(
          (cleanupError: unknown) =>
            this.progress(
              hosts[swarm!.managerIndex]!.name,
              'cleanup',
              `also failed: ${formatError(cleanupError)}`,
            ),
        );
      }
      if (swarm) {
        for (const line of await leaveSwarm(agents, swarm))
          this.progress(hosts[swarm.managerIndex]!.name, 'cleanup', line);
        this.progress(hosts[swarm.managerIndex]!.name, 'cleanup', 'removed what this run created');
      }
      closeAll(agents);
      throw error;
    }
  }

  /** `docker stack deploy` on the manager, the stack file on stdin. */
  private async deployStack(
    manager: RemoteHostAgent,
    stack: Record<string, unknown>,
    what: string,
  ): Promise<void> {
    const text = await renderCompose(stack, `meshbench run ${this.runId}: ${what}`);
    const result = await manager.dockerCommand(
      ['stack', 'deploy', '--resolve-image', 'never', '--compose-file', '-', stackName(this.runId)],
      { stdin: Readable.from([text]), timeoutMs: 120_000 },
    );
    if (result.exitCode !== 0)
      throw new MeshbenchError(
        'REMOTE_COMMAND',
        `${describeHost(manager.host)}: docker stack deploy of ${what} failed: ${lastLine(result.stderr) || `exit ${result.exitCode}`}`,
        { hint: 'check the manager with `docker stack ps` there and re-run' },
      );
  }

  /** The newest task error Swarm gives for a node's service (why it does not run). */
  private async taskError(manager: RemoteHostAgent, nodeId: string): Promise<string> {
    try {
      const tasks = (await manager.docker.listTasks({
        filters: { service: [serviceName(this.runId, nodeId)] },
      })) as { Status?: { Err?: string; State?: string; Message?: string } }[];
      const status = tasks[0]?.Status;
      return status ? `${status.State}: ${status.Err ?? status.Message ?? ''}` : 'no task';
    } catch (error) {
      return formatError(error);
    }
  }
}

export { SwarmDeployment } from './swarm-deployment.js';
