/**
 * The refnode's chain as CometBFT v0.38's RPC shows it: block ids, headers, commits, blocks,
 * block metas, block results, validators, genesis. Pure functions of the stored blocks, the
 * validator set and the block limits; per-block hashes are cached while the block is in memory.
 *
 * Header fields (systems/refnode/README.md, "Blocks as CometBFT shows them"):
 *   last_block_id         the parent's hash and part set header (empty at height 1)
 *   data_hash             merkle root of the txs' SHA-256 hashes (CometBFT's Txs.Hash)
 *   validators_hash       merkle root of the SimpleValidator protobufs (next_validators_hash alike)
 *   consensus_hash        SHA-256 of the HashedParams protobuf (max block bytes, max gas -1)
 *   app_hash              the state after the parent: the refnode's application is its log, named
 *                         by the parent's hash (SHA-256 of nothing for the empty log)
 *   last_results_hash     merkle root of the parent's tx results (all code 0, no data, no gas)
 *   evidence_hash         merkle root of no evidence (SHA-256 of nothing)
 *   last_commit_hash      empty: a refnode block does not carry its parent's commit
 *   proposer_address      the proposer's validator address
 */
import { createHash } from 'node:crypto';
import { type Block, type CommittedBlock, partSetHash } from './block.js';
import { EMPTY_HASH, ProtoWriter, innerHash, leafHash, merkleRoot } from './comet-encoding.js';
import { CHAIN_ID, VOTING_POWER, type ValidatorSet } from './keys.js';

/** CometBFT's block protocol version (v0.38). */
export const BLOCK_PROTOCOL = '11';
export const P2P_PROTOCOL = '8';
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
/** The state of the empty log: SHA-256 of nothing (the genesis app hash). */
export const GENESIS_APP_HASH = EMPTY_HASH;
const BLOCK_ID_FLAG_ABSENT = 1;
const BLOCK_ID_FLAG_COMMIT = 2;

export interface ChainSource {
  /** The committed block at `height`, or undefined. */
  get(height: number): CommittedBlock | undefined;
  readonly height: number;
}

export interface ChainParams {
  readonly validators: ValidatorSet;
  readonly maxBlockBytes: number;
}

export interface BlockIdJson {
  readonly hash: string;
  readonly parts: { readonly total: number; readonly hash: string };
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase();
export const rfc3339 = (ms: number): string => new Date(ms).toISOString();

export const EMPTY_BLOCK_ID: BlockIdJson = { hash: '', parts: { total: 0, hash: '' } };

export function blockId(block: Block): BlockIdJson {
  return { hash: block.hashHex, parts: { total: 1, hash: hex(partSetHash(block)) } };
}

interface BlockHashes {
  dataHash?: string;
  resultsHash?: string;
}
const hashes = new WeakMap<Block, BlockHashes>();

function cached(block: Block): BlockHashes {
  let entry = hashes.get(block);
  if (entry === undefined) {
    entry = {};
    hashes.set(block, entry);
  }
  return entry;
}

/** CometBFT's Data.Hash: the merkle root of the txs' SHA-256 hashes. */
export function dataHash(block: Block): string {
  const entry = cached(block);
  entry.dataHash ??= hex(merkleRoot(block.txs.map((tx) => Buffer.from(tx.hash, 'hex'))));
  return entry.dataHash;
}

const EMPTY_RESULT_LEAF = leafHash(Buffer.alloc(0));

/**
 * The merkle root of a block's tx results as CometBFT hashes them (code, data, gas wanted, gas
 * used): every refnode tx succeeds with code 0 and nothing else, whose protobuf is empty.
 */
export function resultsHash(block: Block): string {
  const entry = cached(block);
  if (entry.resultsHash === undefined) {
    const n = block.txs.length;
    entry.resultsHash = hex(n === 0 ? EMPTY_HASH : rootOfEqualLeaves(n));
  }
  return entry.resultsHash;
}

/** Merkle root over n identical leaves (EMPTY_RESULT_LEAF), memoised by subtree size. */
const equalLeafRoots = new Map<number, Buffer>([[1, EMPTY_RESULT_LEAF]]);
function rootOfEqualLeaves(n: number): Buffer {
  const known = equalLeafRoots.get(n);
  if (known !== undefined) return known;
  let k = 1;
  while (k * 2 < n) k *= 2;
  const left = rootOfEqualLeaves(k);
  const right = rootOfEqualLeaves(n - k);
  const root = innerHash(left, right);
  equalLeafRoots.set(n, root);
  return root;
}

/** SHA-256 of CometBFT's HashedParams protobuf (block max bytes, block max gas = -1). */
export function consensusHash(maxBlockBytes: number): string {
  const bytes = new ProtoWriter().varintField(1, maxBlockBytes).varintField(2, -1).finish();
  return hex(createHash('sha256').update(bytes).digest());
}

export class ChainViews {
  private readonly consensusHashHex: string;
  private readonly validatorsHashHex: string;

  constructor(
    private readonly chain: ChainSource,
    private readonly params: ChainParams,
  ) {
    this.consensusHashHex = consensusHash(params.maxBlockBytes);
    this.validatorsHashHex = hex(params.validators.hash);
  }

