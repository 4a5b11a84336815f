/**
 * The stack file a swarm run deploys: the compose project `local-network --committee N`
 * generates (../local/compose-generate.ts), turned into a Swarm stack: one node per host by a
 * placement constraint on the swarm node's ID, its RPC and metrics ports published in host mode
 * (clients reach each node at its host's address), a restart policy so Swarm replaces a crashed
 * node, a labelled data volume per node (local to its host, so a replaced task keeps its data),
 * and every container, volume and network labelled with the run. Pure: a plain model in and out.
 *
 * The nodes' P2P traffic goes over the stack's overlay network (peers by service name, as in
 * local-network), or, with `network: 'host'`, over the hosts' own network (peers at the hosts'
 * addresses, as on plain hosts): the fallback where an overlay cannot work.
 *
 * `userSwarmStack` does the same for the user's own compose project, as `docker compose config`
 * resolved it (`--docker-compose-path`): its nodes pinned one per host, their ports in host mode.
 */
import { NODE_LABEL, REMOTE_LABEL, RUN_LABEL, TESTBED_LABEL } from '../../common/labels.js';
import { hostPortsLabel } from '../remote/port-claims.js';
import {
  REFNODE_METRICS_PORT,
  REFNODE_P2P_PORT,
  REFNODE_RPC_PORT,
  refnodeCompose,
  refnodeNodeIds,
} from '../local/compose-generate.js';
import { labelsOf, parsePortEntry, type ComposeModel } from '../local/compose-file.js';
import { topologyEnvironment, type TopologySpec } from '../topology.js';

/** How the nodes reach each other: Swarm's overlay (VXLAN), or the hosts' network namespaces. */
export type SwarmNetwork = 'overlay' | 'host';

/** The service label a swarm run puts on its services, so `--down` finds its stacks. */
export const STACK_LABEL = 'meshbench.stack';
/** The Compose file version Docker's `stack deploy` reads (20.10 needs one). */
export const STACK_FILE_VERSION = '3.8';

export interface SwarmStackOptions {
  readonly runId: string;
  readonly image: string;
  /** One per node, in node order: the swarm node ID it is placed on and the host's address. */
  readonly hosts: readonly { readonly nodeId: string; readonly address: string }[];
  readonly network: SwarmNetwork;
  readonly topology?: TopologySpec;
  /** Extra environment for every node (e.g. MESHBENCH_INGEST_URL). */
  readonly nodeEnv?: Readonly<Record<string, string>>;
}

export function stackName(runId: string): string {
  return `meshbench-${runId}`;
}

/** The service Swarm names for node `nodeId` of a stack (`<stack>_<service>`). */
export function serviceName(runId: string, nodeId: string): string {
  return `${stackName(runId)}_${nodeId}`;
}

function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** The stack file as a plain object (render it with `renderCompose`). */
export function swarmStack(options: SwarmStackOptions): Record<string, unknown> {
  const committee = options.hosts.length;
  const ids = refnodeNodeIds(committee);
  const hostNetwork = options.network === 'host';
  // on the hosts' network each node's peers are at their hosts' addresses, as on plain hosts
  const hostPeers = ids
    .map((id, index) => `${id}@${hostPart(options.hosts[index]!.address)}:${REFNODE_P2P_PORT}`)
    .join(',');
  const hostTopology =
    hostNetwork && options.topology
      ? topologyEnvironment(
          options.topology,
          ids.map((id, index) => ({
            id,
            address: `${hostPart(options.hosts[index]!.address)}:${REFNODE_P2P_PORT}`,
          })),
        )
      : undefined;
  const generated = refnodeCompose({
    committee,
    image: options.image,
    rpcHostPorts: ids.map(() => REFNODE_RPC_PORT),
    metricsHostPorts: ids.map(() => REFNODE_METRICS_PORT),
    ...(options.topology && !hostNetwork ? { topology: options.topology } : {}),
    ...(options.nodeEnv ? { environment: options.nodeEnv } : {}),
  }) as { services: Record<string, Record<string, unknown>> };
  const runLabels = { [RUN_LABEL]: options.runId, [TESTBED_LABEL]: 'remote', [REMOTE_LABEL]: '1' };
  const services: Record<string, unknown> = {};
  const volumes: Record<string, unknown> = {};
  ids.forEach((id, index) => {
    const service = generated.services[id]!;
    const environment = { ...(service.environment as Record<string, string>) };
    if (hostNetwork) {
      environment.REFNODE_PEERS = hostPeers;
      Object.assign(environment, hostTopology?.[index]);
    }
    const volume = `${id}-data`;
    volumes[volume] = { labels: { ...runLabels, [NODE_LABEL]: id } };
    const { ports: _ports, hostname, healthcheck: _healthcheck, ...rest } = service;
    services[id] = {
      ...rest,
      // Swarm replaces a task whose health check fails (Compose does not): on a busy host that
      // restarts healthy nodes; readiness is meshbench's own probe, and a crash still restarts
      healthcheck: { disable: true },
      // a host-network container takes its host's name; on the overlay it answers to its own
      ...(hostNetwork ? {} : { hostname }),
      environment,
      labels: {
        ...(service.labels as Record<string, string>),
        ...runLabels,
        [NODE_LABEL]: id,
        ...hostPortsLabel(generatedHostPorts(options.network)),
      },
      volumes: [{ type: 'volume', source: volume, target: '/data' }],
      ...(hostNetwork
        ? { networks: ['hostnet'] }
        : {
            ports: [REFNODE_RPC_PORT, REFNODE_METRICS_PORT].map((port) => ({
              target: port,
              published: port,
              protocol: 'tcp',
              mode: 'host',
            })),
          }),
      deploy: {
        replicas: 1,
        placement: { constraints: [`node.id == ${options.hosts[index]!.nodeId}`] },
        restart_policy: { condition: 'any', delay: '1s' },
        labels: { [RUN_LABEL]: options.runId, [STACK_LABEL]: stackName(options.runId) },
      },
    };
  });
  return {
    version: STACK_FILE_VERSION,
    services,
    volumes,
    networks: hostNetwork
      ? { hostnet: { external: true, name: 'host' } }
      : { default: { driver: 'overlay', labels: runLabels } },
  };
}

