/**
 * Tendermint consensus (Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus",
 * arXiv:1807.04938, Algorithm 1), for a fixed committee of n nodes with f = floor((n-1)/3)
 * and a quorum of more than two thirds, floor(2n/3) + 1 (CometBFT's rule; the paper's 2f+1
 * where n = 3f+1). Line numbers in comments refer to Algorithm 1 of that paper.
 *
 * Adaptations (see systems/refnode/README.md):
 * - crash-fault model: votes are signed (ed25519, when signing is on) and receivers verify them,
 *   but proposals and proofs of lock are authenticated by the TCP connection only;
 * - the proposer of round 0 waits `blockIntervalMs` after the previous commit (CometBFT's
 *   timeout_commit) and, while the mempool is empty, up to `emptyBlockIntervalMs`;
 * - a WAL entry (height, highest round used, lock) is made durable before any message of a
 *   round is sent; a restarted node resumes at (height, round + 1) with its lock, so it never
 *   sends two different votes in one round and never forgets a lock;
 * - own messages of the current height are re-sent while the round makes no progress and to
 *   peers that (re)connect, since TCP connections can drop messages across reconnects.
 */
import {
  type Block,
  type CommitVote,
  type CommittedBlock,
  type Tx,
  buildBlock,
  decodeBlock,
  partSetHash,
} from './block.js';
import type { VoteTarget } from './keys.js';
import type { Logger } from './log.js';
import { type VoteType, encodeProposal, encodeVote } from './messages.js';
import type { WalState } from './store.js';

type Step = 'propose' | 'prevote' | 'precommit';
type TimerKind = 'propose' | 'prevote' | 'precommit' | 'round';

export interface ConsensusConfig {
  readonly blockIntervalMs: number;
  readonly emptyBlockIntervalMs: number;
  readonly viewTimeoutMs: number;
  readonly maxBlockTxs: number;
  readonly maxBlockBytes: number;
}

export interface ConsensusDeps {
  readonly selfId: string;
  /** All members, sorted by id (leader rotation order). */
  readonly committee: readonly string[];
  readonly config: ConsensusConfig;
  readonly log: Logger;
  readonly now: () => number;
  /** Sends an encoded message to every connected peer. */
  readonly broadcast: (frame: Buffer) => void;
  readonly sendTo: (peerId: string, frame: Buffer) => void;
  /** Makes `state` durable (fsync when on) before it returns. */
  readonly persist: (state: WalState) => void;
  readonly reap: (maxTxs: number, maxBytes: number) => Tx[];
  readonly hasTxs: () => boolean;
  /** Why `block` is invalid as the next block, or undefined. */
  readonly validate: (block: Block) => string | undefined;
  /** Stores and applies a decided block (height = last committed + 1). */
  readonly commit: (cb: CommittedBlock) => void;
  readonly lastCommitted: () => { readonly height: number; readonly hash: Buffer; readonly atMs: number };
  readonly onRoundChange?: (height: number, round: number) => void;
  /** Signs one of this node's votes; absent or an empty result: unsigned (signing off). */
  readonly signVote?: (
    type: VoteType,
    height: number,
    round: number,
    target: VoteTarget | null,
    timeMs: number,
  ) => Buffer;
  /** Why a synced block's commit certificate does not hold (signatures), or undefined. */
  readonly verifyCommit?: (cb: CommittedBlock) => string | undefined;
}

interface Proposal {
  readonly block: Block;
  readonly validRound: number;
  valid: boolean | undefined;
  readonly frame: Buffer;
}

const NO_SIGNATURE = Buffer.alloc(0);

class VoteSet {
  readonly byVoter = new Map<string, string>(); // voter -> hash hex or 'nil'
  readonly counts = new Map<string, number>();
  /** Time and signature of each voter's vote (absent for prevotes taken from a proof of lock). */
  readonly signed = new Map<string, CommitVote>();

  add(voter: string, key: string, vote?: CommitVote): boolean {
    if (this.byVoter.has(voter)) return false; // first vote per voter counts (no equivocation in crash model)
    this.byVoter.set(voter, key);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (vote !== undefined) this.signed.set(voter, vote);
    return true;
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  get total(): number {
    return this.byVoter.size;
  }

  votersFor(key: string): string[] {
    const out: string[] = [];
    for (const [voter, k] of this.byVoter) if (k === key) out.push(voter);
    return out.sort();
  }
}

class HeightState {
  readonly proposals = new Map<number, Proposal>();
  readonly prevotes = new Map<number, VoteSet>();
  readonly precommits = new Map<number, VoteSet>();
  /** The highest round each sender has sent a message in, at this height. */
  readonly senderRound = new Map<string, number>();
  maxRoundSeen = 0;