  /** The app hash after block `height` (0: the empty log). */
  appHashAfter(height: number): Buffer {
    if (height <= 0) return GENESIS_APP_HASH;
    return this.chain.get(height)?.block.hash ?? GENESIS_APP_HASH;
  }

  header(block: Block): Record<string, unknown> {
    const parent = block.height > 1 ? this.chain.get(block.height - 1)?.block : undefined;
    return {
      version: { block: BLOCK_PROTOCOL, app: '0' },
      chain_id: CHAIN_ID,
      height: String(block.height),
      time: rfc3339(block.timeMs),
      last_block_id: parent === undefined ? EMPTY_BLOCK_ID : blockId(parent),
      last_commit_hash: '',
      data_hash: dataHash(block),
      validators_hash: this.validatorsHashHex,
      next_validators_hash: this.validatorsHashHex,
      consensus_hash: this.consensusHashHex,
      app_hash: hex(parent?.hash ?? GENESIS_APP_HASH),
      last_results_hash: parent === undefined ? '' : resultsHash(parent),
      evidence_hash: hex(EMPTY_HASH),
      proposer_address: this.params.validators.keyOf(block.proposer).addressHex,
    };
  }

  /** A commit certificate in CometBFT's form: one signature entry per validator, in set order. */
  commit(cb: CommittedBlock): Record<string, unknown> {
    const signed = new Map<string, number>();
    cb.signers.forEach((id, i) => signed.set(id, i));
    return {
      height: String(cb.block.height),
      round: cb.commitRound,
      block_id: blockId(cb.block),
      signatures: this.params.validators.validators.map((v) => {
        const i = signed.get(v.id);
        if (i === undefined)
          return {
            block_id_flag: BLOCK_ID_FLAG_ABSENT,
            validator_address: '',
            timestamp: GO_ZERO_TIME,
            signature: null,
          };
        const vote = cb.votes?.[i];
        return {
          block_id_flag: BLOCK_ID_FLAG_COMMIT,
          validator_address: v.addressHex,
          timestamp: rfc3339(vote?.timeMs ?? cb.block.timeMs),
          signature:
            vote === undefined || vote.signature.length === 0 ? null : vote.signature.toString('base64'),
        };
      }),
    };
  }

  /** The block as /block and NewBlock show it; `txsBase64` lets a caller share encoded txs. */
  block(cb: CommittedBlock, txsBase64?: readonly string[]): Record<string, unknown> {
    const { block } = cb;
    const parent = block.height > 1 ? this.chain.get(block.height - 1) : undefined;
    return {
      header: this.header(block),
      data: { txs: txsBase64 ?? block.txs.map((tx) => tx.bytes.toString('base64')) },
      evidence: { evidence: [] },
      last_commit:
        parent === undefined
          ? { height: '0', round: 0, block_id: EMPTY_BLOCK_ID, signatures: [] }
          : this.commit(parent),
    };
  }

  blockMeta(cb: CommittedBlock): Record<string, unknown> {
    return {
      block_id: blockId(cb.block),
      block_size: String(cb.block.bytes.length),
      header: this.header(cb.block),
      num_txs: String(cb.block.txs.length),
    };
  }

  blockResults(cb: CommittedBlock): Record<string, unknown> {
    const n = cb.block.txs.length;
    return {
      height: String(cb.block.height),
      txs_results: n === 0 ? null : Array.from({ length: n }, txResultOk),
      finalize_block_events: [],
      validator_updates: null,
      consensus_param_updates: null,
      app_hash: cb.block.hash.toString('base64'),
    };
  }

  validatorsJson(): Record<string, unknown>[] {
    return this.params.validators.validators.map((v) => ({
      address: v.addressHex,
      pub_key: { type: 'tendermint/PubKeyEd25519', value: v.publicKey.toString('base64') },
      voting_power: String(VOTING_POWER),
      proposer_priority: '0',
    }));
  }

  consensusParams(): Record<string, unknown> {
    return {
      block: { max_bytes: String(this.params.maxBlockBytes), max_gas: '-1' },
      evidence: { max_age_num_blocks: '100000', max_age_duration: '172800000000000', max_bytes: '1048576' },
      validator: { pub_key_types: ['ed25519'] },
      version: { app: '0' },
      abci: { vote_extensions_enable_height: '0' },
    };
  }

  genesis(genesisTimeMs: number): Record<string, unknown> {
    return {
      genesis_time: rfc3339(genesisTimeMs),
      chain_id: CHAIN_ID,
      initial_height: '1',
      consensus_params: this.consensusParams(),
      validators: this.params.validators.validators.map((v) => ({
        address: v.addressHex,
        pub_key: { type: 'tendermint/PubKeyEd25519', value: v.publicKey.toString('base64') },
        power: String(VOTING_POWER),
        name: v.id,
      })),
      app_hash: hex(GENESIS_APP_HASH),
      app_state: {},
    };
  }
}

/** The result of every refnode tx (CometBFT's ExecTxResult of an accepted tx). */
export function txResultOk(): Record<string, unknown> {
  return {
    code: 0,
    data: '',
    log: '',
    info: '',
    gas_wanted: '0',
    gas_used: '0',
    events: [],
    codespace: '',
  };
}

/** `txResultOk()` as JSON text (for events built as strings). */
export const TX_RESULT_OK_JSON = JSON.stringify(txResultOk());
