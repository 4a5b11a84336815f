/** Validator keys, vote sign bytes (CometBFT's test vectors), the merkle tree and signed commit records. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ZERO_HASH,
  buildBlock,
  decodeCommitted,
  encodeCommitted,
  makeTx,
  partSetHash,
} from '../src/block.js';
import { Writer } from '../src/codec.js';
import { EMPTY_HASH, merkleRoot } from '../src/comet-encoding.js';
import { ValidatorSet, deriveKey, signBytes, verifyBytes, voteSignBytes } from '../src/keys.js';

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
/** Go's zero time.Time (0001-01-01T00:00:00Z) in ms since the Unix epoch. */
const GO_ZERO_TIME_MS = -62135596800000;
const ZERO_TIME_FIELD = [0x2a, 0xb, 0x8, 0x80, 0x92, 0xb8, 0xc3, 0x98, 0xfe, 0xff, 0xff, 0xff, 0x1];
const ONE_LE = [0x1, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0];

describe('vote sign bytes', () => {
  it("match CometBFT's test vectors (types/vote_test.go TestVoteSignBytesTestVectors)", () => {
    expect([...voteSignBytes('precommit', 1, 1, null, GO_ZERO_TIME_MS, '')]).toEqual([
      0x21,
      0x8,
      0x2,
      0x11,
      ...ONE_LE,
      0x19,
      ...ONE_LE,
      ...ZERO_TIME_FIELD,
    ]);
    expect([...voteSignBytes('prevote', 1, 1, null, GO_ZERO_TIME_MS, '')]).toEqual([
      0x21,
      0x8,
      0x1,
      0x11,
      ...ONE_LE,
      0x19,
      ...ONE_LE,
      ...ZERO_TIME_FIELD,
    ]);
    const chain = [...Buffer.from('test_chain_id')];
    expect([...voteSignBytes('precommit', 1, 1, null, GO_ZERO_TIME_MS, 'test_chain_id')]).toEqual([
      0x30,
      0x8,
      0x2,
      0x11,
      ...ONE_LE,
      0x19,
      ...ONE_LE,
      ...ZERO_TIME_FIELD,
      0x32,
      0xd,
      ...chain,
    ]);
  });

  it('carry the block id with its part set header, and the time to the nanosecond', () => {
    const target = { hash: Buffer.alloc(32, 0xaa), partsHash: Buffer.alloc(32, 0xbb) };
    const bytes = voteSignBytes('precommit', 7, 0, target, 1_700_000_000_123, 'c');
    const partSetHeader = [0x8, 0x1, 0x12, 0x20, ...target.partsHash];
    const blockId = [0xa, 0x20, ...target.hash, 0x12, partSetHeader.length, ...partSetHeader];
    const time = [0x8, ...[0x80, 0xe2, 0xcf, 0xaa, 0x6], 0x10, ...[0xc0, 0xa9, 0xd3, 0x3a]];
    const body = [
      0x8,
      0x2,
      0x11,
      7,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0x22,
      blockId.length,
      ...blockId,
      0x2a,
      time.length,
      ...time,
      0x32,
      1,
      0x63,
    ];
    expect([...bytes]).toEqual([body.length, ...body]);
  });
});

describe('validator keys', () => {
  it('derive the address and node id from the public key as CometBFT does, and sign and verify', () => {
    const key = deriveKey('node0');
    expect(key.publicKey).toHaveLength(32);
    const address = sha(key.publicKey).subarray(0, 20);
    expect(key.addressHex).toBe(address.toString('hex').toUpperCase());
    expect(key.nodeId).toBe(address.toString('hex'));
    expect(deriveKey('node0').publicKey).toEqual(key.publicKey); // deterministic
    expect(deriveKey('node1').publicKey).not.toEqual(key.publicKey);
    const msg = Buffer.from('vote');
    const signature = signBytes(key, msg);
    expect(signature).toHaveLength(64);
    expect(verifyBytes(key, msg, signature)).toBe(true);
    expect(verifyBytes(deriveKey('node1'), msg, signature)).toBe(false);
    expect(verifyBytes(key, Buffer.from('votf'), signature)).toBe(false);
    expect(verifyBytes(key, msg, signature.subarray(1))).toBe(false);
  });

  it('order the set by address and hash it as SimpleValidator protobufs', () => {
    const set = new ValidatorSet(['node0', 'node1', 'node2', 'node3']);
    const addresses = set.validators.map((v) => v.addressHex);
    expect(addresses).toEqual([...addresses].sort());
    expect(set.indexOf(set.validators[2]!.id)).toBe(2);
    expect(set.indexOf('stranger')).toBe(-1);
    const leaves = set.validators.map((v) =>
      sha(Buffer.from([0]), Buffer.from([0x0a, 0x22, 0x0a, 0x20]), v.publicKey, Buffer.from([0x10, 0x01])),
    );
    const inner = (a: Buffer, b: Buffer): Buffer => sha(Buffer.from([1]), a, b);
    expect(set.hash).toEqual(inner(inner(leaves[0]!, leaves[1]!), inner(leaves[2]!, leaves[3]!)));
  });
});

describe('merkle root', () => {
  it("follows CometBFT's tree: empty, one leaf, and an unbalanced split", () => {
    expect(merkleRoot([]).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(merkleRoot([])).toEqual(EMPTY_HASH);
    const items = ['a', 'b', 'c'].map((s) => Buffer.from(s));
    const leaf = (b: Buffer): Buffer => sha(Buffer.from([0]), b);
    const inner = (a: Buffer, b: Buffer): Buffer => sha(Buffer.from([1]), a, b);
    expect(merkleRoot([items[0]!])).toEqual(leaf(items[0]!));
    expect(merkleRoot(items)).toEqual(inner(inner(leaf(items[0]!), leaf(items[1]!)), leaf(items[2]!)));
  });
});

describe('commit records', () => {
  const block = buildBlock(1, ZERO_HASH, 1000, 'node0', [makeTx(Buffer.from('x'))]);

  it('keep each precommit time and signature', () => {
    const votes = [
      { timeMs: 1001, signature: Buffer.alloc(64, 1) },
      { timeMs: 1002.5, signature: Buffer.alloc(0) },
    ];
    const cb = decodeCommitted(
      Buffer.from(encodeCommitted({ block, commitRound: 3, signers: ['node0', 'node2'], votes })),
    );
    expect(cb).toMatchObject({ commitRound: 3, signers: ['node0', 'node2'], votes });
    expect(cb.block.hash).toEqual(block.hash);
    expect(partSetHash(block)).toEqual(sha(Buffer.from([0]), block.bytes));
  });

  it('read records written before votes were signed', () => {
    const w = new Writer().u32(2).u8(2).str('node0').str('node1').bytes(block.bytes);
    const cb = decodeCommitted(Buffer.from(w.finish()));
    expect(cb).toMatchObject({ commitRound: 2, signers: ['node0', 'node1'] });
    expect(cb.votes).toBeUndefined();
  });
});
