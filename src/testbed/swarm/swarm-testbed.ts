/**
 * The swarm Testbed (`--engine swarm`): the SSH hosts form a Docker Swarm (or one they are in is
 * adopted, membership.ts), the node image is shipped to every host as on plain hosts (no
 * registry), and the network is deployed as a stack with `docker stack deploy` through the
 * manager's CLI over SSH (Compose-file semantics are Docker's own): one node per host by a
 * placement constraint, ports published in host mode, a restart policy (stack-file.ts). The
 * nodes talk over the stack's overlay network; when they cannot (the readiness wait fails with
 * `--swarm-network auto`), the stack is removed and deployed again on the hosts' own networks,
 * and the record says which applied and why. On any failure, or an interrupt, the stack, its
 * volumes and the swarm membership this run created are removed before the error is thrown.
 */
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { MeshbenchError, formatError } from '../../common/errors.js';
import { REFNODE_IMAGE } from '../../common/defaults.js';
import { newRunId } from '../../common/run-id.js';
import { renderCompose } from '../local/compose-generate.js';
import { waitForReady } from '../readiness.js';
import { firstFailure, mapSettled } from '../remote/concurrency.js';
import { closeAll, connectAll, defaultKnownHostsPath, type HostProgress } from '../remote/connect.js';
import type { HostsConfig } from '../remote/hosts.js';
import {
  imageArchive,
  inspectLocalImage,
  pullImage,
  shipImage,
  type ImageTransfer,
} from '../remote/image-transfer.js';
import type { StrictHostKeyChecking } from '../remote/known-hosts.js';
import type { RemoteHostAgent } from '../remote/remote-host.js';
import { peersFirstProbe } from '../remote/remote-nodes.js';
import { describeHost, lastLine } from '../remote/ssh-session.js';
import type { Deployment, Endpoint, RemoteEnvironment, Testbed } from '../testbed.js';
import { topologyDegrees, topologyRecord, type TopologySpec } from '../topology.js';
import { formSwarm, leaveSwarm, type Swarm } from './membership.js';
import { removeStack } from './stack-removal.js';
import { serviceName, stackName, swarmStack, type SwarmNetwork } from './stack-file.js';
import { SwarmDeployment } from './swarm-deployment.js';
import { SwarmNodeHandle, taskContainers } from './swarm-nodes.js';

/** `--swarm-network`: auto tries the overlay and falls back to the hosts' networks. */
export type SwarmNetworkChoice = SwarmNetwork | 'auto';
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
  /** Why the overlay was given up (auto), as the readiness wait saw it. */
  readonly overlayProblem?: string;
  /** Hosts this run joined (they leave at the end). */
  readonly joined: readonly string[];
}

export interface SwarmEnvironment extends RemoteEnvironment {
  readonly engine: 'swarm';
  readonly swarm: SwarmFacts;
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

  async deploy(deployOptions: { signal?: AbortSignal } = {}): Promise<Deployment> {
    return this.deploySwarm(deployOptions);
  }

