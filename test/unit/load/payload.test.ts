import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { base36, parseTransaction, TransactionFactory, txHash } from '../../../src/load/payload.js';
import { formatError } from '../../../src/common/errors.js';
import { validateLoadOptions } from '../../../src/load/validate.js';
import type { LoadOptions } from '../../../src/load/types.js';

describe('TransactionFactory', () => {
  it.each([1, 2, 31, 64, 512, 4096, 1024 * 1024])('makes txs of exactly %i bytes', (size) => {
    const factory = new TransactionFactory(size, '20261121-234501-a1b2c3');
    for (const seq of [0, 1, 35, 36, 123_456_789]) {
      const tx = factory.make(seq, 1_763_768_701_123_456);
      expect(tx.bytes.length).toBe(size);
      expect(Buffer.from(tx.base64, 'base64').length).toBe(size);
    }
  });

  it('is unique per sequence number and carries run id, seq and intended time', () => {
    const factory = new TransactionFactory(128, 'run-x');
    const hashes = new Set<string>();
    for (let seq = 0; seq < 20_000; seq++) hashes.add(txHash(factory.make(seq, 1_000_000 + seq).bytes));
    expect(hashes.size).toBe(20_000);
    const tx = factory.make(42, 1_763_768_701_123_456);
    expect(parseTransaction(tx.bytes)).toEqual({
      seq: 42,
      runId: 'run-x',
      intendedEpochMicros: 1_763_768_701_123_456,
    });
    // One `=` only: key=value apps (CometBFT kvstore) accept it.
    expect(tx.bytes.toString('latin1').split('=')).toHaveLength(2);
  });

  it('restores filler when a header gets shorter (reused buffer)', () => {
    const factory = new TransactionFactory(100, 'r');
    const long = Buffer.from(factory.make(10 ** 12, 10 ** 15).bytes);
    const short = Buffer.from(factory.make(1, 1).bytes);
    expect(long.length).toBe(100);
    expect(short.toString('latin1')).toMatch(/^1=r\.1\.x+$/);
  });

  it('base64 is exactly the encoding of the bytes, for any size, run id and sequence of sends', () => {
    // The filler's encoding is made once per split point and appended: it must match a
    // full encode whatever the header length does (grows, shrinks, sizes below it).
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.string({ maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.oneof(fc.nat(), fc.constant(1_763_768_701_123_456))), {
          minLength: 1,
          maxLength: 12,
        }),
        (size, runId, sends) => {
          const factory = new TransactionFactory(size, runId);
          for (const [seq, micros] of sends) {
            const tx = factory.make(seq, micros);
            expect(tx.base64).toBe(tx.bytes.toString('base64'));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('hashes like CometBFT: uppercase hex SHA-256', () => {
    const bytes = Buffer.from('abc');
    expect(txHash(bytes)).toBe(createHash('sha256').update(bytes).digest('hex').toUpperCase());
    expect(txHash(bytes)).toMatch(/^[0-9A-F]{64}$/);
  });

  it('refuses sizes outside 1 .. 16 MiB', () => {
    expect(() => new TransactionFactory(0, 'r')).toThrow(RangeError);
    expect(() => new TransactionFactory(16 * 1024 * 1024 + 1, 'r')).toThrow(RangeError);
  });
});

describe('validateLoadOptions', () => {
  const base: LoadOptions = {
    runId: 'r',
    endpoints: [{ nodeId: 'n', rpcUrl: 'http://127.0.0.1:26657' }],
    protocol: { kind: 'cometbft', broadcastMode: 'async' },
    shape: { kind: 'fixed', rate: 100 },
    durationMs: 1000,
    transactionSizeBytes: 512,
    confirm: 'none',
  };
  it.each([
    [{ shape: { kind: 'fixed', rate: 0 } }, /rate 0 is not allowed; use a rate above 0/],
    [{ shape: { kind: 'fixed', rate: -1 } }, /rate -1 is not allowed/],
    [
      { transactionSizeBytes: 0 },
      /transaction size 0 bytes is not allowed; use a whole number of bytes from 1 to 16777216/,
    ],
    [{ transactionSizeBytes: 16 * 1024 * 1024 + 1 }, /transaction size 16777217 bytes/],
    [{ endpoints: [{ nodeId: 'n', rpcUrl: 'nope' }] }, /endpoint URL "nope" cannot be parsed/],
    [{ endpoints: [{ nodeId: 'n', rpcUrl: 'ftp://x' }] }, /uses ftp:/],
    [{ protocol: { kind: 'grpc' } }, /protocol "grpc" is not known; use one of cometbft, etcd, http/],
    [
      { confirm: 'commit', protocol: { kind: 'etcd' } },
      /--confirm commit is not available for protocol etcd/,
    ],
    [{ durationMs: undefined }, /neither a duration nor a transaction count/],
    [{ shape: { kind: 'ramp', fromRate: 10, toRate: 0 } }, /ramp end rate 0 is not allowed/],
  ])('rejects %j', (patch, message) => {
    const options = { ...base, ...patch } as unknown as LoadOptions;
    let error: unknown;
    try {
      validateLoadOptions(options);
    } catch (caught) {
      error = caught;
    }
    expect(formatError(error)).toMatch(message);
  });
});

describe('base36', () => {
  it('writes the digits Number#toString(36) writes, for every magnitude up to 2^53', () => {
    const values = [0, 1, 35, 36, 36 ** 5 - 1, 36 ** 5, 36 ** 5 + 1, 36 ** 10, 2 ** 31, 2 ** 53 - 1];
    for (let i = 0; i < 2000; i++) values.push(Math.floor(Math.random() * 2 ** (1 + (i % 53))));
    values.push(1_763_768_701_123_456, Date.now() * 1000);
    for (const value of values) expect(base36(value)).toBe(value.toString(36));
  });

  it('leaves what is not a safe non-negative integer to toString (no endless split)', () => {
    for (const value of [-1, -(36 ** 6), 1.5, 36 ** 6 + 0.5, Number.NaN, Infinity, 2 ** 60]) {
      expect(base36(value)).toBe(value.toString(36));
    }
  });
});
