/**
 * Propagation latency per node pair: the figures (nearest-rank p50/p99 per ordered pair,
 * missing and unwatched probes), the Prometheus text and the peer round-trip gauges in it,
 * and the monitor itself: against a fake watcher with known delays per node, and against
 * real reference nodes in this process (their /websocket Tx events, their /metrics).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LevelContext, LevelStart } from '../../../src/bench/observer.js';
import {
  linesWith,
  parsePrometheusText,
  peerRttsFrom,
  peerRttsOfPage,
} from '../../../src/monitor/prometheus-text.js';
import {
  matrixLines,
  pairMatrix,
  percentile,
  propagationFigures,
  type ProbeOutcome,
} from '../../../src/monitor/propagation-figures.js';
import { medianOf, PeerRttSampler } from '../../../src/monitor/peer-rtt.js';
import { PropagationMonitor, type PropagationBlock } from '../../../src/monitor/propagation.js';
import { createCometbftProtocol } from '../../../src/protocols/cometbft.js';
import { createMeshProtocol } from '../../../src/protocols/mesh.js';
import type { Endpoint } from '../../../src/protocols/endpoint.js';
import type {
  ProbeTransaction,
  TransactionWatch,
  TransactionWatcher,
} from '../../../src/protocols/protocol.js';
import { Cluster } from '../../../systems/refnode/test/helpers.js';
import { LoopbackMesh } from '../../support/loopback-mesh.js';

const level: LevelStart = {
  runId: 'r1',
  network: 'local',
  benchmarkNumber: 1,
  load: 100,
  run: 1,
  durationMs: 1600,
  warmupMs: 0,
};

function levelContext(endpoints: readonly Endpoint[]): {
  context: LevelContext;
  blocks: Record<string, unknown>;
  lines: string[];
  end: () => void;
} {
  const blocks: Record<string, unknown> = {};
  const lines: string[] = [];
  const controller = new AbortController();
  const start = performance.now();
  const context = {
    deployment: { endpoints } as unknown as LevelContext['deployment'],
    signal: controller.signal,
    elapsedMs: () => performance.now() - start,
    block: (name: string, data: unknown) => (blocks[name] = data),
    log: (line: string) => lines.push(line),
    publish: () => undefined,
  };
  return { context, blocks, lines, end: () => controller.abort() };
}

const outcome = (origin: string, seen: Record<string, number>, watched?: string[]): ProbeOutcome => ({
  origin,
  watched: watched ?? Object.keys(seen),
  seenMs: new Map(Object.entries(seen)),
});

describe('propagation figures', () => {
  it('takes nearest-rank percentiles', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([7], 99)).toBe(7);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
  });

  it('gives every ordered pair of 4 nodes (12) and each node its own commit', () => {
    const nodes = ['node0', 'node1', 'node2', 'node3'];
    const probes = [
      outcome('node0', { node0: 10, node1: 50, node2: 20, node3: 30 }),
      outcome('node0', { node0: 12, node1: 70, node2: 22, node3: 32 }),
      outcome('node0', { node0: 14, node1: 60, node2: 24 }, nodes), // node3 never saw it
      outcome('node1', { node1: 5, node0: 9, node2: 9 }, ['node0', 'node1', 'node2']), // node3 unwatched
    ];
    const { pairs, self } = propagationFigures(nodes, probes);
    expect(pairs).toHaveLength(12);
    expect(pairs.map((pair) => `${pair.from}>${pair.to}`)).toEqual([
      'node0>node1',
      'node0>node2',
      'node0>node3',
      'node1>node0',
      'node1>node2',
      'node1>node3',
      'node2>node0',
      'node2>node1',
      'node2>node3',
      'node3>node0',
      'node3>node1',
      'node3>node2',
    ]);
    expect(pairs[0]).toEqual({
      from: 'node0',
      to: 'node1',
      count: 3,
      missing: 0,
      unwatched: 0,
      p50_ms: 60,
      p99_ms: 70,
      min_ms: 50,
      max_ms: 70,
      mean_ms: 60,
    });
    expect(pairs[2]).toMatchObject({ to: 'node3', count: 2, missing: 1, p50_ms: 30, p99_ms: 32 });
    expect(pairs[5]).toMatchObject({ from: 'node1', to: 'node3', count: 0, unwatched: 1, p50_ms: null });
    expect(pairs[9]).toMatchObject({ from: 'node3', count: 0, missing: 0, mean_ms: null });
    expect(self[0]).toMatchObject({ node: 'node0', count: 3, p50_ms: 12 });
    expect(pairMatrix(pairs, 'p50_ms').node0).toEqual({ node1: 60, node2: 22, node3: 30 });
    expect(matrixLines(pairs)[0]).toBe('node0 → node1 60 · node2 22 · node3 30');
    expect(matrixLines(pairs)[3]).toBe('node3 → node0 – · node1 – · node2 –');
  });
});

describe('Prometheus text and peer round-trip times', () => {
  const page = [
    '# HELP refnode_peer_rtt_seconds Round-trip time of the last ping',
    '# TYPE refnode_peer_rtt_seconds gauge',
    'refnode_peer_rtt_seconds{peer="node1",node="node0"} 0.0763',
    'refnode_peer_rtt_seconds{node="node0",peer="node2"} 0.146',
    'refnode_peer_rtt_smoothed_seconds{peer="node1",node="node0"} 0.0701',
    'refnode_peer_ping_rtt_seconds_bucket{le="+Inf",node="node0",peer="node1"} 12',
    'refnode_peer_ping_rtt_seconds_count{node="node0",peer="node1"} 12',
    'refnode_height{node="node0"} 42 1700000000000',
    'odd_label{path="a\\"b\\\\c\\nd",} 1',
    'not a sample line',
    'infinite +Inf',
    '',
  ].join('\n');

  it('reads samples: labels in any order, escapes, timestamps, +Inf', () => {
    const samples = parsePrometheusText(page);
    expect(samples.find((s) => s.name === 'refnode_height')).toEqual({
      name: 'refnode_height',
      labels: { node: 'node0' },
      value: 42,
    });
    expect(samples.find((s) => s.name === 'odd_label')?.labels.path).toBe('a"b\\c\nd');
    expect(samples.find((s) => s.name === 'infinite')?.value).toBe(Infinity);
    expect(samples.find((s) => s.labels.le === '+Inf')?.value).toBe(12);
    expect(samples.some((s) => s.name === 'not')).toBe(false);
  });

  it('finds the last and smoothed round trips per peer, in ms, and the node itself', () => {
    const reading = peerRttsFrom(parsePrometheusText(page));
    expect(reading?.self).toBe('node0');
    expect(reading?.metric).toBe('refnode_peer_rtt_seconds');
    expect([...(reading?.lastMs.keys() ?? [])]).toEqual(['node1', 'node2']);
    expect(reading?.lastMs.get('node1')).toBeCloseTo(76.3, 6);
    expect(reading?.lastMs.get('node2')).toBeCloseTo(146, 6);
    expect(reading?.smoothedMs.get('node1')).toBeCloseTo(70.1, 6);
    expect(peerRttsFrom(parsePrometheusText('refnode_height 1\n'))).toBeUndefined();
  });

  it('reads the round trips of a whole page from its round-trip lines alone, as from every sample', () => {
    expect(peerRttsOfPage(page)).toEqual(peerRttsFrom(parsePrometheusText(page)));
    // a page ending without a newline, a match on its first and last lines
    const bare = 'x_peer_rtt_seconds{peer="a"} 0.5\nother 1\ny_peer_rtt_smoothed_seconds{peer="a"} 0.25';
    expect(linesWith(bare, 'peer_rtt_')).toBe(
      'x_peer_rtt_seconds{peer="a"} 0.5\ny_peer_rtt_smoothed_seconds{peer="a"} 0.25',
    );
    expect(peerRttsOfPage(bare)?.smoothedMs.get('a')).toBe(250);
    expect(linesWith('a 1\nb 2', 'peer_rtt_')).toBe('');
    expect(peerRttsOfPage('refnode_height 1\n')).toBeUndefined();
  });

  it('takes medians', () => {
    expect(medianOf([3, 1, 2])).toBe(2);
    expect(medianOf([4, 1, 3, 2])).toBe(2.5);
  });

  it("keeps the level's median per pair, named as the network names its nodes", async () => {
    // Three scrapes: node0's round trip to node1 is 70, 90 (a busy moment), 75 ms.
    const pages: Record<string, string[]> = {
      'http://a/metrics': [0.07, 0.09, 0.075].map(
        (s) =>
          `refnode_peer_rtt_seconds{node="node0",peer="node1"} ${s}\nrefnode_peer_rtt_smoothed_seconds{node="node0",peer="node1"} 0.072\n`,
      ),
      'http://b:1/metrics': ['refnode_peer_rtt_seconds{node="node1",peer="node0"} 0.08\n'],
      'http://c/metrics': ['refnode_height 5\n'], // metrics without round trips: asked once
      'http://d/metrics': ['refnode_peer_rtt_seconds{peer="stranger"} 0.001\n'],
    };
    const asked: string[] = [];
    const sampler = new PeerRttSampler(
      [
        { nodeId: 'endpoint0', rpcUrl: 'http://x', metricsUrl: 'http://a/metrics' },
        { nodeId: 'endpoint1', rpcUrl: 'http://b:1/' }, // no metricsUrl: the RPC port's /metrics
        { nodeId: 'endpoint2', rpcUrl: 'http://y', metricsUrl: 'http://c/metrics' },
        { nodeId: 'endpoint3', rpcUrl: 'http://z', metricsUrl: 'http://d/metrics' },
      ],
      {
        readPage: async (url: string) => {
          asked.push(url);
          const list = pages[url] ?? [];
          return { status: 200, text: list.length > 1 ? list.shift() : list[0] };
        },
      },
    );
    for (let i = 0; i < 3; i++) await sampler.sample();
    expect(asked.filter((url) => url === 'http://c/metrics')).toHaveLength(1);
    expect(asked.filter((url) => url === 'http://b:1/metrics')).toHaveLength(3);
    expect(sampler.figures()).toEqual({
      peer_rtt_ms: { endpoint0: { endpoint1: 75 }, endpoint1: { endpoint0: 80 }, endpoint3: { stranger: 1 } },
      peer_rtt_last_ms: {
        endpoint0: { endpoint1: 75 },
        endpoint1: { endpoint0: 80 },
        endpoint3: { stranger: 1 },
      },
      peer_rtt_smoothed_ms: { endpoint0: { endpoint1: 72 } },
      peer_rtt_metric: 'refnode_peer_rtt_seconds',
      peer_rtt_scrapes: 9,
    });
  });
});

/**
 * Nodes that have each probe `delayMs[node]` after it is submitted (a stand-in for a network);
 * `down(node)` drops its watch (a crash: it reports nothing until `up(node)`).
 */