  votes(type: VoteType, round: number): VoteSet {
    const map = type === 'prevote' ? this.prevotes : this.precommits;
    let set = map.get(round);
    if (set === undefined) {
      set = new VoteSet();
      map.set(round, set);
    }
    return set;
  }

  sawSender(round: number, sender: string): void {
    if (round > (this.senderRound.get(sender) ?? -1)) this.senderRound.set(sender, round);
    if (round > this.maxRoundSeen) this.maxRoundSeen = round;
  }

  /** The highest round R such that at least `count` senders have sent messages in rounds >= R. */
  roundAhead(count: number): number {
    const rounds = [...this.senderRound.values()].sort((x, y) => y - x);
    return rounds.length >= count ? (rounds[count - 1] as number) : -1;
  }
}

const NIL = 'nil';
/** Messages further ahead than this many heights are dropped (block sync covers the gap). */
const FUTURE_HEIGHTS = 2;
const MAX_ROUND = 1_000_000;

/**
 * Votes that decide in a committee of n: more than two thirds, floor(2n/3) + 1. Any two quorums
 * then share at least f + 1 members (one correct), for every n. The paper's 2f + 1 is that only
 * where n = 3f + 1: for 2, 3 or 6 nodes it is a half or less, so two halves that cannot hear
 * each other (a partition, a crashed node) would each decide alone, and the chain would fork.
 */
export function quorumOf(n: number): number {
  return Math.floor((2 * n) / 3) + 1;
}

export class Consensus {
  readonly n: number;
  readonly f: number;
  readonly quorum: number;
  height = 0;
  round = 0;
  step: Step = 'propose';
  private lockedRound = -1;
  private lockedHash: string | null = null;
  private validRound = -1;
  private validBlock: Block | null = null;
  /** 2f+1 nodes that prevoted validBlock in validRound (sent with a re-proposal). */
  private validPol: readonly string[] = [];
  private readonly heights = new Map<number, HeightState>();
  private readonly oncePerRound = new Set<string>();
  private readonly ownFrames: { round: number; frame: Buffer }[] = [];
  private persisted: {
    height: number;
    round: number;
    lockedHash: string | null;
    validHash: string | null;
  } | null = null;
  private readonly timers: Record<TimerKind, NodeJS.Timeout | undefined> = {
    propose: undefined,
    prevote: undefined,
    precommit: undefined,
    round: undefined,
  };
  private proposeTimer: NodeJS.Timeout | undefined;
  private waitingForTxs = false;
  private lastProgressMs = 0;
  private evaluating = false;
  private again = false;
  private stopped = false;
  /** WAL state of a height above the block store, applied when the node gets there. */
  private pendingWal: WalState | undefined;
  /** Decided block hash waiting for its body (fetched by block sync). */
  missingDecision: string | null = null;
  roundChanges = 0;

  constructor(private readonly deps: ConsensusDeps) {
    this.n = deps.committee.length;
    this.f = Math.floor((this.n - 1) / 3);
    this.quorum = quorumOf(this.n);
  }

  /** Starts at the height after the last committed block, resuming from the WAL when it applies. */
  start(recovered: WalState | undefined): void {
    const next = this.deps.lastCommitted().height + 1;
    this.height = next;
    if (recovered !== undefined && recovered.height > next) {
      // The WAL is ahead of the block store: a block was lost in a machine crash (its sync did not
      // finish while the WAL's did). Those heights are decided; this node sends nothing until it
      // has them again (from block sync or the others' precommits), then resumes from the WAL.
      this.pendingWal = recovered;
      this.deps.log.warn(
        `WAL is at height ${recovered.height}, blocks at ${next - 1}: silent until caught up`,
      );
      this.startRound(0);
      return;
    }
    if (recovered !== undefined && recovered.height === next) this.resume(recovered);
    else this.startRound(0);
  }

