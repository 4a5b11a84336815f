/**
 * Load clients: the split of one open-loop schedule across clients (exact total, the union is
 * the one schedule) and the exact merge of their recorder states (merged percentiles equal
 * those of one histogram fed every value). The runs go to a real HTTP server on port 0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { clientShares, shareCounts } from '../../../src/clients/split.js';
import { mergeClientResults, type ClientOutcome } from '../../../src/clients/merge.js';
import { runClient } from '../../../src/clients/client.js';
import { nodeStateLine } from '../../../src/clients/wire.js';
import { parseClientLine } from '../../../src/clients/wire.js';
import {
  buildLoadResult,
  parseTransaction,
  planSchedule,
  runLoadRecorded,
  sequencesOfShare,
} from '../../../src/load/index.js';
import type { LoadOptions, LoadShape } from '../../../src/load/types.js';
import { Recorder } from '../../../src/measure/recorder.js';
import { PassThrough } from 'node:stream';
import { LoopbackMesh } from '../../support/loopback-mesh.js';
import { cometbftOk, startCountingServer, txOf, type CountingServer } from '../load/test-servers.js';

const servers: CountingServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const SHAPES: readonly [string, LoadShape, Partial<LoadOptions>][] = [
  ['fixed', { kind: 'fixed', rate: 333 }, { durationMs: 2_000, warmupMs: 500, cooldownMs: 300 }],
  ['ramp', { kind: 'ramp', fromRate: 10, toRate: 997 }, { durationMs: 3_000 }],
  ['steps', { kind: 'steps', rates: [7, 501, 90], stepDurationMs: 700 }, {}],
  ['transactions', { kind: 'fixed', rate: 50 }, { transactions: 1_001 }],
];

describe('the split', () => {
  it.each(SHAPES)('%s: the shares sum to the schedule, for 1 to 7 clients', (_name, shape, extra) => {
    const plan = planSchedule({ shape, ...extra });
    const total = plan.firstCooldownSeq - plan.firstMeasuredSeq;
    for (let count = 1; count <= 7; count++) {
      const counts = shareCounts({ shape, ...extra }, clientShares(count));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(total);
      // as even as sequence numbers allow
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
  });

  it('counts sequence numbers of a share exactly (brute force)', () => {
    for (const [from, to, index, count] of [
      [0, 10, 0, 3],
      [5, 23, 2, 4],
      [7, 8, 3, 4],
      [9, 9, 0, 1],
      [1, 100, 6, 7],
    ] as const) {
      let expected = 0;
      for (let seq = from; seq < to; seq++) if (seq % count === index) expected++;
      expect(sequencesOfShare(from, to, { index, count })).toBe(expected);
    }
  });

  it('the clients together send every transaction of the one schedule once, each at its intended time', async () => {
    const server = await startCountingServer((r) => ({ body: cometbftOk(r.body) }), { keepRequests: true });
    servers.push(server);
    const count = 4;
    const base: LoadOptions = {
      runId: 'split',
      endpoints: [{ nodeId: 'node0', rpcUrl: server.url }],
      protocol: { kind: 'cometbft', broadcastMode: 'async' },
      shape: { kind: 'ramp', fromRate: 50, toRate: 250 },
      durationMs: 1_000,
      warmupMs: 200,
      transactionSizeBytes: 64,
      confirm: 'none',
      transport: 'raw',
    };
    const startAtEpochMs = Date.now() + 300;
    const runs = await Promise.all(
      clientShares(count).map((share) => runLoadRecorded({ ...base, share, startAtEpochMs })),
    );
    const plan = planSchedule(base);
    const seqs = server.requests.map((r) => parseTransaction(txOf(r.body))!);
    const sorted = seqs.map((t) => t.seq).sort((a, b) => a - b);
    expect(sorted).toEqual(Array.from({ length: plan.endSeq }, (_, i) => i));
    // each tx carries its intended time: the single schedule's, from the agreed start
    for (const tx of seqs) {
      const intendedMs = startAtEpochMs + plan.schedule.timeOf(tx.seq);
      expect(Math.abs((tx.intendedEpochMicros as number) / 1000 - intendedMs)).toBeLessThan(0.01);
    }
    // each client's own figures: its share of the measured window; together the whole input rate
    runs.forEach((run, index) => {
      expect(run.result.scheduled).toBe(
        sequencesOfShare(plan.firstMeasuredSeq, plan.firstCooldownSeq, { index, count }),
      );
    });
    const summed = runs.reduce((sum, run) => sum + run.result.inputRate, 0);
    expect(summed).toBeCloseTo(plan.inputRate, 9);
  });
});

/** A recorder fed these acks (ms) for node `node`, measured phase, one per second slot. */
function recorderWith(
  nodeIds: readonly string[],
  values: readonly { node: number; ms: number; second: number }[],
): Recorder {
  const recorder = new Recorder(nodeIds);
  values.forEach(({ node, ms, second }, i) => {
    recorder.recordSend('measured', node, second, i, 0.01 * (i % 7), false);
    recorder.recordAck('measured', node, second, { kind: 'ok' }, ms, ms * 0.9);
    recorder.recordCommit('measured', node, second, ms * 3, ms * 2.5);
  });
  return recorder;
}

