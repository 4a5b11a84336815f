/**
 * The P2P transport: one persistent TCP connection per pair of committee members, carrying
 * length-prefixed binary frames (u32 big-endian length, then the frame; see messages.ts).
 * The member with the smaller id dials, the other accepts; each side's first frame is HELLO
 * with its id. At start-up, a peer not reached yet (its container may not be up) is redialled
 * every STARTUP_DIAL_INTERVAL_MS for STARTUP_FAST_DIAL_MS, so the committee connects within
 * tens of milliseconds of its last member listening; after that, and for a connection that
 * was up and got lost, redials back off (doubling, capped at 1 s). Each member also announces
 * itself at start to the members that dial it (see announce()), which then dial it at once.
 * Nodes are identified by
 * the HELLO on the connection (crash-fault model: no signatures; see systems/refnode/README.md).
 *
 * Every connection is pinged each PING_INTERVAL_MS (PING carries the sender's monotonic send
 * time, the peer echoes it in a PONG at once): each peer's last and smoothed round-trip time,
 * for the metrics and net_info. A peer that never answers or sends a ping (an older refnode,
 * which logs and drops the unknown type) gets UNANSWERED_PINGS of them, then no more until it
 * sends one.
 *
 * For tests, `delayMs(peerId)` adds a per-message send delay (FIFO per peer).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { type Server, type Socket, connect, createServer, isIPv6 } from 'node:net';
import type { Logger } from './log.js';
import { performance } from 'node:perf_hooks';
import { MSG, decodeMessage, encodeHello, encodePing } from './messages.js';

export const MAX_FRAME_BYTES = 128 * 1024 * 1024;
/** A peer that does not drain this much queued output is disconnected. */
const MAX_QUEUED_BYTES = 256 * 1024 * 1024;
/** Redial interval for a peer never reached yet, during the first STARTUP_FAST_DIAL_MS. */
export const STARTUP_DIAL_INTERVAL_MS = 50;
export const STARTUP_FAST_DIAL_MS = 10_000;
/** How often each connection is pinged (its round-trip time), by default. */
export const PING_INTERVAL_MS = 1000;
/** Pings a peer that has never answered or sent one gets; then none until it sends one. */
export const UNANSWERED_PINGS = 3;
/** Weight of a new sample in the smoothed round-trip time (TCP's SRTT gain, RFC 6298). */
export const RTT_GAIN = 1 / 8;

/** One peer's round-trip times from the pings on its connection, in milliseconds. */
export interface PeerRtt {
  /** The last ping's. */
  readonly lastMs: number;
  /** Exponentially smoothed, gain RTT_GAIN (the first sample sets it). */
  readonly smoothedMs: number;
  readonly minMs: number;
  readonly samples: number;
}

/** The round-trip times after one more sample. */
export function nextRtt(previous: PeerRtt | undefined, sampleMs: number): PeerRtt {
  if (previous === undefined) return { lastMs: sampleMs, smoothedMs: sampleMs, minMs: sampleMs, samples: 1 };
  return {
    lastMs: sampleMs,
    smoothedMs: previous.smoothedMs + RTT_GAIN * (sampleMs - previous.smoothedMs),
    minMs: Math.min(previous.minMs, sampleMs),
    samples: previous.samples + 1,
  };
}

export interface PeerAddress {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface P2POptions {
  readonly selfId: string;
  readonly peers: readonly PeerAddress[];
  readonly listenHost: string;
  readonly port: number;
  readonly log: Logger;
  readonly onFrame: (from: string, frame: Buffer) => void;
  readonly onPeerUp: (id: string) => void;
  readonly onPeerDown: (id: string) => void;
  readonly delayMs?: ((peerId: string) => number) | undefined;
  /** Milliseconds between pings on each connection (default PING_INTERVAL_MS; 0: no pings). */
  readonly pingIntervalMs?: number | undefined;
  /** A monotonic clock in milliseconds (default performance.now). */
  readonly now?: (() => number) | undefined;
  /** Each measured round trip, in milliseconds. */
  readonly onRtt?: ((peerId: string, rttMs: number) => void) | undefined;
}

/** Splits a byte stream into frames. Frames inside one chunk are views, not copies. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the frame being assembled across chunks, once its header is known. */
  private needed = -1;

  constructor(
    private readonly onFrame: (frame: Buffer) => void,
    private readonly maxFrameBytes = MAX_FRAME_BYTES,
  ) {}

