/**
 * Persistent state in the data dir:
 *   blocks.log         committed blocks with their commit certificates, one framed record per height
 *   consensus-wal.log  the consensus state that must survive a crash (height, last round used, lock)
 * Both are FramedLogs (length + CRC-32 per record; a torn tail is truncated on open).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type CommittedBlock, ZERO_HASH, decodeCommitted, encodeCommitted, sha256 } from './block.js';
import { Reader, Writer } from './codec.js';
import { FramedLog } from './framed-log.js';

const RECENT_BLOCKS = 16;
/** Index entries pack (height, index) into one number: height * 2^20 + index. */
const INDEX_SHIFT = 2 ** 20;

export interface TxLocation {
  readonly height: number;
  readonly index: number;
}

export class BlockStore {
  private readonly offsets: number[] = [0]; // offsets[h] = file offset of height h (index 0 unused)
  private readonly txIndex = new Map<string, number>();
  private readonly recent = new Map<number, CommittedBlock>();
  private lastHashValue: Buffer = ZERO_HASH;
  private lastTimeMs = 0;
  private first: { hashHex: string; timeMs: number } | undefined;
  /** Bytes cut off a torn tail when opened. */
  readonly truncatedBytes: number;

  private constructor(
    private readonly log: FramedLog,
    truncatedBytes: number,
  ) {
    this.truncatedBytes = truncatedBytes;
  }

  static open(dataDir: string, fsync: boolean): BlockStore {
    mkdirSync(dataDir, { recursive: true });
    const opened = FramedLog.open(join(dataDir, 'blocks.log'), { fsync });
    const store = new BlockStore(opened.log, opened.truncatedBytes);
    for (const record of opened.records) {
      const cb = decodeCommitted(record.payload);
      if (cb.block.height !== store.height + 1) {
        throw new Error(
          `blocks.log: record at offset ${record.offset} has height ${cb.block.height}, expected ${store.height + 1}`,
        );
      }
      store.index(cb, record.offset);
    }
    return store;
  }

  get height(): number {
    return this.offsets.length - 1;
  }

  get lastHash(): Buffer {
    return this.lastHashValue;
  }

  get lastBlockTimeMs(): number {
    return this.lastTimeMs;
  }

  /** Hash and time of block 1 (status' earliest_block_*), without reading it again. */
  get earliest(): { hashHex: string; timeMs: number } | undefined {
    return this.first;
  }

  get committedTxCount(): number {
    return this.txIndex.size;
  }

  /** Appends the next block (height must be `height + 1`). Durable on return when fsync is on. */
  append(cb: CommittedBlock): void {
    if (cb.block.height !== this.height + 1)
      throw new Error(`append of height ${cb.block.height} at store height ${this.height}`);
    const offset = this.log.append(encodeCommitted(cb));
    this.index(cb, offset);
  }

  private index(cb: CommittedBlock, offset: number): void {
    const { block } = cb;
    this.offsets.push(offset);
    const base = block.height * INDEX_SHIFT;
    for (let i = 0; i < block.txs.length; i++)
      this.txIndex.set((block.txs[i] as { hash: string }).hash, base + i);
    this.first ??= { hashHex: block.hashHex, timeMs: block.timeMs };
    this.lastHashValue = block.hash;
    this.lastTimeMs = block.timeMs;
    this.recent.set(block.height, cb);
    this.recent.delete(block.height - RECENT_BLOCKS);
  }

  isCommitted(hash: string): boolean {
    return this.txIndex.has(hash);
  }

  txLocation(hash: string): TxLocation | undefined {
    const packed = this.txIndex.get(hash);
    if (packed === undefined) return undefined;
    return { height: Math.floor(packed / INDEX_SHIFT), index: packed % INDEX_SHIFT };
  }

  get(height: number): CommittedBlock | undefined {
    if (height < 1 || height > this.height) return undefined;
    const cached = this.recent.get(height);
    if (cached !== undefined) return cached;
    return decodeCommitted(this.log.read(this.offsets[height] as number));
  }

  /** The encoded record at `height` (for block sync), without decoding. */
  getEncoded(height: number): Buffer | undefined {
    if (height < 1 || height > this.height) return undefined;
    const cached = this.recent.get(height);
    if (cached !== undefined) return encodeCommitted(cached);
    return this.log.read(this.offsets[height] as number);
  }

  syncAsync(): Promise<void> {
    return this.log.syncAsync();
  }

  close(flush = true): void {
    this.log.close(flush);
  }
}

