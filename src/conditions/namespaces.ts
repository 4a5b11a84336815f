/**
 * The network helpers: one nethelper container in each node's network namespace, started
 * and probed (its addresses, the kernel's mechanisms, the route to every peer), checked for
 * what the scenario needs, given the rules of a link state, cleared, and started again in a
 * restarted node's new namespace (the re-attach). The conditioner (conditioner.ts) decides
 * what each link should be and when; this is how it gets there.
 */
import { formatError, type MeshbenchError } from '../common/errors.js';
import { NETHELPER_IMAGE } from '../common/net-shaping.js';
import type { NetworkEvent } from '../scenario/events.js';
import { ORCHESTRATOR } from '../scenario/zones.js';
import { ensureImage } from '../testbed/docker/ensure-image.js';
import type { Deployment, NodeHandle, Sidecar } from '../testbed/testbed.js';
import { conditionError } from './block.js';
import { CLEAR, isClear, linkKey, type ConditionModel, type LinkQuality } from './model.js';
import {
  chooseMechanisms,
  NamespaceShaper,
  parseProbe,
  parseRoutes,
  probeScript,
  routeScript,
  ShellChannel,
  sidecarCommand,
  staleSweepScript,
  type Capabilities,
  type DelayPreference,
  type MechanismChoice,
  type Peer,
} from './shaper.js';

export interface Namespace {
  readonly key: string;
  readonly nodes: readonly string[];
  /** The node whose namespace it is: a restarted node gets a new namespace, and a new helper. */
  readonly node: NodeHandle;
  sidecar: Sidecar;
  channel: ShellChannel;
  readonly caps: Capabilities;
  readonly choice: MechanismChoice;
  shaper: NamespaceShaper;
  /** Root qdiscs someone else set: tc shaping on those devices is refused. */
  readonly foreignRoots: readonly { readonly device: string; readonly qdisc: string }[];
  peers: readonly Peer[];
  /** What is applied now, by destination node. */
  applied: Map<string, LinkQuality>;
}

/** The helper container beside a node: in its network namespace, allowed to change its rules. */
function helperSpec(image: string, runId: string) {
  return {
    image,
    command: sidecarCommand(runId),
    capAdd: ['NET_ADMIN', 'NET_RAW', 'SYS_NICE'],
    role: 'nethelper' as const,
  };
}

/** Which kinds of condition the scenario reaches at some point. */
export interface ConditionNeeds {
  delay: boolean;
  loss: boolean;
  rate: boolean;
  partition: boolean;
  /** A rate or netem on the orchestrator's traffic to the nodes (an IFB device). */
  ifb: boolean;
}

export interface HelperOptions {
  readonly image?: string;
  readonly delayMechanism?: DelayPreference;
  /** `--shape-orchestrator`: the orchestrator is a peer of each namespace (`client`). */
  readonly orchestrator?: boolean;
  readonly warn?: (line: string) => void;
}

/**
 * Starts a helper beside each node, all at once, probes each namespace and builds its peers;
 * refuses (closing what it started) nodes that share a namespace or cannot be told apart.
 */
