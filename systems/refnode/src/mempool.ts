/**
 * The mempool: txs waiting for a block, in arrival order, bounded by count and bytes.
 * All operations are O(1) except `reap`, which is O(txs reaped).
 */
import type { Tx } from './block.js';

export type AddResult =
  { ok: true } | { ok: false; reason: 'full' | 'duplicate' | 'committed'; message: string };

export class Mempool {
  private readonly txs = new Map<string, Tx>();
  private bytes = 0;

  constructor(
    readonly maxTxs: number,
    readonly maxBytes: number,
    private readonly isCommitted: (hash: string) => boolean = () => false,
  ) {}

  add(tx: Tx): AddResult {
    if (this.txs.has(tx.hash))
      return { ok: false, reason: 'duplicate', message: 'tx already exists in cache' };
    if (this.isCommitted(tx.hash))
      return { ok: false, reason: 'committed', message: 'tx already exists in cache' };
    if (this.txs.size + 1 > this.maxTxs || this.bytes + tx.bytes.length > this.maxBytes) {
      return {
        ok: false,
        reason: 'full',
        message: `mempool is full: number of txs ${this.txs.size} (max: ${this.maxTxs}), total txs bytes ${this.bytes} (max: ${this.maxBytes})`,
      };
    }
    this.txs.set(tx.hash, tx);
    this.bytes += tx.bytes.length;
    return { ok: true };
  }

  has(hash: string): boolean {
    return this.txs.has(hash);
  }

  remove(hash: string): boolean {
    const tx = this.txs.get(hash);
    if (tx === undefined) return false;
    this.txs.delete(hash);
    this.bytes -= tx.bytes.length;
    return true;
  }

  /** The oldest txs that fit in `maxTxs` and `maxBytes` (they stay in the pool until committed). */
  reap(maxTxs: number, maxBytes: number): Tx[] {
    const out: Tx[] = [];
    let bytes = 0;
    for (const tx of this.txs.values()) {
      if (out.length >= maxTxs) break;
      if (bytes + tx.bytes.length > maxBytes) break;
      out.push(tx);
      bytes += tx.bytes.length;
    }
    return out;
  }

  get size(): number {
    return this.txs.size;
  }

  get sizeBytes(): number {
    return this.bytes;
  }
}