  push(chunk: Buffer): void {
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.needed < 0) {
        if (this.buffered < 4) return;
        const head = Buffer.concat(this.chunks);
        this.chunks = [head];
        this.needed = 4 + this.check(head.readUInt32BE(0));
      }
      if (this.buffered < this.needed) return; // wait without copying
      const all = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
      this.needed = -1;
      chunk = all;
    }
    let pos = 0;
    while (chunk.length - pos >= 4) {
      const length = this.check(chunk.readUInt32BE(pos));
      if (chunk.length - pos - 4 < length) break;
      this.onFrame(chunk.subarray(pos + 4, pos + 4 + length));
      pos += 4 + length;
    }
    if (pos < chunk.length) {
      const rest = chunk.subarray(pos);
      this.chunks = [rest];
      this.buffered = rest.length;
      this.needed = rest.length >= 4 ? 4 + this.check(rest.readUInt32BE(0)) : -1;
    }
  }

  private check(length: number): number {
    if (length > this.maxFrameBytes)
      throw new Error(`frame of ${length} bytes exceeds ${this.maxFrameBytes}`);
    return length;
  }
}

interface Connection {
  readonly socket: Socket;
  /** FIFO release time for injected delays. */
  lastReleaseMs: number;
  /** When it came up (the monotonic clock). */
  readonly upAtMs: number;
  rtt: PeerRtt | undefined;
  /** The peer has sent a PING or PONG on it: it speaks them. */
  pings: boolean;
  /** PINGs sent since the last PONG. */
  unanswered: number;
}

/** A connection as net_info shows it. */
export interface ConnectionInfo {
  /** Milliseconds since it came up. */
  readonly upForMs: number;
  readonly rtt: PeerRtt | undefined;
}

