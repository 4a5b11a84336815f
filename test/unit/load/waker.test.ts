/**
 * The Waker thread, and which of the generator's send intervals use it. Nothing here
 * bounds how late a wake may be (a busy machine makes every wake late); what must hold
 * on any machine is that a wake is never early, that moving the instant moves the wake,
 * and that the thread never holds the process or a run.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runLoad } from '../../../src/load/index.js';
import { Waker } from '../../../src/load/waker.js';
import { startCountingServer, cometbftOk } from './test-servers.js';
import type { CountingServer } from './test-servers.js';

const counts = vi.hoisted(() => ({ made: 0, waits: 0 }));

vi.mock('../../../src/load/waker.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../src/load/waker.js')>();
  class CountingWaker extends actual.Waker {
    constructor() {
      super();
      counts.made++;
    }
    override wait(atMs: number): Promise<void> {
      counts.waits++;
      return super.wait(atMs);
    }
  }
  return { Waker: CountingWaker };
});

const wakers: Waker[] = [];
function waker(): Waker {
  const made = new Waker();
  wakers.push(made);
  return made;
}

let server: CountingServer | undefined;
afterEach(async () => {
  await Promise.all(wakers.splice(0).map((made) => made.close()));
  await server?.close();
  server = undefined;
});

// A wake may read the clock a few µs before the worker's mapped clock said the instant had come.
const SKEW_MS = 0.02;

describe('Waker', () => {
  it('resolves each wait at or after its instant, never before', async () => {
    const w = waker();
    const early: number[] = [];
    let at = performance.now() + 5;
    for (let i = 0; i < 100; i++) {
      await w.wait(at);
      const lateMs = performance.now() - at;
      if (lateMs < -SKEW_MS) early.push(lateMs);
      at = Math.max(at + 1, performance.now() + 0.2);
    }
    expect(early).toEqual([]);
  });

  it('moving the instant later moves the wake, with no wake at the old instant', async () => {
    const w = waker();
    const start = performance.now();
    // 500 ms, so that no stall of this thread between the two calls lets the first instant pass.
    const woke = w.wait(start + 500);
    w.arm(start + 700);
    await woke;
    expect(performance.now() - start).toBeGreaterThanOrEqual(700 - SKEW_MS);
  });

  it('moving the instant earlier wakes it sooner', async () => {
    const w = waker();
    const start = performance.now();
    const woke = w.wait(start + 60_000);
    w.arm(start + 20);
    await woke; // the test's own timeout fails it if the old instant held
    expect(performance.now() - start).toBeGreaterThanOrEqual(20 - SKEW_MS);
  });

  it('arms again after it fired', async () => {
    const w = waker();
    for (let i = 0; i < 3; i++) {
      const at = performance.now() + 5;
      await w.wait(at);
      expect(performance.now()).toBeGreaterThanOrEqual(at - SKEW_MS);
    }
  });

  it('close resolves a pending wait, and a closed waker resolves at once', async () => {
    const w = waker();
    const woke = w.wait(performance.now() + 60_000);
    await w.close();
    await woke;
    expect(w.alive).toBe(false);
    await w.wait(performance.now() + 60_000);
  });

  it('does not keep the process alive when it is left open', () => {
    const module = fileURLToPath(new URL('../../../src/load/waker.ts', import.meta.url));
    const script = `const { Waker } = await import(${JSON.stringify(module)});
      const w = new Waker(); await w.wait(performance.now() + 5); console.log('woke');`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('woke');
    expect(child.signal).toBeNull();
    expect(child.status).toBe(0);
  });
});

describe('the generator and the Waker', () => {
  async function run(rate: number, durationMs: number) {
    server = await startCountingServer((r) => ({ body: cometbftOk(r.body) }), { keepRequests: false });
    counts.made = 0;
    counts.waits = 0;
    const result = await runLoad({
      runId: 'waker',
      endpoints: [{ nodeId: 'node0', rpcUrl: server.url }],
      protocol: { kind: 'cometbft', broadcastMode: 'async' },
      shape: { kind: 'fixed', rate },
      durationMs,
      transactionSizeBytes: 64,
      confirm: 'none',
      transport: 'raw',
    });
    expect(result.outcomes.ok).toBe((rate * durationMs) / 1000);
    return result;
  }

  it('wakes the loop with it from 250 to 1,000 tx/s per thread', async () => {
    // Whether it is used, not how often: a send that finds the loop late (a busy machine; CI #71
    // saw 81 waits for 200 sends) goes out without a wait, so only a count above 0 holds everywhere.
    await run(500, 400);
    expect(counts.made).toBe(1);
    expect(counts.waits).toBeGreaterThan(0);
    // At 1,000 tx/s for 200 ms a starved machine (8 busy loops beside the unit tier) found the
    // loop late for every send and made none: made on first use, so made iff a wait was asked.
    await run(1000, 200);
    expect(counts.made).toBe(counts.waits > 0 ? 1 : 0);
  });

  it('does not make one below 250 tx/s (the loop spins the last 0.3 ms) or above 1,000 (timer ticks)', async () => {
    await run(100, 300);
    expect(counts.made).toBe(0);
    await run(4000, 200);
    expect(counts.made).toBe(0);
  });
});
