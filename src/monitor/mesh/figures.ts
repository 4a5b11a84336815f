/**
 * The mesh block's figures from the delivery events of every node (pure: monitor.ts reads the
 * streams, this counts). A message's reference time is its origin's own delivery event (the
 * node shows what it published at once), or the first arrival anywhere when that event is
 * missing; the delivery latency of (origin i, receiver j) is j's arrival minus that reference,
 * both on meshbench's clock. HDR histograms per ordered pair; percentiles in milliseconds.
 */
import { newLatencyHistogram, recordMicros, type LatencyHistogram } from '../../measure/histogram.js';

interface Message {
  readonly origin: number;
  /** Arrival (ms) per receiver index; NaN: not delivered there. */
  readonly arrivals: Float64Array;
}

export interface PairCell {
  readonly from: string;
  readonly to: string;
  readonly count: number;
  /** null when nothing was delivered on this pair (never 0). */
  readonly p50_ms: number | null;
  readonly p99_ms: number | null;
  /**
   * Deliveries read before the origin's own event (recorded as 0 ms): on this pair the origin's
   * event is later or less steady than the delivery, so the figures are below what meshbench resolves.
   */
  readonly early: number;
}

export interface ReceiverFigures {
  readonly node: string;
  /** Distinct messages delivered on this node. */
  readonly delivered: number;
  /** delivered / messages seen anywhere; null with no message. */
  readonly ratio: number | null;
  /** Events for a message the node had already delivered. */
  readonly duplicates: number;
  /** Messages seen elsewhere and never on this node. */
  readonly missing: number;
}

/** A window of trouble (a fault, a condition) as the mesh block judges it. */
export interface WindowInput {
  readonly id: string;
  readonly label: string;
  /** On the arrivals' clock (performance.now() ms). */
  readonly startMs: number;
  /** null: still open when the load ended. */
  readonly endMs: number | null;
}

/**
 * What each node held of the messages published during a window: the resync (a node cut off
 * catches up after the heal, for a sync mesh) or the loss (for a gossip mesh that does not).
 */
export interface WindowFigures {
  readonly id: string;
  readonly label: string;
  /** Level clock, ms. */
  readonly from_ms: number;
  readonly to_ms: number | null;
  /** Messages published (by their reference time) while the window was open. */
  readonly published: number;
  readonly receivers: readonly {
    readonly node: string;
    /** Of those, how many never reached this node. */
    readonly missing: number;
    /**
     * From the window's end until the last of those that reached it arrived (0 when every one
     * was there by the end); null when the window did not end, or none reached it.
     */
    readonly resync_ms: number | null;
  }[];
}

export interface MeshFigures {
  readonly nodes: readonly string[];
  /** Distinct load messages seen on any stream. */
  readonly messages: number;
  /** Accepted publishes (ok replies) of the level, when known. */
  readonly published?: number;
  /** Accepted publishes no node ever delivered (published − messages), when known. */
  readonly never_delivered?: number;
  /** Messages delivered on every node. */
  readonly delivered_everywhere: number;
  /** Events whose origin is not one of the nodes. */
  readonly unknown_origin: number;
  readonly receivers: readonly ReceiverFigures[];
  /** Every ordered pair (from ≠ to), row by row. */
  readonly pairs: readonly PairCell[];
  /** Seconds of the level (by reference time) with a message delivered everywhere / seconds with a message. */
  readonly availability: {
    readonly seconds: number;
    readonly available: number;
    readonly share: number | null;
  };
  /** Per fault or condition window of the level, what each node held of what was published in it. */
  readonly windows?: readonly WindowFigures[];
  /** Why the figures are empty (no delivery arrived), else absent. */
  readonly note?: string;
}

const round = (value: number): number => Math.round(value * 1000) / 1000;

/** Counts the deliveries of one level. */
export class MeshTally {
  readonly #nodes: readonly string[];
  readonly #index: Map<string, number>;
  readonly #messages = new Map<string, Message>();
  readonly #duplicates: number[];
  #unknownOrigin = 0;
  /** The first few origins that name no node, for the line that says so. */
  readonly #unknownNames = new Set<string>();

