/**
 * Moving nodes: each node has a position (metres, x and y) and linear moves over windows;
 * each link's quality follows from the distance between its ends by a range model in the
 * manner of CORE's basic range model (a wireless link is there within range and gone
 * beyond it), with a loss ramp towards the edge:
 *
 *   d <= fade * range        loss 0, the full rate, the base delay
 *   fade * range < d < range s = (d - fade*range) / (range - fade*range):
 *                            loss = s * 100 % (whole percent), rate = rate * (1 - s) (at least 8kbit)
 *   d >= range               no link (its packets are dropped both ways)
 *
 * The delay is the medium's base delay plus the distance at the speed of light (negligible
 * indoors, visible over kilometres). Recomputed each second by the conditioner.
 */
import { parseDelay, parseRate } from './quantities.js';

export interface MobilityModel {
  readonly model: 'range';
  /** Metres: no link at or beyond. */
  readonly range: number;
  /** Share of the range where the loss ramp starts (0 to 1, below 1). */
  readonly fade: number;
  readonly delayMs: number;
  readonly rateBits?: number;
}

export interface Move {
  readonly node: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly to: readonly [number, number];
}

export interface MobilitySpec extends MobilityModel {
  readonly positions: Readonly<Record<string, readonly [number, number]>>;
  readonly moves: readonly Move[];
}

export class MobilityProblem extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const LIGHT_M_PER_MS = 299_792.458;

export interface MobilityInput {
  readonly model?: unknown;
  readonly range?: unknown;
  readonly fade?: unknown;
  readonly delay?: unknown;
  readonly rate?: unknown;
  readonly positions?: unknown;
  readonly moves?: unknown;
}

function point(value: unknown, field: string): readonly [number, number] {
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    value.some((v) => typeof v !== 'number' || !Number.isFinite(v))
  ) {
    throw new MobilityProblem(field, `${JSON.stringify(value)} is not a position (write [x, y] in metres)`);
  }
  return [value[0] as number, value[1] as number];
}

/** Reads and checks the `mobility:` section; a problem names its field. */
export function parseMobility(
  input: MobilityInput,
  parseTime: (value: number | string) => number,
): MobilitySpec {
  if (input.model !== undefined && input.model !== 'range') {
    throw new MobilityProblem(
      'model',
      `${JSON.stringify(input.model)} is not a model (the one model is "range")`,
    );
  }
  const range = input.range;
  if (typeof range !== 'number' || !(range > 0))
    throw new MobilityProblem('range', 'must be a distance in metres above 0');
  const fade = input.fade ?? 0.8;
  if (typeof fade !== 'number' || fade < 0 || fade >= 1)
    throw new MobilityProblem('fade', 'must be from 0 to below 1 (the share of the range where loss starts)');
  const delay = parseDelay(input.delay ?? '1ms');
  if (!delay.ok) throw new MobilityProblem('delay', delay.reason);
  let rateBits: number | undefined;
  if (input.rate !== undefined) {
    const rate = parseRate(input.rate);
    if (!rate.ok) throw new MobilityProblem('rate', rate.reason);
    rateBits = rate.value;
  }
  if (input.positions === null || typeof input.positions !== 'object' || Array.isArray(input.positions)) {
    throw new MobilityProblem('positions', 'give each node a position: { node0: [0, 0], node1: [50, 0] }');
  }
  const positions: Record<string, readonly [number, number]> = {};
  for (const [node, value] of Object.entries(input.positions as Record<string, unknown>)) {
    positions[node] = point(value, `positions.${node}`);
  }
  const moves: Move[] = [];
  const rawMoves = input.moves ?? [];
  if (!Array.isArray(rawMoves))
    throw new MobilityProblem('moves', 'must be a list of { node, from, to, position }');
  rawMoves.forEach((raw: unknown, index) => {
    const field = `moves[${index}]`;
    if (raw === null || typeof raw !== 'object')
      throw new MobilityProblem(field, 'must be { node, from, to, position }');
    const move = raw as Record<string, unknown>;
    const unknown = Object.keys(move).find(
      (key) => !['node', 'from', 'to', 'position', 'note'].includes(key),
    );
    if (unknown)
      throw new MobilityProblem(`${field}.${unknown}`, 'unknown field (a move has node, from, to, position)');
    if (typeof move.node !== 'string' || !(move.node in positions)) {
      throw new MobilityProblem(
        `${field}.node`,
        `${JSON.stringify(move.node)} has no position (name a node in positions)`,
      );
    }
    const time = (key: 'from' | 'to') => {
      const value = move[key];
      if (typeof value !== 'number' && typeof value !== 'string')
        throw new MobilityProblem(`${field}.${key}`, 'needs a time like 10s');
      try {
        return parseTime(value);
      } catch {
        throw new MobilityProblem(`${field}.${key}`, `${JSON.stringify(value)} is not a time like 10s`);
      }
    };
    const fromMs = time('from');
    const toMs = time('to');
    if (toMs <= fromMs) throw new MobilityProblem(`${field}.to`, `must be after from (${fromMs / 1000} s)`);
    const overlapping = moves.find(
      (other) => other.node === move.node && other.fromMs < toMs && fromMs < other.toMs,
    );
    if (overlapping)
      throw new MobilityProblem(
        field,
        `${move.node} already moves from ${overlapping.fromMs / 1000} s to ${overlapping.toMs / 1000} s`,
      );
    moves.push({ node: move.node, fromMs, toMs, to: point(move.position, `${field}.position`) });
  });
  return {
    model: 'range',
    range,
    fade,
    delayMs: delay.value,
    ...(rateBits !== undefined ? { rateBits } : {}),
    positions,
    moves,
  };
}

