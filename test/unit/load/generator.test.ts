/**
 * The generator against real servers on port 0 that count what they receive.
 * Timing assertions here are the ones issue 3 asks for (p50 accuracy, the 1 s
 * stall, achieved rate); everything else is counting.
 */
import { createHash } from 'node:crypto';
import { median } from 'simple-statistics';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTransaction, runLoad } from '../../../src/load/index.js';
import type { LoadOptions } from '../../../src/load/types.js';
import {
  bareClientP50s,
  bareUndiciP50s,
  cometbftOk,
  startCometbftNode,
  startCountingServer,
  txOf,
} from './test-servers.js';
import type { CountingServer } from './test-servers.js';

const servers: CountingServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(...args: Parameters<typeof startCountingServer>): Promise<CountingServer> {
  const s = await startCountingServer(...args);
  servers.push(s);
  return s;
}

const TRANSPORTS = ['undici', 'raw'] as const;

const failedOf = (o: Awaited<ReturnType<typeof runLoad>>['outcomes']) =>
  Object.values(o.rejected).reduce((a, b) => a + b, 0) +
  Object.values(o.httpError).reduce((a, b) => a + b, 0) +
  o.badResponse +
  o.timeout +
  o.connectionError +
  o.dropped;

// The three timing assertions issue 3 asks for. On a shared, oversubscribed machine a
// descheduled process can miss any bound once; a real error (bias, wrong clock) fails
// every attempt, so these retry twice.
const TIMING = { retry: 2 } as const;

