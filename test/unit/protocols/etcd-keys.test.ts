import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkEtcdKeyPattern,
  etcdKeyMaker,
  summarizeEtcdKeys,
  type EtcdKeyPattern,
} from '../../../src/protocols/etcd-keys.js';
import { createEtcdProtocol } from '../../../src/protocols/etcd.js';

const keyMaker = (pattern: EtcdKeyPattern | undefined, runId: string, prefix?: string) =>
  etcdKeyMaker(summarizeEtcdKeys(pattern, prefix, runId), runId);

/** The sweep's run ids: `<run>-<network>-<level>-<repeat>`. */
const levelRunId = fc
  .tuple(
    fc.constantFrom('20261122-000811-12d291', '20261122-000811-a0b1c2'),
    fc.constantFrom('local', 'remote', 'endpoints'),
    fc.integer({ min: 1, max: 20 }),
    fc.integer({ min: 1, max: 12 }),
  )
  .map(([run, kind, level, repeat]) => `${run}-${kind}-${level}-${repeat}`);

describe('etcd keys: unique (the default)', () => {
  it('two different (run id, seq) sends never write the same key', () => {
    fc.assert(
      fc.property(
        levelRunId,
        fc.nat(Number.MAX_SAFE_INTEGER),
        levelRunId,
        fc.nat(Number.MAX_SAFE_INTEGER),
        (runA, seqA, runB, seqB) => {
          fc.pre(runA !== runB || seqA !== seqB);
          expect(keyMaker(undefined, runA)(seqA)).not.toBe(keyMaker(undefined, runB)(seqB));
        },
      ),
    );
  });

  it('a run id that ends like another one is a prefix of (level 1 vs level 10) still gets its own keys', () => {
    const keys = new Set<string>();
    for (const runId of ['r-local-1-1', 'r-local-10-1', 'r-local-1-10', 'r-local-11-1'])
      for (let seq = 0; seq < 2000; seq++) keys.add(keyMaker(undefined, runId)(seq));
    expect(keys.size).toBe(8000);
  });

  it('every key of a run lies under <prefix><run id>/, and nothing of another run does', () => {
    fc.assert(
      fc.property(levelRunId, levelRunId, fc.nat(1e9), (runA, runB, seq) => {
        fc.pre(runA !== runB);
        const summary = summarizeEtcdKeys(undefined, 'p/', runA);
        expect(summary.runKeyPrefix).toBe(`p/${runA}/`);
        expect(keyMaker(undefined, runA, 'p/')(seq).startsWith(`p/${runA}/`)).toBe(true);
        expect(keyMaker(undefined, runB, 'p/')(seq).startsWith(`p/${runA}/`)).toBe(false);
      }),
    );
  });

  it('is <prefix><run id>/<seq base36>', () => {
    expect(keyMaker({ kind: 'unique' }, 'run-local-2-1')(36 * 36)).toBe('meshbench/run-local-2-1/100');
  });
});

