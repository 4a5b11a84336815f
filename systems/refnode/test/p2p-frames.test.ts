import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from '../src/p2p.js';

function frame(payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length, 0);
  return Buffer.concat([header, payload]);
}

describe('FrameDecoder', () => {
  it('yields the same frames however the stream is split into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 50 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map((p) => frame(Buffer.from(p))));
          const got: string[] = [];
          const decoder = new FrameDecoder((f) => got.push(Buffer.from(f).toString('hex')));
          let pos = 0;
          let i = 0;
          while (pos < stream.length) {
            const size = cuts[i++ % cuts.length] as number;
            decoder.push(stream.subarray(pos, pos + size));
            pos += size;
          }
          expect(got).toEqual(payloads.map((p) => Buffer.from(p).toString('hex')));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a frame over the limit', () => {
    const decoder = new FrameDecoder(() => {}, 10);
    expect(() => decoder.push(frame(Buffer.alloc(11)))).toThrow(/frame of 11 bytes exceeds 10/);
  });
});

describe('decodeMessage', () => {
  it('decodes what it encodes and throws only DecodeError on random bytes (fuzz)', async () => {
    const { decodeMessage, encodeVote, encodeStatus, encodeTxs } = await import('../src/messages.js');
    const { DecodeError } = await import('../src/codec.js');
    const target = { hash: Buffer.alloc(32, 3), partsHash: Buffer.alloc(32, 4) };
    const signature = Buffer.alloc(64, 5);
    expect(decodeMessage(encodeVote('precommit', 5, 2, target, 1234.5, signature))).toEqual({
      type: 'precommit',
      height: 5,
      round: 2,
      target,
      timeMs: 1234.5,
      signature,
    });
    expect(decodeMessage(encodeVote('prevote', 5, 2, null))).toMatchObject({
      target: null,
      signature: Buffer.alloc(0),
    });
    expect(decodeMessage(encodeStatus(9))).toEqual({ type: 'status', height: 9 });
    const txs = decodeMessage(encodeTxs([Buffer.from('a'), Buffer.from('bc')]));
    expect(txs.type === 'txs' && txs.txs.map((t) => t.bytes.toString())).toEqual(['a', 'bc']);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeMessage(Buffer.from(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
