/**
 * Blocks: encoding, hashing and validation.
 *
 * Block bytes: f64 height | 32 B previous block hash | f64 time (ms since epoch) |
 *   u16+utf8 proposer id | u32 tx count | (u32 length | tx bytes)*
 * Block hash = SHA-256 of the block bytes. Tx hash = SHA-256 of the tx bytes
 * (shown as uppercase hex, the CometBFT convention).
 */
import { createHash } from 'node:crypto';
import { DecodeError, Reader, Writer } from './codec.js';

export const HASH_BYTES = 32;
export const ZERO_HASH = Buffer.alloc(HASH_BYTES);

export interface Tx {
  readonly bytes: Buffer;
  /** Uppercase hex SHA-256 of `bytes`. */
  readonly hash: string;
}

export interface Block {
  readonly height: number;
  readonly prevHash: Buffer;
  readonly timeMs: number;
  readonly proposer: string;
  readonly txs: readonly Tx[];
  /** Sum of tx sizes. */
  readonly txBytes: number;
  /** The encoded block. */
  readonly bytes: Buffer;
  /** SHA-256 of `bytes`. */
  readonly hash: Buffer;
  /** Uppercase hex of `hash`. */
  readonly hashHex: string;
}

/** One precommit in a commit certificate: its time and signature (empty when signing is off). */
export interface CommitVote {
  readonly timeMs: number;
  readonly signature: Buffer;
}

/** A committed block with its commit certificate (the round and the precommitting nodes). */
export interface CommittedBlock {
  readonly block: Block;
  readonly commitRound: number;
  readonly signers: readonly string[];
  /** The signers' precommits, in the order of `signers` (absent in records written before votes were signed). */
  readonly votes?: readonly CommitVote[];
}

export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

export function txHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').toUpperCase();
}

export function makeTx(bytes: Buffer): Tx {
  return { bytes, hash: txHash(bytes) };
}

const LEAF_PREFIX = Buffer.from([0]);
const partsHashes = new WeakMap<Block, Buffer>();

/**
 * The block's part set hash, as CometBFT's PartSetHeader names it: the refnode sends a block
 * whole, i.e. as one part, so it is the merkle root of that one part, SHA-256(0x00 | block bytes).
 */
export function partSetHash(block: Block): Buffer {
  let hash = partsHashes.get(block);
  if (hash === undefined) {
    hash = createHash('sha256').update(LEAF_PREFIX).update(block.bytes).digest();
    partsHashes.set(block, hash);
  }
  return hash;
}

export function buildBlock(
  height: number,
  prevHash: Buffer,
  timeMs: number,
  proposer: string,
  txs: readonly Tx[],
): Block {
  let txBytes = 0;
  for (const tx of txs) txBytes += tx.bytes.length;
  const w = new Writer(64 + proposer.length + txBytes + 4 * txs.length);
  w.f64(height).bytes(prevHash).f64(timeMs).str(proposer).u32(txs.length);
  for (const tx of txs) w.lenBytes(tx.bytes);
  return blockOf({ height, prevHash, timeMs, proposer, txs, txBytes, bytes: w.finish() });
}

/** A block from its fields and its encoding: the hash is of the bytes. */
function blockOf(fields: Omit<Block, 'hash' | 'hashHex'>): Block {
  const hash = sha256(fields.bytes);
  return { ...fields, hash, hashHex: hash.toString('hex').toUpperCase() };
}

/** Decodes block bytes; txs are views into `bytes` (no copy). Throws DecodeError. */
export function decodeBlock(bytes: Buffer): Block {
  const r = new Reader(bytes);
  const height = r.uint();
  const prevHash = r.bytes(HASH_BYTES);
  const timeMs = r.f64();
  const proposer = r.str();
  const count = r.u32();
  if (count > r.remaining / 4) throw new DecodeError(`block claims ${count} txs in ${r.remaining} bytes`);
  const txs: Tx[] = new Array<Tx>(count);
  let txBytes = 0;
  for (let i = 0; i < count; i++) {
    const tx = r.lenBytes();
    txBytes += tx.length;
    txs[i] = makeTx(tx);
  }
  r.done();
  return blockOf({ height, prevHash, timeMs, proposer, txs, txBytes, bytes });
}

/** First u32 of a record with signed votes (a commit round is never this high). */
const SIGNED_RECORD = 0xfffffffe;

/**
 * Stored / synced form:
 *   u32 0xFFFFFFFE | u32 commit round | u8 signer count | (u16+utf8 id | f64 time ms | u8 n | n B signature)* | block bytes
 * Records written before votes were signed (`u32 commit round | u8 count | (u16+utf8 id)* | block`)
 * still decode, without `votes`.
 */
export function encodeCommitted(cb: CommittedBlock): Buffer {
  const w = new Writer(cb.block.bytes.length + 64 + 96 * cb.signers.length);
  w.u32(SIGNED_RECORD).u32(cb.commitRound).u8(cb.signers.length);
  cb.signers.forEach((id, i) => {
    const vote = cb.votes?.[i];
    w.str(id).f64(vote?.timeMs ?? cb.block.timeMs);
    const signature = vote?.signature ?? Buffer.alloc(0);
    w.u8(signature.length).bytes(signature);
  });
  w.bytes(cb.block.bytes);
  return w.finish();
}

export function decodeCommitted(bytes: Buffer): CommittedBlock {
  const r = new Reader(bytes);
  const first = r.u32();
  if (first !== SIGNED_RECORD) {
    const n = r.u8();
    const signers: string[] = [];
    for (let i = 0; i < n; i++) signers.push(r.str());
    return { block: decodeBlock(r.rest()), commitRound: first, signers };
  }
  const commitRound = r.u32();
  const n = r.u8();
  const signers: string[] = [];
  const votes: CommitVote[] = [];
  for (let i = 0; i < n; i++) {
    signers.push(r.str());
    const timeMs = r.f64();
    votes.push({ timeMs, signature: r.bytes(r.u8()) });
  }
  const block = decodeBlock(r.rest());
  return { block, commitRound, signers, votes };
}

export interface BlockLimits {
  readonly maxBlockTxs: number;
  readonly maxBlockBytes: number;
}

/**
 * Checks a proposed block against the chain: height and parent, size limits, no empty tx,
 * no tx twice in the block, no tx already committed. Returns the reason it is invalid, or undefined.
 */
export function validateBlock(
  block: Block,
  expected: { readonly height: number; readonly prevHash: Buffer },
  limits: BlockLimits,
  isCommitted: (hash: string) => boolean,
): string | undefined {
  if (block.height !== expected.height) return `height ${block.height}, expected ${expected.height}`;
  if (!block.prevHash.equals(expected.prevHash))
    return `previous hash does not match the block at ${expected.height - 1}`;
  if (block.txs.length > limits.maxBlockTxs)
    return `${block.txs.length} txs exceed the limit ${limits.maxBlockTxs}`;
  if (block.txBytes > limits.maxBlockBytes)
    return `${block.txBytes} tx bytes exceed the limit ${limits.maxBlockBytes}`;
  const seen = new Set<string>();
  for (const tx of block.txs) {
    if (tx.bytes.length === 0) return 'empty tx';
    if (seen.has(tx.hash)) return `tx ${tx.hash} appears twice`;
    seen.add(tx.hash);
    if (isCommitted(tx.hash)) return `tx ${tx.hash} is already committed`;
  }
  return undefined;
}