/**
 * What the consensus WAL keeps: enough to never send two different messages in one round, to
 * keep a lock, and to re-propose the valid value with its proof (liveness after a restart).
 */
export interface WalState {
  readonly height: number;
  /** The highest round in which this node may have sent a message at `height`. */
  readonly round: number;
  readonly lockedRound: number;
  readonly lockedHash: Buffer | null;
  readonly validRound: number;
  readonly validHash: Buffer | null;
  /** The nodes whose prevotes for the valid value in `validRound` this node saw (2f+1). */
  readonly pol: readonly string[];
  /** Bytes of the valid block (written once per value; recovered with the state). */
  readonly validBlockBytes: Buffer | null;
}

export function encodeWalState(s: WalState, withBlock: boolean): Buffer {
  const w = new Writer(128 + (withBlock && s.validBlockBytes !== null ? s.validBlockBytes.length : 0));
  w.f64(s.height).u32(s.round).i32(s.lockedRound);
  if (s.lockedHash === null) w.u8(0);
  else w.u8(1).bytes(s.lockedHash);
  w.i32(s.validRound);
  if (s.validHash === null) w.u8(0);
  else w.u8(1).bytes(s.validHash);
  w.u8(s.pol.length);
  for (const id of s.pol) w.str(id);
  if (withBlock && s.validBlockBytes !== null) w.u8(1).lenBytes(s.validBlockBytes);
  else w.u8(0);
  return w.finish();
}

export function decodeWalState(bytes: Buffer): WalState {
  const r = new Reader(bytes);
  const height = r.uint();
  const round = r.u32();
  const lockedRound = r.i32();
  const lockedHash = r.u8() === 1 ? Buffer.from(r.bytes(32)) : null;
  const validRound = r.i32();
  const validHash = r.u8() === 1 ? Buffer.from(r.bytes(32)) : null;
  const pol: string[] = [];
  const n = r.u8();
  for (let i = 0; i < n; i++) pol.push(r.str());
  const validBlockBytes = r.u8() === 1 ? r.lenBytes() : null;
  r.done();
  return { height, round, lockedRound, lockedHash, validRound, validHash, pol, validBlockBytes };
}

const WAL_COMPACT_BYTES = 64 * 1024 * 1024;

export class ConsensusWal {
  /** SHA-256 of the block bytes last written to this file (written once per value). */
  private writtenBlock: Buffer | null;

  private constructor(
    private log: FramedLog,
    private readonly path: string,
    private readonly fsync: boolean,
    readonly recovered: WalState | undefined,
  ) {
    this.writtenBlock = recovered?.validBlockBytes != null ? sha256(recovered.validBlockBytes) : null;
  }

  static open(dataDir: string, fsync: boolean): ConsensusWal {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, 'consensus-wal.log');
    const opened = FramedLog.open(path, { fsync });
    let last: WalState | undefined;
    let block: Buffer | null = null;
    for (const record of opened.records) {
      const state = decodeWalState(record.payload);
      if (state.validBlockBytes !== null) block = state.validBlockBytes;
      last = state;
    }
    // The valid block's bytes come from the latest record that carried them.
    const recovered =
      last === undefined
        ? undefined
        : {
            ...last,
            validBlockBytes:
              last.validHash !== null && block !== null && sha256(block).equals(last.validHash)
                ? block
                : null,
          };
    return new ConsensusWal(opened.log, path, fsync, recovered);
  }

  /**
   * Appends a state. Durable on return when opened with fsync; otherwise durable after the next
   * `syncAsync()`. Messages it covers must not be sent before it is durable.
   */
  write(s: WalState): void {
    const needsBlock =
      s.validHash !== null && (this.writtenBlock === null || !this.writtenBlock.equals(s.validHash));
    if (this.log.size < WAL_COMPACT_BYTES) {
      this.log.append(encodeWalState(s, needsBlock));
      if (needsBlock) this.writtenBlock = s.validHash;
      return;
    }
    // Compact: a fresh file holding only this state (with its block) replaces the old one atomically.
    const tmp = `${this.path}.tmp`;
    rmSync(tmp, { force: true });
    const fresh = FramedLog.open(tmp, { fsync: this.fsync });
    fresh.log.append(encodeWalState(s, true));
    fresh.log.close(); // flushes
    this.log.close();
    renameSync(tmp, this.path);
    fsyncDir(dirname(this.path));
    this.log = FramedLog.open(this.path, { fsync: this.fsync }).log;
    this.writtenBlock = s.validHash;
  }

  syncAsync(): Promise<void> {
    return this.log.syncAsync();
  }

  close(flush = true): void {
    this.log.close(flush);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