export async function startNamespaces(
  deployment: Deployment,
  nodeIds: readonly string[],
  options: HelperOptions,
): Promise<Namespace[]> {
  const nodes = deployment.nodes;
  const shared = nodes.find((node) => node.onThisMachinesNetwork);
  if (shared)
    throw conditionError(
      `network conditions need each node in a network namespace of its own; ${shared.nodeId} runs in this machine's (network_mode: host), whose traffic they would shape too`,
      "give it the project's network (no network_mode: host) to apply conditions to it",
    );
  const image = options.image ?? NETHELPER_IMAGE;
  // built here on first use (remote hosts got it shipped with the node image)
  if (deployment.kind === 'local')
    await ensureImage(image, { log: (line) => (options.warn ?? console.error)(line) });
  // one sidecar per node, all at once
  const started = await Promise.allSettled(
    nodes.map((node) =>
      (node.sidecar as NonNullable<NodeHandle['sidecar']>)(helperSpec(image, deployment.runId)),
    ),
  );
  const sidecars = started.map((result) => (result.status === 'fulfilled' ? result.value : undefined));
  const failed = started.findIndex((result) => result.status === 'rejected');
  if (failed >= 0) {
    await Promise.all(sidecars.map((sidecar) => sidecar?.close()));
    const error = (started[failed] as PromiseRejectedResult).reason;
    const text = formatError(error);
    throw conditionError(
      `network conditions: cannot start the helper for ${nodeIds[failed]}: ${text}`,
      /no such image|not found/i.test(text)
        ? `build it: bash scripts/build-images.sh nethelper (npm run setup builds it too)`
        : 'see the engine error above',
    );
  }
  const channels = (sidecars as Sidecar[]).map((sidecar) => new ShellChannel(sidecar));
  const probes = await Promise.all(
    channels.map(async (channel) => parseProbe((await channel.run(probeScript())).output)),
  );
  // addresses seen in more than one namespace (docker0 on every host) name no node
  const count = new Map<string, number>();
  const keys = probes.map((probe) => [...new Set(probe.addresses.map((a) => a.address))].sort().join(','));
  new Set(keys).forEach((key) => key.split(',').forEach((a) => count.set(a, (count.get(a) ?? 0) + 1)));
  const byKey = new Map<string, number[]>();
  keys.forEach((key, index) => byKey.set(key, [...(byKey.get(key) ?? []), index]));
  for (const members of byKey.values()) {
    if (members.length > 1) {
      await Promise.all((sidecars as Sidecar[]).map((sidecar) => sidecar.close()));
      const names = members.map((index) => nodeIds[index]).join(' and ');
      throw conditionError(
        `network conditions need each node in its own network namespace; ${names} share one (on ${(sidecars[members[0] as number] as Sidecar).host})`,
        'run one node per host (remote: --nodes-per-host 1, or more hosts)',
      );
    }
  }
  const own = probes.map((probe) =>
    [...new Set(probe.addresses.map((a) => a.address))].filter((a) => count.get(a) === 1),
  );
  const routes = await Promise.all(
    channels.map(async (channel, index) => {
      const others = own.flatMap((addresses, other) => (other === index ? [] : addresses));
      return parseRoutes((await channel.run(routeScript(others))).output);
    }),
  );
  const namespaces: Namespace[] = (sidecars as Sidecar[]).map((sidecar, index) => {
    const caps = (probes[index] as (typeof probes)[number]).caps;
    const choice = chooseMechanisms(caps, options.delayMechanism);
    const peers: Peer[] = [];
    nodeIds.forEach((peerId, peerIndex) => {
      if (peerIndex === index) return;
      const addresses = own[peerIndex] ?? [];
      const device = routes[index]?.get(addresses[0] ?? '') ?? '';
      if (addresses.length === 0 || device === '') return;
      peers.push({ nodeId: peerId, index: peerIndex + 1, addresses, device });
    });
    const gateway = (probes[index] as (typeof probes)[number]).gateway;
    const source = (probes[index] as (typeof probes)[number]).addresses.find(
      (a) => a.device === gateway?.device,
    )?.address;
    if (options.orchestrator && gateway && source) {
      peers.push({
        nodeId: ORCHESTRATOR,
        index: nodeIds.length + 1,
        addresses: [gateway.address],
        device: gateway.device,
        external: { source },
      });
    }
    return {
      key: keys[index] as string,
      nodes: [nodeIds[index] as string],
      node: nodes[index] as NodeHandle,
      sidecar,
      channel: channels[index] as ShellChannel,
      caps,
      choice,
      shaper: new NamespaceShaper(deployment.runId, choice),
      foreignRoots: (probes[index] as (typeof probes)[number]).foreignRoots,
      peers,
      applied: new Map(),
    };
  });
  const unreachable = own.findIndex((addresses) => addresses.length === 0);
  if (unreachable >= 0) {
    await closeNamespaces(namespaces);
    throw conditionError(
      `network conditions: cannot tell ${nodeIds[unreachable]}'s address apart from the others' (${keys[unreachable] || 'none'})`,
      'give each node its own address (one node per host)',
    );
  }
  return namespaces;
}

