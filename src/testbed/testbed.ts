/**
 * A Testbed deploys a network of nodes somewhere (this machine's Docker engine,
 * or remote hosts over SSH) and hands back a Deployment. The benchmark loop
 * never asks which implementation it has.
 */

/** How a client reaches one node (declared with the protocols, which speak to it). */
export type { Endpoint } from '../protocols/endpoint.js';
import type { ExecResult } from '../common/exec-result.js';
import type { Endpoint } from '../protocols/endpoint.js';
import type { TopologyRecord } from './topology.js';

export interface NodeStats {
  readonly nodeId: string;
  readonly cpuPercent: number;
  readonly memoryBytes: number;
  readonly memoryLimitBytes?: number;
  readonly networkRxBytes?: number;
  readonly networkTxBytes?: number;
}

/**
 * One reading of a node's cumulative counters from the engine's stats stream (the engine
 * sends one about every second). Monitors compute rates from successive readings.
 */
export interface NodeReading {
  /** The engine's time of the reading, ms since the epoch; undefined: the container is not running. */
  readonly readAtMs: number | undefined;
  /** The container's full ID, as the engine names it. */
  readonly containerId: string;
  /** CPU time the container used, ns (cumulative; restarts from 0 when the container restarts). */
  readonly cpuNs: number;
  /** CPU time of the whole host, ns (cumulative). */
  readonly systemCpuNs: number;
  readonly onlineCpus: number;
  /** Working set: usage − inactive_file, as `docker stats` shows it. */
  readonly memoryBytes: number;
  readonly memoryLimitBytes?: number;
  readonly networkRxBytes: number;
  readonly networkTxBytes: number;
  /** True when the engine reports no network of the container's own (`--network host`): its traffic is the host's. */
  readonly hostNetwork?: boolean;
  readonly blockReadBytes: number;
  readonly blockWriteBytes: number;
}

/** An open stream of readings (node stats, host files); close() ends it and whatever it holds open. */
export interface ReadingStream {
  close(): void;
}

/** A machine the nodes run on, as monitors see it: this one (`local`) or a remote host over its SSH connection. */
export interface HostHandle {
  /** `local`, or the remote host's name. */
  readonly name: string;
  /**
   * Reads these files (e.g. /proc/stat) every `intervalMs` until close(): here from this
   * process, on a remote host by one long-lived command over the SSH connection the testbed
   * holds (never a process per reading). `onEnd` is called once if it stops by itself.
   */
  watchFiles(
    paths: readonly string[],
    intervalMs: number,
    onRead: (files: Readonly<Record<string, string>>) => void,
    onEnd?: (error?: unknown) => void,
  ): Promise<ReadingStream>;
}

/** A helper container in a node's network namespace (network conditions, packet capture). */
export interface SidecarSpec {
  readonly image: string;
  /** What it runs as its main process; it is attached to its stdin, which closes when this process goes. */
  readonly command: readonly string[];
  /** Linux capabilities beyond Docker's default set, e.g. NET_ADMIN. */
  readonly capAdd: readonly string[];
  /** What it is for (its role label and name part), e.g. `nethelper`. */
  readonly role: string;
}

/**
 * A running sidecar. Its main process reads stdin until EOF: `close()` ends it (and a dead
 * orchestrator's closed connection does the same), after which it cleans up and is removed.
 */
