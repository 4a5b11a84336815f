/**
 * `--load-clients colocated`: the load runs in one client beside each node, on the node's host,
 * instead of in this process. A sweep observer with the `runLoad` seam:
 *
 * 1. starts a client container next to every node (`NodeHandle.sidecar`: the node's network
 *    namespace, the run's labels, its stdin held open by us);
 * 2. sends each its spec: its share of the one schedule (sequence numbers ≡ k mod n), its
 *    node's endpoint, the protocol options and the agreed wall-clock start a few seconds ahead;
 * 3. watches their `alive` lines (the mid-run health check): a client silent for longer than
 *    `silenceMs` is marked dead with the last progress it reported; the run goes on without it;
 * 4. collects each client's recorder state and merges them exactly (merge.ts) into the one
 *    LoadResult the sweep gets, and puts each client's own figures in the `load_clients` block.
 *
 * Clock offsets between hosts are not measured here: the start instant is this machine's
 * clock; each client times both ends of its own latencies on its own clock.
 */
import { MeshbenchError, formatError } from '../common/errors.js';
import { sleep } from '../common/sleep.js';
import { sumProgress } from '../load/index.js';
import type { LoadOptions, LoadProgress, LoadResult } from '../load/types.js';
import type { Deployment, Sidecar } from '../testbed/testbed.js';
import { clientShares } from './split.js';
import { mergeClientResults, type ClientOutcome } from './merge.js';
import type { LoadClientsBlock } from './schema.js';
import { checkLoadClientImage, LOADCLIENT_COMMAND, LOADCLIENT_IMAGE } from './image.js';
import { parseClientLine, STOP_LINE, type ClientSpec } from './wire.js';

/** What this observer needs of the sweep's level context (structurally the sweep's LevelContext). */
export interface ClientsLevelContext {
  readonly deployment: Deployment;
  readonly signal: AbortSignal;
  block(name: string, data: unknown): void;
  log(line: string): void;
}

export interface LoadClientsOptions {
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

interface LiveClient {
  readonly clientId: string;
  readonly host: string;
  readonly nodeId: string;
  readonly share: { index: number; count: number };
  readonly sidecar: Sidecar;
  readonly startedAtMs: number;
  lastLineAtMs: number;
  lastProgress?: LoadProgress;
  outcome?: ClientOutcome;
}

export const LOAD_CLIENTS_BLOCK = 'load_clients';

export class LoadClients {
  readonly name = 'load-clients';
  readonly #options: LoadClientsOptions;

  constructor(options: LoadClientsOptions) {
    this.#options = options;
  }