export class P2P {
  private server: Server | undefined;
  /** Hears announcements (UDP on the p2p port number); undefined when that port was taken. */
  private announcements: UdpSocket | undefined;
  /** Peers with a dial in flight (a wake-up does not start a second one). */
  private readonly dialing = new Set<string>();
  private readonly conns = new Map<string, Connection>();
  private readonly peersById: Map<string, PeerAddress>;
  private readonly dialTimers = new Map<string, NodeJS.Timeout>();
  private readonly backoffMs = new Map<string, number>();
  private readonly pending = new Set<Socket>();
  /** Peers connected at least once (lost connections back off). */
  private readonly reached = new Set<string>();
  private startedAtMs = 0;
  private stopped = false;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: P2POptions) {
    this.peersById = new Map(opts.peers.filter((p) => p.id !== opts.selfId).map((p) => [p.id, p]));
    this.now = opts.now ?? (() => performance.now());
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.log.warn(`p2p listener: ${err.message}`));
    await this.listenForAnnouncements();
    this.startedAtMs = Date.now();
    const pingIntervalMs = this.opts.pingIntervalMs ?? PING_INTERVAL_MS;
    if (pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => {
        for (const [id, conn] of this.conns) this.ping(id, conn);
      }, pingIntervalMs);
    }
    for (const peer of this.peersById.values()) {
      if (this.opts.selfId < peer.id) this.dial(peer);
      else this.announce(peer);
    }
  }

  /**
   * One UDP datagram (our id) to a member that dials us, on its p2p port number. It dials us
   * at once on hearing it, instead of at its next redial. It also unblocks a dial that member
   * started before our address was up: such a dial waits on a failed ARP entry for the
   * kernel's next ARP try, 1 s later (measured: dials hanging ~1 s after we listen); sending
   * makes us ARP for that member, and its kernel learns our address from our request.
   */
  private announce(peer: PeerAddress): void {
    if (this.stopped) return;
    const socket = createSocket(isIPv6(peer.host) ? 'udp6' : 'udp4');
    let open = true;
    const close = () => {
      if (open) socket.close();
      open = false;
    };
    socket.on('error', close);
    socket.send(Buffer.from(this.opts.selfId, 'utf8'), peer.port, peer.host, close);
  }

  /** An announcement from a member we dial and are not connected to: dial it now. */
  private async listenForAnnouncements(): Promise<void> {
    const socket = createSocket(isIPv6(this.opts.listenHost) ? 'udp6' : 'udp4');
    socket.on('message', (message) => {
      const peer = this.peersById.get(message.toString('utf8'));
      if (peer === undefined || !(this.opts.selfId < peer.id)) return;
      if (this.stopped || this.conns.has(peer.id) || this.dialing.has(peer.id)) return;
      clearTimeout(this.dialTimers.get(peer.id));
      this.dialTimers.delete(peer.id);
      this.dial(peer);
    });
    const bound = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(this.listenPort, this.opts.listenHost, () => resolve(true));
    });
    if (!bound) {
      // Taken (or not allowed): redials alone connect, a little later.
      socket.close();
      return;
    }
    socket.on('error', (err) => this.opts.log.debug(`p2p announcements: ${err.message}`));
    this.announcements = socket;
  }

  get listenPort(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : this.opts.port;
  }

  connectedPeers(): string[] {
    return [...this.conns.keys()];
  }

  isConnected(id: string): boolean {
    return this.conns.has(id);
  }

  /** Each connected peer's round-trip times (peers that answered a ping). */
  peerRtts(): Map<string, PeerRtt> {
    const rtts = new Map<string, PeerRtt>();
    for (const [id, conn] of this.conns) if (conn.rtt !== undefined) rtts.set(id, conn.rtt);
    return rtts;
  }

  /** How long the connection to `id` has been up and its round-trip times; undefined when not connected. */
  connection(id: string): ConnectionInfo | undefined {
    const conn = this.conns.get(id);
    return conn === undefined ? undefined : { upForMs: this.now() - conn.upAtMs, rtt: conn.rtt };
  }

  /** Sends one frame (without its length prefix) to `id`, if connected. */
  send(id: string, frame: Buffer): void {
    const conn = this.conns.get(id);
    if (conn !== undefined) this.write(id, conn, frame);
  }

  broadcast(frame: Buffer): void {
    for (const [id, conn] of this.conns) this.write(id, conn, frame);
  }

  private write(id: string, conn: Connection, frame: Buffer): void {
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(frame.length, 0);
    const delay = this.opts.delayMs?.(id) ?? 0;
    if (delay > 0) {
      const now = Date.now();
      const release = Math.max(now + delay, conn.lastReleaseMs);
      conn.lastReleaseMs = release;
      const copy = Buffer.from(frame);
      setTimeout(() => {
        if (this.conns.get(id) === conn) this.rawWrite(id, conn, header, copy);
      }, release - now);
      return;
    }
    this.rawWrite(id, conn, header, frame);
  }

  private rawWrite(id: string, conn: Connection, header: Buffer, frame: Buffer): void {
    const { socket } = conn;
    if (socket.writableLength > MAX_QUEUED_BYTES) {
      this.opts.log.warn(
        `p2p: peer ${id} is not draining (${socket.writableLength} bytes queued); disconnecting`,
      );
      socket.destroy();
      return;
    }
    socket.cork();
    socket.write(header);
    socket.write(frame);
    process.nextTick(() => socket.uncork());
  }

  private dial(peer: PeerAddress): void {
    if (this.stopped || this.conns.has(peer.id) || this.dialTimers.has(peer.id)) return;
    const socket = connect({ host: peer.host, port: peer.port });
    this.pending.add(socket);
    this.dialing.add(peer.id);
    socket.setNoDelay(true);
    let helloSeen = false;
    const decoder = new FrameDecoder((frame) => {
      if (!helloSeen) {
        const msg = safeDecodeHello(frame);
        if (msg !== peer.id) {
          this.opts.log.warn(
            `p2p: ${peer.host}:${peer.port} answered as '${msg ?? '?'}', expected '${peer.id}'`,
          );
          socket.destroy();
          return;
        }
        helloSeen = true;
        this.pending.delete(socket);
        this.dialing.delete(peer.id);
        this.up(peer.id, socket);
        return;
      }
      this.frame(peer.id, frame);
    });
    socket.on('connect', () => {
      const hello = encodeHello(this.opts.selfId);
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32BE(hello.length, 0);
      socket.write(Buffer.concat([header, hello]));
    });
    socket.on('data', (chunk) => this.feed(decoder, socket, chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.pending.delete(socket);
      if (!helloSeen) this.dialing.delete(peer.id);
      if (helloSeen) this.down(peer.id, socket);
      this.scheduleDial(peer);
    });
  }

  private scheduleDial(peer: PeerAddress): void {
    if (this.stopped || this.dialTimers.has(peer.id)) return;
    const starting = !this.reached.has(peer.id) && Date.now() - this.startedAtMs < STARTUP_FAST_DIAL_MS;
    const backoff = starting
      ? STARTUP_DIAL_INTERVAL_MS
      : Math.min((this.backoffMs.get(peer.id) ?? 50) * 2, 1000);
    this.backoffMs.set(peer.id, backoff);
    const timer = setTimeout(() => {
      this.dialTimers.delete(peer.id);
      this.dial(peer);
    }, backoff);
    this.dialTimers.set(peer.id, timer);
  }

  private accept(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    this.pending.add(socket);
    socket.setNoDelay(true);
    let peerId: string | undefined;
    const decoder = new FrameDecoder((frame) => {
      if (peerId === undefined) {
        const id = safeDecodeHello(frame);
        if (id === undefined || !this.peersById.has(id) || !(id < this.opts.selfId)) {
          this.opts.log.warn(
            `p2p: rejected a connection from ${socket.remoteAddress} claiming id '${id ?? '?'}'`,
          );
          socket.destroy();
          return;
        }
        peerId = id;
        this.pending.delete(socket);
        const hello = encodeHello(this.opts.selfId);
        const header = Buffer.allocUnsafe(4);
        header.writeUInt32BE(hello.length, 0);
        socket.write(Buffer.concat([header, hello]));
        this.up(id, socket);
        return;
      }
      this.frame(peerId, frame);
    });
    socket.on('data', (chunk) => this.feed(decoder, socket, chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.pending.delete(socket);
      if (peerId !== undefined) this.down(peerId, socket);
    });
  }

  /** A frame after HELLO: PING and PONG are answered and timed here, the rest go to the node. */
  private frame(id: string, frame: Buffer): void {
    const type = frame[0];
    if (type !== MSG.ping && type !== MSG.pong) {
      this.opts.onFrame(id, frame);
      return;
    }
    const conn = this.conns.get(id);
    if (conn === undefined) return;
    let msg;
    try {
      msg = decodeMessage(frame);
    } catch (err) {
      this.opts.log.warn(`p2p: bad ping from ${id}: ${(err as Error).message}`);
      return;
    }
    if (msg.type !== 'ping' && msg.type !== 'pong') return;
    conn.pings = true;
    if (msg.type === 'ping') {
      this.write(id, conn, encodePing('pong', msg.sentMs));
      return;
    }
    conn.unanswered = 0;
    const rttMs = this.now() - msg.sentMs;
    if (!Number.isFinite(rttMs) || rttMs < 0) return;
    conn.rtt = nextRtt(conn.rtt, rttMs);
    this.opts.onRtt?.(id, rttMs);
  }

  private ping(id: string, conn: Connection): void {
    if (!conn.pings && conn.unanswered >= UNANSWERED_PINGS) return;
    conn.unanswered++;
    this.write(id, conn, encodePing('ping', this.now()));
  }

  private feed(decoder: FrameDecoder, socket: Socket, chunk: Buffer): void {
    try {
      decoder.push(chunk);
    } catch (err) {
      this.opts.log.warn(`p2p: bad stream from ${socket.remoteAddress}: ${(err as Error).message}`);
      socket.destroy();
    }
  }

  private up(id: string, socket: Socket): void {
    const old = this.conns.get(id);
    if (old !== undefined) {
      this.conns.delete(id);
      old.socket.destroy();
    }
    this.backoffMs.delete(id);
    this.reached.add(id);
    const conn: Connection = {
      socket,
      lastReleaseMs: 0,
      upAtMs: this.now(),
      rtt: undefined,
      pings: false,
      unanswered: 0,
    };
    this.conns.set(id, conn);
    this.opts.log.debug(`p2p: connected to ${id}`);
    this.opts.onPeerUp(id);
    if ((this.opts.pingIntervalMs ?? PING_INTERVAL_MS) > 0 && this.conns.get(id) === conn)
      this.ping(id, conn);
  }

  private down(id: string, socket: Socket): void {
    const conn = this.conns.get(id);
    if (conn === undefined || conn.socket !== socket) return;
    this.conns.delete(id);
    this.opts.log.debug(`p2p: disconnected from ${id}`);
    this.opts.onPeerDown(id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pingTimer);
    for (const timer of this.dialTimers.values()) clearTimeout(timer);
    this.dialTimers.clear();
    for (const conn of this.conns.values()) conn.socket.destroy();
    for (const socket of this.pending) socket.destroy();
    this.conns.clear();
    this.pending.clear();
    this.announcements?.close();
    this.announcements = undefined;
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function safeDecodeHello(frame: Buffer): string | undefined {
  try {
    const msg = decodeMessage(frame);
    return msg.type === 'hello' ? msg.id : undefined;
  } catch {
    return undefined;
  }
}
