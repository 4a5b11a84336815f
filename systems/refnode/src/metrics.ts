/** Prometheus metrics of one refnode (prom-client), in a registry of its own. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface NodeMetrics {
  readonly registry: Registry;
  readonly height: Gauge;
  readonly committedTxs: Counter;
  readonly blockTxs: Histogram;
  readonly blockIntervalSeconds: Histogram;
  readonly viewChanges: Counter;
  readonly rejectedTxs: Counter<'reason'>;
  readonly invalidVotes: Counter;
  /** Consensus messages of other members forwarded on a partial topology (--connect). */
  readonly relayedMessages: Counter;
  /** Every ping's round trip, by peer. */
  readonly peerPingSeconds: Histogram<'peer'>;
}

/** A peer's round-trip times, in milliseconds (p2p.ts PeerRtt). */
export interface PeerRttSource {
  readonly lastMs: number;
  readonly smoothedMs: number;
}

export function createMetrics(
  nodeId: string,
  sources: {
    mempoolTxs: () => number;
    mempoolBytes: () => number;
    peers: () => number;
    catchingUp: () => boolean;
    /** Each connected peer's round-trip times. */
    peerRtts?: () => ReadonlyMap<string, PeerRttSource>;
  },
  withProcessMetrics: boolean,
): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  if (withProcessMetrics) collectDefaultMetrics({ register: registry, prefix: 'refnode_' });
  const metrics: NodeMetrics = {
    registry,
    height: new Gauge({
      name: 'refnode_height',
      help: 'Latest committed block height',
      registers: [registry],
    }),
    committedTxs: new Counter({
      name: 'refnode_committed_txs_total',
      help: 'Txs in committed blocks',
      registers: [registry],
    }),
    blockTxs: new Histogram({
      name: 'refnode_block_txs',
      help: 'Txs per committed block',
      buckets: [0, 1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers: [registry],
    }),
    blockIntervalSeconds: new Histogram({
      name: 'refnode_block_interval_seconds',
      help: 'Time between consecutive commits on this node',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    viewChanges: new Counter({
      name: 'refnode_view_changes_total',
      help: 'Consensus rounds started after round 0',
      registers: [registry],
    }),
    rejectedTxs: new Counter({
      name: 'refnode_rejected_txs_total',
      help: 'Txs refused by the RPC or mempool, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    invalidVotes: new Counter({
      name: 'refnode_invalid_votes_total',
      help: 'Votes dropped because their signature did not verify',
      registers: [registry],
    }),
    relayedMessages: new Counter({
      name: 'refnode_relayed_messages_total',
      help: "Other members' consensus messages forwarded (a partial topology, --connect)",
      registers: [registry],
    }),
    peerPingSeconds: new Histogram({
      name: 'refnode_peer_ping_rtt_seconds',
      help: 'Round-trip time of each ping to a peer (one per connection per second)',
      labelNames: ['peer'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
  const rtts = sources.peerRtts;
  if (rtts !== undefined) {
    // Connected peers only: a peer that went away leaves the gauges.
    new Gauge({
      name: 'refnode_peer_rtt_seconds',
      help: "Round-trip time of the last ping to each connected peer (the peer's PONG)",
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [peer, rtt] of rtts()) this.set({ peer }, rtt.lastMs / 1000);
      },
    });
    new Gauge({
      name: 'refnode_peer_rtt_smoothed_seconds',
      help: 'Smoothed round-trip time to each connected peer (gain 1/8 per ping, as TCP SRTT)',
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [peer, rtt] of rtts()) this.set({ peer }, rtt.smoothedMs / 1000);
      },
    });
  }
  new Gauge({
    name: 'refnode_mempool_txs',
    help: 'Txs in the mempool',
    registers: [registry],
    collect() {
      this.set(sources.mempoolTxs());
    },
  });
  new Gauge({
    name: 'refnode_mempool_bytes',
    help: 'Bytes of txs in the mempool',
    registers: [registry],
    collect() {
      this.set(sources.mempoolBytes());
    },
  });
  new Gauge({
    name: 'refnode_peers',
    help: 'Connected committee peers',
    registers: [registry],
    collect() {
      this.set(sources.peers());
    },
  });
  new Gauge({
    name: 'refnode_catching_up',
    help: '1 while the node is behind its peers',
    registers: [registry],
    collect() {
      this.set(sources.catchingUp() ? 1 : 0);
    },
  });
  return metrics;
}
