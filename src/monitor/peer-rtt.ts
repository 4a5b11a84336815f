/**
 * The nodes' own round-trip times to their peers, read from their Prometheus /metrics
 * (the reference node: refnode_peer_rtt_seconds{peer}, the last ping, and
 * refnode_peer_rtt_smoothed_seconds{peer}). Scraped about once a second during a level, so the
 * level's figure is the median of what the nodes measured in it (one ping a second each), not
 * one ping that a busy event loop may have delayed; and once more at the load's end.
 */
import { peerRttsOfPage, type PeerRttReading } from './prometheus-text.js';
import { metricsUrlOf, readMetricsPage } from './prometheus/scrape.js';
import type { Endpoint } from '../protocols/endpoint.js';

/** Reads a metrics page (readMetricsPage; tests pass their own). */
export type PageReader = typeof readMetricsPage;

/** `{node: {peer: ms}}`, keyed by the network's node names. */
export type RttMatrix = Record<string, Record<string, number>>;

export interface PeerRttFigures {
  /** Median over the level's scrapes of each peer's last round trip. */
  readonly peer_rtt_ms?: RttMatrix;
  /** The last scrape's last round trips (at the load's end). */
  readonly peer_rtt_last_ms?: RttMatrix;
  /** The last scrape's smoothed round trips, where exported. */
  readonly peer_rtt_smoothed_ms?: RttMatrix;
  /** The metric the figures came from, e.g. `refnode_peer_rtt_seconds`. */
  readonly peer_rtt_metric?: string;
  /** Scrapes that gave round trips, over every node. */
  readonly peer_rtt_scrapes?: number;
}

interface NodeState {
  readonly endpoint: Endpoint;
  /** Unknown until the first answer; false once a page came without round trips (not asked again). */
  hasRtts: boolean | undefined;
  busy: boolean;
  readonly samples: Map<string, number[]>;
  last: PeerRttReading | undefined;
}

export class PeerRttSampler {
  readonly #nodes: NodeState[];
  readonly #read: PageReader;
  readonly #timeoutMs: number;
  #scrapes = 0;

  constructor(endpoints: readonly Endpoint[], options: { readPage?: PageReader; timeoutMs?: number } = {}) {
    this.#nodes = endpoints.map((endpoint) => ({
      endpoint,
      hasRtts: undefined,
      busy: false,
      samples: new Map(),
      last: undefined,
    }));
    this.#read = options.readPage ?? readMetricsPage;
    this.#timeoutMs = options.timeoutMs ?? 3000;
  }

  /** One scrape of every node that has (or may have) round trips and is not being scraped. */
  async sample(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => this.#scrape(node)));
  }

  async #scrape(node: NodeState): Promise<void> {
    if (node.hasRtts === false || node.busy) return;
    node.busy = true;
    const { endpoint } = node;
    try {
      const page = await this.#read(metricsUrlOf(endpoint), this.#timeoutMs);
      if (page.text === undefined) {
        node.hasRtts ??= false;
        return;
      }
      const reading = peerRttsOfPage(page.text);
      if (!reading) {
        node.hasRtts ??= false;
        return;
      }
      node.hasRtts = true;
      node.last = reading;
      this.#scrapes++;
      for (const [peer, ms] of reading.lastMs) {
        const list = node.samples.get(peer) ?? [];
        list.push(ms);
        node.samples.set(peer, list);
      }
    } catch {
      // not answering now: asked again next time
    } finally {
      node.busy = false;
    }
  }

  /**
   * The matrices, keyed by the network's node names: a node's metrics name its peers by their
   * own ids (the refnode's `peer` label) and itself by its `node` label, which maps them onto
   * the endpoints' names (attach mode calls its nodes endpoint0, endpoint1, …).
   */
  figures(): PeerRttFigures {
    const nameOf = new Map<string, string>();
    for (const node of this.#nodes)
      if (node.last?.self !== undefined) nameOf.set(node.last.self, node.endpoint.nodeId);
    const order = new Map(this.#nodes.map((node, index) => [node.endpoint.nodeId, index]));
    const matrix = (pick: (node: NodeState) => ReadonlyMap<string, number> | undefined) => {
      const out: RttMatrix = {};
      for (const node of this.#nodes) {
        const values = pick(node);
        if (!values || values.size === 0) continue;
        const row = [...values].map(([peer, ms]) => [nameOf.get(peer) ?? peer, ms] as const);
        row.sort(([a], [b]) => (order.get(a) ?? Infinity) - (order.get(b) ?? Infinity) || a.localeCompare(b));
        out[node.endpoint.nodeId] = Object.fromEntries(row.map(([peer, ms]) => [peer, round3(ms)]));
      }
      return Object.keys(out).length > 0 ? out : undefined;
    };
    const median = matrix(
      (node) => new Map([...node.samples].map(([peer, list]) => [peer, medianOf(list)] as const)),
    );
    const last = matrix((node) => node.last?.lastMs);
    const smoothed = matrix((node) => node.last?.smoothedMs);
    const metric = this.#nodes.find((node) => node.last?.metric)?.last?.metric;
    return {
      ...(median ? { peer_rtt_ms: median } : {}),
      ...(last ? { peer_rtt_last_ms: last } : {}),
      ...(smoothed ? { peer_rtt_smoothed_ms: smoothed } : {}),
      ...(metric ? { peer_rtt_metric: metric } : {}),
      ...(this.#scrapes > 0 ? { peer_rtt_scrapes: this.#scrapes } : {}),
    };
  }
}

/** The median (the mean of the middle two for an even count). */
export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