function fakeWatcher(
  delayMs: Record<string, number>,
  refuse?: string,
): TransactionWatcher & { submitted: string[]; down(node: string): void; up(node: string): void } {
  const listeners = new Map<string, (id: string) => void>();
  const states = new Map<string, { connected: boolean; drops: number }>();
  const submitted: string[] = [];
  const stateOf = (node: string) => {
    const state = states.get(node) ?? { connected: true, drops: 0 };
    states.set(node, state);
    return state;
  };
  return {
    method: 'fake',
    submitted,
    down(node) {
      const state = stateOf(node);
      state.connected = false;
      state.drops++;
    },
    up(node) {
      stateOf(node).connected = true;
    },
    async submit(endpoint: Endpoint, probe: ProbeTransaction) {
      if (endpoint.nodeId === refuse) throw new Error(`${endpoint.nodeId} refused the probe (mempool full)`);
      submitted.push(`${endpoint.nodeId}:${probe.id}`);
      for (const [node, ms] of Object.entries(delayMs)) {
        setTimeout(() => {
          if (stateOf(node).connected) listeners.get(node)?.(probe.id);
        }, ms);
      }
    },
    watch(endpoint, scope, onSeen): TransactionWatch {
      expect(scope).toBe('r1-local-1-1');
      listeners.set(endpoint.nodeId, onSeen);
      const state = stateOf(endpoint.nodeId);
      return {
        ready: Promise.resolve(true),
        get connected() {
          return state.connected;
        },
        get drops() {
          return state.drops;
        },
        expect: async () => {
          if (!state.connected) throw new Error('not connected');
        },
        forget: () => undefined,
        close: async () => {
          listeners.delete(endpoint.nodeId);
        },
      };
    },
  };
}

