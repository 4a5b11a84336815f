import { describe, expect, it } from 'vitest';
import {
  ZERO_HASH,
  buildBlock,
  decodeBlock,
  decodeCommitted,
  encodeCommitted,
  makeTx,
  txHash,
  validateBlock,
} from '../src/block.js';
import { DecodeError } from '../src/codec.js';

const limits = { maxBlockTxs: 3, maxBlockBytes: 100 };
const none = (): boolean => false;

describe('blocks', () => {
  it('tx hash is the uppercase hex SHA-256 of the bytes', () => {
    expect(txHash(Buffer.from('hello'))).toBe(
      '2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824',
    );
  });

  it('round-trips through bytes with the same hash, and with its commit certificate', () => {
    const block = buildBlock(7, Buffer.alloc(32, 1), 1234.5, 'node2', [
      makeTx(Buffer.from('a')),
      makeTx(Buffer.from('bc')),
    ]);
    const decoded = decodeBlock(Buffer.from(block.bytes));
    expect(decoded.hashHex).toBe(block.hashHex);
    expect(decoded).toMatchObject({ height: 7, timeMs: 1234.5, proposer: 'node2', txBytes: 3 });
    expect(decoded.txs.map((t) => t.bytes.toString())).toEqual(['a', 'bc']);
    const cb = decodeCommitted(
      encodeCommitted({ block, commitRound: 2, signers: ['node0', 'node2', 'node3'] }),
    );
    expect(cb.commitRound).toBe(2);
    expect(cb.signers).toEqual(['node0', 'node2', 'node3']);
    expect(cb.block.hashHex).toBe(block.hashHex);
  });

  it('rejects truncated or padded block bytes', () => {
    const block = buildBlock(1, ZERO_HASH, 0, 'n', [makeTx(Buffer.from('xyz'))]);
    expect(() => decodeBlock(block.bytes.subarray(0, block.bytes.length - 1))).toThrow(DecodeError);
    expect(() => decodeBlock(Buffer.concat([block.bytes, Buffer.from([0])]))).toThrow(DecodeError);
    const lying = Buffer.from(block.bytes);
    lying.writeUInt32BE(0xffffffff, lying.length - 4 - 3 - 4); // tx count
    expect(() => decodeBlock(lying)).toThrow(DecodeError);
  });

  describe('validateBlock', () => {
    const prev = Buffer.alloc(32, 9);
    const expected = { height: 5, prevHash: prev };
    const ok = (txs: string[]) =>
      buildBlock(
        5,
        prev,
        0,
        'node0',
        txs.map((t) => makeTx(Buffer.from(t))),
      );

    it('accepts a block that extends the chain within the limits', () => {
      expect(validateBlock(ok(['a', 'b', 'c']), expected, limits, none)).toBeUndefined();
      expect(validateBlock(ok([]), expected, limits, none)).toBeUndefined();
    });

    it('names what is wrong', () => {
      expect(validateBlock(buildBlock(6, prev, 0, 'n', []), expected, limits, none)).toMatch(
        /height 6, expected 5/,
      );
      expect(validateBlock(buildBlock(5, ZERO_HASH, 0, 'n', []), expected, limits, none)).toMatch(
        /previous hash/,
      );
      expect(validateBlock(ok(['a', 'b', 'c', 'd']), expected, limits, none)).toMatch(
        /4 txs exceed the limit 3/,
      );
      expect(validateBlock(ok(['x'.repeat(101)]), expected, limits, none)).toMatch(
        /101 tx bytes exceed the limit 100/,
      );
      expect(validateBlock(ok(['a', 'a']), expected, limits, none)).toMatch(/appears twice/);
      expect(validateBlock(ok(['']), expected, limits, none)).toBe('empty tx');
      const committed = makeTx(Buffer.from('b')).hash;
      expect(validateBlock(ok(['a', 'b']), expected, limits, (h) => h === committed)).toMatch(
        /already committed/,
      );
    });
  });
});