  private resume(recovered: WalState): void {
    this.lockedRound = recovered.lockedRound;
    this.lockedHash =
      recovered.lockedHash === null ? null : recovered.lockedHash.toString('hex').toUpperCase();
    if (recovered.validBlockBytes !== null && recovered.validRound >= 0) {
      try {
        this.validBlock = decodeBlock(recovered.validBlockBytes);
        this.validRound = recovered.validRound;
        this.validPol = recovered.pol;
      } catch {
        this.deps.log.warn('WAL: the valid block does not decode; continuing without it');
      }
    }
    this.persisted = {
      height: recovered.height,
      round: recovered.round,
      lockedHash: this.lockedHash,
      validHash: this.validBlock?.hashHex ?? null,
    };
    this.deps.log.info(
      `resuming height ${recovered.height} at round ${recovered.round + 1} (locked round ${this.lockedRound}, valid round ${this.validRound})`,
    );
    this.startRound(Math.min(recovered.round + 1, MAX_ROUND));
  }

  /** True while the WAL is ahead of the block store (see start()). */
  private get silent(): boolean {
    return this.pendingWal !== undefined && this.height < this.pendingWal.height;
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
  }

  /** One line about the current height, for logs and test failures. */
  describe(): string {
    const s = this.hs(this.height);
    const votes = (type: VoteType, r: number): string =>
      JSON.stringify(Object.fromEntries(s.votes(type, r).counts));
    const timers = Object.entries(this.timers)
      .filter(([, t]) => t !== undefined)
      .map(([k]) => k)
      .join(',');
    return (
      `h${this.height} r${this.round} ${this.step} locked ${this.lockedRound} valid ${this.validRound} ` +
      `proposal ${s.proposals.has(this.round)} prevotes ${votes('prevote', this.round)} precommits ${votes('precommit', this.round)} ` +
      `maxRoundSeen ${s.maxRoundSeen} timers [${timers}]`
    );
  }

  proposer(height: number, round: number): string {
    return this.deps.committee[(height + round) % this.n] as string;
  }

  private hs(height: number): HeightState {
    let s = this.heights.get(height);
    if (s === undefined) {
      s = new HeightState();
      this.heights.set(height, s);
    }
    return s;
  }

  // ---- inputs -------------------------------------------------------------------------------

  onProposal(
    from: string,
    height: number,
    round: number,
    validRound: number,
    pol: readonly string[],
    block: Block,
    frame: Buffer,
  ): void {
    if (!this.accepts(height) || round > MAX_ROUND) return;
    if (from !== this.proposer(height, round) || block.height !== height || validRound >= round) return;
    const s = this.hs(height);
    s.sawSender(round, from);
    if (s.proposals.has(round)) return;
    s.proposals.set(round, { block, validRound, valid: undefined, frame });
    if (validRound >= 0) {
      // The proposer relays the 2f+1 prevotes of the valid round (crash model: taken as received),
      // so a node that missed them, or restarted, can still accept the re-proposal (L28).
      const prevotes = s.votes('prevote', validRound);
      for (const voter of new Set(pol))
        if (this.deps.committee.includes(voter)) prevotes.add(voter, block.hashHex);
    }
    if (height === this.height) this.evaluate();
  }

  /** A peer's vote (its signature, if any, already verified by the caller). */
  onVote(
    from: string,
    type: VoteType,
    height: number,
    round: number,
    hash: Buffer | null,
    vote?: CommitVote,
  ): void {
    if (!this.accepts(height) || round > MAX_ROUND || !this.deps.committee.includes(from)) return;
    const s = this.hs(height);
    s.sawSender(round, from);
    const added = s
      .votes(type, round)
      .add(from, hash === null ? NIL : hash.toString('hex').toUpperCase(), vote);
    if (added && height === this.height) this.evaluate();
  }

  /** A tx was admitted: a proposer waiting on an empty mempool proposes now. */
  onTxAvailable(): void {
    if (this.waitingForTxs) {
      this.waitingForTxs = false;
      this.tryPropose();
    }
  }

  /** A block decided by the committee, fetched by block sync. Returns false if it does not apply. */
  applySynced(cb: CommittedBlock): boolean {
    if (this.stopped || cb.block.height !== this.height) return false;
    const distinct = new Set(cb.signers.filter((id) => this.deps.committee.includes(id)));
    if (distinct.size < this.quorum) return false;
    const last = this.deps.lastCommitted();
    if (!cb.block.prevHash.equals(last.hash)) return false;
    const invalid = this.deps.verifyCommit?.(cb);
    if (invalid !== undefined) {
      this.deps.log.warn(`block sync: commit certificate of height ${cb.block.height} refused: ${invalid}`);
      return false;
    }
    this.decide(cb);
    this.evaluate();
    return true;
  }

