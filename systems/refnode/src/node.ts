/**
 * One reference node: block store + WAL, mempool, Tendermint consensus, P2P (gossip and
 * block sync), metrics and the RPC server, wired together. `start()` / `stop()`.
 */
import { EventEmitter } from 'node:events';
import {
  type Block,
  type CommittedBlock,
  type Tx,
  decodeCommitted,
  makeTx,
  partSetHash,
  validateBlock,
} from './block.js';
import type { NodeConfig } from './config.js';
import { Consensus } from './consensus.js';
import { type SigningKey, ValidatorSet, signBytes, verifyBytes, voteSignBytes } from './keys.js';
import { type Logger, createLogger } from './log.js';
import { Mempool } from './mempool.js';
import {
  encodeBlockRequest,
  encodeBlockResponse,
  encodeRelay,
  encodeStatus,
  encodeTxs,
  decodeMessage,
  MSG,
} from './messages.js';
import { type NodeMetrics, createMetrics } from './metrics.js';
import { DurableOutbox } from './outbox.js';
import { P2P } from './p2p.js';
import { RPC_CODES, RpcError } from './rpc-parse.js';
import { RpcServer } from './rpc-server.js';
import { BlockStore, ConsensusWal, type TxLocation } from './store.js';

const GOSSIP_FLUSH_MS = 2;
const GOSSIP_FLUSH_BYTES = 256 * 1024;
const SYNC_BATCH_BLOCKS = 32;
const SYNC_RESPONSE_BYTES = 16 * 1024 * 1024;
const TICK_MS = 200;
/** Relays remembered (origin, sequence), so each is forwarded once; the oldest are forgotten first. */
const SEEN_RELAYS_MAX = 200_000;

export interface NodeOptions {
  /** Test hook: per-peer send delay in ms. */
  readonly delayMs?: (peerId: string) => number;
  readonly logWrite?: (line: string) => void;
  /** Include prom-client's process metrics (off in multi-node tests in one process). */
  readonly processMetrics?: boolean;
  /** Test hook: milliseconds between pings on each peer connection (default 1000; 0: none). */
  readonly pingIntervalMs?: number;
}

export interface CommitWaiter {
  readonly resolve: (loc: TxLocation) => void;
  readonly reject: (err: Error) => void;
  readonly deadlineMs: number;
}

export class RefNode {
  readonly events = new EventEmitter<{ block: [CommittedBlock] }>();
  readonly log: Logger;
  /** The committee's keys, in CometBFT's validator-set order. */
  readonly validators: ValidatorSet;
  /** This node's ed25519 key (derived from its id). */
  readonly key: SigningKey;
  store!: BlockStore;
  mempool!: Mempool;
  consensus!: Consensus;
  p2p!: P2P;
  metrics!: NodeMetrics;
  rpc!: RpcServer;
  private wal!: ConsensusWal;
  private outbox!: DurableOutbox;
  private readonly startedAtMs = Date.now();
  private lastCommitAtMs = Date.now();
  private readonly peerCommitted = new Map<string, number>();
  private syncInFlight: { peer: string; atMs: number } | undefined;
  private behindSinceMs: number | undefined;
  private gossip: Buffer[] = [];
  private gossipBytes = 0;
  private gossipTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Map<string, CommitWaiter[]>();
  private tickTimer: NodeJS.Timeout | undefined;
  private running = false;
  private ticks = 0;
  /** This node's relay sequence: starts at the wall clock in µs, so a restarted node never repeats one. */
  private relaySequence = Date.now() * 1000;
  private readonly seenRelays = new Set<string>();

  constructor(
    readonly config: NodeConfig,
    private readonly options: NodeOptions = {},
  ) {
    this.log = createLogger(config.id, config.logLevel, options.logWrite);
    this.validators = new ValidatorSet(config.committee);
    this.key = this.validators.keyOf(config.id);
  }