  async deploySwarm(deployOptions: { signal?: AbortSignal } = {}): Promise<SwarmDeployment> {
    const { signal } = deployOptions;
    const options = this.options;
    const started = Date.now();
    const env = options.env ?? process.env;
    const imageReference = options.image ?? REFNODE_IMAGE;
    const transfer = options.imageTransfer ?? 'ship';
    const concurrency = options.concurrency ?? 16;
    const hosts = options.hosts.hosts;
    const checkAborted = () => {
      if (signal?.aborted)
        throw new MeshbenchError('INTERRUPTED', 'interrupted while deploying the swarm network');
    };
    const image = transfer === 'ship' ? await inspectLocalImage(imageReference) : undefined;
    const sidecars =
      transfer === 'ship'
        ? await Promise.all((options.sidecarImages ?? []).map((ref) => inspectLocalImage(ref)))
        : [];
    const agents = await connectAll(options.hosts, {
      strictHostKeyChecking: options.strictHostKeyChecking ?? 'accept-new',
      knownHostsPath: options.knownHostsPath ?? options.hosts.knownHostsPath ?? defaultKnownHostsPath(env),
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
    let swarm: Swarm | undefined;
    let stackDeployed = false;
    try {
      const cacheDir = options.cacheDir ?? resolve('.meshbench/cache/images');
      const archive = image ? await imageArchive(image, cacheDir) : undefined;
      const sidecarArchives = await Promise.all(sidecars.map((sidecar) => imageArchive(sidecar, cacheDir)));
      endStage('archive');
      checkAborted();
      const prepared = await mapSettled(agents, concurrency, async (agent) => {
        const docker = await agent.ensureDocker({
          ...(signal ? { signal } : {}),
          log: (line) => this.progress(agent.host.name, 'docker', line),
        });
        const report =
          image && archive
            ? await shipImage(agent, image, archive, signal)
            : await pullImage(agent, imageReference, signal);
        this.progress(
          agent.host.name,
          'image',
          `${imageReference}: ${report.action} (${report.durationMs} ms)`,
        );
        for (const [index, reference] of (options.sidecarImages ?? []).entries()) {
          const sidecar = sidecars[index];
          const sidecarArchive = sidecarArchives[index];
          if (sidecar && sidecarArchive) await shipImage(agent, sidecar, sidecarArchive, signal);
          else await pullImage(agent, reference, signal);
        }
        return { docker, image: report };
      });
      const { values: facts, error: prepareError } = firstFailure(prepared);
      if (prepareError !== undefined) throw prepareError;
      endStage('hosts');
      checkAborted();

      swarm = await formSwarm(agents, {
        log: (index, line) => this.progress(hosts[index]!.name, 'start', `swarm: ${line}`),
      });
      endStage('swarm');
      checkAborted();
      const manager = agents[swarm.managerIndex]!;
      const members = hosts.map((_, index) => swarm!.members.find((m) => m.hostIndex === index)!);
      const endpoints: Endpoint[] = hosts.map((host, index) => {
        const hostPart = host.address.includes(':') ? `[${host.address}]` : host.address;
        return {
          nodeId: `node${index}`,
          rpcUrl: `http://${hostPart}:26657`,
          wsUrl: `ws://${hostPart}:26657/websocket`,
          metricsUrl: `http://${hostPart}:26660/metrics`,
          host: host.name,
        };
      });
      const degrees = options.topology ? topologyDegrees(options.topology, hosts.length) : undefined;
      const choice = options.network ?? 'auto';
      let network: SwarmNetwork = choice === 'host' ? 'host' : 'overlay';
      let overlayProblem: string | undefined;
      let ready;
      for (;;) {
        await this.deployStack(
          manager,
          {
            runId: this.runId,
            image: imageReference,
            hosts: hosts.map((host, index) => ({ nodeId: members[index]!.nodeId, address: host.address })),
            network,
            ...(options.topology ? { topology: options.topology } : {}),
            ...(options.nodeEnv ? { nodeEnv: options.nodeEnv } : {}),
          },
          signal,
        );
        stackDeployed = true;
        this.progress(
          manager.host.name,
          'start',
          `stack ${stackName(this.runId)} deployed (${network} network)`,
        );
        try {
          ready = await waitForReady({
            targets: endpoints,
            probeFor: (target) =>
              peersFirstProbe(degrees?.[endpoints.indexOf(target as Endpoint)] ?? hosts.length - 1),
            timeoutMs: options.startupWaitMs ?? 60_000,
            intervalMs: 200,
            ...(signal ? { signal } : {}),
            describe: async (nodeId) => {
              const index = endpoints.findIndex((e) => e.nodeId === nodeId);
              const agent = agents[index]!;
              const tasks = await taskContainers(agent.docker, serviceName(this.runId, nodeId)).catch(
                () => [],
              );
              if (tasks.length === 0)
                return `on ${hosts[index]!.name}, no task container yet (${await this.taskError(manager, nodeId)})`;
              const logs = await agent.docker
                .getContainer(tasks[0]!.id)
                .logs({ stdout: true, stderr: true, tail: 3 })
                .catch(() => '');
              return `on ${hosts[index]!.name}, task ${tasks[0]!.state}, last log: ${lastLine(String(logs)) || 'none'}`;
            },
          });
          break;
        } catch (error) {
          if (choice !== 'auto' || network !== 'overlay' || signal?.aborted) throw error;
          overlayProblem = formatError(error).split('\n')[0];
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
      endStage('ready');
      for (const endpoint of endpoints)
        this.progress(
          endpoint.host ?? '',
          'ready',
          `${endpoint.nodeId} ready after ${ready.readyAtMs[endpoint.nodeId]} ms`,
        );
      const nodes = endpoints.map(
        (endpoint, index) =>
          new SwarmNodeHandle(
            agents[index]!,
            manager,
            this.runId,
            serviceName(this.runId, endpoint.nodeId),
            endpoint.nodeId,
            endpoint,
          ),
      );
      const environment: SwarmEnvironment = {
        testbed: 'remote',
        engine: 'swarm',
        image: imageReference,
        imageId: image?.id,
        imageTransfer: transfer,
        imageTransferMs: Math.max(0, ...facts.map((f) => f.image.durationMs)),
        stageMs,
        imageBytesShipped: facts.reduce((sum, f) => sum + f.image.bytes, 0),
        nodesPerHost: 1,
        ...(options.topology
          ? { topology: topologyRecord(options.topology, hosts.length, (i) => `node${i}`) }
          : {}),
        hosts: hosts.map((host, index) => ({
          name: host.name,
          address: host.address,
          ...(host.region ? { region: host.region } : {}),
          os: facts[index]?.docker.os,
          dockerVersion: facts[index]?.docker.serverVersion,
          dockerAccess: facts[index]?.docker.access,
          dockerInstalled: facts[index]?.docker.installed,
          image: facts[index]?.image.action,
          imageBytes: facts[index]?.image.bytes,
          imageMs: facts[index]?.image.durationMs,
          dockerMs: facts[index]?.docker.durationMs,
        })),
        swarm: {
          mode: swarm.mode,
          clusterId: swarm.clusterId,
          manager: manager.host.name,
          stack: stackName(this.runId),
          network,
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
        image,
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
    stack: Parameters<typeof swarmStack>[0],
    signal?: AbortSignal,
  ): Promise<void> {
    const text = renderCompose(
      swarmStack(stack),
      `meshbench run ${this.runId}: a swarm stack (${stack.network} network)`,
    );
    const result = await manager.dockerCommand(
      ['stack', 'deploy', '--resolve-image', 'never', '--compose-file', '-', stackName(this.runId)],
      { stdin: Readable.from([text]), timeoutMs: 120_000, ...(signal ? { signal } : {}) },
    );
    if (result.exitCode !== 0)
      throw new MeshbenchError(
        'REMOTE_COMMAND',
        `${describeHost(manager.host)}: docker stack deploy failed: ${lastLine(result.stderr) || `exit ${result.exitCode}`}`,
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
