/**
 * Jump hosts (bastions): one SSH connection to a jump host carries the connections of every
 * host behind it, each as a `direct-tcpip` channel (ssh -W), passed to the host's ssh2 client
 * as its socket. Chains (a, then b, then the host) nest: b's connection runs over a channel of
 * a's. A connection is shared by up to `targetsPerConnection` hosts (default 64); beyond that a
 * second connection to the same jump host is opened, one at a time. It closes when the last
 * host behind it closes.
 */
import type { Duplex } from 'node:stream';
import { MeshbenchError } from '../../common/errors.js';
import type { RemoteHost } from './hosts.js';
import { describeHost, type SshSession } from './ssh-session.js';

/**
 * Hosts sharing one jump-host connection. OpenSSH's sshd allows 16384 channels per connection
 * (MaxSessions limits shell/exec sessions, not forwarded channels), so the bound is about load:
 * one sshd process on the jump host encrypts every byte of its connection (image shipping).
 */
export const TARGETS_PER_JUMP_CONNECTION = 64;

/** Connects to a hop, over `openSocket` when given (a channel through the hop before it). */
export type HopConnector = (hop: RemoteHost, openSocket?: () => Promise<Duplex>) => Promise<SshSession>;

interface PooledConnection {
  readonly key: string;
  readonly session: Promise<SshSession>;
  leases: number;
  settled: boolean;
}

export interface JumpLease {
  /** The connection to the last jump host: open channels to the host behind it. */
  readonly session: SshSession;
  release(): void;
}

function hopKey(hop: RemoteHost): string {
  return `${hop.user}@${hop.address}:${hop.port}`;
}

export class JumpPool {
  private readonly connections = new Map<string, PooledConnection[]>();
  /** Connections opened so far (for tests and progress lines). */
  opened = 0;

  constructor(
    private readonly connect: HopConnector,
    private readonly targetsPerConnection = TARGETS_PER_JUMP_CONNECTION,
  ) {}

  /** Connections open now, by chain (`a>b`). */
  get openConnections(): number {
    return [...this.connections.values()].reduce((sum, list) => sum + list.length, 0);
  }

  /** A share of a connection to the last hop of `chain`, reached through the hops before it. */
  async lease(chain: readonly RemoteHost[]): Promise<JumpLease> {
    const key = chain.map(hopKey).join('>');
    const list = this.connections.get(key) ?? [];
    this.connections.set(key, list);
    let entry: PooledConnection | undefined;
    for (;;) {
      entry = list.find((candidate) => candidate.leases < this.targetsPerConnection);
      if (entry) break;
      // one new connection at a time to the same jump host (sshd's MaxStartups throttles unauthenticated ones)
      const opening = list.find((candidate) => !candidate.settled);
      if (!opening) break;
      await opening.session.catch(() => undefined);
    }
    if (!entry) {
      const created: PooledConnection = { key, session: this.open(chain), leases: 0, settled: false };
      void created.session.then(
        () => (created.settled = true),
        () => (created.settled = true),
      );
      list.push(created);
      entry = created;
    }
    entry.leases++;
    const held = entry;
    let session: SshSession;
    try {
      session = await held.session;
    } catch (error) {
      this.drop(held);
      throw error;
    }
    let released = false;
    return {
      session,
      release: () => {
        if (released) return;
        released = true;
        held.leases--;
        if (held.leases <= 0) {
          this.drop(held);
          session.close();
        }
      },
    };
  }

  private drop(entry: PooledConnection): void {
    const list = this.connections.get(entry.key);
    if (!list) return;
    const index = list.indexOf(entry);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.connections.delete(entry.key);
  }

  private async open(chain: readonly RemoteHost[]): Promise<SshSession> {
    const hop = chain.at(-1)!;
    this.opened++;
    if (chain.length === 1) {
      const session = await this.connect(hop);
      session.onClose(() => this.forget(session, chain));
      return session;
    }
    const parent = await this.lease(chain.slice(0, -1));
    try {
      const session = await this.connect(hop, () => parent.session.forwardTcp(hop.address, hop.port));
      session.onClose(() => {
        this.forget(session, chain);
        parent.release();
      });
      return session;
    } catch (error) {
      parent.release();
      throw error;
    }
  }

  /** A connection that closed on its own (the jump host went away) is not handed out again. */
  private forget(session: SshSession, chain: readonly RemoteHost[]): void {
    const key = chain.map(hopKey).join('>');
    for (const entry of this.connections.get(key) ?? []) {
      void entry.session.then(
        (candidate) => {
          if (candidate === session) this.drop(entry);
        },
        () => undefined,
      );
    }
  }

  /** Closes every jump-host connection (after the hosts behind them). */
  async closeAll(): Promise<void> {
    const all = [...this.connections.values()].flat();
    this.connections.clear();
    await Promise.all(
      all.map((entry) =>
        entry.session.then(
          (s) => s.close(),
          () => undefined,
        ),
      ),
    );
  }
}

/**
 * Connects to `host` through its jump hosts: a shared connection to the last hop, a channel from
 * there to the host. A failing jump host is named as such, with the host it was meant to reach.
 */
export async function connectThroughJumps(
  host: RemoteHost,
  pool: JumpPool,
  connect: HopConnector,
): Promise<SshSession> {
  const jumps = host.jumps ?? [];
  if (jumps.length === 0) return connect(host);
  let lease: JumpLease;
  try {
    lease = await pool.lease(jumps);
  } catch (error) {
    if (error instanceof MeshbenchError)
      throw new MeshbenchError(error.code, `${error.message} (on the way to ${describeHost(host)})`, {
        ...(error.hint ? { hint: error.hint } : {}),
        cause: error,
      });
    throw error;
  }
  try {
    const session = await connect(host, () => lease.session.forwardTcp(host.address, host.port));
    session.onClose(() => lease.release());
    return session;
  } catch (error) {
    lease.release();
    throw error;
  }
}