/** The kinds of condition the model reaches at its edges (and mid-window, when it ramps or moves). */
export function conditionNeeds(model: ConditionModel): ConditionNeeds {
  const needs: ConditionNeeds = { delay: false, loss: false, rate: false, partition: false, ifb: false };
  const fromOrchestrator = `${ORCHESTRATOR}->`;
  const note = (states: Map<string, LinkQuality>) => {
    for (const [key, q] of states) {
      if (q.delayMs > 0 || q.jitterMs > 0) needs.delay = true;
      if (q.lossPct > 0) needs.loss = true;
      if (q.rateBits !== null) needs.rate = true;
      if (!q.up) needs.partition = true;
      if (key.startsWith(fromOrchestrator) && (q.rateBits !== null || (q.up && !isClear(q))))
        needs.ifb = true;
    }
  };
  const ends = model.edges();
  for (const t of ends) note(model.at(t));
  // ramps and moves reach values between the edges: a mid-window sample tells the kinds too
  if (model.continuous)
    for (let i = 1; i < ends.length; i++) note(model.at(((ends[i - 1] as number) + (ends[i] as number)) / 2));
  return needs;
}

/**
 * A condition no namespace's kernel can apply, as one error naming the mechanism and the fix;
 * undefined when every namespace can apply what the scenario needs.
 */
export function notApplicable(
  namespaces: readonly Namespace[],
  needs: ConditionNeeds,
  options: Pick<HelperOptions, 'delayMechanism' | 'orchestrator'>,
): MeshbenchError | undefined {
  for (const ns of namespaces) {
    const where = `${ns.nodes.join(', ')} (${ns.sidecar.host})`;
    const fail = (what: string, missing: string, fix: string) =>
      conditionError(`network conditions: cannot apply ${what} on ${where}: ${missing}`, fix);
    let error: MeshbenchError | undefined;
    if (needs.delay && ns.choice.delay === null) {
      error =
        options.delayMechanism === 'netem'
          ? fail(
              'delay',
              `the kernel has no netem qdisc (${ns.caps.reasons.netem ?? 'probe failed'})`,
              'install the kernel modules package with sch_netem (e.g. linux-modules-extra-$(uname -r)), or use --delay-mechanism auto',
            )
          : fail(
              'delay',
              `no netem (${ns.caps.reasons.netem ?? '?'}) and no NFQUEUE (${ns.caps.reasons.nfqueue ?? '?'})`,
              'load sch_netem (the kernel modules package) or nfnetlink_queue (modprobe nfnetlink_queue)',
            );
    } else if (needs.loss && ns.choice.loss === null) {
      error = fail(
        'loss',
        `no netem and no iptables statistic match (${ns.caps.reasons.statistic ?? '?'})`,
        'load sch_netem or xt_statistic (modprobe xt_statistic)',
      );
    } else if (needs.rate && ns.choice.rate === null) {
      error = fail(
        'bandwidth',
        `no htb qdisc (${ns.caps.reasons.htb ?? '?'})`,
        'load sch_htb (modprobe sch_htb)',
      );
    } else if (needs.partition && ns.choice.partition === null) {
      error = fail(
        'a partition',
        `iptables cannot add a DROP rule (${ns.caps.reasons.drop ?? '?'})`,
        'install iptables support in the kernel (ip_tables or nf_tables)',
      );
    } else if (options.orchestrator && !ns.peers.some((peer) => peer.external)) {
      error = fail(
        `the orchestrator's links`,
        'the namespace has no default route to tell the orchestrator by',
        'give its nodes a network with a gateway, or leave out --shape-orchestrator',
      );
    } else if (
      needs.ifb &&
      ns.caps.ifb !== true &&
      ns.peers.some((peer) => peer.external) &&
      (needs.rate || ns.choice.delay === 'netem')
    ) {
      error = fail(
        `a rate or netem on the orchestrator's traffic to the nodes`,
        `no IFB device (${ns.caps.reasons.ifb ?? '?'})`,
        'load the ifb module (modprobe ifb)',
      );
    }
    const tcDevices = new Set(
      needs.rate || ns.choice.delay === 'netem' || ns.choice.loss === 'netem'
        ? ns.peers.map((peer) => peer.device)
        : [],
    );
    const foreign = ns.foreignRoots.find((root) => tcDevices.has(root.device));
    if (!error && foreign && (needs.rate || needs.delay || needs.loss)) {
      error = fail(
        'tc shaping',
        `${foreign.device} has a root qdisc meshbench did not create (${foreign.qdisc}), and meshbench never replaces one`,
        `remove it (tc qdisc del dev ${foreign.device} root) or leave rates${ns.choice.delay === 'netem' ? ', delay and loss' : ''} out of the scenario`,
      );
    }
    if (error) return error;
  }
  return undefined;
}

