/**
 * The network conditioner: an observer of the sweep that gives the network's links the
 * qualities a scenario asks for (delay, jitter, loss, bandwidth, partitions, zones,
 * mobility) during each load level. Per node it starts a nethelper sidecar in the node's
 * network namespace, probes what the kernel there can do, picks a mechanism per kind
 * (netem, else nfq-delay on NFQUEUE for delay and iptables statistic for loss; HTB for
 * bandwidth; iptables DROP for partitions) and refuses, before any load, a condition no
 * mechanism can apply. During a level it applies the model's state at each event's edge
 * (and each second when ramps or moves make it continuous), records each link's applied
 * quality per second, and takes everything off when the load ends. Each scenario event's
 * window is published live as it starts and ends (`context.publish`), for the dashboard.
 */
import { formatError, MeshbenchError } from '../common/errors.js';
import { NETHELPER_IMAGE } from '../common/net-shaping.js';
import { ensureImage } from '../testbed/docker/ensure-image.js';
import { ControlServer } from './control.js';
import { sleep } from '../common/sleep.js';
import type { LoadResult } from '../load/types.js';
import type { Deployment, NodeHandle, Sidecar } from '../testbed/testbed.js';
import type { LevelContext, LevelStart as FaultsLevelStart } from '../scenario/lifecycle.js';

/** A level's start as the conditioner reads it (the sweep hands more). */
interface LevelStart extends FaultsLevelStart {
  readonly network?: string;
  readonly benchmarkNumber?: number;
  readonly run?: number;
}
import { namedNodes, type NetworkEvent } from '../scenario/events.js';
import {
  CLEAR,
  ConditionModel,
  isClear,
  linkKey,
  type LinkQuality,
  type NetworkConditions,
} from './model.js';
import { formatDelay, formatRate } from '../scenario/quantities.js';
import { ORCHESTRATOR } from '../scenario/zones.js';
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
import { windowFigures } from './windows.js';

export { NETHELPER_IMAGE };

/** Exits 0 while the namespace has a device besides lo (a stopped node's old namespace has none). */
const HAS_DEVICES = `ls /sys/class/net | grep -qv '^lo$'`;

export interface ConditionerOptions {
  readonly conditions: NetworkConditions;
  /** Which networks the zones apply to (benchmark --network-type both: e.g. only the remote one, to emulate a WAN there). */
  readonly zonesOn?: 'all' | 'local' | 'remote';
  /** Where the scenario came from, for messages. */
  readonly source: string;
  /** Each condition's index among the scenario file's events (default: its own position). */
  readonly indices?: readonly number[];
  readonly image?: string;
  /** auto: netem where the kernel has it, else nfq-delay; or force one (to compare them). */
  readonly delayMechanism?: DelayPreference;
  /** Serve the live control endpoint (`conditions set|clear|show`), default true. */
  readonly control?: boolean;
  /** `--live-conditions`: start the helpers even when this network has no conditions. */
  readonly live?: boolean;
  /** `--capture`: the nodes whose traffic tcpdump writes to a pcap per level ('all': every node). */
  readonly capture?: readonly string[] | 'all';
  /** The size cap of each pcap, MB (default 20): tcpdump keeps the last this many MB. */
  readonly captureMaxMb?: number;
  /**
   * `--shape-orchestrator`: the orchestrator's traffic with the nodes (load, RPC, metrics) is
   * shaped too, as the links of an endpoint named `client` (by default it is never shaped).
   */
  readonly orchestrator?: boolean;
  readonly confirmCommit: boolean;
  readonly onForce?: (cleanup: () => Promise<void>) => () => void;
  readonly warn?: (line: string) => void;
}