  /** Re-sends this node's messages of the current height if the round is stuck, or to one peer. */
  resend(toPeer?: string): void {
    if (this.stopped) return;
    if (toPeer !== undefined) {
      for (const { frame } of this.ownFrames) this.deps.sendTo(toPeer, frame);
      return;
    }
    if (this.deps.now() - this.lastProgressMs < this.deps.config.viewTimeoutMs / 2) return;
    for (const { round, frame } of this.ownFrames) if (round >= this.round - 1) this.deps.broadcast(frame);
  }

  private accepts(height: number): boolean {
    return !this.stopped && height >= this.height && height <= this.height + FUTURE_HEIGHTS;
  }

  // ---- rules ----------------------------------------------------------------------------------

  private evaluate(): void {
    if (this.evaluating) {
      this.again = true;
      return;
    }
    this.evaluating = true;
    try {
      let guard = 0;
      do {
        this.again = false;
        while (!this.stopped && this.applyOnce()) {
          if (++guard > 10_000) throw new Error('consensus rules did not settle');
        }
      } while (this.again && !this.stopped);
    } finally {
      this.evaluating = false;
    }
  }

  private once(key: string): boolean {
    const full = `${this.height}/${this.round}/${key}`;
    if (this.oncePerRound.has(full)) return false;
    this.oncePerRound.add(full);
    return true;
  }

  private isValid(p: Proposal): boolean {
    if (p.valid === undefined) {
      const reason = this.deps.validate(p.block);
      p.valid = reason === undefined;
      if (reason !== undefined) this.deps.log.warn(`invalid proposal at ${p.block.height}: ${reason}`);
    }
    return p.valid;
  }

  /** Applies the first rule whose condition holds; true if the state changed. */
  private applyOnce(): boolean {
    const s = this.hs(this.height);
    const r = this.round;

    // L49: a proposal of some round with 2f+1 precommits for it -> decide.
    for (const [round, set] of s.precommits) {
      for (const [key, count] of set.counts) {
        if (key === NIL || count < this.quorum) continue;
        const p = this.findProposal(s, key);
        if (p === undefined) {
          if (this.missingDecision !== key)
            this.deps.log.debug(`decided ${key} at ${this.height} but lack the block`);
          this.missingDecision = key;
          continue;
        }
        if (!this.isValid(p)) {
          this.deps.log.error(
            `a quorum precommitted an invalid block at ${this.height}; waiting for block sync`,
          );
          continue;
        }
        const signers = set.votersFor(key);
        const votes = signers.map(
          (id) => set.signed.get(id) ?? { timeMs: p.block.timeMs, signature: NO_SIGNATURE },
        );
        this.decide({ block: p.block, commitRound: round, signers, votes });
        return true;
      }
    }

    // L55: f+1 nodes in higher rounds -> skip ahead. The paper counts f+1 messages of one round
    // r' > r; counting each node's highest round and jumping to the (f+1)-th highest also covers
    // nodes spread over several higher rounds (restarted nodes resume at a later round).
    if (s.maxRoundSeen > r) {
      const ahead = s.roundAhead(this.f + 1);
      if (ahead > r) {
        this.startRound(Math.min(ahead, MAX_ROUND));
        return true;
      }
    }

    const proposal = s.proposals.get(r);
    if (this.step === 'propose' && proposal !== undefined) {
      if (proposal.validRound === -1) {
        // L22
        const ok =
          this.isValid(proposal) && (this.lockedRound === -1 || this.lockedHash === proposal.block.hashHex);
        this.sendVote('prevote', ok ? proposal.block : null);
        this.setStep('prevote');
        return true;
      }
      const vr = proposal.validRound;
      if (vr >= 0 && vr < r && s.votes('prevote', vr).count(proposal.block.hashHex) >= this.quorum) {
        // L28
        const ok =
          this.isValid(proposal) && (this.lockedRound <= vr || this.lockedHash === proposal.block.hashHex);
        this.sendVote('prevote', ok ? proposal.block : null);
        this.setStep('prevote');
        return true;
      }
    }

    const prevotes = s.votes('prevote', r);
    // L34: 2f+1 prevotes of any kind while in prevote -> start the prevote timeout.
    if (this.step === 'prevote' && prevotes.total >= this.quorum && this.once('l34')) {
      this.schedule('prevote', this.voteTimeoutMs(r), () => {
        // OnTimeoutPrevote (L61)
        if (this.round === r && this.step === 'prevote') {
          this.sendVote('precommit', null);
          this.setStep('precommit');
          this.evaluate();
        }
      });
    }

    // L36: the proposal with 2f+1 prevotes -> lock and precommit it (once per round).
    if (
      proposal !== undefined &&
      this.step !== 'propose' &&
      prevotes.count(proposal.block.hashHex) >= this.quorum &&
      this.isValid(proposal) &&
      this.once('l36')
    ) {
      this.validRound = r;
      this.validBlock = proposal.block;
      this.validPol = prevotes.votersFor(proposal.block.hashHex);
      if (this.step === 'prevote') {
        this.lockedRound = r;
        this.lockedHash = proposal.block.hashHex;
        this.sendVote('precommit', proposal.block);
        this.setStep('precommit');
      }
      return true;
    }

    // L44: 2f+1 nil prevotes -> precommit nil.
    if (this.step === 'prevote' && prevotes.count(NIL) >= this.quorum) {
      this.sendVote('precommit', null);
      this.setStep('precommit');
      return true;
    }

    // L47: 2f+1 precommits of any kind -> start the precommit timeout.
    if (s.votes('precommit', r).total >= this.quorum && this.once('l47')) {
      const height = this.height;
      this.schedule('precommit', this.voteTimeoutMs(r), () => {
        // OnTimeoutPrecommit (L65)
        if (this.height === height && this.round === r) {
          this.startRound(r + 1);
          this.evaluate();
        }
      });
    }
    return false;
  }

