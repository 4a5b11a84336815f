/**
 * P2P messages. Each is one frame on a TCP connection: u32 length | u8 type | body.
 *   1 HELLO          u16+utf8 node id                         (first frame each way)
 *   2 TXS            u32 count | (u32 length | tx)*           (batched tx gossip)
 *   3 PROPOSAL       f64 height | u32 round | i32 valid round | u8 n | (u16+utf8 id)* | block bytes
 *                    (the ids: 2f+1 nodes that prevoted the block in the valid round, when >= 0)
 *   4 PREVOTE        f64 height | u32 round | u8 has value | [32 B block hash | 32 B part set hash] |
 *                    f64 time (ms) | u8 n | n B ed25519 signature (n = 0 when signing is off)
 *   5 PRECOMMIT      same as PREVOTE
 *   6 STATUS         f64 committed height
 *   7 BLOCK_REQUEST  f64 from height | u32 max blocks
 *   8 BLOCK_RESPONSE committed block record (see block.ts encodeCommitted)
 *   9 PING           f64 send time (ms, the sender's monotonic clock)   (every second, per connection)
 *  10 PONG           f64 the PING's send time, echoed at once
 *  11 RELAY          u16+utf8 origin id | f64 sequence | the origin's frame (PROPOSAL, PREVOTE or
 *                    PRECOMMIT) — only on a partial topology (--connect): each node forwards a
 *                    relay it has not seen (origin, sequence) to its other peers
 *
 * PING and PONG are the transport's own (p2p.ts answers and times them: each peer's round-trip
 * time); they never reach consensus.
 */
import { type Block, type Tx, decodeBlock, makeTx } from './block.js';
import { DecodeError, Reader, Writer } from './codec.js';
import type { VoteTarget } from './keys.js';

export const MSG = {
  hello: 1,
  txs: 2,
  proposal: 3,
  prevote: 4,
  precommit: 5,
  status: 6,
  blockRequest: 7,
  blockResponse: 8,
  ping: 9,
  pong: 10,
  relay: 11,
} as const;

export type VoteType = 'prevote' | 'precommit';

export type Message =
  | { readonly type: 'hello'; readonly id: string }
  | { readonly type: 'txs'; readonly txs: Tx[] }
  | {
      readonly type: 'proposal';
      readonly height: number;
      readonly round: number;
      readonly validRound: number;
      readonly pol: readonly string[];
      readonly block: Block;
    }
  | {
      readonly type: VoteType;
      readonly height: number;
      readonly round: number;
      readonly target: VoteTarget | null;
      readonly timeMs: number;
      readonly signature: Buffer;
    }
  | { readonly type: 'status'; readonly height: number }
  | { readonly type: 'block-request'; readonly from: number; readonly max: number }
  | { readonly type: 'block-response'; readonly record: Buffer }
  | { readonly type: 'ping' | 'pong'; readonly sentMs: number }
  | { readonly type: 'relay'; readonly origin: string; readonly sequence: number; readonly inner: Buffer };

export function encodeHello(id: string): Buffer {
  return new Writer(32).u8(MSG.hello).str(id).finish();
}

export function encodeTxs(txs: readonly Buffer[]): Buffer {
  let size = 5;
  for (const tx of txs) size += 4 + tx.length;
  const w = new Writer(size).u8(MSG.txs).u32(txs.length);
  for (const tx of txs) w.lenBytes(tx);
  return w.finish();
}

export function encodeProposal(
  height: number,
  round: number,
  validRound: number,
  pol: readonly string[],
  block: Block,
): Buffer {
  const w = new Writer(block.bytes.length + 32 + 24 * pol.length)
    .u8(MSG.proposal)
    .f64(height)
    .u32(round)
    .i32(validRound);
  w.u8(pol.length);
  for (const id of pol) w.str(id);
  return w.bytes(block.bytes).finish();
}

export function encodeVote(
  type: VoteType,
  height: number,
  round: number,
  target: VoteTarget | null,
  timeMs = 0,
  signature: Uint8Array = Buffer.alloc(0),
): Buffer {
  const w = new Writer(160)
    .u8(type === 'prevote' ? MSG.prevote : MSG.precommit)
    .f64(height)
    .u32(round);
  if (target === null) w.u8(0);
  else w.u8(1).bytes(target.hash).bytes(target.partsHash);
  return w.f64(timeMs).u8(signature.length).bytes(signature).finish();
}

export function encodeStatus(height: number): Buffer {
  return new Writer(9).u8(MSG.status).f64(height).finish();
}

export function encodeBlockRequest(from: number, max: number): Buffer {
  return new Writer(13).u8(MSG.blockRequest).f64(from).u32(max).finish();
}

export function encodeBlockResponse(record: Buffer): Buffer {
  return new Writer(record.length + 1).u8(MSG.blockResponse).bytes(record).finish();
}

/** PING (or, echoing a PING's `sentMs`, PONG): 9 bytes. */
export function encodePing(type: 'ping' | 'pong', sentMs: number): Buffer {
  return new Writer(9)
    .u8(type === 'ping' ? MSG.ping : MSG.pong)
    .f64(sentMs)
    .finish();
}

/** A consensus frame of `origin`'s, wrapped to travel over nodes that are not its peers. */
export function encodeRelay(origin: string, sequence: number, inner: Buffer): Buffer {
  return new Writer(inner.length + 48).u8(MSG.relay).str(origin).f64(sequence).bytes(inner).finish();
}

/** Decodes one frame body. Throws DecodeError on malformed input. */
export function decodeMessage(frame: Buffer): Message {
  const r = new Reader(frame);
  const type = r.u8();
  switch (type) {
    case MSG.hello: {
      const id = r.str();
      r.done();
      return { type: 'hello', id };
    }
    case MSG.txs: {
      const count = r.u32();
      if (count > r.remaining / 4) throw new DecodeError(`TXS claims ${count} txs in ${r.remaining} bytes`);
      const txs: Tx[] = [];
      for (let i = 0; i < count; i++) txs.push(makeTx(r.lenBytes()));
      r.done();
      return { type: 'txs', txs };
    }
    case MSG.proposal: {
      const height = r.uint();
      const round = r.u32();
      const validRound = r.i32();
      const pol: string[] = [];
      const n = r.u8();
      for (let i = 0; i < n; i++) pol.push(r.str());
      const block = decodeBlock(r.rest());
      return { type: 'proposal', height, round, validRound, pol, block };
    }
    case MSG.prevote:
    case MSG.precommit: {
      const height = r.uint();
      const round = r.u32();
      const target = r.u8() === 1 ? { hash: r.bytes(32), partsHash: r.bytes(32) } : null;
      const timeMs = r.f64();
      const signature = r.bytes(r.u8());
      r.done();
      return {
        type: type === MSG.prevote ? 'prevote' : 'precommit',
        height,
        round,
        target,
        timeMs,
        signature,
      };
    }
    case MSG.status: {
      const height = r.uint();
      r.done();
      return { type: 'status', height };
    }
    case MSG.blockRequest: {
      const from = r.uint();
      const max = r.u32();
      r.done();
      return { type: 'block-request', from, max };
    }
    case MSG.blockResponse:
      return { type: 'block-response', record: r.rest() };
    case MSG.ping:
    case MSG.pong: {
      const sentMs = r.f64();
      r.done();
      return { type: type === MSG.ping ? 'ping' : 'pong', sentMs };
    }
    case MSG.relay: {
      const origin = r.str();
      const sequence = r.f64();
      return { type: 'relay', origin, sequence, inner: r.rest() };
    }
    default:
      throw new DecodeError(`unknown message type ${type}`);
  }
}