interface Namespace {
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

export interface ConditionEventRecord {
  /** The scenario event's index, or null for a second's update (ramps, mobility) or the level's end. */
  readonly event: number | null;
  readonly edge: 'start' | 'end' | 'tick' | 'clear' | 'live-set' | 'live-clear' | 'reattach';
  /** edge 'reattach': the restarted nodes whose new namespaces got a helper and the conditions again. */
  readonly nodes?: readonly string[];
  /** A live change: what was asked. */
  readonly live?: string;
  readonly scheduled_ms: number;
  readonly fired_ms: number;
  readonly done_ms: number;
  /** The namespaces whose rules changed. */
  readonly changed: number;
  readonly errors?: Readonly<Record<string, string>>;
}

interface LevelState {
  readonly context: LevelContext;
  readonly events: ConditionEventRecord[];
  /** The scenario events whose window is open (published live), until their end or the load's. */
  readonly open: Set<number>;
  /** Nodes a partition cuts off from the orchestrator (`client`): down for the load (--fault-load). */
  readonly cutFromClient: Set<string>;
  readonly samples: {
    t: number;
    state: Map<string, LinkQuality>;
    positions?: Map<string, readonly [number, number]>;
  }[];
  running: Promise<void>;
  unregisterForce: () => void;
}

export class NetworkConditioner {
  readonly name = 'network';
  readonly #options: ConditionerOptions;
  #model: ConditionModel | undefined;
  #namespaces: Namespace[] = [];
  #runId = '';
  #level: LevelState | undefined;
  /** The conditions of the network deployed now (the zones only where --zones-on says). */
  #conditions: NetworkConditions;
  /** Captures fetched at a level's load end, written at its end: file name → bytes. */
  #captures = new Map<string, Buffer>();
  /** Live changes made with `conditions set`, in order, until `conditions clear`. */
  #live: NetworkEvent[] = [];
  #control: ControlServer | undefined;
  /** Which kinds of condition the scenario reaches at some point. */
  readonly #needs = { delay: false, loss: false, rate: false, partition: false, ifb: false };

  constructor(options: ConditionerOptions) {
    this.#options = options;
    this.#conditions = options.conditions;
  }

  async onDeploy(deployment: Deployment, network?: string): Promise<void> {
    const { zones, ...rest } = this.#options.conditions;
    const zonesHere =
      zones && (this.#options.zonesOn ?? 'all') !== 'all' && network !== this.#options.zonesOn
        ? undefined
        : zones;
    this.#conditions = { ...rest, ...(zonesHere ? { zones: zonesHere } : {}) };
    const idle =
      this.#conditions.events.length === 0 &&
      !this.#conditions.zones &&
      !this.#conditions.mobility &&
      this.#options.capture === undefined &&
      this.#options.live !== true;
    if (idle) {
      // nothing to shape on this network (the zones are for the other one)
      this.#model = undefined;
      return;
    }
    const nodes = deployment.nodes;
    if (nodes.length === 0 || nodes.some((node) => !node.sidecar)) {
      throw conditionError(
        `network conditions need the nodes' network namespaces, and this ${deployment.kind} network gives none`,
        'run the network with meshbench (local or remote) to shape its links',
      );
    }
    const nodeIds = nodes.map((node) => node.nodeId);
    this.#runId = deployment.runId;
    this.#checkNames(nodeIds);
    this.#model = new ConditionModel(this.#conditions, nodeIds, {
      orchestrator: this.#options.orchestrator === true,
    });
    const image = this.#options.image ?? NETHELPER_IMAGE;
    // built here on first use (remote hosts got it shipped with the node image)
    if (deployment.kind === 'local')
      await ensureImage(image, { log: (line) => (this.#options.warn ?? console.error)(line) });
    // one sidecar per node, all at once
    const started = await Promise.allSettled(
      nodes.map((node) =>
        (node.sidecar as NonNullable<NodeHandle['sidecar']>)({
          image,
          command: sidecarCommand(deployment.runId),
          capAdd: ['NET_ADMIN', 'NET_RAW', 'SYS_NICE'],
          role: 'nethelper',
        }),
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
    this.#namespaces = (sidecars as Sidecar[]).map((sidecar, index) => {
      const caps = (probes[index] as (typeof probes)[number]).caps;
      const choice = chooseMechanisms(caps, this.#options.delayMechanism);
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
      if (this.#options.orchestrator && gateway && source) {
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
      await this.#closeAll();
      throw conditionError(
        `network conditions: cannot tell ${nodeIds[unreachable]}'s address apart from the others' (${keys[unreachable] || 'none'})`,
        'give each node its own address (one node per host)',
      );
    }
    await this.#checkApplicable();
    if (this.#options.control !== false) {
      this.#control = await ControlServer.start(deployment.runId, this.#model.ends, {
        set: (event) => this.#setLive(event),
        clear: () => this.#clearLive(),
        state: () => ({
          runId: deployment.runId,
          nodes: nodeIds,
          live: this.#live.map((e) => describe(e, 'start')),
        }),
      });
    }
    await Promise.all(
      this.#namespaces.map(async (ns) => {
        const swept = await ns.channel.run(staleSweepScript(deployment.runId));
        for (const line of swept.output.split('\n').filter(Boolean)) {
          this.#options.warn?.(`network: ${ns.nodes.join(', ')}: ${line} (left by a run that is gone)`);
        }
        const prepared = await ns.channel.run(
          ns.shaper.prepareScript(this.#needs.delay || this.#options.control !== false),
        );
        if (prepared.exitCode !== 0) {
          throw conditionError(
            `network conditions: cannot set up ${ns.nodes.join(', ')} (${ns.sidecar.host}): ${prepared.output.trim().split('\n').slice(-1)[0] ?? `exit ${prepared.exitCode}`}`,
            'run with --verbose; the helper image is meshbench/nethelper (scripts/build-images.sh nethelper)',
          );
        }
      }),
    );
  }

  /** The scenario file's index of condition `index`. */
  #index(index: number): number {
    return this.#options.indices?.[index] ?? index;
  }

  #checkNames(nodeIds: readonly string[]): void {
    this.#conditions.events.forEach((event, position) => {
      const index = this.#index(position);
      for (const node of namedNodes(event)) {
        if (node === ORCHESTRATOR && this.#options.orchestrator) continue;
        if (node === ORCHESTRATOR) {
          throw conditionError(
            `${this.#options.source}: events[${index}]: ${ORCHESTRATOR} (the orchestrator's traffic with the nodes) is shaped only when asked`,
            'add --shape-orchestrator',
          );
        }
        if (!nodeIds.includes(node)) {
          throw conditionError(
            `${this.#options.source}: events[${index}]: no node ${JSON.stringify(node)} in this network (nodes: ${nodeIds.join(', ')})`,
            'name one of its nodes',
          );
        }
      }
    });
    const capture = this.#options.capture;
    const notNode = Array.isArray(capture) ? capture.find((node) => !nodeIds.includes(node)) : undefined;
    if (notNode !== undefined) {
      throw conditionError(
        `--capture: no node ${notNode} in this network (nodes: ${nodeIds.join(', ')})`,
        'give node IDs or all',
      );
    }
    const mobility = this.#conditions.mobility;
    if (mobility) {
      const missing = nodeIds.find((node) => !(node in mobility.positions));
      if (missing) {
        throw conditionError(
          `${this.#options.source}: mobility.positions: node ${missing} has no position`,
          'give every node a position [x, y]',
        );
      }
      const extra = Object.keys(mobility.positions).find((node) => !nodeIds.includes(node));
      if (extra) {
        throw conditionError(
          `${this.#options.source}: mobility.positions: no node ${extra} in this network (nodes: ${nodeIds.join(', ')})`,
          'name its nodes',
        );
      }
    }
  }

