/**
 * `--load-clients colocated|dedicated:N`: the load runs in load clients on the remote hosts
 * instead of in this process. A sweep observer with the `runLoad` seam:
 *
 * 1. starts the clients: colocated, one container next to every node (`NodeHandle.sidecar`:
 *    the node's network namespace); dedicated, one on each of the first N client hosts
 *    (`Deployment.clientHosts`: hosts marked `role: client`, in the host's network, sending to
 *    every node). Each has the run's labels and its stdin held open by us;
 * 2. sends each its spec: its share of the one schedule (sequence numbers ≡ k mod n), its
 *    endpoints, the protocol options and the agreed start a few seconds ahead, corrected by its
 *    host's measured clock offset (host − this machine, from the deploy's clock check), so every
 *    client starts at the same true instant;
 * 3. watches their `alive` lines (the mid-run health check): a client silent for longer than
 *    `silenceMs` is marked dead with the last progress it reported; the run goes on without it;
 * 4. collects each client's recorder state (and each kind's, with a mix) and merges them exactly
 *    (merge.ts) into the one LoadResult the sweep gets, and puts each client's own figures in the
 *    `load_clients` block.
 *
 * Each client times both ends of its own latencies on its own clock.
 */
import { MeshbenchError, formatError } from '../common/errors.js';
import { sleep } from '../common/sleep.js';
import { sumProgress } from '../load/index.js';
import type { LoadOptions, LoadProgress, LoadResult } from '../load/types.js';
import { mergeIntervals, type IntervalLatency } from '../measure/interval.js';
import type { Deployment, Endpoint, Sidecar, SidecarSpec } from '../testbed/testbed.js';
import type { LoadClientsMode } from './mode.js';
import { clientShares } from './split.js';
import { mergeClientResults, type ClientOutcome } from './merge.js';
import type { LoadClientsBlock } from './schema.js';
import { checkLoadClientImage, LOADCLIENT_COMMAND, LOADCLIENT_IMAGE } from './image.js';
import { nodeStateLine, parseClientLine, STOP_LINE, type ClientSpec } from './wire.js';
import type { LiveEvent } from '../measure/live.js';

/** What this observer needs of the sweep's level context (structurally the sweep's LevelContext). */
export interface ClientsLevelContext {
  readonly deployment: Deployment;
  readonly signal: AbortSignal;
  block(name: string, data: unknown): void;
  log(line: string): void;
}

export interface LoadClientsOptions {
  /** colocated (the default) or dedicated:N. */
  readonly mode?: Exclude<LoadClientsMode, { kind: 'local' }>;
  readonly image?: string;
  /** From sending the specs to the agreed start (the clients prepare in between), ms. */
  readonly startLeadMs?: number;
  /** Whether the client image must be on this machine (it is shipped from here; false with --image-transfer pull). Default true. */
  readonly requireLocalImage?: boolean;
  /** How long the client containers may take to start, ms. */
  readonly readyTimeoutMs?: number;
  /** A client with no line for this long is dead, ms. */
  readonly silenceMs?: number;
  readonly warn: (line: string) => void;
}

/** Where one client will run, before it is started. */
interface ClientSlot {
  readonly clientId: string;
  readonly nodeIds: readonly string[];
  /** What it sends to, as reached from where it runs. */
  readonly endpoints: readonly Endpoint[];
  /** Colocated: its own node, the one its share goes to while it is up (and whose commits it follows). */
  readonly ownNode?: string;
  start(spec: SidecarSpec): Promise<Sidecar>;
}

interface LiveClient {
  readonly clientId: string;
  readonly host: string;
  readonly nodeIds: readonly string[];
  readonly endpoints: readonly Endpoint[];
  readonly ownNode?: string;
  readonly share: { index: number; count: number };
  readonly sidecar: Sidecar;
  readonly startedAtMs: number;
  /** Its host's clock − this machine's, ms (undefined: not measured, no correction). */
  readonly offsetMs: number | undefined;
  /** Its own start instant, on its own clock. */
  startAtEpochMs?: number;
  lastLineAtMs: number;
  lastProgress?: LoadProgress;
  outcome?: ClientOutcome;
}

export const LOAD_CLIENTS_BLOCK = 'load_clients';

