/**
 * Dedicated load client hosts (`--load-clients dedicated:N`): inventory hosts marked
 * `role: client` (per host, or on their group) run no node; the first N of them each run one
 * load client, in the host's network, with the run's labels (cleanup finds it with the run).
 * Their image travels like the node image (shipped, or with `--image-transfer pull` expected
 * to be there already).
 */
import { MeshbenchError, badFlag } from '../../common/errors.js';
import { startAttachedContainer } from '../docker/attached-container.js';
import { statusOf } from '../docker/connection.js';
import { remoteSidecarLabels } from '../docker/labels.js';
import { execIn } from '../docker/node-handle.js';
import type { ClientHostHandle, Endpoint, RemoteHostEnvironment } from '../testbed.js';
import { cleanHost } from './cleanup.js';
import { mapSettled } from './concurrency.js';
import { closeAll } from './connect.js';
import {
  connectHosts,
  hostEnvironments,
  prepareHosts,
  type ConnectedHosts,
  type HostPreparationOptions,
  type PreparedHost,
} from './host-preparation.js';
import type { HostsConfig, RemoteHost } from './hosts.js';
import type { DockerReport, RemoteHostAgent } from './remote-host.js';
import { describeHost } from './ssh-session.js';

/** The label a dedicated client's container carries with its host's name. */
export const CLIENT_HOST_LABEL = 'meshbench.client-host';

/**
 * The node hosts in `hosts`, the hosts marked `role: client` in `clientHosts` (inventory order).
 * Refuses an inventory whose every host is a client host.
 */
export function separateClientHosts(config: HostsConfig): HostsConfig {
  if (config.clientHosts !== undefined) return config;
  const clients = config.hosts.filter((host) => host.role === 'client');
  if (clients.length === 0) return { ...config, clientHosts: [] };
  const nodes = config.hosts.filter((host) => host.role !== 'client');
  if (nodes.length === 0)
    throw new MeshbenchError(
      'BAD_CONFIG',
      `${config.source}: every host is marked role: client, so no host is left for the nodes`,
      { hint: 'mark only the load client hosts role: client (the others default to role: node)' },
    );
  return { ...config, hosts: nodes, clientHosts: clients };
}

/** The first `count` client hosts, or a one-line refusal saying how many are marked. */
export function pickClientHosts(config: HostsConfig, count: number): readonly RemoteHost[] {
  const marked = separateClientHosts(config).clientHosts ?? [];
  if (count > marked.length)
    throw badFlag(
      'load-clients',
      `dedicated:${count}`,
      `${config.source} marks ${marked.length} host${marked.length === 1 ? '' : 's'} role: client${
        marked.length > 0 ? ` (${marked.map((h) => h.name).join(', ')})` : ''
      }; mark ${count - marked.length} more (role: client in a YAML inventory, docs/remote-network.md) or use dedicated:${Math.max(1, marked.length)}${marked.length === 0 ? ' once one is marked' : ''}`,
    );
  return marked.slice(0, count);
}

/**
 * With `--image-transfer pull` nothing is shipped: a client host must already have the load
 * client image (it is built here, not published). Checked on every client host before any node
 * starts; the refusal names the hosts that lack it.
 */
export async function checkClientHostImages(
  agents: readonly RemoteHostAgent[],
  image: string,
): Promise<void> {
  const missing: string[] = [];
  await Promise.all(
    agents.map(async (agent) => {
      if (!(await hasImageReference(agent, image))) missing.push(describeHost(agent.host));
    }),
  );
  if (missing.length > 0)
    throw new MeshbenchError(
      'IMAGE_MISSING',
      `load client host${missing.length === 1 ? '' : 's'} ${missing.sort().join(', ')} ha${missing.length === 1 ? 's' : 've'} no image ${image}, and --image-transfer pull does not ship it`,
      { hint: `use --image-transfer ship (the default), or docker load ${image} on those hosts first` },
    );
}

async function hasImageReference(agent: RemoteHostAgent, reference: string): Promise<boolean> {
  try {
    await agent.docker.getImage(reference).inspect();
    return true;
  } catch (error) {
    if (statusOf(error) === 404) return false;
    throw agent.failure(`inspecting image ${reference}`, error);
  }
}