describe('the merge', () => {
  it('merged counts are the sum of the clients and merged percentiles equal one histogram fed every value', () => {
    const nodeIds = ['node0', 'node1', 'node2', 'node3'];
    // deterministic, skewed values: a few very slow ones in one client only
    let x = 12345;
    const random = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const perClient = nodeIds.map((_, k) =>
      Array.from({ length: 500 + 97 * k }, (_, j) => ({
        node: k,
        second: j % 5,
        ms: k === 3 && random() < 0.05 ? 2_000 + random() * 3_000 : 1 + random() * (10 + 40 * k),
      })),
    );
    const options: LoadOptions = {
      runId: 'merge',
      endpoints: nodeIds.map((nodeId) => ({ nodeId, rpcUrl: `http://127.0.0.1:1/${nodeId}` })),
      protocol: { kind: 'cometbft', broadcastMode: 'async' },
      shape: { kind: 'fixed', rate: 100 },
      durationMs: 5_000,
      transactionSizeBytes: 64,
      confirm: 'none',
    };
    const plan = planSchedule(options);
    const run = { startedAt: new Date(0), endedAt: new Date(5_000), interrupted: false, workers: 1 };
    const outcomes: ClientOutcome[] = perClient.map((values, k) => {
      const own = recorderWith(
        [nodeIds[k]!],
        values.map((v) => ({ ...v, node: 0 })),
      );
      const share = { index: k, count: 4 };
      return {
        clientId: `client${k}`,
        host: `host${k}`,
        nodeIds: [nodeIds[k]!],
        share,
        status: 'ok',
        state: own.toState(),
        result: buildLoadResult({ ...options, share, endpoints: [options.endpoints[k]!] }, plan, own, run),
      };
    });
    const merged = mergeClientResults(options, outcomes, run);
    const single = buildLoadResult(options, plan, recorderWith(nodeIds, perClient.flat()), run);
    expect(merged.outcomes.ok).toBe(outcomes.reduce((sum, o) => sum + o.result!.outcomes.ok, 0));
    expect(merged.sent).toBe(outcomes.reduce((sum, o) => sum + o.result!.sent, 0));
    expect(merged.latency.ack).toEqual(single.latency.ack);
    expect(merged.scheduleLag).toEqual(single.scheduleLag);
    expect(merged.perNode).toEqual(single.perNode);
    expect(merged.timeSeries).toEqual(single.timeSeries);
    // not an average of the clients' p99s
    const meanP99 = outcomes.reduce((sum, o) => sum + o.result!.latency.ack.corrected.p99, 0) / 4;
    expect(merged.latency.ack.corrected.p99).not.toBeCloseTo(meanP99, 0);
  });

  it('a client that died is left out of the input too', () => {
    const options: LoadOptions = {
      runId: 'dead',
      endpoints: [
        { nodeId: 'node0', rpcUrl: 'http://127.0.0.1:1' },
        { nodeId: 'node1', rpcUrl: 'http://127.0.0.1:2' },
      ],
      protocol: { kind: 'cometbft', broadcastMode: 'async' },
      shape: { kind: 'fixed', rate: 10 },
      durationMs: 1_000,
      transactionSizeBytes: 64,
      confirm: 'none',
    };
    const plan = planSchedule(options);
    const run = { startedAt: new Date(0), endedAt: new Date(1_000), interrupted: false, workers: 1 };
    const own = recorderWith(
      ['node0'],
      [0, 2, 4, 6, 8].map((second) => ({ node: 0, ms: 5, second: second / 2 })),
    );
    const merged = mergeClientResults(
      options,
      [
        {
          clientId: 'client0',
          host: 'a',
          nodeIds: ['node0'],
          share: { index: 0, count: 2 },
          status: 'ok',
          state: own.toState(),
          result: buildLoadResult(options, plan, own, run),
        },
        { clientId: 'client1', host: 'b', nodeIds: ['node1'], share: { index: 1, count: 2 }, status: 'dead' },
      ],
      run,
    );
    expect(merged.inputRate).toBe(5);
    expect(merged.efficiency).toBe(1);
  });
});