  async start(): Promise<void> {
    const c = this.config;
    // Appends do not fsync one by one: the outbox syncs both logs in groups, off the event loop,
    // and holds consensus messages until the records they depend on are durable.
    this.store = BlockStore.open(c.dataDir, false);
    if (this.store.truncatedBytes > 0)
      this.log.warn(`blocks.log: truncated a torn last record (${this.store.truncatedBytes} bytes)`);
    this.wal = ConsensusWal.open(c.dataDir, false);
    this.outbox = new DurableOutbox(
      c.fsync,
      () => Promise.all([this.store.syncAsync(), this.wal.syncAsync()]),
      (err) => {
        this.log.error(`fdatasync failed (${err.message}); this node stops taking part in consensus`);
        this.consensus.stop();
      },
      (ms) => this.log.warn(`fdatasync of the block store and WAL took ${Math.round(ms)} ms (slow disk?)`),
    );
    this.lastCommitAtMs = Date.now();
    this.mempool = new Mempool(c.mempoolMaxTxs, c.mempoolMaxBytes, (h) => this.store.isCommitted(h));
    this.metrics = createMetrics(
      c.id,
      {
        mempoolTxs: () => this.mempool.size,
        mempoolBytes: () => this.mempool.sizeBytes,
        peers: () => this.p2p.connectedPeers().length,
        catchingUp: () => this.catchingUp(),
        peerRtts: () => this.p2p.peerRtts(),
      },
      this.options.processMetrics ?? true,
    );
    this.metrics.height.set(this.store.height);
    this.metrics.committedTxs.inc(this.store.committedTxCount);

    this.consensus = new Consensus({
      selfId: c.id,
      committee: c.committee,
      config: c,
      log: this.log,
      now: () => Date.now(),
      broadcast: (frame) => this.outbox.send(() => this.p2p.broadcast(this.wrapOwn(frame))),
      sendTo: (peer, frame) => this.outbox.send(() => this.sendOwn(peer, frame)),
      persist: (state) => {
        this.wal.write(state);
        this.outbox.noteAppend();
      },
      reap: (maxTxs, maxBytes) => this.mempool.reap(maxTxs, maxBytes),
      hasTxs: () => this.mempool.size > 0,
      validate: (block) => this.validate(block),
      commit: (cb) => this.onCommit(cb),
      lastCommitted: () => ({
        height: this.store.height,
        hash: this.store.lastHash,
        atMs: this.lastCommitAtMs,
      }),
      onRoundChange: (_h, round) => {
        if (round > 0) this.metrics.viewChanges.inc();
      },
      signVote: c.signing
        ? (type, height, round, target, timeMs) =>
            signBytes(this.key, voteSignBytes(type, height, round, target, timeMs))
        : undefined,
      verifyCommit: (cb) => this.verifyCommit(cb),
    });

    const neighbours = new Set(c.neighbours);
    this.p2p = new P2P({
      selfId: c.id,
      peers: c.peers.filter((peer) => neighbours.has(peer.id)),
      listenHost: c.listen,
      port: c.p2pPort,
      log: this.log,
      delayMs: this.options.delayMs,
      pingIntervalMs: this.options.pingIntervalMs,
      onRtt: (id, rttMs) => this.metrics.peerPingSeconds.observe({ peer: id }, rttMs / 1000),
      onFrame: (from, frame) => this.onFrame(from, frame),
      onPeerUp: (id) => {
        this.p2p.send(id, encodeStatus(this.store.height));
        this.consensus.resend(id);
      },
      onPeerDown: (id) => {
        if (this.syncInFlight?.peer === id) this.syncInFlight = undefined;
      },
    });
    this.rpc = new RpcServer(this);
    await this.rpc.start();
    await this.p2p.start();
    this.running = true;
    this.consensus.start(this.wal.recovered);
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.log.info(
      `started: height ${this.store.height}, committee ${c.committee.join(',')} (quorum ${this.consensus.quorum}), rpc :${this.rpc.port}, p2p :${this.p2p.listenPort}`,
    );
  }