/** Removes the rules a run that is gone left, and sets up each namespace's qdiscs and chains. */
export async function prepareNamespaces(
  namespaces: readonly Namespace[],
  runId: string,
  prepareDelay: boolean,
  warn?: (line: string) => void,
): Promise<void> {
  await Promise.all(
    namespaces.map(async (ns) => {
      const swept = await ns.channel.run(staleSweepScript(runId));
      for (const line of swept.output.split('\n').filter(Boolean)) {
        warn?.(`network: ${ns.nodes.join(', ')}: ${line} (left by a run that is gone)`);
      }
      const prepared = await ns.channel.run(ns.shaper.prepareScript(prepareDelay));
      if (prepared.exitCode !== 0) {
        throw conditionError(
          `network conditions: cannot set up ${ns.nodes.join(', ')} (${ns.sidecar.host}): ${prepared.output.trim().split('\n').slice(-1)[0] ?? `exit ${prepared.exitCode}`}`,
          'run with --verbose; the helper image is meshbench/nethelper (scripts/build-images.sh nethelper)',
        );
      }
    }),
  );
}

/**
 * The namespaces whose node was restarted (a crash fault and its restart): the old helper is
 * left in a namespace with no device but `lo`. Each gets a new helper in the node's new
 * namespace, a fresh shaper (so the next apply writes everything), and the run's chains.
 * A node still down is tried again the next second. Nodes that share the host's namespace
 * (remote) never lose it. Returns the nodes revived.
 */
export async function reviveRestarted(
  namespaces: readonly Namespace[],
  options: { readonly runId: string; readonly image?: string; readonly prepareDelay: boolean },
): Promise<string[]> {
  const revived: string[] = [];
  await Promise.all(
    namespaces.map(async (ns) => {
      // asked only when its watcher saw a device leave (or has none): nothing disturbs the node else
      if (!ns.channel.mayHaveLostDevices()) return;
      const alive = await ns.channel.hasDevices(3000).catch(() => false);
      if (alive || !ns.node.sidecar) return;
      let sidecar: Sidecar;
      try {
        sidecar = await ns.node.sidecar(helperSpec(options.image ?? NETHELPER_IMAGE, options.runId));
      } catch {
        return; // the node is still down
      }
      const channel = new ShellChannel(sidecar);
      const hasDevices = await channel.hasDevices(3000).catch(() => false);
      const shaper = new NamespaceShaper(options.runId, ns.choice);
      const prepared = hasDevices
        ? await channel
            .run(shaper.prepareScript(options.prepareDelay))
            .catch(() => ({ exitCode: 1, output: '' }))
        : { exitCode: 1, output: '' };
      if (prepared.exitCode !== 0) {
        await sidecar.close().catch(() => undefined);
        return;
      }
      const old = ns.sidecar;
      ns.sidecar = sidecar;
      ns.channel = channel;
      ns.shaper = shaper;
      ns.applied = new Map();
      await old.close().catch(() => undefined);
      revived.push(...ns.nodes);
    }),
  );
  return revived;
}