/** Each node's position at `tMs` on the level's clock. */
export function positionsAt(spec: MobilitySpec, tMs: number): Map<string, readonly [number, number]> {
  const out = new Map<string, readonly [number, number]>();
  for (const [node, start] of Object.entries(spec.positions)) {
    let here = start;
    const moves = spec.moves.filter((move) => move.node === node).sort((a, b) => a.fromMs - b.fromMs);
    for (const move of moves) {
      if (tMs <= move.fromMs) break;
      const share = Math.min(1, (tMs - move.fromMs) / (move.toMs - move.fromMs));
      here = [here[0] + (move.to[0] - here[0]) * share, here[1] + (move.to[1] - here[1]) * share];
      if (share < 1) break;
    }
    out.set(node, here);
  }
  return out;
}

export interface RangeQuality {
  readonly up: boolean;
  readonly lossPct: number;
  readonly delayMs: number;
  readonly rateBits?: number;
}

/** A link's quality at distance `metres` under the range model. */
export function rangeQuality(model: MobilityModel, metres: number): RangeQuality {
  if (metres >= model.range) return { up: false, lossPct: 100, delayMs: model.delayMs };
  const fadeAt = model.fade * model.range;
  const share = metres <= fadeAt ? 0 : (metres - fadeAt) / (model.range - fadeAt);
  const delayMs = model.delayMs + metres / LIGHT_M_PER_MS;
  return {
    up: true,
    // whole percent: finer steps change nothing a run can measure, and each step is a rule change
    lossPct: Math.round(share * 100),
    delayMs: Math.round(delayMs * 1000) / 1000,
    ...(model.rateBits !== undefined
      ? { rateBits: Math.max(8000, Math.round(model.rateBits * (1 - share))) }
      : {}),
  };
}

export function distance(a: readonly [number, number], b: readonly [number, number]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

/**
 * Whether the positions name exactly the network's nodes: the problem and its fix, or
 * undefined. Asked when the plan knows the nodes (a generated network) and again by the
 * conditioner once a network is up (a compose file's nodes are known only then).
 */
export function positionsProblem(
  spec: MobilitySpec,
  nodeIds: readonly string[],
  /** The network the names are judged against, as a refusal names it. */
  network = 'this network',
): { readonly message: string; readonly hint: string } | undefined {
  const missing = nodeIds.find((node) => !(node in spec.positions));
  if (missing !== undefined)
    return {
      message: `mobility.positions: node ${missing} has no position`,
      hint: 'give every node a position [x, y]',
    };
  const extra = Object.keys(spec.positions).find((node) => !nodeIds.includes(node));
  if (extra !== undefined)
    return {
      message: `mobility.positions: no node ${extra} in ${network} (nodes: ${nodeIds.join(', ')})`,
      hint: 'name its nodes',
    };
  return undefined;
}
