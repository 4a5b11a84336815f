import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CommittedBlock, ZERO_HASH, buildBlock, makeTx } from '../src/block.js';
import { FramedLog } from '../src/framed-log.js';
import { BlockStore, ConsensusWal } from '../src/store.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'refnode-store-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function chain(count: number, txsPerBlock = 3): CommittedBlock[] {
  const out: CommittedBlock[] = [];
  let prev: Buffer = ZERO_HASH;
  for (let h = 1; h <= count; h++) {
    const txs = Array.from({ length: txsPerBlock }, (_, i) => makeTx(Buffer.from(`tx-${h}-${i}`)));
    const block = buildBlock(h, prev, 1_700_000_000_000 + h, 'node0', txs);
    out.push({ block, commitRound: 0, signers: ['node0', 'node1', 'node2'] });
    prev = block.hash;
  }
  return out;
}

describe('FramedLog', () => {
  it('reads back what it appended, across reopen', () => {
    const path = join(tempDir(), 'x.log');
    const { log } = FramedLog.open(path, { fsync: true });
    log.append(Buffer.from('one'));
    log.append(Buffer.alloc(0));
    log.append(Buffer.from('three'));
    log.close();
    const reopened = FramedLog.open(path, { fsync: true });
    expect(reopened.records.map((r) => r.payload.toString())).toEqual(['one', '', 'three']);
    expect(reopened.truncatedBytes).toBe(0);
    reopened.log.close();
  });

  it('truncates a torn last record (short write) and keeps appending after it', () => {
    const path = join(tempDir(), 'x.log');
    const { log } = FramedLog.open(path, { fsync: false });
    log.append(Buffer.from('first'));
    log.append(Buffer.from('second record'));
    log.close();
    const full = statSync(path).size;
    truncateSync(path, full - 4); // crash in the middle of the last append
    const reopened = FramedLog.open(path, { fsync: false });
    expect(reopened.records.map((r) => r.payload.toString())).toEqual(['first']);
    expect(reopened.truncatedBytes).toBe(8 + 'second record'.length - 4);
    expect(statSync(path).size).toBe(8 + 'first'.length);
    reopened.log.append(Buffer.from('third'));
    reopened.log.close();
    expect(FramedLog.open(path, { fsync: false }).records.map((r) => r.payload.toString())).toEqual([
      'first',
      'third',
    ]);
  });

  it('truncates a last record whose checksum fails (garbage tail)', () => {
    const path = join(tempDir(), 'x.log');
    const { log } = FramedLog.open(path, { fsync: false });
    log.append(Buffer.from('good'));
    log.close();
    const bytes = readFileSync(path);
    // A frame header claiming 4 bytes with a wrong CRC, then 4 bytes.
    appendFileSync(path, Buffer.from([0, 0, 0, 4, 1, 2, 3, 4, 9, 9, 9, 9]));
    const reopened = FramedLog.open(path, { fsync: false });
    expect(reopened.records.map((r) => r.payload.toString())).toEqual(['good']);
    expect(readFileSync(path)).toEqual(bytes);
    reopened.log.close();
  });
});

describe('BlockStore', () => {
  it('persists blocks and the tx index and serves them after reopen', () => {
    const dir = tempDir();
    const store = BlockStore.open(dir, true);
    const blocks = chain(5);
    for (const cb of blocks) store.append(cb);
    expect(store.height).toBe(5);
    store.close();

    const again = BlockStore.open(dir, true);
    expect(again.height).toBe(5);
    expect(again.lastHash.equals((blocks[4] as CommittedBlock).block.hash)).toBe(true);
    expect(again.txLocation((blocks[2] as CommittedBlock).block.txs[1]!.hash)).toEqual({
      height: 3,
      index: 1,
    });
    expect(again.get(2)?.block.hashHex).toBe((blocks[1] as CommittedBlock).block.hashHex);
    expect(again.get(2)?.signers).toEqual(['node0', 'node1', 'node2']);
    expect(again.committedTxCount).toBe(15);
    expect(() => again.append(blocks[0] as CommittedBlock)).toThrow(/height 1 at store height 5/);
    again.close();
  });

  it('recovers from a crash during the last append: the torn block is gone, the rest is intact', () => {
    const dir = tempDir();
    const store = BlockStore.open(dir, false);
    const blocks = chain(4);
    for (const cb of blocks) store.append(cb);
    store.close(false);
    const file = join(dir, 'blocks.log');
    truncateSync(file, statSync(file).size - 10);
    const recovered = BlockStore.open(dir, false);
    expect(recovered.truncatedBytes).toBeGreaterThan(0);
    expect(recovered.height).toBe(3);
    expect(recovered.isCommitted((blocks[3] as CommittedBlock).block.txs[0]!.hash)).toBe(false);
    recovered.append(blocks[3] as CommittedBlock);
    expect(recovered.height).toBe(4);
    recovered.close();
  });
});

describe('ConsensusWal', () => {
  const base = {
    lockedRound: -1,
    lockedHash: null,
    validRound: -1,
    validHash: null,
    pol: [],
    validBlockBytes: null,
  };

  it('recovers the last state written, with the valid block, and survives compaction', () => {
    const dir = tempDir();
    const wal = ConsensusWal.open(dir, false);
    expect(wal.recovered).toBeUndefined();
    const block = buildBlock(9000, ZERO_HASH, 1, 'node1', [makeTx(Buffer.alloc(600_000, 1))]);
    // Enough writes to pass the compaction threshold (64 MiB): a new valid block every 10 states.
    for (let i = 0; i < 1200; i++) {
      const b = buildBlock(10 + i, ZERO_HASH, i, 'node0', [makeTx(Buffer.alloc(100_000, i % 256))]);
      wal.write({
        ...base,
        height: 10 + Math.floor(i / 10),
        round: i % 10,
        validRound: 0,
        validHash: b.hash,
        pol: ['node0'],
        validBlockBytes: b.bytes,
      });
    }
    const state = {
      height: 9000,
      round: 3,
      lockedRound: 2,
      lockedHash: block.hash,
      validRound: 2,
      validHash: block.hash,
      pol: ['node0', 'node1', 'node3'],
      validBlockBytes: block.bytes,
    };
    wal.write(state);
    // Same value again: the block bytes are not written twice, but still recovered.
    wal.write({ ...state, round: 4 });
    wal.close();
    expect(statSync(join(dir, 'consensus-wal.log')).size).toBeLessThan(64 * 1024 * 1024 + 200_000);
    const again = ConsensusWal.open(dir, false);
    expect(again.recovered).toMatchObject({
      height: 9000,
      round: 4,
      lockedRound: 2,
      validRound: 2,
      pol: ['node0', 'node1', 'node3'],
    });
    expect(again.recovered?.validBlockBytes?.equals(block.bytes)).toBe(true);
    expect(again.recovered?.lockedHash?.equals(block.hash)).toBe(true);
    again.close();
  });

  it('ignores a torn last WAL record and keeps the one before', () => {
    const dir = tempDir();
    const wal = ConsensusWal.open(dir, false);
    wal.write({ ...base, height: 4, round: 0 });
    wal.write({ ...base, height: 4, round: 1, lockedRound: 1, lockedHash: Buffer.alloc(32, 1) });
    wal.close();
    const file = join(dir, 'consensus-wal.log');
    writeFileSync(file, readFileSync(file).subarray(0, statSync(file).size - 3));
    expect(ConsensusWal.open(dir, false).recovered).toEqual({ ...base, height: 4, round: 0 });
  });
});
