/**
 * The mesh block: the matrix and the per-receiver arithmetic of MeshTally (pure), and the
 * MeshMonitor observer reading the delivery streams of a small mesh of HTTP nodes in this
 * process during a real open-loop load.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../../src/load/index.js';
import { meshBlockSchema } from '../../../src/monitor/mesh/schema.js';
import { MeshTally, meshMatrixLines } from '../../../src/monitor/mesh/figures.js';
import { MeshMonitor, windowLine, type MeshBlock } from '../../../src/monitor/mesh/monitor.js';
import { LoopbackMesh } from '../../support/loopback-mesh.js';
import { attachedDeployment } from '../../../src/testbed/attached/attached-testbed.js';

describe('the mesh figures', () => {
  it('times each pair from the origin’s own event, and counts duplicates, misses and the never delivered', () => {
    const tally = new MeshTally(['a', 'b', 'c']);
    // m1 from a: a at 100, b at 110, c at 130, b again (a duplicate)
    tally.deliver(0, 'm1', 'a', 100);
    tally.deliver(1, 'm1', 'a', 110);
    tally.deliver(2, 'm1', 'a', 130);
    tally.deliver(1, 'm1', 'a', 140);
    // m2 from b, seen on c before b's own event (stream order), never on a
    tally.deliver(2, 'm2', 'b', 1205);
    tally.deliver(1, 'm2', 'b', 1200);
    // an event naming no known node
    tally.deliver(0, 'm3', 'z', 5);
    const figures = tally.figures({ published: 4, levelStartMs: 0 });
    expect(figures.messages).toBe(2);
    expect(figures.never_delivered).toBe(2);
    expect(figures.delivered_everywhere).toBe(1);
    expect(figures.unknown_origin).toBe(1);
    expect(figures.receivers).toEqual([
      { node: 'a', delivered: 1, ratio: 0.5, duplicates: 0, missing: 1 },
      { node: 'b', delivered: 2, ratio: 1, duplicates: 1, missing: 0 },
      { node: 'c', delivered: 2, ratio: 1, duplicates: 0, missing: 0 },
    ]);
    const cell = (from: string, to: string) => figures.pairs.find((p) => p.from === from && p.to === to);
    expect(figures.pairs).toHaveLength(6);
    // HDR histograms at 3 significant digits: within 0.1 %
    expect(cell('a', 'b')?.count).toBe(1);
    expect(cell('a', 'b')?.p50_ms).toBeCloseTo(10, 1);
    expect(cell('a', 'b')?.p99_ms).toBeCloseTo(10, 1);
    expect(cell('a', 'c')?.p50_ms).toBeCloseTo(30, 1);
    expect(cell('b', 'c')?.p50_ms).toBeCloseTo(5, 1);
    expect(cell('b', 'a')).toEqual({ from: 'b', to: 'a', count: 0, p50_ms: null, p99_ms: null, early: 0 });
    expect(figures.pairs.map((pair) => pair.early)).toEqual([0, 0, 0, 0, 0, 0]);
    // second 0: m1 everywhere; second 1: m2 not on a
    expect(figures.availability).toEqual({ seconds: 2, available: 1, share: 0.5 });
    expect(meshMatrixLines(figures)[1]).toMatch(/^a +· +10\.0 +30\.0$/);
    expect(meshMatrixLines(figures)[2]).toMatch(/^b +- +· +5\.0$/);
  });

  it('counts the deliveries read before their origin’s own event as 0 ms and early, and says so when they are many', () => {
    const tally = new MeshTally(['a', 'b']);
    // 10 messages from a: b's event read 0.2 ms before a's own in 3 of them, 0.3 ms after in 7
    for (let i = 0; i < 10; i++) {
      tally.deliver(0, `m${i}`, 'a', 1000 * i + 1);
      tally.deliver(1, `m${i}`, 'a', 1000 * i + 1 + (i < 3 ? -0.2 : 0.3));
    }
    const figures = tally.figures();
    const ab = figures.pairs.find((pair) => pair.from === 'a' && pair.to === 'b');
    expect(ab).toMatchObject({ count: 10, early: 3 });
    expect(ab?.p50_ms).toBeCloseTo(0.3, 2);
    const lines = meshMatrixLines(figures);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(
      /^30 % of deliveries were read before their origin's own event and count as 0 ms: /,
    );
    // one early delivery in 20 (5 %) is not worth a line
    const few = new MeshTally(['a', 'b']);
    for (let i = 0; i < 20; i++) {
      few.deliver(0, `m${i}`, 'a', 1000 * i + 1);
      few.deliver(1, `m${i}`, 'a', 1000 * i + 1 + (i === 0 ? -0.2 : 0.3));
    }
    expect(meshMatrixLines(few.figures())).toHaveLength(3);
  });

  it('past 12 nodes prints a line per origin (lowest, median, highest receiver p50, the slowest) instead of the matrix', () => {
    const nodes = Array.from({ length: 14 }, (_, i) => `node${i}`);
    const tally = new MeshTally(nodes);
    // node0 publishes m0: node j gets it j ms later; nothing from node1 reaches anyone
    for (let j = 0; j < 14; j++) tally.deliver(j, 'm0', 'node0', 1000 + j);
    tally.deliver(1, 'm1', 'node1', 1000);
    const lines = meshMatrixLines(tally.figures());
    expect(lines).toHaveLength(15);
    expect(lines[0]).toMatch(/^origin +min +median +max +slowest/);
    expect(lines[1]).toMatch(/^node0 +1\.0 +7\.0 +13\.0 +node13, 13\/13$/);
    expect(lines[2]).toMatch(/^node1 +- +- +- +0\/13$/);
  });

  it('judges each fault or condition window: who caught up how long after it, and what never arrived', () => {
    const tally = new MeshTally(['a', 'b', 'c']);
    // before the window: m0 everywhere at once
    for (const node of [0, 1, 2]) tally.deliver(node, 'm0', 'a', 1000 + node);
    // during the window (2000-5000): m1 from a reaches b at once and c only after the end
    // (a resync 1,500 ms after it), m2 from b never reaches c (lost)
    tally.deliver(0, 'm1', 'a', 2500);
    tally.deliver(1, 'm1', 'a', 2510);
    tally.deliver(2, 'm1', 'a', 6500);
    tally.deliver(1, 'm2', 'b', 3000);
    tally.deliver(0, 'm2', 'b', 3010);
    const figures = tally.figures({
      levelStartMs: 0,
      windows: [
        { id: 'w1', label: 'partition bisect', startMs: 2000, endMs: 5000 },
        { id: 'w2', label: 'kill c', startMs: 4000, endMs: null },
      ],
    });
    expect(figures.windows).toEqual([
      {
        id: 'w1',
        label: 'partition bisect',
        from_ms: 2000,
        to_ms: 5000,
        published: 2,
        receivers: [
          { node: 'a', missing: 0, resync_ms: 0 },
          { node: 'b', missing: 0, resync_ms: 0 },
          { node: 'c', missing: 1, resync_ms: 1500 },
        ],
      },
      {
        id: 'w2',
        label: 'kill c',
        from_ms: 4000,
        to_ms: null,
        published: 0,
        receivers: [
          { node: 'a', missing: 0, resync_ms: null },
          { node: 'b', missing: 0, resync_ms: null },
          { node: 'c', missing: 0, resync_ms: null },
        ],
      },
    ]);
    expect(windowLine(figures.windows![0]!)).toBe(
      'partition bisect (2 published during it): caught up after it ended: c 1500 ms; never reached: c 1',
    );
    expect(
      meshBlockSchema.safeParse({ ...figures, ack: { p50_ms: null, p99_ms: null }, malformed: {} }).success,
    ).toBe(true);
  });

  it('reports a level without a delivery as such, not as 0 ms', () => {
    const figures = new MeshTally(['a', 'b']).figures({ published: 10 });
    expect(figures.note).toBe('no delivery arrived on any node in this level');
    expect(figures.never_delivered).toBe(10);
    expect(figures.pairs.every((pair) => pair.p50_ms === null && pair.p99_ms === null)).toBe(true);
    expect(figures.receivers[0]!.ratio).toBeNull();
    expect(figures.availability.share).toBeNull();
  });
});

describe('the mesh monitor during a load', () => {
  let loop: LoopbackMesh | undefined;
  afterEach(async () => {
    await loop?.close();
    loop = undefined;
  });

  async function level(
    mesh: LoopbackMesh,
    /** A live window from the mesh's n-th publish to its m-th (by what it received, not by the clock). */
    window?: { readonly fromPublish: number; readonly toPublish: number },
    attached?: { readonly names?: readonly string[] },
    /** The nodes' clock against this one (a testbed's), so their `at` is used. */
    clockOffsetMs?: number,
  ): Promise<{ block: MeshBlock; logs: string[]; warnings: string[] }> {
    // attach mode (--endpoints): the endpoints named as the plan names them
    const endpoints = attached
      ? attachedDeployment(
          'r',
          mesh.endpoints().map((endpoint) => endpoint.rpcUrl),
          undefined,
          undefined,
          attached.names,
        ).endpoints
      : mesh.endpoints().map((e) => (clockOffsetMs === undefined ? e : { ...e, clockOffsetMs }));
    const blocks = new Map<string, unknown>();
    const logs: string[] = [];
    const warnings: string[] = [];
    const started = performance.now();
    const context = {
      deployment: { endpoints },
      signal: new AbortController().signal,
      elapsedMs: () => performance.now() - started,
      block: (name: string, data: unknown) => blocks.set(name, data),
      log: (line: string) => logs.push(line),
    };
    const monitor = new MeshMonitor({ quietMs: 300, warn: (line) => warnings.push(line) });
    const start = { runId: 'r', network: 'local', benchmarkNumber: 1, run: 1, warmupMs: 0, durationMs: 1000 };
    monitor.onLevelStart(start, context);
    // let the streams connect before the first publish
    const deadline = Date.now() + 5000;
    while (
      [...mesh.streams.entries()].some(([, s], i) => s.size === 0 && !mesh.options.noStream?.includes(i)) &&
      Date.now() < deadline
    )
      await new Promise((resolve) => setTimeout(resolve, 10));
    // a window published live, as the fault injector and the conditioner do; opened and closed
    // at given publishes, since the load's start-up (worker threads) takes longer on a busy machine
    let phase = 0;
    const watcher = window
      ? setInterval(() => {
          if (phase === 0 && mesh.published >= window.fromPublish) {
            phase = 1;
            const atMs = context.elapsedMs();
            monitor.onLiveEvent(start, { kind: 'window-start', id: 'w1', label: 'a window', atMs });
          } else if (phase === 1 && mesh.published >= window.toPublish) {
            phase = 2;
            monitor.onLiveEvent(start, { kind: 'window-end', id: 'w1', atMs: context.elapsedMs() });
          }
        }, 2)
      : undefined;
    const load = await runLoad({
      runId: 'mesh-monitor',
      endpoints,
      protocol: { kind: 'mesh' },
      shape: { kind: 'fixed', rate: 100 },
      durationMs: 1000,
      transactionSizeBytes: 32,
      confirm: 'none',
    });
    clearInterval(watcher);
    await monitor.onLoadEnd(start, load, context);
    return { block: blocks.get('mesh') as MeshBlock, logs, warnings };
  }

  it('fills the whole matrix with p50 and p99 and the block matches its schema', async () => {
    loop = await LoopbackMesh.start(4);
    const { block, logs } = await level(loop);
    expect(meshBlockSchema.safeParse(block).success).toBe(true);
    expect(block.messages).toBe(100);
    expect(block.never_delivered).toBe(0);
    expect(block.delivered_everywhere).toBe(100);
    expect(block.pairs).toHaveLength(12);
    for (const pair of block.pairs) {
      expect(pair.count, `${pair.from}→${pair.to}`).toBe(25);
      expect(pair.p50_ms).not.toBeNull();
      expect(pair.p99_ms! >= pair.p50_ms!).toBe(true);
    }
    expect(block.receivers.map((r) => r.ratio)).toEqual([1, 1, 1, 1]);
    expect(block.ack.p50_ms).not.toBeNull();
    expect(logs[0]).toMatch(/mesh delivery p50 ms/);
  });

  it("leaves out what a node replays of an earlier level's messages, told by their own time (`at`)", async () => {
    loop = await LoopbackMesh.start(3, { stamp: true, replay: true });
    const first = await level(loop, undefined, undefined, 0);
    expect(first.block.messages).toBe(100);
    // the next level's streams open anew: every node first replays the 100 it holds
    const second = await level(loop, undefined, undefined, 0);
    expect(second.block.messages).toBe(100);
    expect(second.block.delivered_everywhere).toBe(100);
    for (const pair of second.block.pairs)
      expect(pair.count, `${pair.from}→${pair.to}`).toBeLessThanOrEqual(34);
    expect(second.block.receivers.map((r) => r.duplicates)).toEqual([0, 0, 0]);
  });

  it("attached (the nodes' clock unknown), still leaves out replays and times pairs by `at`, on an offset read from each stream", async () => {
    // the nodes' clock 30 s ahead of this one, and each event read 150 ms after its delivery
    loop = await LoopbackMesh.start(3, { stamp: true, replay: true, clockSkewMs: 30_000, lagMs: 150 });
    const names = { names: ['node0', 'node1', 'node2'] };
    const first = await level(loop, undefined, names);
    expect(first.block.messages).toBe(100);
    const second = await level(loop, undefined, names);
    expect(second.warnings).toEqual([]);
    expect(second.block.messages).toBe(100);
    expect(second.block.delivered_everywhere).toBe(100);
    expect(second.block.receivers.map((r) => r.duplicates)).toEqual([0, 0, 0]);
    for (const pair of second.block.pairs) {
      expect(pair.count, `${pair.from}→${pair.to}`).toBeLessThanOrEqual(34);
      // the nodes deliver together: neither the skew nor the streams' lag is in a pair
      expect(pair.p99_ms!, `${pair.from}→${pair.to}`).toBeLessThan(100);
    }
  });

  it('attached, says once per node when its `at` is not in ms since the epoch, and times it at arrival', async () => {
    // `at` in seconds since the epoch, as a node might send by mistake
    const skew = Date.now() / 1000 - Date.now();
    loop = await LoopbackMesh.start(3, { stamp: true, clockSkewMs: skew });
    const { block, warnings } = await level(loop, undefined, { names: ['node0', 'node1', 'node2'] });
    expect(block.messages).toBe(100);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(
      /^mesh: node0: \/deliveries sent "at" \d+(\.\d+)?, not a time in ms since the Unix epoch/,
    );
  });

  it('retimes a receiver whose clock is found at the end, leaving out what then falls before the level', () => {
    const tally = new MeshTally(['a', 'b']);
    // b's deliveries at its own clock, 30 s ahead; m0 is a replay from a minute before
    tally.deliver(0, 'm1', 'a', 1_000);
    tally.deliver(1, 'm1', 'a', 31_002);
    tally.deliver(1, 'm0', 'b', 30_000 - 60_000);
    tally.retime(1, -30_000, 0);
    const figures = tally.figures({ levelStartMs: 0 });
    expect(figures.messages).toBe(1);
    expect(figures.pairs.find((pair) => pair.from === 'a' && pair.to === 'b')?.p50_ms).toBeCloseTo(2, 1);
  });

  it('follows the live windows of faults and conditions: what each node held of what was published in one', async () => {
    loop = await LoopbackMesh.start(3);
    const { block, logs } = await level(loop, { fromPublish: 20, toPublish: 60 });
    expect(meshBlockSchema.safeParse(block).success).toBe(true);
    const [window] = block.windows ?? [];
    expect(window?.label).toBe('a window');
    expect(window!.to_ms! > window!.from_ms).toBe(true);
    expect(window!.published).toBeGreaterThan(10);
    expect(window!.receivers.map((receiver) => receiver.missing)).toEqual([0, 0, 0]);
    expect(window!.receivers.every((receiver) => receiver.resync_ms !== null)).toBe(true);
    expect(logs.some((line) => line.startsWith('mesh: a window ('))).toBe(true);
  });

  it('attached to nodes that name themselves otherwise, says so and how to name them; named, measures them', async () => {
    loop = await LoopbackMesh.start(3);
    // the app's origins are node0…, attach mode's names endpoint0…
    const unnamed = await level(loop, undefined, {});
    expect(meshBlockSchema.safeParse(unnamed.block).success).toBe(true);
    expect(unnamed.block.messages).toBe(0);
    expect(unnamed.block.unknown_origin).toBe(300);
    expect(unnamed.warnings).toEqual([
      'mesh: 300 deliveries named an origin that is no node of this network (node0, node1, node2; its nodes are endpoint0, endpoint1, endpoint2), so none is in the figures: the origin must be the name meshbench gives the node (MESHBENCH_NODE_ID); with --endpoints, name each endpoint as its node names itself (--endpoints node0=http://…)',
    ]);
    const named = await level(loop, undefined, { names: ['node0', 'node1', 'node2'] });
    expect(named.warnings).toEqual([]);
    expect(named.block.unknown_origin).toBe(0);
    expect(named.block.messages).toBe(100);
    expect(named.block.pairs.every((pair) => pair.count > 0)).toBe(true);
  });

  it('names a node without a delivery stream and counts what a deaf node never delivered', async () => {
    loop = await LoopbackMesh.start(3, { noStream: [2], deaf: [1] });
    const { block, warnings } = await level(loop);
    expect(block.errors).toEqual([expect.stringMatching(/^node2: GET \/deliveries answered HTTP 404/)]);
    expect(warnings[0]).toMatch(/^mesh: node2: GET \/deliveries/);
    // node0's publishes show on node0 only; node1 is deaf; node2's stream is missing
    const node1 = block.receivers.find((r) => r.node === 'node1')!;
    expect(node1.delivered).toBe(0);
    expect(node1.missing).toBe(block.messages);
    expect(block.delivered_everywhere).toBe(0);
    expect(block.availability.available).toBe(0);
  });
});
