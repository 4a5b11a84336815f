import { describe, expect, it } from 'vitest';
import { makeTx } from '../src/block.js';
import { Mempool } from '../src/mempool.js';

const tx = (text: string) => makeTx(Buffer.from(text));

describe('Mempool', () => {
  it('admits txs in order and reaps the oldest within count and byte limits', () => {
    const pool = new Mempool(10, 1000);
    for (const t of ['a', 'bb', 'ccc', 'dddd']) expect(pool.add(tx(t)).ok).toBe(true);
    expect(pool.size).toBe(4);
    expect(pool.sizeBytes).toBe(10);
    expect(pool.reap(2, 1000).map((t) => t.bytes.toString())).toEqual(['a', 'bb']);
    expect(pool.reap(10, 6).map((t) => t.bytes.toString())).toEqual(['a', 'bb', 'ccc']);
    // Reaping does not remove; commit does.
    expect(pool.size).toBe(4);
    expect(pool.remove(tx('bb').hash)).toBe(true);
    expect(pool.remove(tx('bb').hash)).toBe(false);
    expect(pool.sizeBytes).toBe(8);
    expect(pool.reap(10, 1000).map((t) => t.bytes.toString())).toEqual(['a', 'ccc', 'dddd']);
  });

  it('refuses duplicates and txs already committed', () => {
    const committed = new Set([tx('old').hash]);
    const pool = new Mempool(10, 1000, (h) => committed.has(h));
    expect(pool.add(tx('x'))).toEqual({ ok: true });
    expect(pool.add(tx('x'))).toMatchObject({
      ok: false,
      reason: 'duplicate',
      message: 'tx already exists in cache',
    });
    expect(pool.add(tx('old'))).toMatchObject({ ok: false, reason: 'committed' });
  });

  it('is bounded by count and by bytes, and says which limit in the error', () => {
    const byCount = new Mempool(2, 1000);
    expect(byCount.add(tx('1')).ok).toBe(true);
    expect(byCount.add(tx('2')).ok).toBe(true);
    const full = byCount.add(tx('3'));
    expect(full).toMatchObject({ ok: false, reason: 'full' });
    expect(full.ok ? '' : full.message).toMatch(/^mempool is full: number of txs 2 \(max: 2\)/);

    const byBytes = new Mempool(100, 10);
    expect(byBytes.add(tx('12345678')).ok).toBe(true);
    expect(byBytes.add(tx('abc'))).toMatchObject({ ok: false, reason: 'full' });
    expect(byBytes.add(tx('ab')).ok).toBe(true);
    expect(byBytes.sizeBytes).toBe(10);
    // Space comes back when txs commit.
    byBytes.remove(tx('12345678').hash);
    expect(byBytes.add(tx('abc')).ok).toBe(true);
  });
});
