/** Helpers for multi-node refnode tests: in-process nodes on loopback with real TCP. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommittedBlock } from '../src/block.js';
import { type NodeConfig, parseConfig } from '../src/config.js';
import { RefNode } from '../src/node.js';
import { reservePorts } from '../../../test/support/ports.js';

/** Ports for nodes that keep theirs across a restart (test/support/ports.ts: not ephemeral ones). */
export async function freePorts(count: number): Promise<number[]> {
  return reservePorts(count);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface ClusterOptions {
  readonly n?: number;
  readonly extraArgs?: readonly string[];
  /** Flags for node i only (after `extraArgs`). */
  readonly nodeArgs?: (i: number) => readonly string[];
  readonly delayMs?: (from: string, to: string) => number;
}

/**
 * n nodes with fixed ports and data dirs, so a node can be stopped and restarted.
 * Every commit on any node (across restarts) is checked against one height -> hash map:
 * two different blocks at one height throw at once (`violations`).
 */
export class Cluster {
  readonly ids: string[];
  readonly nodes: (RefNode | undefined)[];
  readonly committedHashes = new Map<number, string>();
  readonly violations: string[] = [];
  private readonly dir: string;
  private configs: NodeConfig[] = [];

  private constructor(
    readonly n: number,
    private readonly options: ClusterOptions,
  ) {
    this.ids = Array.from({ length: n }, (_, i) => `node${i}`);
    this.nodes = new Array<RefNode | undefined>(n).fill(undefined);
    this.dir = mkdtempSync(join(tmpdir(), 'refnode-test-'));
  }

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const n = options.n ?? 4;
    const c = new Cluster(n, options);
    const ports = await freePorts(n);
    const peers = c.ids.map((id, i) => `${id}@127.0.0.1:${ports[i]}`).join(',');
    c.configs = c.ids.map((id, i) => {
      const cfg = parseConfig(
        [
          '--id',
          id,
          '--peers',
          peers,
          '--listen',
          '127.0.0.1',
          '--rpc-port',
          '0',
          '--p2p-port',
          String(ports[i]),
          '--metrics-port',
          '0',
          '--data-dir',
          join(c.dir, id),
          '--block-interval-ms',
          '10',
          '--empty-block-interval-ms',
          '50',
          '--view-timeout-ms',
          '300',
          '--fsync',
          'false',
          '--log-level',
          'error',
          ...(options.extraArgs ?? []),
          ...(options.nodeArgs?.(i) ?? []),
        ],
        {},
      );
      if (cfg === 'help') throw new Error('unexpected help');
      return cfg;
    });
    // every node settled (started or failed) before a failed start stops them: no caller holds
    // the cluster to stop it, so it stops the nodes that started and removes its folder here
    const started = await Promise.allSettled(c.ids.map((_, i) => c.startNode(i)));
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) {
      await c.stop().catch(() => undefined);
      throw failed.reason;
    }
    return c;
  }

  async startNode(i: number): Promise<RefNode> {
    if (this.nodes[i] !== undefined) throw new Error(`node${i} is already running`);
    const cfg = this.configs[i] as NodeConfig;
    const delay = this.options.delayMs;
    const node = new RefNode(cfg, {
      processMetrics: false,
      delayMs: delay === undefined ? undefined : (to) => delay(cfg.id, to),
      logWrite: () => {},
    });
    node.events.on('block', (cb: CommittedBlock) => this.record(cfg.id, cb));
    await node.start();
    this.nodes[i] = node;
    return node;
  }

  async stopNode(i: number, crash = true): Promise<void> {
    const node = this.nodes[i];
    if (node === undefined) return;
    this.nodes[i] = undefined;
    await node.stop({ crash });
  }

  node(i: number): RefNode {
    const node = this.nodes[i];
    if (node === undefined) throw new Error(`node${i} is not running`);
    return node;
  }

  running(): RefNode[] {
    return this.nodes.filter((n): n is RefNode => n !== undefined);
  }

  /** Height of the lowest running node. */
  minHeight(): number {
    return Math.min(...this.running().map((n) => n.store.height));
  }

  maxHeight(): number {
    return Math.max(...this.running().map((n) => n.store.height));
  }

  private record(id: string, cb: CommittedBlock): void {
    const h = cb.block.height;
    const prev = this.committedHashes.get(h);
    if (prev === undefined) this.committedHashes.set(h, cb.block.hashHex);
    else if (prev !== cb.block.hashHex)
      this.violations.push(`${id} committed ${cb.block.hashHex} at ${h}, another node ${prev}`);
  }

  /** Compares every stored height of every running node with the others. */
  checkStores(): void {
    const nodes = this.running();
    const top = Math.max(...nodes.map((n) => n.store.height));
    for (let h = 1; h <= top; h++) {
      let seen: string | undefined;
      for (const node of nodes) {
        const cb = node.store.get(h);
        if (cb === undefined) continue;
        if (seen === undefined) seen = cb.block.hashHex;
        else if (seen !== cb.block.hashHex) this.violations.push(`stores differ at height ${h}`);
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.ids.map((_, i) => this.stopNode(i, false)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
