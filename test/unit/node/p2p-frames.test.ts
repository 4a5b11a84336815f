import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../../src/node/p2p.js';

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