  constructor(nodes: readonly string[]) {
    this.#nodes = nodes;
    this.#index = new Map(nodes.map((node, index) => [node, index]));
    this.#duplicates = nodes.map(() => 0);
  }

  /** A delivery event of receiver `receiver` (index), delivered at `arrivedMs` (the node's time, or its arrival here). */
  deliver(receiver: number, id: string, origin: string, arrivedMs: number): void {
    let message = this.#messages.get(id);
    if (!message) {
      const from = this.#index.get(origin);
      if (from === undefined) {
        this.#unknownOrigin++;
        if (this.#unknownNames.size < UNKNOWN_NAMES_KEPT) this.#unknownNames.add(origin);
        return;
      }
      message = { origin: from, arrivals: new Float64Array(this.#nodes.length).fill(Number.NaN) };
      this.#messages.set(id, message);
    }
    if (!Number.isNaN(message.arrivals[receiver] as number)) {
      this.#duplicates[receiver] = (this.#duplicates[receiver] as number) + 1;
      return;
    }
    message.arrivals[receiver] = arrivedMs;
  }

  /**
   * Moves every delivery of `receiver` by `shiftMs` (a clock found only at the level's end) and
   * leaves out those then before `dropBeforeMs`, with each message no node delivered after it.
   */
  retime(receiver: number, shiftMs: number, dropBeforeMs: number): void {
    for (const [id, message] of this.#messages) {
      const at = message.arrivals[receiver] as number;
      if (Number.isNaN(at)) continue;
      const moved = at + shiftMs;
      if (moved >= dropBeforeMs) {
        message.arrivals[receiver] = moved;
        continue;
      }
      message.arrivals[receiver] = Number.NaN;
      if (message.arrivals.every(Number.isNaN)) this.#messages.delete(id);
    }
  }

  /** The figures; `published`: the level's accepted publishes, `levelStartMs`: for the seconds. */
  figures(
    options: {
      readonly published?: number;
      readonly levelStartMs?: number;
      readonly windows?: readonly WindowInput[];
    } = {},
  ): MeshFigures {
    const n = this.#nodes.length;
    const histograms: (LatencyHistogram | undefined)[] = new Array<LatencyHistogram | undefined>(n * n);
    const early = new Array<number>(n * n).fill(0);
    const delivered = this.#nodes.map(() => 0);
    let everywhere = 0;
    const secondsSeen = new Set<number>();
    const secondsOk = new Set<number>();
    const startMs = options.levelStartMs ?? 0;
    const windows = (options.windows ?? []).map((window) => ({
      window,
      published: 0,
      missing: this.#nodes.map(() => 0),
      lastArrival: this.#nodes.map(() => Number.NEGATIVE_INFINITY),
    }));
    for (const message of this.#messages.values()) {
      const own = message.arrivals[message.origin] as number;
      let first = Number.POSITIVE_INFINITY;
      let count = 0;
      for (const at of message.arrivals) {
        if (Number.isNaN(at)) continue;
        count++;
        if (at < first) first = at;
      }
      const reference = Number.isNaN(own) ? first : own;
      for (const entry of windows) {
        const { startMs: from, endMs: to } = entry.window;
        if (reference < from || (to !== null && reference > to)) continue;
        entry.published++;
        message.arrivals.forEach((at, receiver) => {
          if (Number.isNaN(at)) entry.missing[receiver] = (entry.missing[receiver] as number) + 1;
          else if (at > (entry.lastArrival[receiver] as number)) entry.lastArrival[receiver] = at;
        });
      }
      const second = Math.floor((reference - startMs) / 1000);
      secondsSeen.add(second);
      if (count === n) {
        everywhere++;
        secondsOk.add(second);
      }
      message.arrivals.forEach((at, to) => {
        if (Number.isNaN(at)) return;
        delivered[to] = (delivered[to] as number) + 1;
        if (to === message.origin) return;
        const cell = message.origin * n + to;
        const histogram = (histograms[cell] ??= newLatencyHistogram());
        if (at < reference) early[cell] = (early[cell] as number) + 1;
        recordMicros(histogram, (at - reference) * 1000);
      });
    }
    const messages = this.#messages.size;
    const pairs: PairCell[] = [];
    for (let from = 0; from < n; from++) {
      for (let to = 0; to < n; to++) {
        if (from === to) continue;
        const histogram = histograms[from * n + to];
        const count = histogram?.totalCount ?? 0;
        pairs.push({
          from: this.#nodes[from] as string,
          to: this.#nodes[to] as string,
          count,
          p50_ms: histogram && count > 0 ? round(histogram.getValueAtPercentile(50) / 1000) : null,
          p99_ms: histogram && count > 0 ? round(histogram.getValueAtPercentile(99) / 1000) : null,
          early: early[from * n + to] as number,
        });
        histogram?.destroy();
      }
    }
    return {
      nodes: this.#nodes,
      messages,
      ...(options.published === undefined
        ? {}
        : { published: options.published, never_delivered: Math.max(0, options.published - messages) }),
      delivered_everywhere: everywhere,
      unknown_origin: this.#unknownOrigin,
      receivers: this.#nodes.map((node, index) => ({
        node,
        delivered: delivered[index] as number,
        ratio: messages === 0 ? null : round((delivered[index] as number) / messages),
        duplicates: this.#duplicates[index] as number,
        missing: messages - (delivered[index] as number),
      })),
      pairs,
      availability: {
        seconds: secondsSeen.size,
        available: secondsOk.size,
        share: secondsSeen.size === 0 ? null : round(secondsOk.size / secondsSeen.size),
      },
      ...(windows.length > 0
        ? {
            windows: windows.map(({ window, published, missing, lastArrival }) => ({
              id: window.id,
              label: window.label,
              from_ms: round(window.startMs - startMs),
              to_ms: window.endMs === null ? null : round(window.endMs - startMs),
              published,
              receivers: this.#nodes.map((node, index) => {
                const last = lastArrival[index] as number;
                return {
                  node,
                  missing: missing[index] as number,
                  resync_ms:
                    window.endMs === null || last === Number.NEGATIVE_INFINITY
                      ? null
                      : round(Math.max(0, last - window.endMs)),
                };
              }),
            })),
          }
        : {}),
      ...(this.#unknownOrigin > 0
        ? { note: this.#unknownOriginNote(messages) }
        : messages === 0
          ? { note: 'no delivery arrived on any node in this level' }
          : {}),
    };
  }

  /**
   * Deliveries whose origin names no node: the app names its nodes otherwise than meshbench
   * does (attach mode calls them endpoint0, …), so those messages are left out of the figures.
   */
  #unknownOriginNote(messages: number): string {
    const names = [...this.#unknownNames];
    const shown = `${names.join(', ')}${this.#unknownNames.size >= UNKNOWN_NAMES_KEPT ? ', …' : ''}`;
    return (
      `${this.#unknownOrigin} deliver${this.#unknownOrigin === 1 ? 'y' : 'ies'} named an origin that is no node of this network (${shown}; its nodes are ${this.#nodes.join(', ')})` +
      `${messages === 0 ? ', so none is in the figures' : ', and are left out of the figures'}: ` +
      'the origin must be the name meshbench gives the node (MESHBENCH_NODE_ID); with --endpoints, name each endpoint as its node names itself (--endpoints node0=http://…)'
    );
  }
}