/** A client on a stdin of its own: what it prints, its exit code, and a spec line to hand it. */
function startClient() {
  const input = new PassThrough();
  const lines: string[] = [];
  const done = runClient(input, (line) => lines.push(line));
  const spec = (clientId: string, options: Record<string, unknown>) =>
    input.write(`${JSON.stringify({ type: 'spec', clientId, options })}\n`);
  return { input, lines, done, spec };
}

describe('the client', () => {
  it('reads its spec, says it is alive, runs its share and prints its recorder state', async () => {
    const server = await startCountingServer((r) => ({ body: cometbftOk(r.body) }));
    servers.push(server);
    const { input, lines, done, spec } = startClient();
    input.write('\n'); // a keep-alive before the spec is ignored
    spec('client1', {
      runId: 'client',
      endpoints: [{ nodeId: 'node0', rpcUrl: server.url }],
      protocol: { kind: 'cometbft', broadcastMode: 'async' },
      shape: { kind: 'fixed', rate: 100 },
      durationMs: 1_500,
      transactionSizeBytes: 64,
      confirm: 'none',
      share: { index: 1, count: 2 },
      startAtEpochMs: Date.now() + 200,
    });
    expect(await done).toBe(0);
    input.end();
    const parsed = lines.map((line) => parseClientLine(line)!);
    expect(parsed.filter((l) => l.type === 'alive').length).toBeGreaterThanOrEqual(2);
    const result = parsed.at(-1)!;
    expect(result.type).toBe('result');
    if (result.type !== 'result') return;
    expect(result.clientId).toBe('client1');
    expect(result.state.scheduled).toBe(75);
    expect(server.received).toBe(75);
    expect(result.result.inputRate).toBe(50);
    // the alive lines carry the latencies since the line before, each once: never more than the replies
    const live = parsed.flatMap((l) =>
      l.type === 'alive' && l.progress?.latency ? [l.progress.latency] : [],
    );
    expect(live.length).toBeGreaterThan(0);
    const counted = live.reduce((sum, latency) => sum + latency.count, 0);
    expect(counted).toBeGreaterThan(0);
    expect(counted).toBeLessThanOrEqual(result.result.outcomes.ok);
  });

  it("says a node's commit stream problem as a line of its own, once (mesh: a node without /deliveries)", async () => {
    const mesh = await LoopbackMesh.start(2, { noStream: [1] });
    try {
      const { input, lines, done, spec } = startClient();
      spec('client0', {
        runId: 'client-problem',
        endpoints: mesh.endpoints(),
        protocol: { kind: 'mesh' },
        shape: { kind: 'fixed', rate: 20 },
        durationMs: 300,
        transactionSizeBytes: 32,
        confirm: 'commit',
        commitTimeoutMs: 1000,
        startAtEpochMs: Date.now() + 100,
      });
      expect(await done).toBe(0);
      input.end();
      const problems = lines.map((line) => parseClientLine(line)!).filter((line) => line.type === 'problem');
      expect(problems).toEqual([
        {
          type: 'problem',
          clientId: 'client0',
          line: expect.stringMatching(/^node1: GET \/deliveries answered HTTP 404 .*mesh contract/),
        },
      ]);
    } finally {
      await mesh.close();
    }
  });

  it('a node-state line routes its share away from a node the coordinator says is down, and back (--fault-load)', async () => {
    const own = await startCountingServer((r) => ({ body: cometbftOk(r.body) }));
    const other = await startCountingServer((r) => ({ body: cometbftOk(r.body) }));
    servers.push(own, other);
    const { input, lines, done, spec } = startClient();
    // A colocated client: every node, its share to its own (node1); node1 is down from the start.
    spec('client1', {
      runId: 'client-down',
      endpoints: [
        { nodeId: 'node0', rpcUrl: other.url },
        { nodeId: 'node1', rpcUrl: own.url },
      ],
      target: { kind: 'nodes', nodeIds: ['node1'] },
      protocol: { kind: 'cometbft', broadcastMode: 'async' },
      shape: { kind: 'fixed', rate: 100 },
      transactions: 200,
      transactionSizeBytes: 64,
      confirm: 'none',
      share: { index: 1, count: 2 },
      startAtEpochMs: Date.now() + 200,
    });
    input.write(`${JSON.stringify(nodeStateLine('node1', 'down'))}\n`);
    input.write('{"type":"node-state","node":"node9","state":"down"}\n'); // not one of its nodes: ignored
    // up again once half its share went out
    const timer = setInterval(() => {
      if (other.received >= 50) {
        input.write(`${JSON.stringify(nodeStateLine('node1', 'up'))}\n`);
        clearInterval(timer);
      }
    }, 5);
    expect(await done).toBe(0);
    clearInterval(timer);
    const result = parseClientLine(lines.at(-1)!)!;
    if (result.type !== 'result') throw new Error(lines.join('\n'));
    const byNode = Object.fromEntries(result.result.perNode.map((n) => [n.nodeId, n]));
    expect(other.received).toBeGreaterThanOrEqual(50);
    expect(own.received).toBeGreaterThan(0);
    expect(own.received + other.received).toBe(100);
    expect(byNode.node1?.redirectedOut).toBe(other.received);
    expect(byNode.node0?.redirectedIn).toBe(other.received);
    expect(result.result.efficiency).toBe(1);
  });

  it('stop on its input ends the load early, and the result says interrupted', async () => {
    const server = await startCountingServer((r) => ({ body: cometbftOk(r.body) }));
    servers.push(server);
    const { input, lines, done, spec } = startClient();
    spec('client0', {
      runId: 'stop',
      endpoints: [{ nodeId: 'node0', rpcUrl: server.url }],
      protocol: { kind: 'cometbft', broadcastMode: 'async' },
      shape: { kind: 'fixed', rate: 100 },
      durationMs: 20_000,
      transactionSizeBytes: 64,
      confirm: 'none',
      startAtEpochMs: Date.now() + 100,
    });
    setTimeout(() => input.write('stop\n'), 600);
    expect(await done).toBe(0);
    const result = parseClientLine(lines.at(-1)!)!;
    expect(result.type === 'result' && result.result.interrupted).toBe(true);
    expect(server.received).toBeLessThan(200);
  });

  it('stop before its spec (Ctrl-C while the clients start) ends it quietly, with no error line', async () => {
    const { input, lines, done } = startClient();
    input.write('stop\n');
    expect(await done).toBe(0);
    // it read "stop" as its spec: "Unexpected token 's', "stop" is not valid JSON"
    expect(lines.map((line) => parseClientLine(line)?.type)).toEqual(['alive']);
  });
});
