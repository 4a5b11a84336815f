/**
 * The Tendermint state machine alone, with in-memory deps: what a node sends, and what it
 * remembers across a restart (the WAL state handed back to a new instance).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Block, type CommittedBlock, ZERO_HASH, buildBlock, makeTx } from '../src/block.js';
import { Consensus, quorumOf } from '../src/consensus.js';
import { createLogger } from '../src/log.js';
import { decodeMessage } from '../src/messages.js';
import type { WalState } from '../src/store.js';

const committee = ['node0', 'node1', 'node2', 'node3'];
const running: Consensus[] = [];
afterEach(() => {
  for (const c of running.splice(0)) c.stop();
});

interface Harness {
  readonly consensus: Consensus;
  readonly sent: ReturnType<typeof decodeMessage>[];
  readonly persisted: WalState[];
  readonly committed: CommittedBlock[];
}

function harness(selfId: string, recovered?: WalState): Harness {
  const sent: ReturnType<typeof decodeMessage>[] = [];
  const persisted: WalState[] = [];
  const committed: CommittedBlock[] = [];
  const consensus = new Consensus({
    selfId,
    committee,
    config: {
      blockIntervalMs: 0,
      emptyBlockIntervalMs: 10_000,
      viewTimeoutMs: 60_000,
      maxBlockTxs: 100,
      maxBlockBytes: 1 << 20,
    },
    log: createLogger(selfId, 'error', () => {}),
    now: () => Date.now(),
    broadcast: (frame) => sent.push(decodeMessage(frame)),
    sendTo: () => {},
    persist: (s) => persisted.push(s),
    reap: () => [],
    hasTxs: () => false,
    validate: () => undefined,
    commit: (cb) => committed.push(cb),
    lastCommitted: () => ({ height: 0, hash: ZERO_HASH, atMs: 0 }),
  });
  running.push(consensus);
  consensus.start(recovered);
  return { consensus, sent, persisted, committed };
}

const block = (tag: string): Block => buildBlock(1, ZERO_HASH, 0, 'x', [makeTx(Buffer.from(tag))]);
const votes = (h: Harness, type: string, round: number) =>
  h.sent
    .filter((m) => m.type === type && 'round' in m && m.round === round)
    .map((m) => ('target' in m ? (m.target?.hash.toString('hex') ?? 'nil') : '?'));

describe('Consensus (Tendermint)', () => {
  it('decides with more than two thirds of the committee, so two halves never both decide', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 16].map(quorumOf)).toEqual([1, 2, 3, 3, 4, 5, 5, 6, 11]);
    for (let n = 1; n <= 100; n++) {
      const f = Math.floor((n - 1) / 3);
      // any two quorums share a correct member, and the n - f live members are a quorum
      expect(2 * quorumOf(n) - n, `n = ${n}`).toBeGreaterThanOrEqual(f + 1);
      expect(quorumOf(n), `n = ${n}`).toBeLessThanOrEqual(n - f);
    }
  });

  it('prevotes a valid proposal, locks and precommits on 2f+1 prevotes, decides on 2f+1 precommits', () => {
    // Height 1, round 0: the proposer is committee[(1 + 0) % 4] = node1.
    const h = harness('node3');
    const b = block('a');
    h.consensus.onProposal('node1', 1, 0, -1, [], b, Buffer.alloc(0));
    expect(votes(h, 'prevote', 0)).toEqual([b.hash.toString('hex')]);
    h.consensus.onVote('node0', 'prevote', 1, 0, b.hash);
    expect(votes(h, 'precommit', 0)).toEqual([]);
    h.consensus.onVote('node1', 'prevote', 1, 0, b.hash);
    expect(votes(h, 'precommit', 0)).toEqual([b.hash.toString('hex')]);
    // Locked before the precommit left: the WAL state says so.
    expect(h.persisted.at(-1)).toMatchObject({ height: 1, round: 0, lockedRound: 0, validRound: 0 });
    expect(h.persisted.at(-1)?.lockedHash?.equals(b.hash)).toBe(true);
    h.consensus.onVote('node0', 'precommit', 1, 0, b.hash);
    expect(h.committed).toEqual([]);
    h.consensus.onVote('node1', 'precommit', 1, 0, b.hash);
    expect(h.committed.map((c) => [c.block.hashHex, c.commitRound, c.signers])).toEqual([
      [b.hashHex, 0, ['node0', 'node1', 'node3']],
    ]);
    expect(h.consensus.height).toBe(2);
  });

  it('after a restart keeps its lock, never votes again in the rounds it used, and re-proposes with the proof', () => {
    const first = harness('node3');
    const b = block('locked');
    first.consensus.onProposal('node1', 1, 0, -1, [], b, Buffer.alloc(0));
    first.consensus.onVote('node0', 'prevote', 1, 0, b.hash);
    first.consensus.onVote('node1', 'prevote', 1, 0, b.hash);
    expect(votes(first, 'precommit', 0)).toEqual([b.hash.toString('hex')]);
    const wal = first.persisted.at(-1) as WalState;
    first.consensus.stop(); // crash

    const again = harness('node3', wal);
    expect(again.consensus.round).toBe(1); // resumes after the last round it used
    // Round 1's proposer (node2) proposes another block: a node locked on b must prevote nil.
    const other = block('other');
    again.consensus.onProposal('node2', 1, 1, -1, [], other, Buffer.alloc(0));
    expect(votes(again, 'prevote', 1)).toEqual(['nil']);
    // Messages of round 0 can no longer make it vote in round 0.
    again.consensus.onProposal('node1', 1, 0, -1, [], other, Buffer.alloc(0));
    expect(votes(again, 'prevote', 0)).toEqual([]);
    // Round 2 is node3's: it re-proposes b with validRound 0 and the 2f+1 prevoters as proof.
    for (const id of ['node0', 'node1']) again.consensus.onVote(id, 'prevote', 1, 2, null);
    expect(again.consensus.round).toBe(2);
    const proposal = again.sent.find((m) => m.type === 'proposal');
    expect(proposal).toMatchObject({
      type: 'proposal',
      round: 2,
      validRound: 0,
      pol: ['node0', 'node1', 'node3'],
    });
    expect(proposal?.type === 'proposal' && proposal.block.hashHex).toBe(b.hashHex);
  });

  it('accepts a re-proposal backed by a proof of lock it did not see itself (L28)', () => {
    const h = harness('node0');
    const b = block('b');
    // Round 1 (proposer node2) re-proposes b, valid in round 0, with 3 prevoters as proof.
    for (const id of ['node2', 'node3']) h.consensus.onVote(id, 'prevote', 1, 1, null);
    expect(h.consensus.round).toBe(1);
    h.consensus.onProposal('node2', 1, 1, 0, ['node1', 'node2', 'node3'], b, Buffer.alloc(0));
    expect(votes(h, 'prevote', 1)).toEqual([b.hash.toString('hex')]);
  });
});
