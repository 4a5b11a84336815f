/**
 * Validator keys: one ed25519 key per node, derived deterministically from its id, so every
 * member knows every other member's public key from the committee list alone (no key files to
 * distribute). The address is the first 20 bytes of SHA-256 of the public key, as CometBFT
 * derives it: upper-case hex for the validator address, lower-case hex for the node id.
 *
 * The private key is SHA-256("meshbench-refnode/ed25519/v1/" + id) used as the ed25519 seed:
 * anyone who knows a node's id can derive its key. The signatures give the refnode the CPU
 * cost and the shapes of a signing BFT node; they do not defend against a Byzantine peer
 * (systems/refnode/README.md, "Crash-fault model").
 *
 * Votes are signed over CometBFT's CanonicalVote (type, height, round, block id with its part
 * set header, timestamp, chain id), length-delimited as CometBFT signs it.
 */
import { type KeyObject, createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { ProtoWriter, merkleRoot, timestamp } from './comet-encoding.js';

export const CHAIN_ID = 'meshbench-refnode';
/** Every validator's voting power. */
export const VOTING_POWER = 1;

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SEED_CONTEXT = 'meshbench-refnode/ed25519/v1/';

export interface ValidatorKey {
  /** The refnode id (also the moniker). */
  readonly id: string;
  /** The raw 32-byte ed25519 public key. */
  readonly publicKey: Buffer;
  /** First 20 bytes of SHA-256(publicKey). */
  readonly address: Buffer;
  /** `address` in upper-case hex (validator address). */
  readonly addressHex: string;
  /** `address` in lower-case hex (CometBFT node id). */
  readonly nodeId: string;
  readonly verifyKey: KeyObject;
}

export interface SigningKey extends ValidatorKey {
  readonly privateKey: KeyObject;
}

export function deriveKey(id: string): SigningKey {
  const seed = createHash('sha256')
    .update(SEED_CONTEXT + id)
    .digest();
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const verifyKey = createPublicKey(privateKey);
  const spki = verifyKey.export({ format: 'der', type: 'spki' });
  const publicKey = Buffer.from(spki.subarray(spki.length - 32));
  const address = createHash('sha256').update(publicKey).digest().subarray(0, 20);
  const hex = address.toString('hex');
  return { id, publicKey, address, addressHex: hex.toUpperCase(), nodeId: hex, verifyKey, privateKey };
}

/**
 * The committee as CometBFT orders a validator set: by voting power (all equal here), then by
 * address. `hash` is the header's validators_hash: the merkle root of each validator's
 * SimpleValidator (public key, voting power) protobuf.
 */
export class ValidatorSet {
  readonly validators: readonly SigningKey[];
  readonly hash: Buffer;
  private readonly byId = new Map<string, SigningKey>();
  private readonly indexById = new Map<string, number>();

  constructor(committee: readonly string[]) {
    const keys = committee.map(deriveKey);
    keys.sort((a, b) => Buffer.compare(a.address, b.address));
    this.validators = keys;
    keys.forEach((k, i) => {
      this.byId.set(k.id, k);
      this.indexById.set(k.id, i);
    });
    this.hash = merkleRoot(
      keys.map((k) => {
        const pubKey = new ProtoWriter().bytesField(1, k.publicKey).finish(); // PublicKey{ed25519}
        return new ProtoWriter().bytesField(1, pubKey).varintField(2, VOTING_POWER).finish();
      }),
    );
  }

  get(id: string): SigningKey | undefined {
    return this.byId.get(id);
  }

  /** The key of any id (members from the set, others derived). */
  keyOf(id: string): SigningKey {
    return this.byId.get(id) ?? deriveKey(id);
  }

  /** Position in the set (CometBFT's validator_index), or -1. */
  indexOf(id: string): number {
    return this.indexById.get(id) ?? -1;
  }
}

export type SignedVoteType = 'prevote' | 'precommit';

/** What a vote names: the block (hash and part set hash), or nil. */
export interface VoteTarget {
  readonly hash: Buffer;
  readonly partsHash: Buffer;
}

/** CometBFT's sign bytes of a vote: the length-delimited CanonicalVote protobuf. */
export function voteSignBytes(
  type: SignedVoteType,
  height: number,
  round: number,
  target: VoteTarget | null,
  timeMs: number,
  chainId = CHAIN_ID,
): Buffer {
  const w = new ProtoWriter()
    .varintField(1, type === 'prevote' ? 1 : 2)
    .sfixed64Field(2, height)
    .sfixed64Field(3, round);
  if (target !== null) {
    const partSetHeader = new ProtoWriter().varintField(1, 1).bytesField(2, target.partsHash).finish();
    const blockId = new ProtoWriter().bytesField(1, target.hash).bytesField(2, partSetHeader, true).finish();
    w.bytesField(4, blockId, true);
  }
  return w.bytesField(5, timestamp(timeMs), true).bytesField(6, Buffer.from(chainId)).finishDelimited();
}

export function signBytes(key: SigningKey, bytes: Buffer): Buffer {
  return sign(null, bytes, key.privateKey);
}

export function verifyBytes(key: ValidatorKey, bytes: Buffer, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return verify(null, bytes, key.verifyKey, signature);
  } catch {
    return false;
  }
}