const endpointsOf = (count: number): Endpoint[] =>
  Array.from({ length: count }, (_, i) => ({
    nodeId: `node${i}`,
    rpcUrl: `http://127.0.0.1:${10 + i}`,
    metricsUrl: `http://127.0.0.1:${20 + i}/metrics`,
  }));

describe('PropagationMonitor', () => {
  it('probes round robin at its rate, times every pair and scrapes the round trips', async () => {
    const watcher = fakeWatcher({ node0: 5, node1: 40, node2: 80 });
    const scraped: string[] = [];
    const monitor = new PropagationMonitor({
      protocol: { kind: 'fake', watchTransactions: watcher },
      ratePerSec: 10,
      readPage: async (url: string) => {
        scraped.push(url);
        const self = /:2(\d)\//.exec(url)?.[1];
        return {
          status: 200,
          text: `refnode_peer_rtt_seconds{node="node${self}",peer="node${(Number(self) + 1) % 3}"} 0.0${self}5\n`,
        };
      },
    });
    const endpoints = endpointsOf(3);
    const { context, blocks, lines, end } = levelContext(endpoints);
    monitor.onLevelStart(level, context);
    await new Promise((resolve) => setTimeout(resolve, level.durationMs));
    end();
    await monitor.onLoadEnd(level, undefined, context);
    const block = blocks.propagation as PropagationBlock;
    // 500 ms to 1600 ms at 10/s: 11 probes, origins node0, node1, node2, node0, …
    expect(block.probes.sent).toBeGreaterThanOrEqual(10);
    expect(block.probes.sent).toBeLessThanOrEqual(12);
    expect(block.probes).toMatchObject({ refused: 0, skipped: 0 });
    expect(block.probes.complete).toBe(block.probes.sent);
    expect(watcher.submitted.slice(0, 4).map((s) => s.split(':')[0])).toEqual([
      'node0',
      'node1',
      'node2',
      'node0',
    ]);
    expect(block.nodes).toEqual(['node0', 'node1', 'node2']);
    expect(block.pairs).toHaveLength(6);
    const pair = (from: string, to: string) => block.pairs.find((p) => p.from === from && p.to === to);
    expect(pair('node0', 'node2')?.p50_ms).toBeGreaterThanOrEqual(79);
    expect(pair('node0', 'node2')?.p50_ms).toBeLessThan(120);
    expect(pair('node2', 'node1')?.p50_ms).toBeGreaterThanOrEqual(39);
    expect(pair('node2', 'node1')?.p50_ms).toBeLessThan(80);
    for (const p of block.pairs) expect(p.count).toBeGreaterThanOrEqual(3);
    for (const own of block.self) expect(own.count).toBeGreaterThanOrEqual(3);
    expect(block.self[0]?.p50_ms).toBeGreaterThanOrEqual(4);
    expect([...new Set(scraped)].sort()).toEqual(endpoints.map((e) => e.metricsUrl).sort());
    expect(block.peer_rtt_ms).toEqual({ node0: { node1: 5 }, node1: { node2: 15 }, node2: { node0: 25 } });
    expect(block.peer_rtt_scrapes).toBeGreaterThanOrEqual(3 * 2); // each second of the level, and at its end
    expect(block.peer_rtt_metric).toBe('refnode_peer_rtt_seconds');
    expect(lines[0]).toMatch(/propagation p50 ms/);
    expect(lines).toHaveLength(4);
  });

  it("with one node says its own probes' commit on the console, rather than nothing", async () => {
    const monitor = new PropagationMonitor({
      protocol: { kind: 'fake', watchTransactions: fakeWatcher({ node0: 5 }) },
      ratePerSec: 10,
      graceMs: 100,
      peerRtts: false,
    });
    const { context, blocks, lines, end } = levelContext(endpointsOf(1));
    monitor.onLevelStart(level, context);
    await new Promise((resolve) => setTimeout(resolve, level.durationMs));
    end();
    await monitor.onLoadEnd(level, undefined, context);
    const block = blocks.propagation as PropagationBlock;
    expect(block.pairs).toEqual([]);
    expect(block.self[0]?.count).toBeGreaterThan(0);
    expect(lines).toEqual([
      expect.stringMatching(
        /^propagation: one node, so only each probe's own commit as node0's watch saw it: p50 [\d.]+ ms, p99 [\d.]+ ms \(\d+ probes\)$/,
      ),
    ]);
  });

  it('counts refused probes and gives up on the ones a node never reports', async () => {
    const watcher = fakeWatcher({ node0: 5, node1: 10 }, 'node2'); // node2 refuses and never sees any
    const monitor = new PropagationMonitor({
      protocol: { kind: 'fake', watchTransactions: watcher },
      ratePerSec: 10,
      graceMs: 100,
      peerRtts: false,
    });
    const { context, blocks, end } = levelContext(endpointsOf(3));
    monitor.onLevelStart(level, context);
    await new Promise((resolve) => setTimeout(resolve, level.durationMs));
    end();
    const started = performance.now();
    await monitor.onLoadEnd(level, undefined, context);
    expect(performance.now() - started).toBeLessThan(1000);
    const block = blocks.propagation as PropagationBlock;
    expect(block.probes.refused).toBeGreaterThan(0);
    expect(block.probes.accepted + block.probes.refused).toBe(block.probes.sent);
    expect(block.errors).toEqual(['node2 refused the probe (mempool full)']);
    // Probes in flight at once are bounded (4): those stuck waiting for node2 make later ones skip.
    expect(block.probes.skipped).toBeGreaterThan(0);
    const toNode2 = block.pairs.find((p) => p.from === 'node0' && p.to === 'node2');
    expect(toNode2?.count).toBe(0);
    expect(toNode2?.missing).toBeGreaterThan(0);
    expect(block.pairs.find((p) => p.from === 'node2')?.count).toBe(0);
    expect(block.peer_rtt_ms).toBeUndefined();
  });

  it('stops waiting on a node whose watch dropped (a crash), and counts it again once it is back', async () => {
    // node1 has each probe 300 ms after its submit; its watch is down from 700 ms to 1000 ms
    // of the 1,600 ms level, so the probes armed on it from 400 ms never come from it.
    const watcher = fakeWatcher({ node0: 5, node1: 300 });
    const monitor = new PropagationMonitor({
      protocol: { kind: 'fake', watchTransactions: watcher },
      ratePerSec: 10,
      // a wait for a probe the dropped watch will never report would outlast the test's timeout
      graceMs: 600_000,
      probeTimeoutMs: 600_000,
      peerRtts: false,
    });
    const { context, blocks, end } = levelContext(endpointsOf(2));
    monitor.onLevelStart(level, context);
    await new Promise((resolve) => setTimeout(resolve, 700));
    watcher.down('node1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    watcher.up('node1');
    await new Promise((resolve) => setTimeout(resolve, level.durationMs - 1000));
    end();
    await monitor.onLoadEnd(level, undefined, context);
    const block = blocks.propagation as PropagationBlock;
    const toNode1 = block.pairs.find((p) => p.from === 'node0' && p.to === 'node1');
    // armed before the drop or sent while it lasted: unwatched there, not missing
    expect(toNode1?.missing).toBe(0);
    expect(toNode1?.unwatched).toBeGreaterThan(0);
    // from 1,000 ms node1 is watched again, and its probes arrive
    expect(toNode1?.count).toBeGreaterThan(0);
    expect(block.self.find((own) => own.node === 'node1')?.missing).toBe(0);
    // nothing waited on node1 in the meantime: every probe due had a slot (4 in flight at most)
    expect(block.probes.skipped).toBe(0);
    expect(block.probes.sent).toBeGreaterThanOrEqual(10);
    const toNode0 = block.pairs.find((p) => p.from === 'node1' && p.to === 'node0');
    expect(toNode0).toMatchObject({ missing: 0, unwatched: 0 });
  }, 20_000);

  it('says once that a protocol without probes has no block', () => {
    const warnings: string[] = [];
    const monitor = new PropagationMonitor({
      protocol: { kind: 'http' },
      warn: (line) => warnings.push(line),
    });
    const { context, blocks } = levelContext(endpointsOf(2));
    monitor.onLevelStart(level, context);
    monitor.onLevelStart(level, context);
    expect(warnings).toEqual([
      'propagation: protocol http cannot watch for transactions; no propagation block',
    ]);
    expect(blocks).toEqual({});
  });
});

describe('PropagationMonitor on reference nodes and a loopback mesh (this process, real TCP)', () => {
  let cluster: Cluster | undefined;
  let mesh: LoopbackMesh | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
    await mesh?.close();
    mesh = undefined;
  });

  it("times a mesh's probes by the nodes' own delivery times (`at`) when their clocks are known", async () => {
    // every event reaches meshbench 300 ms after its delivery (a slow link back from the nodes)
    const lagMs = 300;
    mesh = await LoopbackMesh.start(2, { stamp: true, lagMs });
    const run = async (clockOffsetMs?: number) => {
      const endpoints: Endpoint[] = mesh!.endpoints().map((e) => ({
        ...e,
        metricsUrl: `${e.rpcUrl}/metrics`,
        ...(clockOffsetMs === undefined ? {} : { clockOffsetMs }),
      }));
      const monitor = new PropagationMonitor({ protocol: createMeshProtocol(), ratePerSec: 10 });
      const { context, blocks, end } = levelContext(endpoints);
      monitor.onLevelStart(level, context);
      await new Promise((resolve) => setTimeout(resolve, level.durationMs));
      end();
      await monitor.onLoadEnd(level, undefined, context);
      return blocks.propagation as PropagationBlock;
    };
    const known = await run(0);
    const unknown = await run();
    for (const block of [known, unknown])
      expect(block.pairs.map((p) => p.count)).toEqual([expect.any(Number), expect.any(Number)]);
    // timed at their arrival no pair is faster than the lag; by the nodes' times, under it
    for (const pair of unknown.pairs)
      expect(pair.p50_ms, JSON.stringify(pair)).toBeGreaterThanOrEqual(lagMs - 1);
    for (const pair of known.pairs) expect(pair.p50_ms, JSON.stringify(pair)).toBeLessThan(lagMs);
  });

  it("sees each probe in every node's Tx events; the pairs and round trips follow the links", async () => {
    // 15 ms one way from node0, none elsewhere: pairs from node0 take longer, and node0's round trips are ~30 ms.
    // 4 nodes: the other 3 are a quorum without node0 (with 3 every commit waited for node0's
    // delayed votes, and beside lint and tsc too few probes completed in the level)
    cluster = await Cluster.start({
      n: 4,
      delayMs: (from, to) => (from === 'node0' || to === 'node0' ? 15 : 0),
    });
    const endpoints: Endpoint[] = cluster.ids.map((nodeId, i) => ({
      nodeId: `endpoint${i}`,
      rpcUrl: `http://127.0.0.1:${cluster?.node(i).rpc.port}`,
    }));
    const monitor = new PropagationMonitor({ protocol: createCometbftProtocol('async'), ratePerSec: 6 });
    const { context, blocks, end } = levelContext(endpoints);
    // The level lasts until 3 probes of each origin are committed (the probes are the only
    // transactions), at least 3.5 s: beside lint and tsc a commit took 1.5 s in CI, and with 4
    // probes in flight at most a fixed 3.5 s level left a pair with one probe
    const run = { ...level, durationMs: 60_000 };
    monitor.onLevelStart(run, context);
    const started = performance.now();
    const waited = () => performance.now() - started;
    while (waited() < 3500 || (cluster.node(0).store.committedTxCount < 12 && waited() < 20_000))
      await new Promise((resolve) => setTimeout(resolve, 50));
    end();
    await monitor.onLoadEnd(run, undefined, context);
    const block = blocks.propagation as PropagationBlock;
    expect(block.method).toMatch(/tm\.event='Tx' AND tx\.hash/);
    expect(block.errors).toBeUndefined();
    expect(block.probes.refused).toBe(0);
    expect(block.probes.complete).toBe(block.probes.accepted);
    expect(block.pairs).toHaveLength(12);
    for (const pair of block.pairs) {
      expect(pair.count, JSON.stringify(pair)).toBeGreaterThanOrEqual(2);
      expect(pair.missing).toBe(0);
      expect(pair.p50_ms).toBeGreaterThan(0);
      // milliseconds, not micro- or nanoseconds: a bound on the unit, not on the machine's speed
      // (under 2,000 ms on a quiet machine; 2,424 ms beside two CPU burners)
      expect(pair.p50_ms).toBeLessThan(30_000);
    }
    // The round trips come from each node's /metrics on its RPC port (no metricsUrl given),
    // named by the network's names (endpoint0 …) through the node's own label.
    const rtt = block.peer_rtt_ms ?? {};
    expect(Object.keys(rtt).sort()).toEqual(['endpoint0', 'endpoint1', 'endpoint2', 'endpoint3']);
    // node0's 30 ms round trips are a floor no load can break; above it a busy machine's event
    // loop adds tens of ms to any pair (CI saw 148 ms on node0's and 48 ms on the undelayed one),
    // so the undelayed pair is only checked to be measured
    expect(rtt.endpoint0?.endpoint1).toBeGreaterThanOrEqual(29);
    expect(rtt.endpoint0?.endpoint2).toBeGreaterThanOrEqual(29);
    expect(rtt.endpoint1?.endpoint2).toBeGreaterThan(0);
    expect(block.peer_rtt_smoothed_ms?.endpoint2?.endpoint0).toBeGreaterThan(0);
  });
});