// Every scenario runs on both transports: the raw one must be correct on all of them.
describe.each(TRANSPORTS)('transport %s', (transport) => {
  function options(url: string, overrides: Partial<LoadOptions> = {}): LoadOptions {
    return {
      runId: 'test-run',
      endpoints: [{ nodeId: 'node0', rpcUrl: url }],
      protocol: { kind: 'cometbft', broadcastMode: 'async' },
      shape: { kind: 'fixed', rate: 100 },
      durationMs: 1000,
      transactionSizeBytes: 256,
      confirm: 'none',
      transport,
      // These tests count every scheduled send; on a starved machine the schedule-lag guard (its
      // default 1 s) skips the late ones (CI #97: "follows steps and linear ramps" got fewer than
      // the 443 it scheduled). Tests of the guard pass their own.
      maxScheduleLagMs: 60_000,
      ...overrides,
    };
  }

  describe('runLoad latency', () => {
    it(
      'reports p50 within 2 ms (and a tenth of the machine’s own delay) of a bare client beside it, against a server that answers after 20 ms',
      TIMING,
      async () => {
        const s = await server((r) => ({ body: cometbftOk(r.body), delayMs: 20 }));
        // 80 tx/s, not 100: the server shares this process's event loop, and at 10 ms apart
        // every reply fell due in the very loop turn that sent, and the server parsed, the
        // request two after it. At 12.5 ms apart a reply is due 7.5 ms after a send.
        // 16 connections, not 4: the generator sends one request at a time per connection and
        // queues the rest (its corrected time counts that wait, as it should), where the bare
        // client pipelines without bound. With 4, a machine that starved this process (the unit
        // tier beside it, load 9) left the generator's 4 connections busy and its sends queued:
        // corrected p50 197 ms against the bare client's 55 (3 retries failed alike). With a
        // stall of 70 ms in each 100 on the event loop, corrected p50 was 80-134 ms at 4
        // connections against the bare client's 65-74, and 55-62 at 16 against 64-73.
        const load = { rate: 80, count: 120, connections: 16 };
        // The reference: a bare client of the transport's own kind (a socket for the raw
        // transport, an undici Pool for the undici one) against the same server, run beside the
        // generator so that both see the same machine. Before and after it, as this test once
        // measured, the reference missed the machine's moments: with the unit tier, lint and tsc
        // beside this file (load 6-9), how late a paced client wakes swung from 3 to 17 ms within
        // seconds, and CI failed the test with the generator's corrected p50 4.5 ms above both.
        // The bare client's warm-up (40 requests) overlaps the generator's, so both measure
        // the same 1.5 s, give or take a connect.
        const bare = transport === 'undici' ? bareUndiciP50s : bareClientP50s;
        const [result, reference] = await Promise.all([
          runLoad(
            options(s.url, {
              shape: { kind: 'fixed', rate: load.rate },
              durationMs: (load.count / load.rate) * 1000,
              warmupMs: 500,
              connectionsPerEndpoint: load.connections,
            }),
          ),
          bare(s.url, { ...load, warmup: load.rate / 2 }),
        ]);
        // Held to the reference, plus what the generator's own work per request may add: within
        // 1 ms on a quiet machine (0.2-0.6 ms in CI logs), up to 1.5 ms with two CPU burners
        // beside it. The wire time (uncorrected) is held to the bare client's wire time; the time
        // from the intended send (corrected) to the bare client's time from its own due time (on
        // a quiet machine the two are within 0.1 ms of each other). A send timed from the wrong
        // moment, or a coarse timer, is off by several ms against a reference paced the same way.
        const ms = (v: number) => `${v.toFixed(2)} ms`;
        const { corrected, uncorrected } = result.latency.ack;
        const seen =
          `generator p50 ${ms(uncorrected.p50)} uncorrected, ${ms(corrected.p50)} corrected; bare client beside it ` +
          `${ms(reference.wire)} from the wire, ${ms(reference.fromIntended)} from its due time; generator ` +
          `schedule lag p50 ${ms(result.scheduleLag.p50)}`;
        // Nothing answers sooner than the server's 20 ms. The bare client's wire time is that plus
        // the loopback exchange: 0.5-1 ms on a quiet machine, 3-18 ms at load 6-9 (its reads wait
        // for the generator's turns and the other way round), which is why the lower bounds are
        // the server's delay, not the reference.
        // The upper bound only checks that the reference measured this server (its p50 was 42-45
        // ms with CI and another build beside it, load 13; 114-141 ms beside 8 busy loops, lint
        // and tsc, load 16), so it is a second, not a figure of a quiet machine.
        expect(reference.wire, seen).toBeGreaterThanOrEqual(20);
        expect(reference.wire, seen).toBeLessThan(20 + 1000);
        expect(result.outcomes.ok).toBe(load.count);
        // 2 ms for the generator's own work, and one and a half times what the machine added to
        // the reference above the server's 20 ms: the two clients share the machine's delay but
        // sample it at different instants, and the generator, doing more per request, takes more
        // of it. At load 13 that delay reached 70-720 ms (corrected 100.6 against the
        // reference's 93.6 ms); beside 2 busy loops and CI's integration tier (load 11) corrected
        // 2,088 against 1,184 and 231 against 137, uncorrected 136 against 113; beside 8 busy
        // loops (load 16) 430-457 against 206-209. (It was a tenth: those failed every retry.)
        // On a quiet machine (the reference 21 ms) this is 3.5 ms.
        const within = (referenceMs: number) => referenceMs + 2 + 1.5 * Math.max(0, referenceMs - 20);
        expect(uncorrected.p50, seen).toBeGreaterThanOrEqual(20);
        expect(uncorrected.p50, seen).toBeLessThanOrEqual(within(reference.wire));
        expect(corrected.p50, seen).toBeGreaterThanOrEqual(uncorrected.p50);
        expect(corrected.p50, seen).toBeLessThanOrEqual(within(reference.fromIntended));
        expect(corrected.min).toBeGreaterThanOrEqual(19.9);
      },
    );

    it(
      'times from the intended send: a 1 s stall gives corrected p99 >= 1 s, uncorrected far lower',
      TIMING,
      async () => {
        // One connection (so sends queue behind the stalled reply, as in a closed-loop tool),
        // 18 ms per reply, 40 tx/s; 1 s after the first request the server freezes for 1 s:
        // replies due in the freeze, and requests arriving in it, wait for its end.
        let freezeStart = Infinity;
        const serviceMs = 18;
        let busyUntil = 0;
        const s = await server((r) => {
          // Between two sends (not at one), so the request in service and the one queued
          // behind it both wait through the freeze, whatever the first request's connect time.
          if (freezeStart === Infinity) freezeStart = r.atMs + 1000 - 12;
          const freezeEnd = freezeStart + 1000;
          let start = Math.max(r.atMs, busyUntil);
          if (start >= freezeStart && start < freezeEnd) start = freezeEnd;
          let due = start + serviceMs;
          if (due >= freezeStart && due < freezeEnd) due = freezeEnd;
          busyUntil = due;
          return { body: cometbftOk(r.body), atMs: due };
        });
        const result = await runLoad(
          options(s.url, { shape: { kind: 'fixed', rate: 40 }, durationMs: 3000, connectionsPerEndpoint: 1 }),
        );
        expect(result.outcomes.ok).toBe(120);
        const { corrected, uncorrected } = result.latency.ack;
        expect(corrected.p99).toBeGreaterThanOrEqual(1000);
        // Only the one request held through the freeze took ~1 s on the wire.
        expect(uncorrected.max).toBeGreaterThanOrEqual(990);
        expect(uncorrected.p99).toBeLessThan(500);
        expect(uncorrected.p99).toBeLessThan(corrected.p99 / 2);
      },
    );
  });

  describe('runLoad schedule and counting', () => {
    it('achieves the target rate within 1% and the server gets exactly what was sent', TIMING, async () => {
      const s = await server((r) => ({ body: cometbftOk(r.body) }), { keepRequests: false });
      const result = await runLoad(
        options(s.url, { shape: { kind: 'fixed', rate: 1000 }, durationMs: 2000, maxScheduleLagMs: 10_000 }),
      );
      expect(result.scheduled).toBe(2000);
      expect(result.inputRate).toBe(1000);
      // Within 1 %, and more only by what the process was held up: a stall of L ms makes the
      // sends after it up to L ms late (scheduleLag.max), which moves the rate fitted over the
      // 2 s by up to about L / 2,000 (CI beside lint and tsc: 1.0-19 % off, with such stalls).
      // A wrong schedule sends on time at the wrong rate, and still fails.
      const stallShare = result.scheduleLag.max / 1000;
      expect(Math.abs(result.achievedRate - 1000) / 1000).toBeLessThan(0.01 + stallShare);
      expect(result.sent).toBe(2000);
      expect(s.received).toBe(2000);
      expect(result.outcomes.ok).toBe(2000);
      expect(result.timeSeries.map((p) => p.sent)).toEqual([1000, 1000]);
    });

    it('counts every outcome kind: ok, app and RPC rejections, HTTP 500, non-JSON, timeouts, resets', async () => {
      const s = await server((r) => {
        switch (r.index % 7) {
          case 0:
            return { body: cometbftOk(r.body) };
          case 1:
            return { body: cometbftOk(r.body, 5) };
          case 2:
            return {
              body: '{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"mempool is full"}}',
            };
          case 3:
            return { status: 500, body: 'oops' };
          case 4:
            return { body: 'this is not json' };
          case 5:
            return { hang: true };
          default:
            return { reset: true };
        }
      });
      // A long request timeout (the schedule-lag guard is out of reach in options()): beside the
      // unit tier, lint and tsc this process once stalled for 1.6 s, and a 300 ms timeout then failed the counts
      // (a reply late beyond the timeout is a timeout; one that came during a stall no longer is:
      // the next test). This test counts where each reply went, nothing about time.
      const result = await runLoad(
        options(s.url, {
          shape: { kind: 'fixed', rate: 200 },
          durationMs: 700,
          // 4 s, not 2 (CI #105 counted 5 of 20 ok replies elsewhere at the end of a loaded run): the
          // server is this process, so one descheduled past the timeout between a send and the
          // server's read times those requests out before their replies exist, by the generator's
          // rules rightly; the hung seventh of the sends then take 4 s to end
          requestTimeoutMs: 4000,
        }),
      );
      const o = result.outcomes;
      expect(result.scheduled).toBe(140);
      expect(s.received).toBe(140);
      // one comparison, so a failure shows where every reply went (CI #105: ok 15 of 20, the rest unseen)
      expect({
        ok: o.ok,
        rejected: o.rejected,
        httpError: o.httpError,
        badResponse: o.badResponse,
        timeout: o.timeout,
        connectionError: o.connectionError,
        dropped: o.dropped,
      }).toEqual({
        ok: 20,
        rejected: { 'app:5': 20, 'rpc:-32603': 20 },
        httpError: { '500': 20 },
        badResponse: 20,
        timeout: 20,
        connectionError: 20,
        dropped: 0,
      });
      expect(o.ok + failedOf(o)).toBe(result.scheduled);
      const perNodeFailed = result.perNode[0]?.failed;
      expect(perNodeFailed).toBe(120);
    });

    it('counts a reply that came while its thread was stalled past the timeout as a reply', async () => {
      // At the 40th and last request the server (on this thread) keeps the thread busy for 1.2
      // s; the timeout is 0.8 s. The replies to the requests in flight then (up to 40 at 2,000
      // tx/s, each on a connection of its own made before) come as the stall ends (the server's
      // timers) and are read in the loop's poll phase. The generator's 1 ms timer ran first:
      // timed out there, they counted as timeouts. Nothing is sent after the stall, so nothing
      // here depends on how fast a busy machine answers.
      const s = await server((r) => {
        if (r.index === 39) {
          const end = performance.now() + 1200;
          while (performance.now() < end);
        }
        return { body: cometbftOk(r.body), delayMs: 20 };
      });
      const result = await runLoad(
        options(s.url, {
          shape: { kind: 'fixed', rate: 2000 },
          durationMs: 20,
          requestTimeoutMs: 800,
        }),
      );
      expect(result.outcomes.timeout).toBe(0);
      expect(result.outcomes.ok).toBe(40);
      expect(s.received).toBe(40);
    });

    it('drops sends that find the in-flight bound reached, and counts them', async () => {
      const s = await server((r) => ({ body: cometbftOk(r.body), delayMs: 100 }));
      const result = await runLoad(
        options(s.url, { shape: { kind: 'fixed', rate: 100 }, durationMs: 500, maxInFlight: 2 }),
      );
      expect(result.outcomes.dropped).toBeGreaterThan(0);
      expect(result.outcomes.ok + result.outcomes.dropped).toBe(50);
      expect(s.received).toBe(result.sent);
      expect(result.sent).toBe(result.outcomes.ok);
    });

    it('sends unique transactions of the exact size carrying run id and sequence number', async () => {
      for (const size of [1, 40, 512, 3000]) {
        const s = await server((r) => ({ body: cometbftOk(r.body) }));
        const result = await runLoad(
          options(s.url, {
            runId: `run-${size}`,
            transactionSizeBytes: size,
            shape: { kind: 'fixed', rate: 400 },
            durationMs: 250,
          }),
        );
        const txs = s.requests.map((r) => txOf(r.body));
        expect(txs).toHaveLength(result.sent);
        expect(txs.every((tx) => tx.length === size)).toBe(true);
        if (size >= 40) {
          const hashes = new Set(txs.map((tx) => createHash('sha256').update(tx).digest('hex')));
          expect(hashes.size).toBe(txs.length);
          const parsed = txs.map((tx) => parseTransaction(tx));
          // each sequence number once, all in the schedule; not 0..sent-1: a send the lag guard
          // skipped on a starved machine leaves a gap (CI #94: 63 of 100 sent, 49-51 among those not)
          const seqs = parsed.map((p) => p?.seq ?? -1);
          expect(new Set(seqs).size).toBe(seqs.length);
          expect(seqs.every((seq) => seq >= 0 && seq < result.scheduled)).toBe(true);
          expect(parsed.every((p) => p?.runId === `run-${size}`)).toBe(true);
        }
      }
    });

    it('keeps warm-up and cool-down out of the figures and records them', async () => {
      const s = await server((r) => ({ body: cometbftOk(r.body) }));
      const result = await runLoad(
        options(s.url, {
          shape: { kind: 'fixed', rate: 100 },
          durationMs: 1000,
          warmupMs: 300,
          cooldownMs: 200,
        }),
      );
      expect(result.scheduled).toBe(100);
      expect(result.outcomes.ok).toBe(100);
      expect(result.excluded?.warmup).toEqual({ scheduled: 30, sent: 30, ok: 30, failed: 0 });
      expect(result.excluded?.cooldown).toEqual({ scheduled: 20, sent: 20, ok: 20, failed: 0 });
      expect(s.received).toBe(150);
      expect(result.warmupSecs).toBe(0.3);
      expect(result.cooldownSecs).toBe(0.2);
    });

    it('follows steps and linear ramps, and stops after a transaction count', async () => {
      const s = await server((r) => ({ body: cometbftOk(r.body) }));
      const steps = await runLoad(
        options(s.url, {
          shape: { kind: 'steps', rates: [100, 300], stepDurationMs: 300 },
          durationMs: undefined,
        }),
      );
      expect(steps.scheduled).toBe(30 + 90);
      expect(steps.inputRate).toBe(200);
      const ramp = await runLoad(
        options(s.url, { shape: { kind: 'ramp', fromRate: 100, toRate: 300 }, durationMs: 1000 }),
      );
      expect(ramp.scheduled).toBe(200);
      expect(ramp.timeSeries).toHaveLength(1);
      const counted = await runLoad(
        options(s.url, { shape: { kind: 'fixed', rate: 500 }, durationMs: undefined, transactions: 123 }),
      );
      expect(counted.scheduled).toBe(123);
      expect(s.received).toBe(120 + 200 + 123);
    });

    it('stops early on abort and still accounts for every scheduled send', async () => {
      const s = await server((r) => ({ body: cometbftOk(r.body), delayMs: 5 }));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 400);
      const result = await runLoad(
        options(s.url, { shape: { kind: 'fixed', rate: 200 }, durationMs: 5000, signal: controller.signal }),
      );
      expect(result.interrupted).toBe(true);
      expect(result.scheduled).toBeLessThan(200);
      expect(result.scheduled).toBeGreaterThan(40);
      expect(result.outcomes.ok + failedOf(result.outcomes)).toBe(result.scheduled);
      expect(s.received).toBe(result.sent);
      expect(result.durationSecs).toBeLessThan(1);
    });

    it('spreads load round-robin and by weight across endpoints, with per-node figures', async () => {
      const a = await server((r) => ({ body: cometbftOk(r.body) }));
      const b = await server((r) => ({ body: cometbftOk(r.body) }));
      const endpoints = [
        { nodeId: 'a', rpcUrl: a.url },
        { nodeId: 'b', rpcUrl: b.url },
      ];
      const even = await runLoad(
        options(a.url, { endpoints, shape: { kind: 'fixed', rate: 200 }, durationMs: 500 }),
      );
      expect([a.received, b.received]).toEqual([50, 50]);
      expect(even.perNode.map((n) => [n.nodeId, n.sent, n.ok])).toEqual([
        ['a', 50, 50],
        ['b', 50, 50],
      ]);
      const weighted = await runLoad(
        options(a.url, {
          endpoints,
          shape: { kind: 'fixed', rate: 400 },
          durationMs: 500,
          target: { kind: 'weighted', weights: { a: 3, b: 1 } },
        }),
      );
      expect(weighted.perNode.map((n) => n.sent)).toEqual([150, 50]);
      const only = await runLoad(
        options(a.url, {
          endpoints,
          shape: { kind: 'fixed', rate: 200 },
          durationMs: 250,
          target: { kind: 'nodes', nodeIds: ['b'] },
        }),
      );
      expect(only.perNode.map((n) => n.sent)).toEqual([0, 50]);
    });
  });

  describe('runLoad protocols: the server count equals the generator count', () => {
    it('cometbft (sync)', async () => {
      const s = await server((r) => {
        expect(JSON.parse(r.body)).toMatchObject({ jsonrpc: '2.0', method: 'broadcast_tx_sync' });
        return { body: cometbftOk(r.body) };
      });
      const result = await runLoad(
        options(s.url, {
          protocol: { kind: 'cometbft', broadcastMode: 'sync' },
          shape: { kind: 'fixed', rate: 500 },
          durationMs: 500,
        }),
      );
      expect(s.received).toBe(250);
      expect(result.sent).toBe(250);
      expect(result.outcomes.ok).toBe(250);
    });

    it('etcd v3 JSON gateway: every put writes its own key under <prefix><run id>/', async () => {
      const keys = new Set<string>();
      const s = await server((r) => {
        expect(r.url).toBe('/v3/kv/put');
        const body = JSON.parse(r.body) as { key: string; value: string };
        const key = Buffer.from(body.key, 'base64').toString();
        expect(key).toMatch(/^meshbench\/test-run\/[0-9a-z]+$/);
        keys.add(key);
        expect(Buffer.from(body.value, 'base64')).toHaveLength(256);
        return { body: '{"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"4"}}' };
      });
      const result = await runLoad(
        options(s.url, { protocol: { kind: 'etcd' }, shape: { kind: 'fixed', rate: 500 }, durationMs: 500 }),
      );
      expect(s.received).toBe(250);
      expect(keys.size).toBe(250);
      expect(result.sent).toBe(250);
      expect(result.outcomes.ok).toBe(250);
      expect(result.keys).toEqual({
        pattern: 'unique',
        prefix: 'meshbench/',
        runKeyPrefix: 'meshbench/test-run/',
      });
    });

    it('generic http with a body template and a JSON success field', async () => {
      const s = await server((r) => {
        expect(r.method).toBe('PUT');
        expect(r.url).toBe('/api/tx');
        const body = JSON.parse(r.body) as { data: string; n: number };
        return { body: JSON.stringify({ accepted: body.n % 5 !== 0 }) };
      });
      const result = await runLoad(
        options(`${s.url}/api`, {
          protocol: {
            kind: 'http',
            method: 'PUT',
            path: '/tx',
            headers: { 'x-test': '1' },
            bodyTemplate: '{"data":"{{tx}}","n":{{seq}}}',
            successJsonField: 'accepted',
          },
          shape: { kind: 'fixed', rate: 500 },
          durationMs: 500,
        }),
      );
      expect(s.received).toBe(250);
      expect(result.sent).toBe(250);
      expect(result.outcomes.ok).toBe(200);
      expect(result.outcomes.rejected).toEqual({ 'field:accepted': 50 });
    });
  });

  describe('runLoad commit confirmation', () => {
    it('matches tx hashes from /websocket NewBlock events and records submit-to-commit latency', async () => {
      const node = await startCometbftNode({ blockIntervalMs: 100 });
      servers.push(node);
      const result = await runLoad(
        options(node.url, {
          confirm: 'commit',
          // 10 s, not 2: on a starved machine (8 busy loops, lint and tsc beside the unit tier)
          // 5 of 200 commits came later than 2 s; the run ends when the last is seen either way
          commitTimeoutMs: 10_000,
          shape: { kind: 'fixed', rate: 200 },
          durationMs: 1000,
        }),
      );
      expect(node.received).toBe(200);
      expect(result.outcomes.committed).toBe(200);
      expect(result.outcomes.commitTimeout).toBe(0);
      const commit = result.latency.commit?.corrected;
      expect(commit?.count).toBe(200);
      expect(commit?.p50).toBeGreaterThanOrEqual(result.latency.ack.corrected.p50);
      // Against what the node saw, not the clock (CI #108: corrected p50 1,251 ms on a starved
      // machine failed a bound of 1 s): each tx was sent before the node read it and seen committed
      // after its block, so from send to commit is at least from read to block, for every tx and so
      // for each rank: HDR's p50 is a value at or above the 100th of 200, so at least the node's
      // 100th (not the median, the mean of the 100th and 101st: with 20 txs 5 ms apart per 100 ms
      // block those can be 5 ms apart, and the test failed on p50 49.76 against a median of
      // 50.89); and no more than that plus what stalls this process adds between the block and
      // the generator reading it, far under 1 s at the median.
      const uncorrected = result.latency.commit?.uncorrected;
      const nodeP50 = median(node.inclusionMs);
      expect(node.inclusionMs).toHaveLength(200);
      const nodeAtRank = [...node.inclusionMs].sort((a, b) => a - b)[99] as number;
      expect(uncorrected?.p50, `the node's 100th of 200: ${nodeAtRank} ms`).toBeGreaterThanOrEqual(
        nodeAtRank - 0.01,
      );
      expect(uncorrected?.p50).toBeLessThan(nodeP50 + 1000);
      expect(commit?.p50).toBeGreaterThanOrEqual(uncorrected?.p50 ?? Infinity);
      expect(result.committedThroughput).toBe(200);
      expect(result.efficiency).toBe(1);
    });

    it('counts commits that never come as commit timeouts', async () => {
      const node = await startCometbftNode({
        blockIntervalMs: 50,
        includeInBlock: (tx) => (parseTransaction(tx)?.seq ?? 0) % 2 === 0,
      });
      servers.push(node);
      // A 2 s commit timeout, not 0.5 s: a block event read after a stall longer than the
      // timeout counts its txs as timed out (24 of 25 committed once, in a CI run's unit tier); the count is
      // what this test asserts, not the time.
      const result = await runLoad(
        options(node.url, {
          confirm: 'commit',
          commitTimeoutMs: 2000,
          shape: { kind: 'fixed', rate: 100 },
          durationMs: 500,
        }),
      );
      expect(result.outcomes.ok).toBe(50);
      expect(result.outcomes.committed).toBe(25);
      expect(result.outcomes.commitTimeout).toBe(25);
      expect(result.efficiency).toBe(0.5);
    });

    it('falls back to polling tx?hash= when the node has no event stream', async () => {
      const node = await startCometbftNode({ blockIntervalMs: 100, websocket: false });
      servers.push(node);
      const result = await runLoad(
        options(node.url, {
          confirm: 'commit',
          commitTimeoutMs: 3000,
          shape: { kind: 'fixed', rate: 50 },
          durationMs: 400,
        }),
      );
      expect(result.outcomes.ok).toBe(20);
      expect(result.outcomes.committed).toBe(20);
      expect(result.outcomes.commitTimeout).toBe(0);
    });

    it('broadcast_tx_commit replies confirm the commit themselves', async () => {
      const s = await server((r) => {
        const id = JSON.parse(r.body).id as number;
        return {
          body: JSON.stringify({
            jsonrpc: '2.0',
            id,
            result: {
              check_tx: { code: 0 },
              tx_result: { code: id % 4 === 0 ? 7 : 0 },
              hash: 'AB',
              height: '3',
            },
          }),
          delayMs: 10,
        };
      });
      const result = await runLoad(
        options(s.url, {
          protocol: { kind: 'cometbft', broadcastMode: 'commit' },
          confirm: 'commit',
          shape: { kind: 'fixed', rate: 100 },
          durationMs: 400,
        }),
      );
      expect(result.outcomes.ok).toBe(30);
      expect(result.outcomes.rejected).toEqual({ 'app:7': 10 });
      expect(result.outcomes.committed).toBe(30);
    });
  });

  describe('runLoad worker threads', () => {
    it('shares the schedule across 2 workers and merges their histograms exactly', async () => {
      const s = await server((r) => ({ body: cometbftOk(r.body), delayMs: 2 }), { keepRequests: true });
      const result = await runLoad(
        options(s.url, { workers: 2, shape: { kind: 'fixed', rate: 400 }, durationMs: 1000 }),
      );
      expect(s.received).toBe(400);
      expect(result.sent).toBe(400);
      expect(result.outcomes.ok).toBe(400);
      expect(result.latency.ack.corrected.count).toBe(400);
      expect(result.timeSeries.map((p) => p.sent)).toEqual([400]);
      const seqs = s.requests
        .map((r) => parseTransaction(txOf(r.body))?.seq)
        .sort((a, b) => (a ?? 0) - (b ?? 0));
      expect(seqs).toEqual([...Array(400).keys()]);
    });
  });
});