/** A node of a stack: its service (and node ID), its host, and the ports clients reach it at there. */
export interface StackNode {
  readonly nodeId: string;
  readonly hostIndex: number;
  readonly rpcPort: number;
  readonly metricsPort?: number;
  /** Every port it publishes on its host (its container's `meshbench.host-ports` label). */
  readonly hostPorts: readonly number[];
  /** The node's protocol, when its compose service names one (`meshbench.protocol`). */
  readonly protocol?: string;
}

/** What a user's compose file becomes: the stack, and where each node answers. */
export interface UserStack {
  readonly stack: Record<string, unknown>;
  readonly nodes: readonly StackNode[];
}

/** Service keys a stack cannot take: Swarm builds nothing, names its own containers, starts in no order. */
const NOT_FOR_STACKS = ['build', 'container_name', 'depends_on', 'profiles', 'links', 'restart'] as const;

/**
 * A service's name resolves to its tasks' own addresses (DNS round robin), not to a virtual
 * IP that IPVS forwards: peers then talk as they would on one network, without a NAT hop in
 * every message's path (not part of the system under test), and on hosts whose kernel or
 * engine cannot forward a virtual IP (etcd's peers got "no route to host" on the sandbox's
 * nested engines, so no leader was elected). A file that sets `endpoint_mode` keeps its own.
 */
const DIRECT_ADDRESSES = { endpoint_mode: 'dnsrr' } as const;

