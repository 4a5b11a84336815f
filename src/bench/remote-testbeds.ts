/**
 * The remote testbeds for `benchmark` (./testbeds.ts loads this module for a remote network):
 * hosts from --hosts-file or the MYSTICETI_NODE{n}_* environment, a container per node, or with
 * --engine swarm a Docker Swarm stack (the generated network or the user's compose file).
 */
import { LOADCLIENT_IMAGE } from '../clients/image.js';
import { loadHosts } from '../testbed/remote/hosts.js';
import { pickClientHosts, separateClientHosts } from '../testbed/remote/client-hosts.js';
import { resolveHosts } from '../testbed/remote/ssh-config-hosts.js';
import { defaultKnownHostsPath, RemoteTestbed } from '../testbed/remote/remote-testbed.js';
import type { Testbed } from '../testbed/testbed.js';
import { SwarmTestbed } from '../testbed/swarm/swarm-testbed.js';
import { pluginSidecarImages } from './plugins.js';
import type { BenchmarkPlan } from './plan.js';
import { badFlag } from '../common/errors.js';
import type { HostsConfig, RemoteHost } from '../testbed/remote/hosts.js';
import { topologyName, topologyProblem, type TopologySpec } from '../testbed/topology.js';
import { loadClientsOf } from '../clients/plugin.js';
import type { TestbedContext, TestbedFactoryOptions } from './testbeds.js';

/** `--host-counts`: this network uses the first k hosts of the hosts file (all when k is not set). */
export function firstHosts(hosts: HostsConfig, count: number | undefined): HostsConfig {
  if (count === undefined) return hosts;
  if (count > hosts.hosts.length)
    throw badFlag(
      'host-counts',
      count,
      `${hosts.source} has ${hosts.hosts.length} host${hosts.hosts.length === 1 ? '' : 's'}; give counts up to ${hosts.hosts.length}`,
    );
  return { ...hosts, hosts: hosts.hosts.slice(0, count) };
}

/** The hosts a remote network runs on, judged from the hosts file alone (no connection made). */
interface NetworkHosts {
  /** Its node hosts: the first `--host-counts` k of those not marked role: client. */
  readonly hosts: HostsConfig;
  /** The hosts its `--load-clients dedicated:N` run on. */
  readonly dedicated: readonly RemoteHost[] | undefined;
  /** Its nodes: hosts × nodes per host. */
  readonly nodes: number;
}

/**
 * One remote network's hosts out of every host read: throws one line (exit 2) when the plan
 * does not fit them (more hosts counted than there are, more client hosts asked for than are
 * marked, a topology too large for the nodes they take).
 */
function networkHosts(plan: BenchmarkPlan, all: HostsConfig, count: number | undefined): NetworkHosts {
  // hosts marked role: client never take a node; --load-clients dedicated:N uses the first N
  const separated = separateClientHosts(all);
  const hosts = firstHosts(separated, count);
  const clients = loadClientsOf(plan);
  const dedicated = clients?.kind === 'dedicated' ? pickClientHosts(separated, clients.count) : undefined;
  // the nodes the testbed places: nodesPerHost more than one only for containers (the plan
  // refuses it with --engine swarm)
  const nodes = hosts.hosts.length * (plan.nodesPerHost ?? 1);
  const problem = plan.topology
    ? topologyProblem(
        plan.topology,
        nodes,
        `give K below ${nodes} (the nodes on ${hosts.hosts.length} host${hosts.hosts.length === 1 ? '' : 's'}), or use more hosts`,
      )
    : undefined;
  if (problem) throw badFlag('topology', topologyName(plan.topology as TopologySpec), problem);
  return { hosts, dedicated, nodes };
}

/**
 * Every remote network of the plan judged against the hosts file (or the environment) before
 * anything runs: a `both` run's local part or the first of several `--host-counts` would
 * otherwise run before a remote network that cannot be made is found. Returns each network's
 * node count (hosts × nodes per host), in the order they run.
 */
export async function checkRemoteHosts(
  plan: BenchmarkPlan,
  env: Readonly<Record<string, string | undefined>>,
): Promise<readonly number[]> {
  const all = await loadHosts({ ...(plan.hostsFile ? { hostsFile: plan.hostsFile } : {}), env });
  return (plan.hostCounts ?? [undefined]).map((count) => networkHosts(plan, all, count).nodes);
}

export async function remoteTestbed(
  plan: BenchmarkPlan,
  context: TestbedContext,
  options: TestbedFactoryOptions,
): Promise<Testbed> {
  const { log } = context;
  // ~/.ssh/config (or MESHBENCH_SSH_CONFIG, or the inventory's ssh_config:) applied; jump hosts resolved
  const allHosts = await resolveHosts(
    await loadHosts({
      ...(plan.hostsFile ? { hostsFile: plan.hostsFile } : {}),
      ...(options.env ? { env: options.env } : {}),
    }),
    {
      ...(options.env ? { env: options.env } : {}),
      ...(plan.sshConfig !== undefined ? { sshConfig: plan.sshConfig } : {}),
    },
  );
  const { hosts, dedicated } = networkHosts(plan, allHosts, plan.hostCount);
  // the images the plug-ins need beside each node (the network helper for conditions, the
  // load client with --load-clients colocated)
  const pluginImages = pluginSidecarImages(plan);
  const nodesPerHost = plan.nodesPerHost ?? 1;
  // what both remote engines take from the plan alike
  const shared = {
    ...(plan.topology ? { topology: plan.topology } : {}),
    ...(context.nodeEnvironment ? { nodeEnv: context.nodeEnvironment } : {}),
    startupWaitMs: plan.startupWaitSecs * 1000,
    clock: {
      ...(plan.maxClockOffsetMs !== undefined ? { maxOffsetMs: plan.maxClockOffsetMs } : {}),
      ...(plan.allowClockOffset ? { allowOffset: true } : {}),
    },
    knownHostsPath: hosts.knownHostsPath ?? defaultKnownHostsPath(),
  };
  if (plan.engine === 'swarm')
    return new SwarmTestbed({
      hosts,
      // the same compose file as local-network, as a stack (one node per host)
      ...(plan.dockerComposePaths ? { composePaths: plan.dockerComposePaths } : {}),
      ...(plan.swarmNetwork ? { network: plan.swarmNetwork } : {}),
      protocol: plan.protocol.kind,
      ...shared,
      // network conditions run in a helper container in each node's namespace, as on plain hosts
      ...(pluginImages.length > 0 ? { sidecarImages: pluginImages } : {}),
      onProgress: (progress) => log(`[swarm ${progress.host}] ${progress.stage}: ${progress.message}`),
      ...(options.env ? { env: options.env } : {}),
    });
  return new RemoteTestbed({
    hosts,
    ...shared,
    // --nodes-per-host: node i on host i mod H, each with its own ports
    ...(nodesPerHost > 1 ? { nodesPerHost } : {}),
    // --system: its image shipped and its nodes started with their own environment and ports
    ...(plan.system ? { system: plan.system } : {}),
    ...(pluginImages.length > 0 ? { sidecarImages: pluginImages } : {}),
    // dedicated:N: the client image goes to the client hosts only
    ...(dedicated ? { loadClientHosts: { hosts: dedicated, image: LOADCLIENT_IMAGE } } : {}),
    onProgress: (progress) => log(`[remote ${progress.host}] ${progress.stage}: ${progress.message}`),
    ...(options.env ? { env: options.env } : {}),
  });
}