  /** The client image is shipped from here: refuse before anything runs when it is missing. */
  async preflight(): Promise<void> {
    if (this.#options.requireLocalImage === false) return;
    await checkLoadClientImage(this.#options.image ?? LOADCLIENT_IMAGE);
  }

  onDeploy(deployment: Deployment): void {
    const without = deployment.nodes.find((node) => node.sidecar === undefined);
    if (deployment.kind !== 'remote' || without)
      throw new MeshbenchError(
        'BAD_FLAG',
        `--load-clients colocated needs a remote network (this one is ${deployment.kind}${without ? `; node ${without.nodeId} takes no client beside it` : ''})`,
        { hint: 'use --network-type remote with a hosts file, or --load-clients local' },
      );
  }

  async runLoad(
    options: LoadOptions,
    context: ClientsLevelContext,
    _generator: (options: LoadOptions) => Promise<LoadResult>,
  ): Promise<LoadResult> {
    const nodes = context.deployment.nodes;
    const shares = clientShares(nodes.length);
    const silenceMs = this.#options.silenceMs ?? 3000;
    const startedAt = new Date();
    const clients: LiveClient[] = [];
    let watchdog: NodeJS.Timeout | undefined;
    /** Set once the specs are out: before, a client still starting is not yet silent. */
    let watching = false;
    const stopAll = () => {
      for (const client of clients) client.sidecar.write(`${STOP_LINE}\n`);
    };
    try {
      const started = await Promise.allSettled(
        nodes.map((node) =>
          (node.sidecar as NonNullable<typeof node.sidecar>)({
            image: this.#options.image ?? LOADCLIENT_IMAGE,
            command: LOADCLIENT_COMMAND,
            capAdd: [],
            role: 'loadclient',
          }),
        ),
      );
      started.forEach((s, index) => {
        const node = nodes[index]!;
        if (s.status === 'fulfilled')
          clients.push({
            clientId: `client${index}`,
            host: s.value.host,
            nodeId: node.nodeId,
            share: shares[index]!,
            sidecar: s.value,
            startedAtMs: Date.now(),
            lastLineAtMs: Date.now(),
          });
      });
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed)
        throw new MeshbenchError(
          'REMOTE_COMMAND',
          `could not start a load client: ${formatError(failed.reason)}`,
          {
            hint: `check that ${this.#options.image ?? LOADCLIENT_IMAGE} is on every host (npm run images loadclient; it is shipped with the node image)`,
          },
        );
      const done = new Promise<void>((resolve) => {
        const check = () => {
          if (!clients.every((c) => c.outcome)) return;
          clearInterval(watchdog);
          resolve();
        };
        for (const client of clients) {
          client.sidecar.onLine((line) => {
            const message = parseClientLine(line);
            if (!message || client.outcome) return;
            client.lastLineAtMs = Date.now();
            if (message.type === 'alive') {
              if (message.progress) client.lastProgress = message.progress;
            } else if (message.type === 'result') {
              client.outcome = outcomeOf(client, 'ok', { state: message.state, result: message.result });
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
          if (clients.some((c) => c.lastProgress))
            options.onProgress?.(sumProgress(clients.map((c) => c.lastProgress)));
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
      const late = clients.filter((c) => c.lastLineAtMs <= c.startedAtMs);
      if (late.length > 0)
        throw new MeshbenchError(
          'REMOTE_COMMAND',
          `load client(s) on ${late.map((c) => c.host).join(', ')} did not start within ${((this.#options.readyTimeoutMs ?? 60_000) / 1000).toFixed(0)} s`,
          { hint: "see the hosts' Docker engines; try --load-clients local" },
        );
      const startAtEpochMs = Date.now() + (this.#options.startLeadMs ?? 3000);
      for (const client of clients) {
        const spec: ClientSpec = {
          type: 'spec',
          clientId: client.clientId,
          options: clientOptions(options, client, startAtEpochMs),
        };
        client.sidecar.write(`${JSON.stringify(spec)}\n`);
        client.lastLineAtMs = Date.now();
      }
      watching = true;
      context.log(
        `load: ${clients.length} colocated clients, one per node, start at ${new Date(startAtEpochMs).toISOString()} (clock offsets not measured)`,
      );
      await done;
      const outcomes = clients.map((c) => c.outcome as ClientOutcome);
      const merged = mergeClientResults(options, outcomes, {
        startedAt,
        endedAt: new Date(),
        workers: options.workers ?? 1,
      });
      context.block(LOAD_CLIENTS_BLOCK, loadClientsBlock(outcomes, startAtEpochMs, merged));
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
  const { signal: _signal, onProgress: _onProgress, ...rest } = options;
  const endpoint = options.endpoints.find((e) => e.nodeId === client.nodeId);
  return {
    ...rest,
    endpoints: endpoint ? [endpoint] : [],
    share: client.share,
    // its own node's commit stream (by default): both ends of a commit latency on its own clock
    startAtEpochMs,
  };
}

function outcomeOf(
  client: LiveClient,
  status: ClientOutcome['status'],
  extra: Partial<Pick<ClientOutcome, 'state' | 'result' | 'reason'>>,
): ClientOutcome {
  return {
    clientId: client.clientId,
    host: client.host,
    nodeIds: [client.nodeId],
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
): LoadClientsBlock {
  return {
    mode: 'colocated',
    start_at: new Date(startAtEpochMs).toISOString(),
    clock_offsets: 'not measured',
    clients: outcomes.length,
    merged_clients: outcomes.filter((o) => o.state !== undefined).length,
    merged_scheduled: merged.scheduled,
    per_client: outcomes.map((o) => {
      const result = o.result;
      return {
        client: o.clientId,
        host: o.host,
        nodes: [...o.nodeIds],
        share: `${o.share.index} mod ${o.share.count}`,
        status: o.status,
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