  /** Refuses, in one line naming the mechanism and the fix, a condition no namespace's kernel can apply. */
  async #checkApplicable(): Promise<void> {
    const model = this.#model as ConditionModel;
    const needs = this.#needs;
    const fromOrchestrator = `${ORCHESTRATOR}->`;
    for (const t of model.edges()) {
      for (const [key, q] of model.at(t)) {
        if (q.delayMs > 0 || q.jitterMs > 0) needs.delay = true;
        if (q.lossPct > 0) needs.loss = true;
        if (q.rateBits !== null) needs.rate = true;
        if (!q.up) needs.partition = true;
        if (key.startsWith(fromOrchestrator) && (q.rateBits !== null || (q.up && !isClear(q))))
          needs.ifb = true;
      }
    }
    if (model.continuous) {
      // ramps and moves reach values between the edges: a mid-window sample tells the kinds too
      const ends = model.edges();
      for (let i = 1; i < ends.length; i++) {
        for (const [key, q] of model.at(((ends[i - 1] as number) + (ends[i] as number)) / 2)) {
          if (q.delayMs > 0 || q.jitterMs > 0) needs.delay = true;
          if (q.lossPct > 0) needs.loss = true;
          if (q.rateBits !== null) needs.rate = true;
          if (!q.up) needs.partition = true;
          if (key.startsWith(fromOrchestrator) && (q.rateBits !== null || (q.up && !isClear(q))))
            needs.ifb = true;
        }
      }
    }
    for (const ns of this.#namespaces) {
      const where = `${ns.nodes.join(', ')} (${ns.sidecar.host})`;
      const fail = (what: string, missing: string, fix: string) =>
        conditionError(`network conditions: cannot apply ${what} on ${where}: ${missing}`, fix);
      let error: MeshbenchError | undefined;
      if (needs.delay && ns.choice.delay === null) {
        error =
          this.#options.delayMechanism === 'netem'
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
      } else if (this.#options.orchestrator && !ns.peers.some((peer) => peer.external)) {
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
      if (error) {
        await this.#closeAll();
        throw error;
      }
    }
  }