/** Makes every namespace's egress what `wanted` says; the namespaces changed and any errors. */
export async function applyLinks(
  namespaces: readonly Namespace[],
  wanted: Map<string, LinkQuality>,
): Promise<{ changed: number; errors?: Record<string, string> }> {
  const errors: Record<string, string> = {};
  let changed = 0;
  await Promise.all(
    namespaces.map(async (ns) => {
      const own = ns.nodes[0] as string;
      const mine = new Map<string, LinkQuality>();
      const incoming = new Map<string, LinkQuality>();
      for (const peer of ns.peers) {
        const q = wanted.get(linkKey(own, peer.nodeId));
        if (q && !isClear(q)) mine.set(peer.nodeId, q);
        const back = wanted.get(linkKey(peer.nodeId, own));
        if (back && !isClear(back)) incoming.set(peer.nodeId, back);
      }
      const target = new Map(ns.peers.map((peer) => [peer.nodeId, mine.get(peer.nodeId) ?? CLEAR]));
      const script = ns.shaper.script(ns.peers, target, incoming);
      if (script === '') return;
      changed++;
      try {
        const result = await ns.channel.run(script);
        if (result.exitCode !== 0)
          throw new Error(result.output.trim().split('\n').slice(-2).join(' ') || `exit ${result.exitCode}`);
        ns.applied = mine;
      } catch (error) {
        errors[own] = formatError(error);
      }
    }),
  );
  return { changed, ...(Object.keys(errors).length > 0 ? { errors } : {}) };
}

/** Takes every rule off; the namespaces changed. */
export async function clearLinks(namespaces: readonly Namespace[]): Promise<number> {
  let changed = 0;
  await Promise.all(
    namespaces.map(async (ns) => {
      const script = ns.shaper.clearScript();
      ns.applied = new Map();
      if (script === '') return;
      changed++;
      await ns.channel.run(script).catch(() => undefined);
    }),
  );
  return changed;
}

/** The mechanism a live change needs and some namespace lacks, as a line; undefined: all can apply it. */
export function missingMechanism(namespaces: readonly Namespace[], event: NetworkEvent): string | undefined {
  const kinds = {
    delay: event.settings.delay !== undefined || event.settings.jitter !== undefined,
    loss: event.settings.loss !== undefined,
    rate: event.settings.rate !== undefined,
    partition: event.action === 'partition',
  };
  for (const ns of namespaces) {
    const missing =
      kinds.delay && ns.choice.delay === null
        ? 'delay (no netem, no NFQUEUE)'
        : kinds.loss && ns.choice.loss === null
          ? 'loss (no netem, no iptables statistic)'
          : kinds.rate && ns.choice.rate === null
            ? 'bandwidth (no htb)'
            : kinds.partition && ns.choice.partition === null
              ? 'a partition (no iptables DROP)'
              : undefined;
    if (missing) return `cannot apply ${missing} on ${ns.nodes.join(', ')} (${ns.sidecar.host})`;
  }
  return undefined;
}

/** nfq-delay's counters in each namespace that delays with it. */
export async function nfqStats(
  namespaces: readonly Namespace[],
): Promise<{ node: string; stats: unknown }[]> {
  const out: { node: string; stats: unknown }[] = [];
  await Promise.all(
    namespaces.map(async (ns) => {
      const script = ns.shaper.statsScript();
      if (!script) return;
      const result = await ns.channel.run(script).catch(() => undefined);
      try {
        if (result?.output.trim())
          out.push({ node: ns.nodes[0] as string, stats: JSON.parse(result.output) as unknown });
      } catch {
        // no stats: the record goes without them
      }
    }),
  );
  return out.sort((a, b) => a.node.localeCompare(b.node));
}

