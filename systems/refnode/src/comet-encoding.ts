/**
 * The few pieces of CometBFT's binary encodings the refnode reproduces: protobuf fields (for
 * the signed vote and the hashed validator set and consensus parameters) and CometBFT's merkle
 * tree (RFC 6962 with 0x00 / 0x01 prefixes; `crypto/merkle.HashFromByteSlices`).
 */
import { createHash } from 'node:crypto';

const LEAF_PREFIX = Buffer.from([0]);
const INNER_PREFIX = Buffer.from([1]);

/** SHA-256 of nothing: CometBFT's hash of an empty list (empty evidence, no txs). */
export const EMPTY_HASH = createHash('sha256').digest();

export function leafHash(leaf: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(leaf).digest();
}

export function innerHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(INNER_PREFIX).update(left).update(right).digest();
}

/** The largest power of 2 below n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Merkle root of leaves already hashed with `leafHash` (CometBFT's tree shape). */
function rootOf(leaves: readonly Buffer[], from: number, to: number): Buffer {
  const n = to - from;
  if (n === 1) return leaves[from] as Buffer;
  const k = splitPoint(n);
  return innerHash(rootOf(leaves, from, from + k), rootOf(leaves, from + k, to));
}

/** `merkle.HashFromByteSlices`: the root over `items` (each hashed as a leaf first). */
export function merkleRoot(items: readonly Uint8Array[]): Buffer {
  if (items.length === 0) return EMPTY_HASH;
  return rootOf(items.map(leafHash), 0, items.length);
}

// ---- protobuf ---------------------------------------------------------------------------------

/** A minimal protobuf writer: the wire types CometBFT's canonical messages use. */
export class ProtoWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  private push(bytes: Buffer): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  /** Varint of a non-negative or negative (int64, two's complement) integer. */
  static varint(value: number | bigint): Buffer {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return Buffer.from(out);
  }

  private tag(field: number, wireType: number): void {
    this.push(ProtoWriter.varint((field << 3) | wireType));
  }

  /** A varint field; zero is omitted (proto3). */
  varintField(field: number, value: number | bigint): this {
    if (BigInt(value) === 0n) return this;
    this.tag(field, 0);
    this.push(ProtoWriter.varint(value));
    return this;
  }

  /** An sfixed64 field; zero is omitted. */
  sfixed64Field(field: number, value: number): this {
    if (value === 0) return this;
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(value));
    this.push(b);
    return this;
  }

  /** A length-delimited field (bytes, string or an embedded message); empty is omitted unless `always`. */
  bytesField(field: number, value: Uint8Array, always = false): this {
    if (value.length === 0 && !always) return this;
    this.tag(field, 2);
    this.push(ProtoWriter.varint(value.length));
    this.push(Buffer.from(value.buffer, value.byteOffset, value.length));
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }

  /** The message prefixed with its length (protoio's delimited form, as CometBFT signs it). */
  finishDelimited(): Buffer {
    const body = this.finish();
    return Buffer.concat([ProtoWriter.varint(body.length), body]);
  }
}

/** google.protobuf.Timestamp for a time in ms since the epoch. */
export function timestamp(ms: number): Buffer {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return new ProtoWriter().varintField(1, seconds).varintField(2, nanos).finish();
}