/** Compose's `restart:` as Swarm's restart policy (absent and `no` are Swarm's `none`). */
function restartPolicy(restart: unknown): Record<string, string> {
  const value = typeof restart === 'string' ? restart : 'no';
  const condition = value.startsWith('on-failure') ? 'on-failure' : value === 'no' ? 'none' : 'any';
  return { condition, delay: '1s' };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withRunLabels(value: unknown, labels: Readonly<Record<string, string>>): Record<string, unknown> {
  const object = isRecord(value) ? value : {};
  return { ...object, labels: { ...labelsOf(object.labels), ...labels } };
}

/**
 * The host ports a node of the generated stack takes: its RPC and metrics ports, published in
 * host mode, and on the hosts' network its p2p port too.
 */
export function generatedHostPorts(network: SwarmNetwork): number[] {
  return network === 'host'
    ? [REFNODE_RPC_PORT, REFNODE_P2P_PORT, REFNODE_METRICS_PORT]
    : [REFNODE_RPC_PORT, REFNODE_METRICS_PORT];
}

/**
 * The user's compose project (as `docker compose config` resolved it, with the node services
 * `readComposeModel` found) as a stack: node i pinned to host i by `node.id`, every port it
 * publishes (and its RPC and metrics ports, when it publishes none for them) published in host
 * mode on its host, a restart policy from its `restart:` (Swarm restarts what Compose would),
 * the run's labels on every service, container, network and volume, and the networks the
 * project creates as attachable overlays. Everything else is the user's, as Compose read it.
 * Other services run where Swarm places them. Pure.
 */
export function userSwarmStack(
  project: Record<string, unknown>,
  model: ComposeModel,
  options: {
    readonly runId: string;
    readonly hosts: readonly { readonly nodeId: string; readonly address: string }[];
    /** Extra environment for every node (e.g. MESHBENCH_INGEST_URL). */
    readonly nodeEnv?: Readonly<Record<string, string>>;
  },
): UserStack {
  const runLabels = { [RUN_LABEL]: options.runId, [TESTBED_LABEL]: 'remote', [REMOTE_LABEL]: '1' };
  const services = isRecord(project.services) ? project.services : {};
  const nodeIndex = new Map(model.nodes.map((node, index) => [node.service, index]));
  const nodes: StackNode[] = [];
  const stackServices: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(services)) {
    const service: Record<string, unknown> = { ...(isRecord(raw) ? raw : {}) };
    const restart = service.restart;
    for (const key of NOT_FOR_STACKS) delete service[key];
    const deploy = isRecord(service.deploy) ? service.deploy : {};
    const index = nodeIndex.get(name);
    if (index === undefined) {
      stackServices[name] = {
        ...withRunLabels(service, runLabels),
        deploy: {
          restart_policy: restartPolicy(restart),
          // ports published through Swarm's routing mesh need its virtual IP
          ...(Array.isArray(service.ports) && service.ports.length > 0 ? {} : DIRECT_ADDRESSES),
          ...deploy,
          labels: {
            ...labelsOf(deploy.labels),
            [RUN_LABEL]: options.runId,
            [STACK_LABEL]: stackName(options.runId),
          },
        },
      };
      continue;
    }
    const spec = model.nodes[index]!;
    const host = options.hosts[index]!;
    const published = Array.isArray(service.ports)
      ? service.ports.flatMap((entry) => parsePortEntry(name, entry))
      : [];
    const ports = published.map((port) => ({
      target: port.containerPort,
      published: port.hostPort ?? port.containerPort,
      protocol: port.protocol,
      mode: 'host',
    }));
    const publish = (containerPort: number | undefined): number | undefined => {
      if (containerPort === undefined) return undefined;
      const found = ports.find((port) => port.target === containerPort && port.protocol === 'tcp');
      if (found) return found.published;
      ports.push({ target: containerPort, published: containerPort, protocol: 'tcp', mode: 'host' });
      return containerPort;
    };
    const rpcPort = publish(spec.rpcContainerPort)!;
    const metricsPort = publish(spec.metricsContainerPort);
    const hostPorts = [...new Set(ports.map((port) => port.published))];
    nodes.push({
      nodeId: name,
      hostIndex: index,
      rpcPort,
      hostPorts,
      ...(metricsPort !== undefined ? { metricsPort } : {}),
      ...(spec.protocol ? { protocol: spec.protocol } : {}),
    });
    const placement = isRecord(deploy.placement) ? deploy.placement : {};
    const constraints = Array.isArray(placement.constraints) ? placement.constraints.map(String) : [];
    stackServices[name] = {
      ...withRunLabels(service, {
        ...runLabels,
        [NODE_LABEL]: name,
        ...hostPortsLabel(hostPorts),
      }),
      ...(options.nodeEnv
        ? { environment: { ...environmentOf(service.environment), ...options.nodeEnv } }
        : {}),
      ports,
      deploy: {
        restart_policy: restartPolicy(restart),
        ...DIRECT_ADDRESSES,
        ...deploy,
        mode: 'replicated',
        replicas: 1,
        placement: { ...placement, constraints: [...constraints, `node.id == ${host.nodeId}`] },
        labels: {
          ...labelsOf(deploy.labels),
          [RUN_LABEL]: options.runId,
          [STACK_LABEL]: stackName(options.runId),
        },
      },
    };
  }
  const networks = isRecord(project.networks) ? project.networks : {};
  const volumes = isRecord(project.volumes) ? project.volumes : {};
  const external = (value: unknown) =>
    isRecord(value) && (value.external === true || isRecord(value.external));
  return {
    stack: {
      version: STACK_FILE_VERSION,
      services: stackServices,
      networks: Object.fromEntries(
        Object.entries({ default: networks.default ?? null, ...networks }).map(([name, network]) => {
          if (external(network)) return [name, network];
          const object = isRecord(network) ? network : {};
          const driver =
            object.driver === undefined || object.driver === 'bridge' ? 'overlay' : object.driver;
          return [name, { ...withRunLabels(object, runLabels), driver, attachable: true }];
        }),
      ),
      ...(Object.keys(volumes).length > 0
        ? {
            volumes: Object.fromEntries(
              Object.entries(volumes).map(([name, volume]) => [
                name,
                external(volume) ? volume : withRunLabels(volume, runLabels),
              ]),
            ),
          }
        : {}),
    },
    nodes,
  };
}

/** `environment:` in either compose form, as a map. */
function environmentOf(value: unknown): Record<string, string> {
  return labelsOf(value);
}
