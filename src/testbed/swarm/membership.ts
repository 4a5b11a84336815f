/**
 * Forming or adopting the swarm the nodes run in, through each host's Docker client (the Engine
 * API's swarm calls: `docker swarm init`, `join`, `leave`).
 *
 * - every host outside any swarm: init on the first (advertising its address), join the others
 *   as workers; all of it is left again at the end;
 * - every host in one swarm with a manager among them: adopt it, and never leave it;
 * - a host in a swarm while others are in none, in another swarm than the rest, or in a swarm
 *   none of whose managers is among the hosts: refused, naming the host and how to leave it.
 */
import type Docker from 'dockerode';
import { MeshbenchError } from '../../common/errors.js';
import { engineMessage } from '../docker/connection.js';
import type { RemoteHostAgent } from '../remote/remote-host.js';
import { describeHost } from '../remote/ssh-session.js';

export const SWARM_PORT = 2377;
/** The node label a swarm meshbench formed carries on its manager, so `--down` knows to dissolve it. */
export const FORMED_BY_LABEL = 'meshbench.swarm-formed-by';

/** One host's place in the swarm. */
export interface SwarmMember {
  readonly hostIndex: number;
  /** The swarm node ID (placement constraints use it). */
  readonly nodeId: string;
  readonly role: 'manager' | 'worker';
  /** Whether this run made it a member (and so makes it leave at the end). */
  readonly joinedByRun: boolean;
}

export interface Swarm {
  /** formed: meshbench created it; adopted: it existed (some hosts may have joined it). */
  readonly mode: 'formed' | 'adopted';
  readonly clusterId: string;
  /** The host whose engine deploys the stack. */
  readonly managerIndex: number;
  readonly members: readonly SwarmMember[];
}

interface SwarmState {
  readonly LocalNodeState?: string;
  readonly NodeID?: string;
  readonly NodeAddr?: string;
  readonly ControlAvailable?: boolean;
  readonly Cluster?: { readonly ID?: string };
  readonly RemoteManagers?: readonly { readonly NodeID?: string; readonly Addr?: string }[] | null;
}

async function swarmState(agent: RemoteHostAgent): Promise<SwarmState> {
  try {
    const info = (await agent.docker.info()) as { Swarm?: SwarmState };
    return info.Swarm ?? {};
  } catch (error) {
    throw agent.failure('reading its swarm state (docker info)', error);
  }
}

function leaveHint(agent: RemoteHostAgent): string {
  return `leave it on that host with \`docker swarm leave --force\` (ssh ${agent.host.user}@${agent.host.address}), or give hosts that are all in one swarm`;
}

