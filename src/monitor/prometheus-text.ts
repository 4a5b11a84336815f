/**
 * Prometheus' text exposition format (version 0.0.4), read: the samples of a `/metrics`
 * page, and what the peer round-trip metrics among them say. Names and rules from
 * https://prometheus.io/docs/instrumenting/exposition_formats/.
 */

export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, char: string) => (char === 'n' ? '\n' : char));
}

function number(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return Number.NaN;
  const value = Number(text);
  return text.trim() === '' ? Number.NaN : value;
}

/** The samples of a page (comments, blank and malformed lines skipped). */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    let ok = true;
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const start = LABEL.lastIndex;
      const label = LABEL.exec(body);
      if (!label) {
        ok = body.slice(start).trim() === '';
        break;
      }
      labels[label[1] as string] = unescape(label[2] as string);
    }
    if (!ok) continue;
    samples.push({ name: match[1] as string, labels, value: number(match[3] as string) });
  }
  return samples;
}

/**
 * The lines of a page that hold `needle`, joined: a page of tens of kilobytes is searched
 * rather than parsed when only a few of its series are read.
 */
export function linesWith(text: string, needle: string): string {
  const kept: string[] = [];
  for (let at = text.indexOf(needle); at !== -1;) {
    const start = text.lastIndexOf('\n', at) + 1;
    let end = text.indexOf('\n', at);
    if (end === -1) end = text.length;
    kept.push(text.slice(start, end));
    at = text.indexOf(needle, end);
  }
  return kept.join('\n');
}

/** A node's round-trip times to its peers, in milliseconds, by peer. */
export interface PeerRttReading {
  /** The node's own name, when its metrics carry one (the refnode's `node` label). */
  readonly self?: string;
  /** The last ping's round trip to each peer. */
  readonly lastMs: ReadonlyMap<string, number>;
  /** Smoothed, where the node exports it. */
  readonly smoothedMs: ReadonlyMap<string, number>;
  /** The metric the last figures came from, e.g. `refnode_peer_rtt_seconds`. */
  readonly metric?: string;
}

/**
 * Peer round-trip gauges in seconds with a `peer` label: `<prefix>_peer_rtt_seconds` (the
 * last ping) and `<prefix>_peer_rtt_smoothed_seconds` (the reference node exports both).
 */
const LAST = /(?:^|_)peer_rtt_seconds$/;
const SMOOTHED = /(?:^|_)peer_rtt_smoothed_seconds$/;

/** The peer round-trip times of a whole page; undefined when it has none. */
export function peerRttsOfPage(text: string): PeerRttReading | undefined {
  // every sample peerRttsFrom reads names a `…peer_rtt_…seconds` metric
  return peerRttsFrom(parsePrometheusText(linesWith(text, 'peer_rtt_')));
}

/** The peer round-trip times among samples; undefined when they have none. */
export function peerRttsFrom(samples: readonly MetricSample[]): PeerRttReading | undefined {
  const lastMs = new Map<string, number>();
  const smoothedMs = new Map<string, number>();
  let self: string | undefined;
  let metric: string | undefined;
  for (const sample of samples) {
    const peer = sample.labels.peer;
    if (peer === undefined || !Number.isFinite(sample.value) || sample.value < 0) continue;
    const into = LAST.test(sample.name) ? lastMs : SMOOTHED.test(sample.name) ? smoothedMs : undefined;
    if (into === undefined) continue;
    into.set(peer, sample.value * 1000);
    if (into === lastMs) metric ??= sample.name;
    self ??= sample.labels.node;
  }
  if (lastMs.size === 0 && smoothedMs.size === 0) return undefined;
  return { ...(self === undefined ? {} : { self }), lastMs, smoothedMs, ...(metric ? { metric } : {}) };
}