/** What the record says about each namespace: its capabilities and the mechanism per kind. */
export function mechanismsOf(namespaces: readonly Namespace[]): {
  host: string;
  nodes: readonly string[];
  capabilities: Capabilities;
  mechanisms: MechanismChoice;
}[] {
  return namespaces.map((ns) => ({
    host: ns.sidecar.host,
    nodes: ns.nodes,
    capabilities: ns.caps,
    mechanisms: ns.choice,
  }));
}

export async function closeNamespaces(namespaces: readonly Namespace[]): Promise<void> {
  await Promise.all(namespaces.map((ns) => ns.sidecar.close().catch(() => undefined)));
}

/** The namespaces `--capture` names. */
function captured(
  namespaces: readonly Namespace[],
  capture: readonly string[] | 'all' | undefined,
): Namespace[] {
  if (!capture) return [];
  return namespaces.filter((ns) => capture === 'all' || ns.nodes.some((node) => capture.includes(node)));
}

/** tcpdump in each captured namespace, the run's own SSH left out, the file capped (-C, -W 1). */
export async function startCaptures(
  namespaces: readonly Namespace[],
  capture: readonly string[] | 'all' | undefined,
  mb: number,
  warn?: (line: string) => void,
): Promise<void> {
  await Promise.all(
    captured(namespaces, capture).map(async (ns) => {
      const result = await ns.channel.run(
        `rm -f cap.pcap*; tcpdump -Z root -i any -U -s 256 -C ${mb} -W 1 -w cap.pcap 'not port 22' > tcpdump.log 2>&1 & echo $! > tcpdump.pid; sleep 0.3; kill -0 $(cat tcpdump.pid) || { cat tcpdump.log; exit 1; }`,
      );
      if (result.exitCode !== 0)
        warn?.(
          `network: cannot capture on ${ns.nodes.join(', ')}: ${result.output.trim().split('\n').at(-1) ?? ''}`,
        );
    }),
  );
}

/** Stops tcpdump and fetches each pcap (base64 through the channel) into `files`; the files' names for the record. */
export async function collectCaptures(
  namespaces: readonly Namespace[],
  capture: readonly string[] | 'all' | undefined,
  level: { readonly network?: string; readonly benchmarkNumber?: number; readonly run?: number },
  files: Map<string, Buffer>,
): Promise<Record<string, { file: string; bytes: number }>> {
  const out: Record<string, { file: string; bytes: number }> = {};
  await Promise.all(
    captured(namespaces, capture).map(async (ns) => {
      // stop it through the channel; fetch the file with one exec (a long line is slow for the channel's shell)
      await ns.channel
        .run('[ -f tcpdump.pid ] && kill -INT $(cat tcpdump.pid) 2>/dev/null; sleep 0.3; rm -f tcpdump.pid')
        .catch(() => undefined);
      const result = await ns.sidecar
        .exec([
          'sh',
          '-c',
          'f=$(ls /tmp/meshbench/cap.pcap* 2>/dev/null | head -1); [ -n "$f" ] && base64 -w0 "$f"; rm -f /tmp/meshbench/cap.pcap*',
        ])
        .catch(() => undefined);
      if (!result || result.exitCode !== 0 || result.stdout.trim() === '') return;
      const bytes = Buffer.from(result.stdout.trim(), 'base64');
      const node = ns.nodes[0] as string;
      const file = `${level.network ?? 'network'}-benchmark-${level.benchmarkNumber ?? 0}${(level.run ?? 1) > 1 ? `-run${level.run}` : ''}-${node}.pcap`;
      files.set(file, bytes);
      out[node] = { file, bytes: bytes.length };
    }),
  );
  return out;
}
