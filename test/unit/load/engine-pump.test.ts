/**
 * Sends that fall due while replies are being handled go out from the reply
 * callbacks, not only when the loop's ~1 ms timer next fires. The raw transport is
 * replaced by one that answers on setImmediate after holding the thread for longer
 * than the send interval, so at every reply a send is due and the loop is asleep:
 * only the reply path can send it. The counting server is there for the health probe.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runLoad } from '../../../src/load/index.js';
import { startCountingServer } from './test-servers.js';
import type { CountingServer } from './test-servers.js';

const fake = vi.hoisted(() => {
  const state = {
    sends: 0,
    sendsInReply: 0,
    sendsInSend: 0,
    seqs: [] as number[],
    inReply: false,
    inSend: false,
    /** Every n-th send fails as it is sent (synchronously, inside `send`). */
    failEvery: 0,
    holdMs: 0,
  };
  const accepted = (id: string) =>
    `{"jsonrpc":"2.0","id":${id},"result":{"code":0,"data":"","log":"","codespace":"","hash":"00"}}`;
  class FakeTransport {
    send(
      _node: number,
      body: string,
      sink: {
        onWire(): void;
        onReply(status: number, body: string): void;
        onFailure(failure: 'connectionError'): void;
      },
    ) {
      state.sends++;
      if (state.inReply) state.sendsInReply++;
      if (state.inSend) state.sendsInSend++;
      const id = /"id":(\d+)/.exec(body)?.[1] ?? '0';
      state.seqs.push(Number(id));
      if (state.failEvery > 0 && state.sends % state.failEvery === 0) {
        state.inSend = true;
        try {
          sink.onFailure('connectionError');
        } finally {
          state.inSend = false;
        }
        return { abort() {} };
      }
      sink.onWire();
      setImmediate(() => {
        const until = performance.now() + state.holdMs;
        while (performance.now() < until);
        state.inReply = true;
        try {
          sink.onReply(200, accepted(id));
        } finally {
          state.inReply = false;
        }
      });
      return { abort() {} };
    }
    async close() {}
  }
  return { state, FakeTransport };
});

vi.mock('../../../src/load/transport-raw.js', () => ({ RawTransport: fake.FakeTransport }));

let probeServer: CountingServer | undefined;
afterEach(async () => {
  await probeServer?.close();
  probeServer = undefined;
});

async function run(failEvery: number, pacing?: 'batched') {
  Object.assign(fake.state, {
    sends: 0,
    sendsInReply: 0,
    sendsInSend: 0,
    seqs: [],
    failEvery,
    holdMs: 1.2,
  });
  probeServer = await startCountingServer(() => ({ body: '{}' }));
  return runLoad({
    runId: 'pump',
    endpoints: [{ nodeId: 'node0', rpcUrl: probeServer.url }],
    protocol: { kind: 'cometbft', broadcastMode: 'async' },
    shape: { kind: 'fixed', rate: 1000 },
    durationMs: 300,
    transactionSizeBytes: 64,
    confirm: 'none',
    transport: 'raw',
    // Every send is made, however late: each reply holds the thread for 1.2 ms, so on a starved
    // machine the batched run fell over the default 1 s schedule lag and gave up 57 of 300 sends
    maxScheduleLagMs: 60_000,
    ...(pacing ? { pacing } : {}),
  });
}

describe('the send loop', () => {
  it('sends what fell due from the reply callbacks, once each and in order', async () => {
    const result = await run(0);
    const { state } = fake;
    expect(result.sent).toBe(300);
    expect(result.outcomes.ok).toBe(300);
    expect(state.sends).toBe(300);
    expect(state.seqs).toEqual([...state.seqs].sort((a, b) => a - b));
    expect(new Set(state.seqs).size).toBe(300);
    // Each reply holds the thread for 1.2 ms, longer than the 1 ms between sends, so a
    // send is due at every reply; without sends from replies this count is 0.
    expect(state.sendsInReply).toBeGreaterThan(150);
  });

  it("with pacing 'batched' (bench:loadgen's reference side), sends only at the loop's wakes", async () => {
    const result = await run(0, 'batched');
    const { state } = fake;
    expect(result.sent).toBe(300);
    expect(state.sends).toBe(300);
    expect(state.sendsInReply).toBe(0);
    expect(new Set(state.seqs).size).toBe(300);
  });

  it('does not send from inside a send when the transport fails a request as it is sent', async () => {
    const result = await run(3);
    const { state } = fake;
    expect(state.sends).toBe(300);
    expect(state.sendsInSend).toBe(0);
    expect(result.outcomes.connectionError).toBe(100);
    expect(result.outcomes.ok).toBe(200);
    expect(new Set(state.seqs).size).toBe(300);
  });
});
