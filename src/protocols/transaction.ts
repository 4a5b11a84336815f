/**
 * One transaction as the protocols see it, and its hash (CometBFT's convention, which
 * the generator uses to match commits for every protocol).
 */
import { createHash } from 'node:crypto';

export interface Transaction {
  /** The raw bytes (a view of a reused buffer: copy before keeping it). */
  readonly bytes: Buffer;
  readonly base64: string;
}

/** CometBFT's tx hash: uppercase hex SHA-256 of the tx bytes. */
export function txHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').toUpperCase();
}