  private findProposal(s: HeightState, hashHex: string): Proposal | undefined {
    for (const p of s.proposals.values()) if (p.block.hashHex === hashHex) return p;
    return undefined;
  }

  // ---- actions --------------------------------------------------------------------------------

  private decide(cb: CommittedBlock): void {
    this.clearTimers();
    this.deps.commit(cb);
    this.heights.delete(this.height);
    this.height += 1;
    for (const h of this.heights.keys()) if (h < this.height) this.heights.delete(h);
    this.oncePerRound.clear();
    this.ownFrames.length = 0;
    this.missingDecision = null;
    this.lockedRound = -1;
    this.lockedHash = null;
    this.validRound = -1;
    this.validBlock = null;
    this.validPol = [];
    const pending = this.pendingWal;
    if (pending !== undefined && this.height >= pending.height) {
      this.pendingWal = undefined;
      if (this.height === pending.height) {
        this.resume(pending);
        this.again = true;
        return;
      }
    }
    this.startRound(0);
    this.again = true;
  }

  private startRound(round: number): void {
    if (round > 0 && round !== this.round) {
      this.roundChanges += 1;
      this.deps.log.info(`height ${this.height}: round ${round} (view change)`);
    }
    this.round = round;
    this.setStep('propose');
    this.clearTimers();
    this.waitingForTxs = false;
    this.deps.onRoundChange?.(this.height, round);
    // Record the round before any of its messages exist: the sync overlaps with waiting for the
    // proposal (and, at round 0, with the block interval and the previous block's sync), so the
    // prevote can leave without waiting for a disk sync of its own.
    this.persistRound();
    // Round timeout (not in the paper): a round that neither decides nor reaches a quorum of
    // precommits within this time is left for the next one. The paper needs no such timer because
    // every correct process takes part in every round; a restarted node resumes one round later
    // (see start()), and without this the others could wait for its votes in the old round forever.
    // Entering a higher round is always safe.
    const roundHeight = this.height;
    this.schedule('round', this.roundTimeoutMs(round), () => {
      if (this.height === roundHeight && this.round === round) {
        this.startRound(round + 1);
        this.evaluate();
      }
    });
    if (this.proposer(this.height, round) === this.deps.selfId) {
      if (round > 0 || this.validBlock !== null) {
        this.propose();
        return;
      }
      const wait = this.deps.lastCommitted().atMs + this.deps.config.blockIntervalMs - this.deps.now();
      if (wait > 0) this.proposeTimer = setTimeout(() => this.tryPropose(), wait);
      else this.tryPropose();
      return;
    }
    const height = this.height;
    this.schedule('propose', this.proposeTimeoutMs(round), () => {
      // OnTimeoutPropose (L57)
      if (this.height === height && this.round === round && this.step === 'propose') {
        this.sendVote('prevote', null);
        this.setStep('prevote');
        this.evaluate();
      }
    });
  }