  /** What the record says about each namespace: its capabilities and the mechanism per kind. */
  mechanisms(): {
    host: string;
    nodes: readonly string[];
    capabilities: Capabilities;
    mechanisms: MechanismChoice;
  }[] {
    return this.#namespaces.map((ns) => ({
      host: ns.sidecar.host,
      nodes: ns.nodes,
      capabilities: ns.caps,
      mechanisms: ns.choice,
    }));
  }

  onLevelStart(level: LevelStart, context: LevelContext): void {
    const model = this.#model;
    if (!model) return;
    const levelMs = level.warmupMs + level.durationMs;
    const state: LevelState = {
      context,
      events: [],
      open: new Set(),
      cutFromClient: new Set(),
      samples: [],
      running: Promise.resolve(),
      unregisterForce: () => undefined,
    };
    state.unregisterForce =
      this.#options.onForce?.(async () => {
        await this.#clear();
      }) ?? (() => undefined);
    this.#level = state;
    // captures start beside the timeline, which must not wait for them
    state.running = Promise.all([this.#startCaptures(), this.#run(state, model, levelMs)]).then(
      () => undefined,
    );
  }

  /** The namespaces `--capture` names. */
  #captured(): Namespace[] {
    const capture = this.#options.capture;
    if (!capture) return [];
    return this.#namespaces.filter(
      (ns) => capture === 'all' || ns.nodes.some((node) => capture.includes(node)),
    );
  }

  /** tcpdump in each captured namespace, the run's own SSH left out, the file capped (-C, -W 1). */
  async #startCaptures(): Promise<void> {
    const mb = this.#options.captureMaxMb ?? 20;
    await Promise.all(
      this.#captured().map(async (ns) => {
        const result = await ns.channel.run(
          `rm -f cap.pcap*; tcpdump -Z root -i any -U -s 256 -C ${mb} -W 1 -w cap.pcap 'not port 22' > tcpdump.log 2>&1 & echo $! > tcpdump.pid; sleep 0.3; kill -0 $(cat tcpdump.pid) || { cat tcpdump.log; exit 1; }`,
        );
        if (result.exitCode !== 0)
          this.#options.warn?.(
            `network: cannot capture on ${ns.nodes.join(', ')}: ${result.output.trim().split('\n').at(-1) ?? ''}`,
          );
      }),
    );
  }

  /** Stops tcpdump and fetches each pcap (base64 through the channel); the files' names for the record. */
  async #collectCaptures(level: LevelStart): Promise<Record<string, { file: string; bytes: number }>> {
    const out: Record<string, { file: string; bytes: number }> = {};
    await Promise.all(
      this.#captured().map(async (ns) => {
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
        this.#captures.set(file, bytes);
        out[node] = { file, bytes: bytes.length };
      }),
    );
    return out;
  }

  /** Writes the level's pcaps into the run folder. */
  async onLevelEnd(
    _level: unknown,
    out: { write(name: string, data: unknown): Promise<string | undefined> },
  ): Promise<void> {
    const captures = [...this.#captures];
    this.#captures.clear();
    for (const [name, bytes] of captures) await out.write(name, bytes);
  }

  async #run(state: LevelState, model: ConditionModel, levelMs: number): Promise<void> {
    const { context } = state;
    const edges = model.edges();
    const startsAt = new Map<number, number[]>();
    const endsAt = new Map<number, number[]>();
    this.#conditions.events.forEach((event: NetworkEvent, index) => {
      startsAt.set(event.fromMs, [...(startsAt.get(event.fromMs) ?? []), index]);
      if (event.toMs !== null) endsAt.set(event.toMs, [...(endsAt.get(event.toMs) ?? []), index]);
    });
    const times = new Set<number>(edges.filter((t) => t < levelMs));
    for (let t = 0; t < levelMs; t += 1000) times.add(t);
    for (const t of [...times].sort((a, b) => a - b)) {
      for (
        let wait = t - context.elapsedMs();
        wait > 0 && !context.signal.aborted;
        wait = t - context.elapsedMs()
      ) {
        await sleep(Math.ceil(wait), context.signal);
      }
      if (context.signal.aborted) break;
      const isEdge = edges.includes(t);
      const wanted = model.at(t, this.#live);
      // a node restarted by a fault lives in a new namespace: a new helper, and its links again
      const revived = t % 1000 === 0 ? await this.#reviveRestarted() : [];
      if (revived.length > 0 && !isEdge && !model.continuous) {
        const firedMs = context.elapsedMs();
        const { changed, errors } = await this.#apply(wanted);
        state.events.push({
          event: null,
          edge: 'reattach',
          nodes: revived,
          scheduled_ms: t,
          fired_ms: round(firedMs),
          done_ms: round(context.elapsedMs()),
          changed,
          ...(errors ? { errors } : {}),
        });
        context.log(
          `network: ${revived.join(', ')} restarted: conditions applied again in its new namespace`,
        );
      } else if (revived.length > 0) {
        state.events.push({
          event: null,
          edge: 'reattach',
          nodes: revived,
          scheduled_ms: t,
          fired_ms: round(context.elapsedMs()),
          done_ms: round(context.elapsedMs()),
          changed: 0,
        });
      }
      if (isEdge || model.continuous) {
        const firedMs = context.elapsedMs();
        for (const index of startsAt.get(t) ?? []) this.#windowStarts(state, index, firedMs);
        // cut from the orchestrator: the load stops aiming at it before the cut applies
        this.#clientCuts(state, wanted, firedMs, 'down');
        const { changed, errors } = await this.#apply(wanted);
        const doneMs = context.elapsedMs();
        // joined again: once the links are back
        this.#clientCuts(state, wanted, doneMs, 'up');
        for (const index of endsAt.get(t) ?? []) this.#windowEnds(state, index, doneMs);
        const records: ConditionEventRecord[] = [];
        const base = {
          scheduled_ms: t,
          fired_ms: round(firedMs),
          done_ms: round(doneMs),
          changed,
          ...(errors ? { errors } : {}),
        };
        for (const index of startsAt.get(t) ?? []) records.push({ event: index, edge: 'start', ...base });
        for (const index of endsAt.get(t) ?? []) records.push({ event: index, edge: 'end', ...base });
        if (records.length === 0 && changed > 0) records.push({ event: null, edge: 'tick', ...base });
        state.events.push(...records);
        for (const record of records) {
          if (record.event === null) continue;
          context.log(
            `network: ${describe(this.#conditions.events[record.event] as NetworkEvent, record.edge)} at ${(firedMs / 1000).toFixed(1)} s (${changed} node${changed === 1 ? '' : 's'} in ${Math.round(doneMs - firedMs)} ms)${
              errors
                ? `: failed (${Object.entries(errors)
                    .map(([n, e]) => `${n}: ${e}`)
                    .join('; ')})`
                : ''
            }`,
          );
        }
        if (t === 0 && errors) {
          throw conditionError(
            `network conditions: could not apply them at the level's start: ${Object.entries(errors)
              .map(([n, e]) => `${n}: ${e}`)
              .join('; ')}`,
            'see the helper error above; run with --verbose for more',
          );
        }
      }
      if (t % 1000 === 0) {
        const positions = model.positionsAt(t);
        state.samples.push({ t: t / 1000, state: wanted, ...(positions ? { positions } : {}) });
      }
    }
  }

  /** Publishes a scenario event's window as it starts (as the record's band: from fired_ms, its description). */
  #windowStarts(state: LevelState, index: number, firedMs: number): void {
    const event = this.#conditions.events[index];
    if (!event || state.open.has(index)) return;
    state.open.add(index);
    const selector = event.selector;
    state.context.publish?.({
      kind: 'window-start',
      id: `condition-${index}`,
      category: 'condition',
      label: describe(event, 'start'),
      nodes: selector.kind === 'nodes' ? [...selector.nodes] : [],
      links: selector.kind === 'links' ? selector.links.map((link) => `${link.from}->${link.to}`) : [],
      atMs: round(firedMs),
    });
  }

  /**
   * Nodes whose links with the orchestrator (`client`, shaped with --shape-orchestrator) a
   * partition cuts, or whose cut ended: published as node-state `down` (before the cut is
   * applied) or `up` (after it is lifted), so the generator routes their load (--fault-load).
   */
  #clientCuts(state: LevelState, wanted: Map<string, LinkQuality>, atMs: number, edge: 'down' | 'up'): void {
    for (const key of wanted.keys()) {
      if (!key.startsWith(`${ORCHESTRATOR}->`)) continue;
      const node = key.slice(ORCHESTRATOR.length + 2);
      const cut = wanted.get(key)?.up === false || wanted.get(`${node}->${ORCHESTRATOR}`)?.up === false;
      if (edge === 'down' && cut && !state.cutFromClient.has(node)) {
        state.cutFromClient.add(node);
        state.context.publish?.({ kind: 'node-state', node, state: 'down', atMs: round(atMs) });
      } else if (edge === 'up' && !cut && state.cutFromClient.delete(node)) {
        state.context.publish?.({ kind: 'node-state', node, state: 'up', atMs: round(atMs) });
      }
    }
  }

  /** Publishes the end of an open window (lifted by the scenario, or at the load's end). */
  #windowEnds(state: LevelState, index: number, doneMs: number): void {
    if (!state.open.delete(index)) return;
    state.context.publish?.({
      kind: 'window-end',
      id: `condition-${index}`,
      category: 'condition',
      atMs: round(doneMs),
    });
  }

  /**
   * The namespaces whose node was restarted (a crash fault and its restart): the old helper is
   * left in a namespace with no device but `lo`. Each gets a new helper in the node's new
   * namespace, a fresh shaper (so the next apply writes everything), and the run's chains.
   * A node still down is tried again the next second. Nodes that share the host's namespace
   * (remote) never lose it. Returns the nodes revived.
   */
  async #reviveRestarted(): Promise<string[]> {
    const revived: string[] = [];
    await Promise.all(
      this.#namespaces.map(async (ns) => {
        const alive = await ns.channel
          .run(HAS_DEVICES, 3000)
          .then((result) => result.exitCode === 0)
          .catch(() => false);
        if (alive || !ns.node.sidecar) return;
        let sidecar: Sidecar;
        try {
          sidecar = await ns.node.sidecar({
            image: this.#options.image ?? NETHELPER_IMAGE,
            command: sidecarCommand(this.#runId),
            capAdd: ['NET_ADMIN', 'NET_RAW', 'SYS_NICE'],
            role: 'nethelper',
          });
        } catch {
          return; // the node is still down
        }
        const channel = new ShellChannel(sidecar);
        const probe = await channel.run(HAS_DEVICES, 3000).catch(() => ({ exitCode: 1, output: '' }));
        const shaper = new NamespaceShaper(this.#runId, ns.choice);
        const prepared =
          probe.exitCode === 0
            ? await channel
                .run(shaper.prepareScript(this.#needs.delay || this.#options.control !== false))
                .catch(() => ({ exitCode: 1, output: '' }))
            : probe;
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
  async #apply(
    wanted: Map<string, LinkQuality>,
  ): Promise<{ changed: number; errors?: Record<string, string> }> {
    const errors: Record<string, string> = {};
    let changed = 0;
    await Promise.all(
      this.#namespaces.map(async (ns) => {
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
            throw new Error(
              result.output.trim().split('\n').slice(-2).join(' ') || `exit ${result.exitCode}`,
            );
          ns.applied = mine;
        } catch (error) {
          errors[own] = formatError(error);
        }
      }),
    );
    return { changed, ...(Object.keys(errors).length > 0 ? { errors } : {}) };
  }

  async #clear(): Promise<number> {
    let changed = 0;
    await Promise.all(
      this.#namespaces.map(async (ns) => {
        const script = ns.shaper.clearScript();
        ns.applied = new Map();
        if (script === '') return;
        changed++;
        await ns.channel.run(script).catch(() => undefined);
      }),
    );
    return changed;
  }

  /** A live change: checked against the namespaces' mechanisms, applied now, put on the timeline. */
  async #setLive(event: NetworkEvent): Promise<string> {
    const line = describe(event, 'start');
    const kinds = {
      delay: event.settings.delay !== undefined || event.settings.jitter !== undefined,
      loss: event.settings.loss !== undefined,
      rate: event.settings.rate !== undefined,
      partition: event.action === 'partition',
    };
    for (const ns of this.#namespaces) {
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
      if (missing) throw new Error(`cannot apply ${missing} on ${ns.nodes.join(', ')} (${ns.sidecar.host})`);
    }
    this.#live = [...this.#live, event];
    return `${line}: ${await this.#applyLive('live-set', line)}`;
  }

  async #clearLive(): Promise<string> {
    const count = this.#live.length;
    this.#live = [];
    return `${count} live change${count === 1 ? '' : 's'} cleared: ${await this.#applyLive('live-clear', 'clear')}`;
  }

  /** Applies the model with the live changes now; a line on what changed. */
  async #applyLive(edge: 'live-set' | 'live-clear', what: string): Promise<string> {
    const state = this.#level;
    const model = this.#model;
    if (!state || !model) return 'takes effect when the next level starts';
    const { context } = state;
    const firedMs = context.elapsedMs();
    const { changed, errors } = await this.#apply(model.at(firedMs, this.#live));
    const doneMs = context.elapsedMs();
    state.events.push({
      event: null,
      edge,
      live: what,
      scheduled_ms: round(firedMs),
      fired_ms: round(firedMs),
      done_ms: round(doneMs),
      changed,
      ...(errors ? { errors } : {}),
    });
    const result = `${changed} node${changed === 1 ? '' : 's'} changed at ${(firedMs / 1000).toFixed(1)} s in ${Math.round(doneMs - firedMs)} ms${
      errors
        ? ` (failed: ${Object.entries(errors)
            .map(([n, e]) => `${n}: ${e}`)
            .join('; ')})`
        : ''
    }`;
    context.log(`network: live ${what}: ${result}`);
    return result;
  }

  async onLoadEnd(level: LevelStart, load: LoadResult, context: LevelContext): Promise<void> {
    const state = this.#level;
    if (!state) return;
    await state.running;
    const nfq = await this.#nfqStats();
    const captures = await this.#collectCaptures(level);
    const firedMs = context.elapsedMs();
    const changed = await this.#clear();
    const doneMs = context.elapsedMs();
    for (const index of [...state.open]) this.#windowEnds(state, index, doneMs);
    state.events.push({
      event: null,
      edge: 'clear',
      scheduled_ms: round(firedMs),
      fired_ms: round(firedMs),
      done_ms: round(doneMs),
      changed,
    });
    state.unregisterForce();
    this.#level = undefined;
    const { windows, availability } = windowFigures({
      conditions: this.#conditions,
      events: state.events,
      load,
      warmupMs: level.warmupMs,
      loadStartOffsetMs: Date.parse(load.startedAt) - (Date.now() - context.elapsedMs()),
      confirmCommit: this.#options.confirmCommit,
      describe: (event, index) => `${describe(event, 'start')} (events[${this.#index(index)}])`,
    });
    const fileIndex = (event: number | null) => (event === null ? null : this.#index(event));
    context.block('network', {
      source: this.#options.source,
      conditions: conditionsRecord(this.#conditions, this.#model as ConditionModel),
      namespaces: this.mechanisms(),
      events: state.events.map((record) => ({ ...record, event: fileIndex(record.event) })),
      windows: windows.map((window) => ({ ...window, event: this.#index(window.event) })),
      availability,
      apply_ms: applyFigures(state.events),
      quality: qualitySeries(state.samples),
      ...(state.samples.some((s) => s.positions) ? { positions: positionSeries(state.samples) } : {}),
      ...(nfq.length > 0 ? { nfq_delay: nfq } : {}),
      ...(Object.keys(captures).length > 0
        ? { captures: { max_mb: this.#options.captureMaxMb ?? 20, files: captures } }
        : {}),
    });
  }

  async #nfqStats(): Promise<{ node: string; stats: unknown }[]> {
    const out: { node: string; stats: unknown }[] = [];
    await Promise.all(
      this.#namespaces.map(async (ns) => {
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

  async onTeardown(): Promise<void> {
    const state = this.#level;
    if (state) {
      await state.running.catch(() => undefined);
      state.unregisterForce();
      this.#level = undefined;
    }
    await this.#clear().catch(() => undefined);
    await this.#control?.close().catch(() => undefined);
    this.#control = undefined;
    await this.#closeAll();
  }

  async #closeAll(): Promise<void> {
    await Promise.all(this.#namespaces.map((ns) => ns.sidecar.close().catch(() => undefined)));
    this.#namespaces = [];
  }
}

export function conditionError(message: string, hint: string): MeshbenchError {
  return new MeshbenchError('BAD_CONDITIONS', message, { hint, exitCode: 2 });
}

/** `delay 50ms on every link`, `partition bisect healed`, … */
export function describe(event: NetworkEvent, edge: ConditionEventRecord['edge']): string {
  const where =
    event.selector.kind === 'all'
      ? 'every link'
      : event.selector.kind === 'nodes'
        ? `${event.selector.nodes.join(', ')}'s links`
        : event.selector.links.map((link) => `${link.from}->${link.to}`).join(', ');
  if (event.action === 'partition') {
    const what = event.partition?.shape
      ? `partition ${event.partition.shape}${event.partition.node ? ` (${event.partition.node})` : ''}`
      : event.partition?.groups
        ? `partition ${event.partition.groups.map((group) => `[${group.join(' ')}]`).join(' | ')}`
        : `partition ${where}`;
    return edge === 'end' ? `${what} healed` : what;
  }
  const s = event.settings;
  const ramp = (r: { from: number; to: number }, format: (v: number) => string) =>
    r.from === r.to ? format(r.from) : `${format(r.from)}->${format(r.to)}`;
  const parts = [
    s.delay ? `delay ${ramp(s.delay, formatDelay)}` : '',
    s.jitter ? `jitter ${ramp(s.jitter, formatDelay)}` : '',
    s.loss ? `loss ${ramp(s.loss, (v) => `${v}%`)}` : '',
    s.rate ? `rate ${ramp(s.rate, formatRate)}` : '',
  ].filter(Boolean);
  return `${parts.join(', ')} on ${where}${edge === 'end' ? ' lifted' : ''}`;
}

function conditionsRecord(conditions: NetworkConditions, model: ConditionModel): unknown {
  return {
    events: conditions.events,
    ...(conditions.zones
      ? {
          zones: {
            source: conditions.zones.matrix.source,
            zones: conditions.zones.matrix.zones,
            nodes: Object.fromEntries(model.nodes.map((node) => [node, model.zoneOf(node)])),
          },
        }
      : {}),
    ...(conditions.mobility ? { mobility: conditions.mobility } : {}),
  };
}

function applyFigures(
  events: readonly ConditionEventRecord[],
): { count: number; max: number; p50: number } | null {
  const times = events
    .filter((e) => e.changed > 0)
    .map((e) => e.done_ms - e.fired_ms)
    .sort((a, b) => a - b);
  if (times.length === 0) return null;
  return {
    count: times.length,
    max: round(times.at(-1) as number),
    p50: round(times[Math.floor((times.length - 1) / 2)] as number),
  };
}

/** Per link that was ever shaped: its applied quality at each second. */
function qualitySeries(samples: LevelState['samples']): unknown {
  const keys = new Set<string>();
  for (const sample of samples) for (const [key, q] of sample.state) if (!isClear(q)) keys.add(key);
  const links: Record<
    string,
    {
      delay_ms: number[];
      jitter_ms: number[];
      loss_pct: number[];
      rate_mbit: (number | null)[];
      up: boolean[];
    }
  > = {};
  for (const key of [...keys].sort()) {
    const series = {
      delay_ms: [] as number[],
      jitter_ms: [] as number[],
      loss_pct: [] as number[],
      rate_mbit: [] as (number | null)[],
      up: [] as boolean[],
    };
    for (const sample of samples) {
      const q = sample.state.get(key) ?? CLEAR;
      series.delay_ms.push(q.delayMs);
      series.jitter_ms.push(q.jitterMs);
      series.loss_pct.push(q.lossPct);
      series.rate_mbit.push(q.rateBits === null ? null : q.rateBits / 1e6);
      series.up.push(q.up);
    }
    links[key] = series;
  }
  return { t_s: samples.map((s) => s.t), links };
}

function positionSeries(samples: LevelState['samples']): unknown {
  const nodes: Record<string, (readonly [number, number])[]> = {};
  for (const sample of samples) {
    for (const [node, at] of sample.positions ?? [])
      (nodes[node] ??= []).push([Math.round(at[0] * 10) / 10, Math.round(at[1] * 10) / 10]);
  }
  return { t_s: samples.map((s) => s.t), nodes };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