/** How many unknown origins the note names. */
const UNKNOWN_NAMES_KEPT = 5;

/** Up to this many nodes the console shows the whole matrix; beyond, a line per origin. */
export const MATRIX_MAX_NODES = 12;

/**
 * The p50 matrix as text lines (rows: origin, columns: receiver); `-` where nothing arrived.
 * Past MATRIX_MAX_NODES nodes (a 33-node star would print 280 columns), one line per origin
 * instead: the lowest, median and highest of its receivers' p50 and the slowest receiver; the
 * record keeps every cell (`mesh.pairs`).
 */
export function meshMatrixLines(figures: MeshFigures): string[] {
  const { nodes, pairs } = figures;
  if (nodes.length > MATRIX_MAX_NODES) return originLines(figures);
  const cell = new Map(pairs.map((pair) => [`${pair.from}>${pair.to}`, pair]));
  const width = Math.max(8, ...nodes.map((node) => node.length + 1));
  const pad = (text: string): string => text.padStart(width);
  // Sub-millisecond meshes (a sync mesh on one machine) would read 0.0 everywhere at one decimal.
  const largest = Math.max(0, ...pairs.map((pair) => pair.p50_ms ?? 0));
  const digits = largest < 1 ? 2 : 1;
  const lines = [`${'from\\to'.padEnd(width)}${nodes.map(pad).join('')}`];
  for (const from of nodes) {
    const row = nodes.map((to) => {
      if (from === to) return pad('·');
      const pair = cell.get(`${from}>${to}`);
      return pad(pair?.p50_ms === null || pair === undefined ? '-' : pair.p50_ms.toFixed(digits));
    });
    lines.push(`${from.padEnd(width)}${row.join('')}`);
  }
  return [...lines, ...earlyLines(pairs)];
}

