/**
 * Transactions: unique, of the exact configured size in bytes (before base64),
 * carrying the sequence number, the run id and the intended send time.
 *
 * Layout (ASCII, so key=value apps such as CometBFT's kvstore accept it):
 *   `<seq base36>=<runId>.<intended send time, µs since the epoch, base36>.xxxx…`
 * The sequence number comes first so that even tiny sizes stay unique for as long
 * as the size allows (there are only 36^size distinct txs of `size` bytes). There
 * is exactly one `=`. The rest is filler (`x`). One buffer is reused per generator.
 */

import { MAX_TRANSACTION_SIZE_BYTES } from '../common/defaults.js';

export { MAX_TRANSACTION_SIZE_BYTES };
const FILLER = 0x78; // 'x'

export type { Transaction } from '../protocols/transaction.js';
import type { Transaction } from '../protocols/transaction.js';

export class TransactionFactory {
  private readonly buffer: Buffer;
  private readonly runIdPart: string;
  private lastHeaderLength = 0;
  /** base64 of buffer[fillerFrom..], all filler: made again only when the split point moves. */
  private fillerFrom = -1;
  private fillerText = '';

  constructor(
    private readonly sizeBytes: number,
    runId: string,
  ) {
    if (!Number.isInteger(sizeBytes) || sizeBytes < 1 || sizeBytes > MAX_TRANSACTION_SIZE_BYTES) {
      throw new RangeError(`transaction size ${sizeBytes} is outside 1..${MAX_TRANSACTION_SIZE_BYTES}`);
    }
    this.buffer = Buffer.alloc(sizeBytes, FILLER);
    this.runIdPart = runId.replace(/[^A-Za-z0-9_-]/g, '_');
  }

  /** Builds tx `seq`, intended to be sent at `intendedEpochMicros`. */
  make(seq: number, intendedEpochMicros: number): Transaction {
    const header = `${base36(seq)}=${this.runIdPart}.${base36(Math.floor(intendedEpochMicros))}.`;
    const written = this.buffer.write(header, 0, 'latin1');
    if (written < this.lastHeaderLength) this.buffer.fill(FILLER, written, this.lastHeaderLength);
    this.lastHeaderLength = written;
    // Past the header the bytes are all filler, so base64 (3 bytes to 4 characters, each
    // group on its own) encodes only the header, up to a multiple of 3, and appends the
    // filler's encoding, made again only when that split point moves (the header grows a
    // digit now and then): a ~30-byte encode, not a new ~700-char string per tx at 512 bytes.
    const split = Math.min(this.sizeBytes, Math.ceil(written / 3) * 3);
    return {
      bytes: this.buffer,
      base64: this.buffer.toString('base64', 0, split) + this.fillerBase64(split),
    };
  }

  /** The base64 of the filler from `from` (a multiple of 3) to the end. */
  private fillerBase64(from: number): string {
    if (from !== this.fillerFrom) {
      this.fillerText = this.buffer.toString('base64', from);
      this.fillerFrom = from;
    }
    return this.fillerText;
  }
}

/** 36^5: below 2^31, so both halves of a µs timestamp are small integers. */
const BASE36_LOW = 36 ** 5;

/**
 * `value.toString(36)` for a non-negative integer, the same digits, without V8's
 * double-to-radix conversion (pow and fmod per digit, measurable per tx): a µs
 * timestamp (about 1.8e15) is split into two small integers, which take the fast path.
 * Anything else (negative, fractional, NaN, beyond 2^53) goes to toString as before.
 */
export function base36(value: number): string {
  if (value < BASE36_LOW || !Number.isSafeInteger(value)) return value.toString(36);
  const high = Math.floor(value / BASE36_LOW);
  const low = value - high * BASE36_LOW;
  return base36(high) + low.toString(36).padStart(5, '0');
}

export { txHash } from '../protocols/transaction.js';

/** Reads the sequence number back out of a tx (for tests and diagnostics); undefined if it is not one of ours. */
export function parseTransaction(
  bytes: Uint8Array,
): { seq: number; runId?: string; intendedEpochMicros?: number } | undefined {
  const text = Buffer.from(bytes).toString('latin1');
  const eq = text.indexOf('=');
  if (eq <= 0) return undefined;
  const seq = Number.parseInt(text.slice(0, eq), 36);
  if (!Number.isFinite(seq)) return undefined;
  const [runId, time] = text.slice(eq + 1).split('.');
  return {
    seq,
    ...(runId ? { runId } : {}),
    ...(time ? { intendedEpochMicros: Number.parseInt(time, 36) } : {}),
  };
}