describe('etcd keys: key-space patterns', () => {
  const pattern = fc.oneof(
    fc.record({
      kind: fc.constantFrom('sequential' as const, 'uniform' as const),
      keySpace: fc.integer({ min: 1, max: 1e9 }),
    }),
    fc.record({
      kind: fc.constant('zipfian' as const),
      keySpace: fc.integer({ min: 1, max: 1e9 }),
      exponent: fc.double({ min: 0.05, max: 5, noNaN: true }),
    }),
  );

  it('every key is <prefix><index in 0..N-1, zero-padded to the key size>, the same for the same (run id, seq)', () => {
    fc.assert(
      fc.property(
        pattern,
        fc.integer({ min: 0, max: 8 }),
        levelRunId,
        fc.nat(1e12),
        (p, extra, runId, seq) => {
          const digits = String(p.keySpace - 1).length;
          const keySizeBytes = digits + extra;
          const make = keyMaker({ ...p, keySizeBytes }, runId, 'kv/');
          const key = make(seq);
          expect(key).toMatch(new RegExp(`^kv/\\d{${keySizeBytes}}$`));
          const index = Number(key.slice(3));
          expect(index).toBeGreaterThanOrEqual(0);
          expect(index).toBeLessThan(p.keySpace);
          expect(keyMaker({ ...p, keySizeBytes }, runId, 'kv/')(seq)).toBe(key);
        },
      ),
    );
  });

  it('sequential is seq mod N', () => {
    const make = keyMaker({ kind: 'sequential', keySpace: 1000 }, 'r', 'k/');
    expect([0, 1, 999, 1000, 1234].map(make)).toEqual([
      'k/00000000',
      'k/00000001',
      'k/00000999',
      'k/00000000',
      'k/00000234',
    ]);
  });

  it('a key depends on the send, not on which worker thread makes it (shards k of K hold seq ≡ k mod K)', () => {
    fc.assert(
      fc.property(pattern, fc.integer({ min: 1, max: 8 }), levelRunId, (p, shards, runId) => {
        const single = keyMaker(p, runId);
        const perShard = Array.from({ length: shards }, () => keyMaker(p, runId));
        for (let seq = 0; seq < 200; seq++) expect(perShard[seq % shards]?.(seq)).toBe(single(seq));
      }),
      { numRuns: 30 },
    );
  });

  it('uniform covers a key space of 100 evenly (100,000 sends: each key 1,000 ± 130)', () => {
    const make = keyMaker({ kind: 'uniform', keySpace: 100 }, 'run-u');
    const counts = new Map<string, number>();
    for (let seq = 0; seq < 100_000; seq++) counts.set(make(seq), (counts.get(make(seq)) ?? 0) + 1);
    expect(counts.size).toBe(100);
    for (const count of counts.values()) expect(Math.abs(count - 1000)).toBeLessThan(130);
  });

  it('zipfian (s = 0.99) over 1,000 keys: key 0 is the hottest, at about its share 1/H(1000, 0.99)', () => {
    const make = keyMaker({ kind: 'zipfian', keySpace: 1000 }, 'run-z', 'z');
    const counts = new Map<number, number>();
    const sends = 100_000;
    for (let seq = 0; seq < sends; seq++) {
      const index = Number(make(seq).slice(1));
      counts.set(index, (counts.get(index) ?? 0) + 1);
    }
    let harmonic = 0;
    for (let k = 1; k <= 1000; k++) harmonic += k ** -0.99;
    const p0 = 1 / harmonic;
    const sigma = Math.sqrt(sends * p0 * (1 - p0));
    expect(Math.abs((counts.get(0) ?? 0) - sends * p0)).toBeLessThan(4 * sigma);
    expect(counts.get(0) ?? 0).toBeGreaterThan(counts.get(1) ?? 0);
    expect(counts.get(1) ?? 0).toBeGreaterThan(counts.get(9) ?? 0);
  });

  it('fills the defaults: key space 10,000, key size 8 (or the digits of N-1), s = 0.99', () => {
    expect(summarizeEtcdKeys({ kind: 'zipfian' }, undefined, 'r')).toEqual({
      pattern: 'zipfian',
      prefix: 'meshbench/',
      keySpace: 10_000,
      keySizeBytes: 8,
      zipfExponent: 0.99,
    });
    expect(summarizeEtcdKeys({ kind: 'uniform', keySpace: 1e12 }, 'x', 'r').keySizeBytes).toBe(12);
  });
});

describe('checkEtcdKeyPattern', () => {
  it.each([
    [{ kind: 'hashed' }, 'pattern', /one of unique, sequential, uniform, zipfian/],
    [{ kind: 'uniform', keySpace: 0 }, 'keySpace', /whole number of keys from 1/],
    [{ kind: 'uniform', keySpace: 2.5 }, 'keySpace', /whole number of keys/],
    [{ kind: 'uniform', keySpace: 1000, keySizeBytes: 2 }, 'keySizeBytes', /1000 keys need 3 digits/],
    [{ kind: 'sequential', keySizeBytes: 0 }, 'keySizeBytes', /from 1 to 65536/],
    [{ kind: 'zipfian', exponent: 0 }, 'exponent', /> 0/],
    [{ kind: 'zipfian', exponent: Number.NaN }, 'exponent', /> 0/],
  ])('%j: %s', (pattern, setting, rule) => {
    const problem = checkEtcdKeyPattern(pattern as EtcdKeyPattern);
    expect(problem?.setting).toBe(setting);
    expect(problem?.rule).toMatch(rule);
  });

  it('accepts the defaults and an empty prefix is refused', () => {
    expect(checkEtcdKeyPattern(undefined)).toBeUndefined();
    expect(checkEtcdKeyPattern({ kind: 'zipfian' })).toBeUndefined();
    expect(checkEtcdKeyPattern(undefined, '')?.setting).toBe('prefix');
  });

  it('the adapter refuses a pattern with a problem', () => {
    expect(() => createEtcdProtocol({ keys: { kind: 'uniform', keySpace: -1 } }, 'r')).toThrow(RangeError);
  });
});