  /** Stops listeners and timers; `crash` skips the final flush (as if the process died). */
  async stop(options: { crash?: boolean } = {}): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.tickTimer);
    clearTimeout(this.gossipTimer);
    this.consensus.stop();
    this.outbox.stop();
    for (const list of this.waiters.values())
      for (const w of list) w.reject(new RpcError(RPC_CODES.internal, 'node is shutting down'));
    this.waiters.clear();
    await Promise.all([this.p2p.stop(), this.rpc.stop()]);
    // A crash skips the final flush: what a killed process leaves behind.
    this.store.close(options.crash !== true);
    this.wal.close(options.crash !== true);
    this.log.info('stopped');
  }

  // ---- txs ------------------------------------------------------------------------------------

  /** Admits a tx to the mempool and gossips it. Throws RpcError (CometBFT-like) on refusal. */
  submitTx(bytes: Buffer): string {
    if (bytes.length === 0) {
      this.metrics.rejectedTxs.inc({ reason: 'empty' });
      throw new RpcError(RPC_CODES.invalidParams, 'tx is empty');
    }
    if (bytes.length > this.config.maxTxBytes) {
      this.metrics.rejectedTxs.inc({ reason: 'too_large' });
      throw new RpcError(
        RPC_CODES.internal,
        `tx too large. Max size is ${this.config.maxTxBytes}, but got ${bytes.length}`,
      );
    }
    const tx = makeTx(bytes);
    const added = this.mempool.add(tx);
    if (!added.ok) {
      this.metrics.rejectedTxs.inc({ reason: added.reason });
      throw new RpcError(RPC_CODES.internal, added.message);
    }
    this.queueGossip(tx.bytes);
    this.consensus.onTxAvailable();
    return tx.hash;
  }

  waitForCommit(hash: string, timeoutMs: number): Promise<TxLocation> {
    const loc = this.store.txLocation(hash);
    if (loc !== undefined) return Promise.resolve(loc);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(hash) ?? [];
      list.push({ resolve, reject, deadlineMs: Date.now() + timeoutMs });
      this.waiters.set(hash, list);
    });
  }

  private queueGossip(bytes: Buffer): void {
    if (this.config.peers.length === 0) return;
    this.gossip.push(bytes);
    this.gossipBytes += bytes.length;
    if (this.gossipBytes >= GOSSIP_FLUSH_BYTES) this.flushGossip();
    else if (this.gossipTimer === undefined)
      this.gossipTimer = setTimeout(() => this.flushGossip(), GOSSIP_FLUSH_MS);
  }

  private flushGossip(): void {
    clearTimeout(this.gossipTimer);
    this.gossipTimer = undefined;
    if (this.gossip.length === 0) return;
    const frame = encodeTxs(this.gossip);
    this.gossip = [];
    this.gossipBytes = 0;
    this.p2p.broadcast(frame);
  }

  // ---- consensus glue -------------------------------------------------------------------------

  private validate(block: Block): string | undefined {
    return validateBlock(
      block,
      { height: this.store.height + 1, prevHash: this.store.lastHash },
      { maxBlockTxs: this.config.maxBlockTxs, maxBlockBytes: this.config.maxBlockBytes },
      (h) => this.store.isCommitted(h),
    );
  }

  private onCommit(cb: CommittedBlock): void {
    const now = Date.now();
    this.store.append(cb);
    this.outbox.noteAppend(); // messages of the next height wait until this block is durable
    const { block } = cb;
    for (let i = 0; i < block.txs.length; i++) {
      const tx = block.txs[i] as Tx;
      this.mempool.remove(tx.hash);
      const list = this.waiters.get(tx.hash);
      if (list !== undefined) {
        this.waiters.delete(tx.hash);
        for (const w of list) w.resolve({ height: block.height, index: i });
      }
    }
    this.metrics.height.set(block.height);
    this.metrics.committedTxs.inc(block.txs.length);
    this.metrics.blockTxs.observe(block.txs.length);
    this.metrics.blockIntervalSeconds.observe((now - this.lastCommitAtMs) / 1000);
    this.lastCommitAtMs = now;
    this.log.debug(`committed height ${block.height} (${block.txs.length} txs, round ${cb.commitRound})`);
    this.p2p.broadcast(encodeStatus(block.height));
    if (this.events.listenerCount('block') > 0) this.events.emit('block', cb);
  }

  /** With signing on, a synced block needs 2f+1 committee precommits whose signatures verify. */
  private verifyCommit(cb: CommittedBlock): string | undefined {
    if (!this.config.signing) return undefined;
    if (cb.votes === undefined) return 'it carries no signatures (a peer with signing off?)';
    const target = { hash: cb.block.hash, partsHash: partSetHash(cb.block) };
    const valid = new Set<string>();
    cb.signers.forEach((id, i) => {
      const key = this.validators.get(id);
      const vote = cb.votes?.[i];
      if (key === undefined || vote === undefined || valid.has(id)) return;
      const bytes = voteSignBytes('precommit', cb.block.height, cb.commitRound, target, vote.timeMs);
      if (verifyBytes(key, bytes, vote.signature)) valid.add(id);
    });
    const quorum = this.consensus.quorum;
    return valid.size >= quorum ? undefined : `${valid.size} valid signatures, ${quorum} needed`;
  }

  // ---- P2P ------------------------------------------------------------------------------------

  private onFrame(from: string, frame: Buffer): void {
    if (!this.running) return;
    let msg;
    try {
      msg = decodeMessage(frame);
    } catch (err) {
      this.log.warn(`p2p: bad message from ${from}: ${(err as Error).message}`);
      return;
    }
    switch (msg.type) {
      case 'txs': {
        let any = false;
        for (const tx of msg.txs) {
          // Copy: the frame's buffer is shared with the rest of a network read.
          const owned = { bytes: Buffer.from(tx.bytes), hash: tx.hash };
          if (
            owned.bytes.length > 0 &&
            owned.bytes.length <= this.config.maxTxBytes &&
            this.mempool.add(owned).ok
          ) {
            any = true;
            // A partial topology: pass a new tx on (the sender drops it as a duplicate).
            if (this.config.relay) this.queueGossip(owned.bytes);
          }
        }
        if (any) this.consensus.onTxAvailable();
        return;
      }
      case 'proposal':
        this.notePeerHeight(from, msg.height - 1);
        this.consensus.onProposal(from, msg.height, msg.round, msg.validRound, msg.pol, msg.block, frame);
        return;
      case 'prevote':
      case 'precommit': {
        this.notePeerHeight(from, msg.height - 1);
        if (this.config.signing) {
          const key = this.validators.get(from);
          const bytes = voteSignBytes(msg.type, msg.height, msg.round, msg.target, msg.timeMs);
          if (key === undefined || !verifyBytes(key, bytes, msg.signature)) {
            this.metrics.invalidVotes.inc();
            this.log.warn(
              `p2p: ${msg.type} of ${from} at ${msg.height}/${msg.round} has no valid signature (${msg.signature.length} bytes); dropped (is signing on at every node?)`,
            );
            return;
          }
        }
        // Copy: the frame's buffer is shared with the rest of a network read.
        const vote = { timeMs: msg.timeMs, signature: Buffer.from(msg.signature) };
        this.consensus.onVote(from, msg.type, msg.height, msg.round, msg.target?.hash ?? null, vote);
        return;
      }
      case 'status':
        if (this.syncInFlight?.peer === from) this.syncInFlight = undefined;
        this.notePeerHeight(from, msg.height);
        this.maybeSync();
        return;
      case 'block-request':
        this.serveBlocks(from, msg.from, msg.max);
        return;
      case 'block-response':
        this.applySynced(from, msg.record);
        return;
      case 'relay':
        this.onRelay(from, frame, msg.origin, msg.sequence, msg.inner);
        return;
      case 'hello':
      case 'ping': // answered and timed by p2p.ts; never here
      case 'pong':
        return;
    }
  }

  // ---- relays (a partial topology: --connect) ---------------------------------------------

  /** One of this node's consensus frames as it goes out: wrapped for relaying on a partial topology. */
  private wrapOwn(frame: Buffer): Buffer {
    if (!this.config.relay) return frame;
    const sequence = ++this.relaySequence;
    this.seenRelays.add(`${this.config.id}:${sequence}`);
    return encodeRelay(this.config.id, sequence, frame);
  }

  /** To one member: directly when it is a neighbour, else (partial topology) relayed through all. */
  private sendOwn(peer: string, frame: Buffer): void {
    if (!this.config.relay) {
      this.p2p.send(peer, frame);
      return;
    }
    if (this.p2p.isConnected(peer)) this.p2p.send(peer, this.wrapOwn(frame));
    else this.p2p.broadcast(this.wrapOwn(frame));
  }

  /**
   * A consensus frame of `origin`'s that `from` passed on: the first time it is seen, forward
   * it to the other neighbours, then take it as if `origin` had sent it (votes are checked
   * against the origin's key, proposals against the round's proposer).
   */
  private onRelay(from: string, frame: Buffer, origin: string, sequence: number, inner: Buffer): void {
    if (origin === this.config.id || !this.config.committee.includes(origin)) return;
    const key = `${origin}:${sequence}`;
    if (this.seenRelays.has(key)) return;
    this.seenRelays.add(key);
    if (this.seenRelays.size > SEEN_RELAYS_MAX) {
      const oldest = this.seenRelays.values().next().value;
      if (oldest !== undefined) this.seenRelays.delete(oldest);
    }
    const type = inner[0];
    if (type !== MSG.proposal && type !== MSG.prevote && type !== MSG.precommit) return;
    // Copy: the frame's buffer is shared with the rest of a network read.
    const owned = Buffer.from(frame);
    for (const peer of this.p2p.connectedPeers())
      if (peer !== from && peer !== origin) this.p2p.send(peer, owned);
    this.metrics.relayedMessages.inc();
    this.onFrame(origin, owned.subarray(owned.length - inner.length));
  }

  private notePeerHeight(peer: string, committed: number): void {
    if (committed > (this.peerCommitted.get(peer) ?? -1)) this.peerCommitted.set(peer, committed);
  }

  private maxPeerCommitted(): { peer: string | undefined; height: number } {
    let best: string | undefined;
    let height = -1;
    for (const [peer, h] of this.peerCommitted) {
      if (h > height && this.p2p.isConnected(peer)) {
        best = peer;
        height = h;
      }
    }
    return { peer: best, height };
  }

  private maybeSync(): void {
    const now = Date.now();
    const { peer, height } = this.maxPeerCommitted();
    const ours = this.store.height;
    if (peer === undefined || height <= ours) {
      this.behindSinceMs = undefined;
      return;
    }
    this.behindSinceMs ??= now;
    const lagging =
      height >= ours + 2 ||
      this.consensus.missingDecision !== null ||
      now - this.behindSinceMs > 2 * this.config.blockIntervalMs + 250;
    if (!lagging) return;
    if (this.syncInFlight !== undefined && now - this.syncInFlight.atMs < 2000) return;
    this.syncInFlight = { peer, atMs: now };
    this.p2p.send(peer, encodeBlockRequest(ours + 1, SYNC_BATCH_BLOCKS));
  }

  private serveBlocks(peer: string, from: number, max: number): void {
    let bytes = 0;
    const last = Math.min(this.store.height, from + Math.min(max, SYNC_BATCH_BLOCKS) - 1);
    for (let h = from; h <= last && bytes < SYNC_RESPONSE_BYTES; h++) {
      const record = this.store.getEncoded(h);
      if (record === undefined) break;
      bytes += record.length;
      this.p2p.send(peer, encodeBlockResponse(record));
    }
    this.p2p.send(peer, encodeStatus(this.store.height));
  }

  private applySynced(from: string, record: Buffer): void {
    let cb: CommittedBlock;
    try {
      cb = decodeCommitted(Buffer.from(record));
    } catch (err) {
      this.log.warn(`block sync: bad block from ${from}: ${(err as Error).message}`);
      return;
    }
    if (cb.block.height !== this.store.height + 1) return;
    if (this.consensus.applySynced(cb))
      this.log.debug(`block sync: applied height ${cb.block.height} from ${from}`);
  }

  private tick(): void {
    const now = Date.now();
    this.consensus.resend();
    this.maybeSync();
    if (++this.ticks % 5 === 0) this.p2p.broadcast(encodeStatus(this.store.height));
    for (const [hash, list] of this.waiters) {
      const keep = list.filter((w) => {
        if (w.deadlineMs > now) return true;
        w.reject(new RpcError(RPC_CODES.internal, 'timed out waiting for tx to be included in a block'));
        return false;
      });
      if (keep.length === 0) this.waiters.delete(hash);
      else if (keep.length !== list.length) this.waiters.set(hash, keep);
    }
  }

  // ---- status ---------------------------------------------------------------------------------

  catchingUp(): boolean {
    if (this.config.committee.length === 1) return false;
    const { height } = this.maxPeerCommitted();
    if (height >= this.store.height + 2) return true;
    const graceMs = 2 * this.config.viewTimeoutMs;
    return this.peerCommitted.size === 0 && Date.now() - this.startedAtMs < graceMs;
  }

  /** Consensus messages waiting for a sync (diagnostics). */
  get outboxPending(): number {
    return this.outbox.pending;
  }

  get isRunning(): boolean {
    return this.running;
  }
}