export interface Sidecar {
  readonly id: string;
  /** Where it runs: `local`, or the remote host's name. */
  readonly host: string;
  exec(command: readonly string[]): Promise<ExecResult>;
  /** Writes to its main process's stdin (a control channel that costs no `docker exec`). */
  write(text: string): void;
  /** Each line its main process prints (stdout); the first listener also gets the lines printed before it came. */
  onLine(listener: (line: string) => void): void;
  /**
   * Called once its output has ended (its main process exited, its container was removed, or
   * the attach was lost): nothing more will be answered. At once when it has ended already.
   */
  onEnd(listener: () => void): void;
  /** Ends its stdin and waits (up to `timeoutMs`, default 10 s) for it to exit; then removes it. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * A host of the network that runs no node but a load client (`role: client` in the inventory,
 * `--load-clients dedicated:N`).
 */
export interface ClientHostHandle {
  /** The host's name. */
  readonly name: string;
  /** How a client on that host reaches each node (the hosts' own addresses, not this machine's tunnels). */
  readonly endpoints: readonly Endpoint[];
  /** Starts a helper container on that host, in the host's network, with the run's labels. */
  run(spec: SidecarSpec): Promise<Sidecar>;
}

/** Control over one running node. */
export interface NodeHandle {
  readonly nodeId: string;
  readonly endpoint: Endpoint;
  /**
   * The node as a sidecar in its network namespace reaches it, where that differs from
   * `endpoint` (a remote node behind a jump host: `endpoint` is this machine's tunnel).
   */
  readonly sidecarEndpoint?: Endpoint;
  /**
   * The engine itself starts the node again after a crash (Swarm's restart policy: a new task
   * container), so a crash's recovery is measured from the crash, not only from a restart.
   */
  readonly restartsAfterCrash?: boolean;
  /**
   * The node runs in this machine's own network namespace (a local node with `network_mode:
   * host`): shaping its namespace would shape this machine's traffic, the generator's too.
   */
  readonly onThisMachinesNetwork?: boolean;
  kill(signal?: string): Promise<void>;
  stop(timeoutSeconds?: number): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  pause(): Promise<void>;
  unpause(): Promise<void>;
  exec(command: readonly string[]): Promise<ExecResult>;
  logs(options?: { tailLines?: number }): Promise<string>;
  stats(): Promise<NodeStats>;
  /**
   * Streams the engine's stats (one request held open, a reading about every second) until
   * close(); a stopped container's readings have no `readAtMs`. `onEnd` is called once if the
   * stream ends by itself (the container removed, the connection lost).
   */
  statsStream?(
    onReading: (reading: NodeReading) => void,
    onEnd?: (error?: unknown) => void,
  ): Promise<ReadingStream>;
  /** Starts a helper container in this node's network namespace (testbeds that run containers). */
  sidecar?(spec: SidecarSpec): Promise<Sidecar>;
}

export interface DestroyOptions {
  /** Also remove volumes, networks, data dirs and (remote) shipped images. */
  readonly thorough?: boolean;
}

/** Where a network runs: here (Docker Compose), on SSH hosts, or someone else's (attach mode). */
export type TestbedKind = 'local' | 'remote' | 'attached';

/** The local testbed's facts: the engine, Compose, the project and how nodes are reached. */
export interface LocalEnvironment {
  readonly testbed: 'local';
  readonly engineVersion: string;
  readonly apiVersion: string;
  readonly os: string;
  readonly hostCpus: number;
  readonly hostMemoryBytes: number;
  /** The Compose command and its version, e.g. `docker compose 2.29.1`. */
  readonly compose: string;
  /** The compose file(s), or `generated (--committee N)`. */
  readonly composeFile: string;
  readonly nodeAccess: string;
  readonly nodeAccessReason: string;
  readonly composeProject: string;
  /** Which services were taken as nodes, and why. */
  readonly nodeRule: string;
  /** Image (or service) → image ID. */
  readonly images: Readonly<Record<string, string>>;
  /** A generated network's graph (--topology): who connects to whom. */
  readonly topology?: TopologyRecord;
}

/** One remote host's facts from a deploy. */
export interface RemoteHostEnvironment {
  readonly name: string;
  readonly address: string;
  readonly region?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** The jump hosts it was reached through, first to last, as `user@host:port` (ProxyJump or `jump:`). */
  readonly via?: readonly string[];
  readonly os?: string | undefined;
  readonly dockerVersion?: string | undefined;
  readonly dockerAccess?: string | undefined;
  readonly dockerInstalled?: boolean | undefined;
  /** What happened to the image there: shipped, present, pulled. */
  readonly image?: string | undefined;
  readonly imageBytes?: number | undefined;
  readonly imageMs?: number | undefined;
  readonly dockerMs?: number | undefined;
  readonly startMs?: number | undefined;
  /** Its clock against this machine's, measured at deploy (remote/clock-check.ts). */
  readonly clock?: HostClockEnvironment | undefined;
}

/** A host's clock offset (host − this machine, ms) from the lowest-round-trip sample; `error` when not measured. */
export interface HostClockEnvironment {
  readonly method: string;
  readonly offsetMs?: number;
  readonly rttMs?: number;
  readonly samples?: number;
  /** |offset| + rtt/2: how far a timestamp from that host may be off here. */
  readonly errorBoundMs?: number;
  readonly error?: string;
}

/** The remote testbed's facts: the image, how it travelled, each host. */
export interface RemoteEnvironment {
  readonly testbed: 'remote';
  readonly image: string;
  readonly imageId: string | undefined;
  readonly imageTransfer: string;
  readonly imageTransferMs: number;
  /** Milliseconds per deploy stage: connect, archive, hosts, ready. */
  readonly stageMs: Readonly<Record<string, number>>;
  readonly imageBytesShipped: number;
  readonly nodesPerHost: number;
  /** The OpenSSH client config applied to the hosts (`--ssh-config`, ~/.ssh/config, …), when one was. */
  readonly sshConfig?: readonly string[];
  readonly hosts: readonly RemoteHostEnvironment[];
  /** The hosts that ran load clients and no node (`--load-clients dedicated:N`), measured like `hosts`. */
  readonly clientHosts?: readonly RemoteHostEnvironment[];
  /** The network's graph (--topology): who connects to whom. */
  readonly topology?: TopologyRecord;
  /** The clock check at deploy: its thresholds and warnings (each host's figures are in `hosts[].clock`). */
  readonly clockCheck?: {
    readonly warnMs: number;
    readonly maxOffsetMs?: number;
    readonly warnings: readonly string[];
  };
}

/** Attach mode: the endpoints as given. */
export interface AttachedEnvironment {
  readonly testbed: 'attached';
  readonly attached: true;
  readonly endpoints: readonly string[];
  /** `--endpoint-metrics`: each endpoint's Prometheus page, in the order of `endpoints`. */
  readonly metricsUrls?: readonly string[];
}

/** A deployment's own facts, by testbed: the record's `environment.testbed` block. */
export type TestbedEnvironment = LocalEnvironment | RemoteEnvironment | AttachedEnvironment;

export interface Deployment extends AsyncDisposable {
  readonly runId: string;
  readonly kind: TestbedKind;
  readonly endpoints: readonly Endpoint[];
  readonly nodes: readonly NodeHandle[];
  /** The machines the nodes run on, for monitors (absent in attach mode: none of ours). */
  readonly hosts?: readonly HostHandle[];
  /** Hosts that run load clients and no node (`--load-clients dedicated:N`), in inventory order. */
  readonly clientHosts?: readonly ClientHostHandle[];
  /** Facts for the result's environment block (image id, engine version, hosts…). */
  readonly environment: TestbedEnvironment;
  /** Milliseconds from deploy start until every node was ready. */
  readonly readyAfterMs: number;
  destroy(options?: DestroyOptions): Promise<void>;
  /**
   * Leaves the nodes running and lets go of everything this process holds for them
   * (SSH connections, forwarded sockets, keep-alive agents), so the process can exit.
   * Call it instead of destroy() when a network is left running; safe to call twice,
   * and after destroy(). The deployment's nodes are not usable afterwards.
   */
  release(): Promise<void>;
}

export interface Testbed {
  readonly kind: TestbedKind;
  /** Checks that need no deployment, run before the run writes anything (attach mode probes here). */
  preflight?(options: { signal?: AbortSignal }): Promise<void>;
  deploy(options: { signal?: AbortSignal }): Promise<Deployment>;
  /**
   * A forced exit (second Ctrl-C), during or after deploy: stops what is still creating objects
   * (the compose process) and removes everything labelled with the current run (containers,
   * networks, volumes), whether or not deploy returned. Says what went.
   */
  forceRemove?(): Promise<ForcedRemoval>;
}

/** `removed 3 containers, 1 network, 0 volumes` */
export function describeRemoval(removal: {
  readonly containers: number;
  readonly networks: number;
  readonly volumes: number;
}): string {
  const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `removed ${count(removal.containers, 'container')}, ${count(removal.networks, 'network')}, ${count(removal.volumes, 'volume')}`;
}

/** What a forced removal removed. */
export interface ForcedRemoval {
  readonly containers: number;
  readonly networks: number;
  readonly volumes: number;
  readonly errors: readonly string[];
}

/** One container a testbed's runs left, as `--status` lists it. */
export interface ContainerStatus {
  /** `local`, or the remote host's name. */
  readonly host: string;
  readonly id: string;
  readonly name: string;
  readonly node: string;
  readonly runId: string;
  /** running, exited, paused… */
  readonly state: string;
  /** The engine's words: `Up 5 minutes`, `Exited (137) 2 seconds ago`. */
  readonly status: string;
}

export interface ContainerLog {
  readonly host: string;
  readonly name: string;
  readonly text: string;
}

/** What one `down` removed: on one host (remote), or of one run (local). */
export interface RemovalSummary {
  readonly host: string;
  readonly runId?: string;
  readonly containers: number;
  readonly networks: number;
  readonly volumes: number;
  readonly images: number;
  readonly errors: readonly string[];
}

/**
 * The networks a testbed left running, outside any deployment: what `--down`, `--status` and
 * `--logs` do, the same for local and remote. Close it (or `await using`) when done.
 */
export interface TestbedMaintenance extends AsyncDisposable {
  /** Removes one run, or every run of this testbed; `thorough`: also volumes (and remote images). */
  down(options: { runId?: string; thorough: boolean }): Promise<RemovalSummary[]>;
  status(): Promise<ContainerStatus[]>;
  logs(tailLines: number): Promise<ContainerLog[]>;
  close(): Promise<void>;
}