  /** Round 0 proposer: propose when the mempool has txs, or when the empty-block wait is over. */
  private tryPropose(): void {
    if (this.stopped || this.step !== 'propose' || this.round !== 0) return;
    if (this.hs(this.height).proposals.has(0)) return;
    const sinceCommit = this.deps.now() - this.deps.lastCommitted().atMs;
    if (this.deps.hasTxs() || sinceCommit >= this.deps.config.emptyBlockIntervalMs) {
      this.propose();
      this.evaluate();
      return;
    }
    this.waitingForTxs = true;
    clearTimeout(this.proposeTimer);
    this.proposeTimer = setTimeout(() => {
      this.waitingForTxs = false;
      this.tryPropose();
    }, this.deps.config.emptyBlockIntervalMs - sinceCommit);
  }

  private propose(): void {
    if (this.silent) return;
    const s = this.hs(this.height);
    if (s.proposals.has(this.round)) return;
    let block = this.validBlock;
    if (block === null) {
      const last = this.deps.lastCommitted();
      const txs = this.deps.reap(this.deps.config.maxBlockTxs, this.deps.config.maxBlockBytes);
      block = buildBlock(this.height, last.hash, Math.max(this.deps.now(), last.atMs), this.deps.selfId, txs);
    }
    this.persistRound();
    const pol = this.validRound >= 0 ? this.validPol : [];
    const frame = encodeProposal(this.height, this.round, this.validRound, pol, block);
    s.proposals.set(this.round, { block, validRound: this.validRound, valid: undefined, frame });
    s.sawSender(this.round, this.deps.selfId);
    this.ownFrames.push({ round: this.round, frame });
    this.deps.broadcast(frame);
  }

  private sendVote(type: VoteType, block: Block | null): void {
    if (this.silent) return;
    this.persistRound();
    const target = block === null ? null : { hash: block.hash, partsHash: partSetHash(block) };
    const timeMs = this.deps.now();
    const signature = this.deps.signVote?.(type, this.height, this.round, target, timeMs) ?? NO_SIGNATURE;
    const frame = encodeVote(type, this.height, this.round, target, timeMs, signature);
    const s = this.hs(this.height);
    s.sawSender(this.round, this.deps.selfId);
    s.votes(type, this.round).add(this.deps.selfId, block === null ? NIL : block.hashHex, {
      timeMs,
      signature,
    });
    this.ownFrames.push({ round: this.round, frame });
    this.deps.broadcast(frame);
  }

  /** WAL: before sending anything in a round (or with a new lock), record it durably. */
  private persistRound(): void {
    if (this.silent) return; // the WAL already holds a later height
    const p = this.persisted;
    const validHash = this.validBlock?.hashHex ?? null;
    if (
      p !== null &&
      p.height === this.height &&
      p.round >= this.round &&
      p.lockedHash === this.lockedHash &&
      p.validHash === validHash
    ) {
      return;
    }
    const round = p !== null && p.height === this.height ? Math.max(p.round, this.round) : this.round;
    this.deps.persist({
      height: this.height,
      round,
      lockedRound: this.lockedRound,
      lockedHash: this.lockedHash === null ? null : Buffer.from(this.lockedHash, 'hex'),
      validRound: this.validRound,
      validHash: this.validBlock?.hash ?? null,
      pol: this.validRound >= 0 ? this.validPol : [],
      validBlockBytes: this.validBlock?.bytes ?? null,
    });
    this.persisted = { height: this.height, round, lockedHash: this.lockedHash, validHash };
  }

  private setStep(step: Step): void {
    this.step = step;
    this.lastProgressMs = this.deps.now();
  }

  private schedule(kind: TimerKind, delayMs: number, fn: () => void): void {
    clearTimeout(this.timers[kind]);
    this.timers[kind] = setTimeout(() => {
      this.timers[kind] = undefined;
      if (!this.stopped) fn();
    }, delayMs);
  }

  private clearTimers(): void {
    clearTimeout(this.timers.propose);
    clearTimeout(this.timers.prevote);
    clearTimeout(this.timers.precommit);
    clearTimeout(this.timers.round);
    clearTimeout(this.proposeTimer);
    this.timers.propose = this.timers.prevote = this.timers.precommit = this.timers.round = undefined;
  }

  private proposeTimeoutMs(round: number): number {
    const base = this.deps.config.viewTimeoutMs;
    return base + Math.min(round, 20) * (base / 2);
  }

  private roundTimeoutMs(round: number): number {
    return this.proposeTimeoutMs(round) + 8 * this.voteTimeoutMs(round);
  }

  private voteTimeoutMs(round: number): number {
    const base = this.deps.config.viewTimeoutMs / 4;
    return base + Math.min(round, 20) * base;
  }
}