export class LoadClients {
  readonly name = 'load-clients';
  readonly #options: LoadClientsOptions;
  /** The clients of the level running now: a node going down or up is passed on to them. */
  #running: readonly LiveClient[] = [];

  constructor(options: LoadClientsOptions) {
    this.#options = options;
  }

  /** The client image is shipped from here: refuse before anything runs when it is missing. */
  async preflight(): Promise<void> {
    if (this.#options.requireLocalImage === false) return;
    await checkLoadClientImage(this.#options.image ?? LOADCLIENT_IMAGE, this.#options.warn);
  }

  onDeploy(deployment: Deployment): void {
    const mode = this.#mode;
    if (mode.kind === 'dedicated') {
      const marked = deployment.clientHosts?.length ?? 0;
      if (deployment.kind !== 'remote' || marked < mode.count)
        throw new MeshbenchError(
          'BAD_FLAG',
          `--load-clients dedicated:${mode.count} needs ${mode.count} client host${mode.count === 1 ? '' : 's'} in the remote network (this ${deployment.kind} one has ${marked})`,
          {
            hint: 'mark hosts role: client in the inventory (docs/remote-network.md), or use --load-clients colocated',
          },
        );
      return;
    }
    const without = deployment.nodes.find((node) => node.sidecar === undefined);
    if (deployment.kind !== 'remote' || without)
      throw new MeshbenchError(
        'BAD_FLAG',
        `--load-clients colocated needs a remote network (this one is ${deployment.kind}${without ? `; node ${without.nodeId} takes no client beside it` : ''})`,
        { hint: 'use --network-type remote with a hosts file, or --load-clients local' },
      );
  }

  get #mode(): Exclude<LoadClientsMode, { kind: 'local' }> {
    return this.#options.mode ?? { kind: 'colocated' };
  }

  /**
   * A node a plug-in took down or brought back (the fault injector's node-state events): each
   * client routes its share by it at once (--fault-load), as the generator here would.
   */
  onLiveEvent(_level: unknown, event: LiveEvent): void {
    if (event.kind !== 'node-state') return;
    const line = `${JSON.stringify(nodeStateLine(event.node, event.state))}\n`;
    for (const client of this.#running) if (!client.outcome) client.sidecar.write(line);
  }

  /** Where the clients run: beside each node, or on the first N client hosts. */
  #slots(deployment: Deployment, options: LoadOptions): ClientSlot[] {
    const mode = this.#mode;
    if (mode.kind === 'dedicated') {
      const nodeIds = options.endpoints.map((e) => e.nodeId);
      return (deployment.clientHosts ?? []).slice(0, mode.count).map((host, index) => ({
        clientId: `client${index}`,
        nodeIds,
        // every node, as the client host reaches it (the hosts' own addresses)
        endpoints: options.endpoints.map((e) => host.endpoints.find((h) => h.nodeId === e.nodeId) ?? e),
        start: (spec) => host.run(spec),
      }));
    }
    // Every node at its host's own address (not this machine's tunnel behind a jump host), as a
    // client beside one node reaches the others: where its share goes while its own node is down
    // (--fault-load redirect).
    const atHost = (e: Endpoint) =>
      deployment.nodes.find((node) => node.nodeId === e.nodeId)?.sidecarEndpoint ?? e;
    return deployment.nodes.map((node, index) => {
      const endpoint = options.endpoints.find((e) => e.nodeId === node.nodeId);
      return {
        clientId: `client${index}`,
        nodeIds: [node.nodeId],
        // its own node's commit stream: both ends of a commit latency on its own clock
        endpoints: endpoint ? options.endpoints.map(atHost) : [],
        ownNode: node.nodeId,
        start: (spec) => (node.sidecar as NonNullable<typeof node.sidecar>)(spec),
      };
    });
  }

  async runLoad(
    options: LoadOptions,
    context: ClientsLevelContext,
    _generator: (options: LoadOptions) => Promise<LoadResult>,
  ): Promise<LoadResult> {
    const slots = this.#slots(context.deployment, options);
    const shares = clientShares(slots.length);
    const silenceMs = this.#options.silenceMs ?? 3000;
    const startedAt = new Date();
    const clients: LiveClient[] = [];
    this.#running = clients;
    let watchdog: NodeJS.Timeout | undefined;
    /** Set once the specs are out: before, a client still starting is not yet silent. */
    let watching = false;
    const stopAll = () => {
      for (const client of clients) client.sidecar.write(`${STOP_LINE}\n`);
    };
    const image = this.#options.image ?? LOADCLIENT_IMAGE;
    try {
      const started = await Promise.allSettled(
        slots.map((slot) =>
          slot.start({ image, command: LOADCLIENT_COMMAND, capAdd: [], role: 'loadclient' }),
        ),
      );
      started.forEach((s, index) => {
        const slot = slots[index]!;
        if (s.status === 'fulfilled')
          clients.push({
            clientId: slot.clientId,
            host: s.value.host,
            nodeIds: slot.nodeIds,
            endpoints: slot.endpoints,
            ...(slot.ownNode === undefined ? {} : { ownNode: slot.ownNode }),
            share: shares[index]!,
            sidecar: s.value,
            startedAtMs: Date.now(),
            lastLineAtMs: Date.now(),
            offsetMs: clockOffsetOf(context.deployment, s.value.host),
          });
      });
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed)
        throw new MeshbenchError(
          'REMOTE_COMMAND',
          `could not start a load client: ${formatError(failed.reason)}`,
          {
            hint: `check that ${image} is on every ${this.#mode.kind === 'dedicated' ? 'client host' : 'host'} (npm run images loadclient; it is shipped with the node image)`,
          },
        );
      let pendingLatency: IntervalLatency | undefined;
      const done = new Promise<void>((resolve) => {
        const check = () => {
          if (!clients.every((c) => c.outcome)) return;
          clearInterval(watchdog);
          resolve();
        };
        // every client reads every node's commit stream: a problem with one is said once
        const problemsSaid = new Set<string>();
        for (const client of clients) {
          client.sidecar.onLine((line) => {
            const message = parseClientLine(line);
            if (!message || client.outcome) return;
            client.lastLineAtMs = Date.now();
            if (message.type === 'problem') {
              if (problemsSaid.has(message.line)) return;
              problemsSaid.add(message.line);
              this.#options.warn(`load client ${client.clientId} on ${client.host}: ${message.line}`);
              return;
            }
            if (message.type === 'alive') {
              if (message.progress) {
                // counts are running totals (the last one wins); latency is per interval (merged until sent on)
                const { latency, ...counts } = message.progress;
                client.lastProgress = counts;
                if (latency) pendingLatency = mergeIntervals([pendingLatency, latency]);
              }
            } else if (message.type === 'result') {
              client.outcome = outcomeOf(client, 'ok', {
                state: message.state,
                result: message.result,
                ...(message.kindStates ? { kindStates: message.kindStates } : {}),
              });
            } else {
              client.outcome = outcomeOf(client, 'error', { reason: message.message });
              context.log(`load client ${client.clientId} on ${client.host} failed: ${message.message}`);
            }
            check();
          });
        }
        // The health check: a client silent for too long is dead, with what it last said.
        watchdog = setInterval(() => {
          const now = Date.now();
          if (!watching) return;
          for (const client of clients) {
            if (client.outcome || now - client.lastLineAtMs <= silenceMs) continue;
            client.outcome = outcomeOf(client, 'dead', {
              reason: `no line for ${((now - client.lastLineAtMs) / 1000).toFixed(1)} s (container gone or stuck)`,
            });
            this.#options.warn(
              `load client ${client.clientId} on ${client.host} is dead (${client.outcome.reason}); last progress: ${describeProgress(client.lastProgress)}; the run goes on without it`,
            );
          }
          if (clients.some((c) => c.lastProgress)) {
            // the clients' latencies since the last tick, merged exactly (their HDR histograms)
            const latency = pendingLatency;
            pendingLatency = undefined;
            options.onProgress?.({
              ...sumProgress(clients.map((c) => c.lastProgress)),
              ...(latency ? { latency } : {}),
            });
          }
          check();
        }, 500);
        options.signal?.addEventListener('abort', stopAll, { once: true });
        if (options.signal?.aborted) stopAll();
      });
      // Every client process is up (its first line) before the start instant is set.
      const readyBy = Date.now() + (this.#options.readyTimeoutMs ?? 60_000);
      while (!clients.every((c) => c.lastLineAtMs > c.startedAtMs) && Date.now() < readyBy) {
        if (options.signal?.aborted) break;
        await sleep(50);
      }
      // Ctrl-C while they started: no spec goes out, and no client was late
      if (options.signal?.aborted)
        throw new MeshbenchError('INTERRUPTED', 'interrupted while the load clients started');
      const late = clients.filter((c) => c.lastLineAtMs <= c.startedAtMs);
      if (late.length > 0)
        throw new MeshbenchError(
          'REMOTE_COMMAND',
          `load client(s) on ${late.map((c) => c.host).join(', ')} did not start within ${((this.#options.readyTimeoutMs ?? 60_000) / 1000).toFixed(0)} s`,
          { hint: "see the hosts' Docker engines; try --load-clients local" },
        );
      // The agreed start, on this machine's clock; each client gets it on its own host's clock
      // (+ its measured offset), so all of them start at the same true instant.
      const startAtEpochMs = Date.now() + (this.#options.startLeadMs ?? 3000);
      for (const client of clients) {
        client.startAtEpochMs = startAtEpochMs + (client.offsetMs ?? 0);
        const spec: ClientSpec = {
          type: 'spec',
          clientId: client.clientId,
          options: clientOptions(options, client, client.startAtEpochMs),
        };
        client.sidecar.write(`${JSON.stringify(spec)}\n`);
        client.lastLineAtMs = Date.now();
      }
      watching = true;
      const measured = clients.filter((c) => c.offsetMs !== undefined);
      const where =
        this.#mode.kind === 'dedicated'
          ? `dedicated clients on client hosts ${clients.map((c) => c.host).join(', ')}, each to every node`
          : 'colocated clients, one per node';
      context.log(
        `load: ${clients.length} ${where}, start at ${new Date(startAtEpochMs).toISOString()} (${
          measured.length === 0
            ? 'clock offsets not measured'
            : `clock offsets applied: ${measured.map((c) => `${c.host} ${formatOffset(c.offsetMs!)}`).join(', ')}${measured.length < clients.length ? '; others not measured' : ''}`
        })`,
      );
      await done;
      const outcomes = clients.map((c) => c.outcome as ClientOutcome);
      const merged = mergeClientResults(options, outcomes, {
        startedAt,
        endedAt: new Date(),
        workers: options.workers ?? 1,
      });
      context.block(
        LOAD_CLIENTS_BLOCK,
        loadClientsBlock(outcomes, startAtEpochMs, merged, {
          mode: this.#mode.kind,
          clocks: clients.map((c) => ({
            offsetMs: c.offsetMs,
            startAtEpochMs: c.startAtEpochMs ?? startAtEpochMs,
          })),
        }),
      );
      if (!outcomes.some((o) => o.status === 'ok'))
        throw new MeshbenchError(
          'REMOTE_COMMAND',
          `no load client reported a result (${outcomes.map((o) => `${o.clientId}: ${o.reason ?? o.status}`).join('; ')})`,
          {
            hint: 'see the lines above; try --load-clients local',
          },
        );
      return merged;
    } finally {
      clearInterval(watchdog);
      this.#running = [];
      options.signal?.removeEventListener('abort', stopAll);
      await Promise.all(clients.map((c) => c.sidecar.close(5000).catch(() => undefined)));
    }
  }
}

function clientOptions(
  options: LoadOptions,
  client: LiveClient,
  startAtEpochMs: number,
): ClientSpec['options'] {
  // downNodes is this process's shared memory: each client keeps its own, fed by node-state lines
  const { signal: _signal, onProgress: _onProgress, downNodes: _downNodes, ...rest } = options;
  return {
    ...rest,
    endpoints: client.endpoints.map((endpoint) => clockFromClient(endpoint, client.offsetMs)),
    share: client.share,
    startAtEpochMs,
    ...(client.ownNode === undefined
      ? {}
      : { target: { kind: 'nodes', nodeIds: [client.ownNode] }, commitNodes: [client.ownNode] }),
  };
}

/**
 * An endpoint as a client on a host `clientOffsetMs` from this machine reaches it: the node's
 * clock against the client's (node − client), or not known when either is not.
 */
export function clockFromClient(endpoint: Endpoint, clientOffsetMs: number | undefined): Endpoint {
  const { clockOffsetMs, ...rest } = endpoint;
  return clockOffsetMs === undefined || clientOffsetMs === undefined
    ? rest
    : { ...rest, clockOffsetMs: clockOffsetMs - clientOffsetMs };
}

/** A host's measured clock offset (host − this machine, ms) from the deploy's clock check. */
export function clockOffsetOf(deployment: Deployment, host: string): number | undefined {
  const environment = deployment.environment;
  if (environment.testbed !== 'remote') return undefined;
  const found = [...environment.hosts, ...(environment.clientHosts ?? [])].find((h) => h.name === host);
  const offset = found?.clock?.offsetMs;
  return typeof offset === 'number' && Number.isFinite(offset) ? offset : undefined;
}

function formatOffset(ms: number): string {
  return `${ms >= 0 ? '+' : ''}${ms.toFixed(3)} ms`;
}

function outcomeOf(
  client: LiveClient,
  status: ClientOutcome['status'],
  extra: Partial<Pick<ClientOutcome, 'state' | 'kindStates' | 'result' | 'reason'>>,
): ClientOutcome {
  return {
    clientId: client.clientId,
    host: client.host,
    nodeIds: client.nodeIds,
    share: client.share,
    status,
    ...(client.lastProgress ? { lastProgress: client.lastProgress } : {}),
    ...extra,
  };
}

function describeProgress(p: LoadProgress | undefined): string {
  if (!p) return 'none (it had not started sending)';
  return `${(p.elapsedMs / 1000).toFixed(1)} s in, ${p.sent} sent, ${p.ok} ok, ${p.failed} failed, ${p.committed} committed`;
}

/** The record's `load_clients` block: each client's own figures, and how the merge went. */
export function loadClientsBlock(
  outcomes: readonly ClientOutcome[],
  startAtEpochMs: number,
  merged: LoadResult,
  how: {
    readonly mode: 'colocated' | 'dedicated';
    /** Per client, in the outcomes' order: its host's offset applied, and its own start instant. */
    readonly clocks?: readonly { readonly offsetMs: number | undefined; readonly startAtEpochMs: number }[];
  } = { mode: 'colocated' },
): LoadClientsBlock {
  const clocks = how.clocks ?? [];
  const measured = clocks.filter((c) => c.offsetMs !== undefined).length;
  return {
    mode: how.mode,
    start_at: new Date(startAtEpochMs).toISOString(),
    clock_offsets:
      measured === 0 ? 'not measured' : measured === outcomes.length ? 'applied' : 'partly applied',
    clients: outcomes.length,
    merged_clients: outcomes.filter((o) => o.state !== undefined).length,
    merged_scheduled: merged.scheduled,
    per_client: outcomes.map((o, index) => {
      const result = o.result;
      const clock = clocks[index];
      return {
        client: o.clientId,
        host: o.host,
        nodes: [...o.nodeIds],
        share: `${o.share.index} mod ${o.share.count}`,
        status: o.status,
        ...(clock?.offsetMs !== undefined
          ? { clock_offset_ms: Math.round(clock.offsetMs * 1000) / 1000 }
          : {}),
        ...(clock ? { start_at: new Date(clock.startAtEpochMs).toISOString() } : {}),
        ...(o.reason !== undefined ? { reason: o.reason } : {}),
        ...(result
          ? {
              input_rate: result.inputRate,
              scheduled: result.scheduled,
              sent: result.sent,
              ok: result.outcomes.ok,
              committed: result.outcomes.committed,
              efficiency: result.efficiency,
              latency_ack: result.latency.ack.corrected,
              ...(result.latency.commit ? { latency_commit: result.latency.commit.corrected } : {}),
              ...(result.kinds
                ? {
                    kinds: result.kinds.map((kind) => ({
                      name: kind.name,
                      scheduled: kind.scheduled,
                      sent: kind.sent,
                      ok: kind.outcomes.ok,
                      committed: kind.outcomes.committed,
                    })),
                  }
                : {}),
            }
          : {}),
        ...(o.status !== 'ok' && o.lastProgress
          ? {
              last_progress: {
                elapsed_ms: Math.round(o.lastProgress.elapsedMs),
                scheduled: o.lastProgress.scheduled,
                sent: o.lastProgress.sent,
                ok: o.lastProgress.ok,
                failed: o.lastProgress.failed,
                committed: o.lastProgress.committed,
              },
            }
          : {}),
      };
    }),
  };
}