/** A client host's handle: its load client runs in the host's network, labelled with the run. */
export function remoteClientHost(
  agent: RemoteHostAgent,
  runId: string,
  endpoints: readonly Endpoint[],
): ClientHostHandle {
  const host = agent.host.name;
  return {
    name: host,
    endpoints,
    run: (spec) =>
      startAttachedContainer({
        docker: agent.docker,
        spec,
        labels: { ...remoteSidecarLabels(runId), [CLIENT_HOST_LABEL]: host },
        networkMode: 'host',
        host,
        call: async (what, call) => {
          try {
            return await call();
          } catch (error) {
            throw agent.failure(`${what} on client host`, error);
          }
        },
        exec: (containerId, command) => execIn(agent.docker, containerId, command),
      }),
  };
}

/**
 * The dedicated client hosts of one deploy, beside the node hosts: connected and their clocks
 * judged first (the same prologue and policy as the node hosts: host-preparation.ts); with
 * `--image-transfer pull` their image checked there before anything starts anywhere; then
 * prepared (Docker, the client image shipped) while the node hosts prepare theirs.
 */
export class DedicatedClientHosts {
  readonly #preparation: HostPreparationOptions;
  readonly #connected: ConnectedHosts;
  #prepared: PreparedHost<unknown>[] | undefined;

  private constructor(preparation: HostPreparationOptions, connected: ConnectedHosts) {
    this.#preparation = preparation;
    this.#connected = connected;
  }

  /** Connects to the client hosts and judges their clocks; with pull, checks their image. */
  static async connect(
    nodePreparation: HostPreparationOptions,
    clients: { readonly hosts: readonly RemoteHost[]; readonly image: string },
  ): Promise<DedicatedClientHosts> {
    const { sidecarImages: _sidecars, ...rest } = nodePreparation;
    const preparation: HostPreparationOptions = {
      ...rest,
      hosts: { ...nodePreparation.hosts, hosts: clients.hosts, clientHosts: [] },
      image: clients.image,
    };
    const connected = await connectHosts(preparation);
    const self = new DedicatedClientHosts(preparation, connected);
    if (preparation.imageTransfer === 'pull') {
      try {
        const dockers = await Promise.all(
          connected.agents.map((agent) =>
            agent.ensureDocker({
              ...(preparation.signal ? { signal: preparation.signal } : {}),
              log: (line) =>
                preparation.onProgress?.({ host: agent.host.name, stage: 'docker', message: line }),
            }),
          ),
        );
        await checkClientHostImages(connected.agents, clients.image);
        self.#prepared = dockers.map((docker: DockerReport, index) => ({
          docker,
          image: { host: connected.agents[index]!.host.name, action: 'present', bytes: 0, durationMs: 0 },
          then: undefined,
        }));
      } catch (error) {
        self.close();
        throw error;
      }
    }
    return self;
  }

  get agents(): readonly RemoteHostAgent[] {
    return this.#connected.agents;
  }

  /** Docker and the client image on each client host (nothing to do when pull found it there). */
  async prepare(): Promise<void> {
    if (this.#prepared) return;
    this.#prepared = await prepareHosts(this.#connected, this.#preparation, async () => undefined);
  }

  /** One handle per client host: how its client reaches the nodes, and how to start it. */
  handles(runId: string, endpoints: readonly Endpoint[]): ClientHostHandle[] {
    return this.#connected.agents.map((agent) => remoteClientHost(agent, runId, endpoints));
  }

  /** The client hosts as the record keeps them (`environment.testbed.clientHosts`), with their clocks. */
  environments(): RemoteHostEnvironment[] {
    return hostEnvironments(this.#preparation.hosts, this.#prepared ?? [], this.#connected.clocks);
  }

  /** After a failed deploy: removes what this run started on the client hosts, and disconnects. */
  async cleanup(runId: string): Promise<void> {
    await mapSettled(this.#connected.agents, this.#preparation.concurrency, async (agent) => {
      if (agent.session.isClosed || agent.access === undefined) return;
      await cleanHost(agent, { runId, thorough: true }).catch(() => undefined);
    });
    this.close();
  }

  close(): void {
    closeAll(this.#connected.agents);
  }
}