function bracket(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** The refusal for a host that belongs to a swarm this run cannot use. */
export function otherSwarmError(agent: RemoteHostAgent, detail: string): MeshbenchError {
  return new MeshbenchError(
    'REMOTE_COMMAND',
    `${describeHost(agent.host)} is already in another swarm (${detail})`,
    {
      hint: leaveHint(agent),
    },
  );
}

/** A manager a worker could not reach: one line naming both ends. */
function unreachableManager(agent: RemoteHostAgent, manager: string, error: unknown): MeshbenchError {
  return new MeshbenchError(
    'REMOTE_COMMAND',
    `${describeHost(agent.host)}: cannot join the swarm: its manager ${manager} is unreachable (${engineMessage(error).split('\n')[0]})`,
    {
      hint: `let the hosts reach each other on TCP ${SWARM_PORT} and 7946 and UDP 7946 and 4789, and check that the manager's address is the one the others see`,
      cause: error,
    },
  );
}

/**
 * Makes every host a member of one swarm: forms it, adopts it, or refuses. On a failure halfway,
 * what this call made is undone before the error is thrown.
 */
export async function formSwarm(
  agents: readonly RemoteHostAgent[],
  options: { log?: (hostIndex: number, line: string) => void } = {},
): Promise<Swarm> {
  const log = options.log ?? (() => undefined);
  const states = await Promise.all(agents.map((agent) => swarmState(agent)));
  states.forEach((state, index) => {
    if (state.LocalNodeState === 'locked')
      throw new MeshbenchError(
        'REMOTE_COMMAND',
        `${describeHost(agents[index]!.host)}: its swarm is locked`,
        {
          hint: 'unlock it there with `docker swarm unlock`, or leave it with `docker swarm leave --force`',
        },
      );
    if (state.LocalNodeState === 'pending' || state.LocalNodeState === 'error')
      throw otherSwarmError(agents[index]!, `its swarm state is ${state.LocalNodeState}`);
  });
  const active = states.flatMap((state, index) => (state.LocalNodeState === 'active' ? [index] : []));
  if (active.length === 0) return formNew(agents, log);

  // adopt only a swarm every host is in: a host in a swarm beside hosts in none is someone else's
  if (active.length < agents.length) {
    const index = active[0]!;
    const state = states[index]!;
    throw otherSwarmError(
      agents[index]!,
      `${state.ControlAvailable ? 'a manager' : 'a worker'} of swarm ${(state.Cluster?.ID ?? state.NodeID ?? '').slice(0, 12)}, while ${agents.length - active.length} other host(s) are in none`,
    );
  }
  // adopt: a manager among the hosts decides which swarm counts
  const managerIndex = active.find((index) => states[index]!.ControlAvailable === true);
  if (managerIndex === undefined) {
    const index = active[0]!;
    const managers = (states[index]!.RemoteManagers ?? []).map((m) => m.Addr).filter(Boolean);
    throw otherSwarmError(
      agents[index]!,
      `a worker of a swarm whose managers (${managers.join(', ') || 'unknown'}) are not among the hosts`,
    );
  }
  const manager = agents[managerIndex]!;
  const clusterId = states[managerIndex]!.Cluster?.ID ?? '';
  let nodeIds: Set<string>;
  try {
    nodeIds = new Set(((await manager.docker.listNodes()) as { ID: string }[]).map((node) => node.ID));
  } catch (error) {
    throw manager.failure('listing the swarm nodes', error);
  }
  for (const index of active) {
    const state = states[index]!;
    if (!nodeIds.has(state.NodeID ?? ''))
      throw otherSwarmError(
        agents[index]!,
        state.Cluster?.ID
          ? `swarm ${state.Cluster.ID.slice(0, 12)}, not ${clusterId.slice(0, 12)} of ${manager.host.name}`
          : `not the swarm ${manager.host.name} manages`,
      );
  }
  log(
    managerIndex,
    `adopted swarm ${clusterId.slice(0, 12)} (${active.length} of ${agents.length} host(s) already in it)`,
  );
  const members: SwarmMember[] = active.map((index) => ({
    hostIndex: index,
    nodeId: states[index]!.NodeID!,
    role: states[index]!.ControlAvailable ? 'manager' : 'worker',
    joinedByRun: false,
  }));
  return {
    mode: 'adopted',
    clusterId,
    managerIndex,
    members,
  };
}

async function formNew(
  agents: readonly RemoteHostAgent[],
  log: (hostIndex: number, line: string) => void,
): Promise<Swarm> {
  const manager = agents[0]!;
  const address = manager.host.address;
  let managerNodeId: string;
  try {
    managerNodeId = String(
      await manager.docker.swarmInit({ ListenAddr: `0.0.0.0:${SWARM_PORT}`, AdvertiseAddr: address }),
    )
      .replace(/"/g, '')
      .trim();
  } catch (error) {
    throw manager.failure(`docker swarm init --advertise-addr ${address}`, error);
  }
  const self: SwarmMember = { hostIndex: 0, nodeId: managerNodeId, role: 'manager', joinedByRun: true };
  let clusterId = '';
  try {
    clusterId = ((await manager.docker.swarmInspect()) as { ID: string }).ID;
    await labelManager(manager.docker, managerNodeId);
    log(0, `formed swarm ${clusterId.slice(0, 12)}: manager at ${bracket(address)}:${SWARM_PORT}`);
    const workers = await joinWorkers(agents, 0, address, log, (index) => index !== 0);
    return { mode: 'formed', clusterId, managerIndex: 0, members: [self, ...workers] };
  } catch (error) {
    await manager.docker.swarmLeave({ force: true }).catch(() => undefined);
    throw error;
  }
}

/** Marks the manager node, so a later `--down` knows meshbench formed this swarm. */
async function labelManager(docker: Docker, nodeId: string): Promise<void> {
  const node = docker.getNode(nodeId);
  const spec = (await node.inspect()) as {
    Version: { Index: number };
    Spec: { Labels?: Record<string, string> };
  };
  await node.update({
    version: spec.Version.Index,
    ...spec.Spec,
    Labels: { ...spec.Spec.Labels, [FORMED_BY_LABEL]: 'meshbench' },
  });
}

/** Joins the hosts `which` selects as workers; on any failure makes those that joined leave. */
async function joinWorkers(
  agents: readonly RemoteHostAgent[],
  managerIndex: number,
  managerAddress: string,
  log: (hostIndex: number, line: string) => void,
  which: (index: number) => boolean,
): Promise<SwarmMember[]> {
  const manager = agents[managerIndex]!;
  const indexes = agents.map((_, index) => index).filter(which);
  if (indexes.length === 0) return [];
  let token: string;
  try {
    token = ((await manager.docker.swarmInspect()) as { JoinTokens: { Worker: string } }).JoinTokens.Worker;
  } catch (error) {
    throw manager.failure('reading the join token (docker swarm join-token worker)', error);
  }
  const target = `${bracket(managerAddress.replace(/:\d+$/, ''))}:${SWARM_PORT}`;
  const results = await Promise.allSettled(
    indexes.map(async (index): Promise<SwarmMember> => {
      const agent = agents[index]!;
      try {
        await agent.docker.swarmJoin({
          ListenAddr: `0.0.0.0:${SWARM_PORT}`,
          AdvertiseAddr: agent.host.address,
          RemoteAddrs: [target],
          JoinToken: token,
        });
      } catch (error) {
        const text = engineMessage(error);
        if (/timeout|connect|unreachable|deadline|no route|refused/i.test(text))
          throw unreachableManager(agent, target, error);
        throw agent.failure(`docker swarm join ${target}`, error);
      }
      const state = await swarmState(agent);
      log(index, `joined as a worker (node ${String(state.NodeID).slice(0, 12)})`);
      return { hostIndex: index, nodeId: state.NodeID ?? '', role: 'worker', joinedByRun: true };
    }),
  );
  const joined = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await leaveSwarm(agents, { mode: 'adopted', clusterId: '', managerIndex, members: joined });
    throw failed.reason;
  }
  return joined;
}

/**
 * Undoes this run's membership: workers it joined leave (and are removed from the manager's
 * list), then, when it formed the swarm, the manager leaves too, which dissolves it. Errors are
 * collected as lines, not thrown.
 */
export async function leaveSwarm(agents: readonly RemoteHostAgent[], swarm: Swarm): Promise<string[]> {
  const errors: string[] = [];
  const manager = agents[swarm.managerIndex]!;
  const workers = swarm.members.filter((m) => m.joinedByRun && m.hostIndex !== swarm.managerIndex);
  await Promise.all(
    workers.map(async (member) => {
      const agent = agents[member.hostIndex]!;
      try {
        await agent.docker.swarmLeave({ force: true });
      } catch (error) {
        if (!/not part of a swarm/i.test(engineMessage(error)))
          errors.push(`${agent.host.name}: docker swarm leave: ${engineMessage(error)}`);
      }
    }),
  );
  if (swarm.mode === 'formed') {
    try {
      await manager.docker.swarmLeave({ force: true });
    } catch (error) {
      if (!/not part of a swarm/i.test(engineMessage(error)))
        errors.push(`${manager.host.name}: docker swarm leave --force: ${engineMessage(error)}`);
    }
  } else {
    // an adopted swarm stays; the nodes this run added go from its list
    for (const member of workers) {
      await manager.docker
        .getNode(member.nodeId)
        .remove({ force: true })
        .catch(() => undefined);
    }
  }
  return errors;
}