/** Above this share of a level's deliveries read before their origin's own event, the console says so. */
const EARLY_SHARE_NOTED = 0.1;

/**
 * A line when many deliveries were read before their origin's own event: each pair's time runs
 * from that event, so those deliveries count as 0 ms, and a p50 of 0 says the receivers got the
 * message no later than the origin showed it, not that it took no time.
 */
function earlyLines(pairs: readonly PairCell[]): string[] {
  const note = earlyNote(pairs);
  return note === undefined ? [] : [note];
}

/** The console's and report.html's line on early deliveries (records before `early` have none). */
export function earlyNote(
  pairs: readonly { readonly count: number; readonly early?: number }[],
): string | undefined {
  const total = pairs.reduce((sum, pair) => sum + pair.count, 0);
  const early = pairs.reduce((sum, pair) => sum + (pair.early ?? 0), 0);
  if (total === 0 || early / total < EARLY_SHARE_NOTED) return undefined;
  return (
    `${Math.round((100 * early) / total)} % of deliveries were read before their origin's own event and count as 0 ms: ` +
    "the origins showed their messages about as late as the mesh delivered them, so these times are below what meshbench resolves here (each pair's early count: the record's mesh.pairs)"
  );
}

/** Per origin: its receivers' p50 (lowest, median, highest), the slowest one, those reached. */
function originLines({ nodes, pairs }: MeshFigures): string[] {
  const width = Math.max(8, ...nodes.map((node) => node.length + 1));
  const column = (text: string): string => text.padStart(9);
  const lines = [
    `${'origin'.padEnd(width)}${column('min')}${column('median')}${column('max')}  slowest, receivers reached (p50 ms over receivers; every cell: the record's mesh.pairs)`,
  ];
  for (const from of nodes) {
    const cells = pairs
      .filter((pair) => pair.from === from && pair.p50_ms !== null)
      .sort((a, b) => (a.p50_ms as number) - (b.p50_ms as number));
    const reached = `${cells.length}/${nodes.length - 1}`;
    const slowest = cells.at(-1);
    if (slowest === undefined) {
      lines.push(`${from.padEnd(width)}${column('-')}${column('-')}${column('-')}  ${reached}`);
      continue;
    }
    const p50 = (index: number): string => column((cells[index]?.p50_ms as number).toFixed(1));
    lines.push(
      `${from.padEnd(width)}${p50(0)}${p50(Math.floor((cells.length - 1) / 2))}${p50(cells.length - 1)}  ${slowest.to}, ${reached}`,
    );
  }
  return [...lines, ...earlyLines(pairs)];
}
