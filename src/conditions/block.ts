/**
 * The `network` block's parts that are plain data: each event's record, a condition's words
 * (`delay 50ms on every link`), the conditions as recorded, the apply times, each shaped
 * link's quality per second and the nodes' positions; and the conditions' error.
 */
import { basename } from 'node:path';
import { MeshbenchError } from '../common/errors.js';
import type { NetworkEvent } from '../scenario/events.js';
import { formatDelay, formatRate } from '../scenario/quantities.js';
import { CLEAR, isClear, type ConditionModel, type LinkQuality, type NetworkConditions } from './model.js';

export interface ConditionEventRecord {
  /** The scenario event's index, or null for a second's update (ramps, mobility) or the level's end. */
  readonly event: number | null;
  readonly edge: 'start' | 'end' | 'tick' | 'clear' | 'live-set' | 'live-clear' | 'reattach';
  /** edge 'reattach': the restarted nodes whose new namespaces got a helper and the conditions again. */
  readonly nodes?: readonly string[];
  /** A live change: what was asked. */
  readonly live?: string;
  readonly scheduled_ms: number;
  readonly fired_ms: number;
  readonly done_ms: number;
  /** The namespaces whose rules changed. */
  readonly changed: number;
  readonly errors?: Readonly<Record<string, string>>;
}

/** The applied state of every link at one second of the level (and the nodes' positions, with mobility). */
export interface LinkSample {
  readonly t: number;
  readonly state: Map<string, LinkQuality>;
  readonly positions?: Map<string, readonly [number, number]>;
}

export function conditionError(message: string, hint: string): MeshbenchError {
  return new MeshbenchError('BAD_CONDITIONS', message, { hint, exitCode: 2 });
}

/** `delay 50ms on every link`, `partition bisect healed`, … */
export function describe(event: NetworkEvent, edge: ConditionEventRecord['edge']): string {
  const where =
    event.selector.kind === 'all'
      ? 'every link'
      : event.selector.kind === 'nodes'
        ? `${event.selector.nodes.join(', ')}'s links`
        : event.selector.links.map((link) => `${link.from}->${link.to}`).join(', ');
  if (event.action === 'partition') {
    const what = event.partition?.shape
      ? `partition ${event.partition.shape}${event.partition.node ? ` (${event.partition.node})` : ''}`
      : event.partition?.groups
        ? `partition ${event.partition.groups.map((group) => `[${group.join(' ')}]`).join(' | ')}`
        : `partition ${where}`;
    return edge === 'end' ? `${what} healed` : what;
  }
  const s = event.settings;
  const ramp = (r: { from: number; to: number }, format: (v: number) => string) =>
    r.from === r.to ? format(r.from) : `${format(r.from)}->${format(r.to)}`;
  const parts = [
    s.delay ? `delay ${ramp(s.delay, formatDelay)}` : '',
    s.jitter ? `jitter ${ramp(s.jitter, formatDelay)}` : '',
    s.loss ? `loss ${ramp(s.loss, (v) => `${v}%`)}` : '',
    s.rate ? `rate ${ramp(s.rate, formatRate)}` : '',
  ].filter(Boolean);
  return `${parts.join(', ')} on ${where}${edge === 'end' ? ' lifted' : ''}`;
}

/**
 * The base the events add to, for the line at the level's first change: `zones from
 * aws-4-regions.csv (node0 N_Virginia, node1 London)`, `mobility (range 100 m, 4 nodes placed)`;
 * undefined without zones or mobility.
 */
export function describeBase(conditions: NetworkConditions, model: ConditionModel): string | undefined {
  const parts: string[] = [];
  if (conditions.zones) {
    const source = basename(conditions.zones.matrix.source);
    const placed = model.nodes
      .map((node) => [node, model.zoneOf(node)] as const)
      .filter((pair): pair is readonly [string, string] => pair[1] !== undefined)
      .map(([node, zone]) => `${node} ${zone}`);
    parts.push(`zones from ${source} (${placed.join(', ')})`);
  }
  if (conditions.mobility) {
    const placed = Object.keys(conditions.mobility.positions).length;
    parts.push(
      `mobility (range ${conditions.mobility.range} m, ${placed} node${placed === 1 ? '' : 's'} placed, ${conditions.mobility.moves.length} move${conditions.mobility.moves.length === 1 ? '' : 's'})`,
    );
  }
  return parts.length > 0 ? parts.join(' and ') : undefined;
}

export function conditionsRecord(conditions: NetworkConditions, model: ConditionModel): unknown {
  return {
    events: conditions.events,
    ...(conditions.zones
      ? {
          zones: {
            source: conditions.zones.matrix.source,
            zones: conditions.zones.matrix.zones,
            nodes: Object.fromEntries(model.nodes.map((node) => [node, model.zoneOf(node)])),
          },
        }
      : {}),
    ...(conditions.mobility ? { mobility: conditions.mobility } : {}),
  };
}

export function applyFigures(
  events: readonly ConditionEventRecord[],
): { count: number; max: number; p50: number } | null {
  const times = events
    .filter((e) => e.changed > 0)
    .map((e) => e.done_ms - e.fired_ms)
    .sort((a, b) => a - b);
  if (times.length === 0) return null;
  return {
    count: times.length,
    max: round(times.at(-1) as number),
    p50: round(times[Math.floor((times.length - 1) / 2)] as number),
  };
}

/** Per link that was ever shaped: its applied quality at each second. */
export function qualitySeries(samples: readonly LinkSample[]): unknown {
  const keys = new Set<string>();
  for (const sample of samples) for (const [key, q] of sample.state) if (!isClear(q)) keys.add(key);
  const links: Record<
    string,
    {
      delay_ms: number[];
      jitter_ms: number[];
      loss_pct: number[];
      rate_mbit: (number | null)[];
      up: boolean[];
    }
  > = {};
  for (const key of [...keys].sort()) {
    const series = {
      delay_ms: [] as number[],
      jitter_ms: [] as number[],
      loss_pct: [] as number[],
      rate_mbit: [] as (number | null)[],
      up: [] as boolean[],
    };
    for (const sample of samples) {
      const q = sample.state.get(key) ?? CLEAR;
      series.delay_ms.push(q.delayMs);
      series.jitter_ms.push(q.jitterMs);
      series.loss_pct.push(q.lossPct);
      series.rate_mbit.push(q.rateBits === null ? null : q.rateBits / 1e6);
      series.up.push(q.up);
    }
    links[key] = series;
  }
  return { t_s: samples.map((s) => s.t), links };
}

export function positionSeries(samples: readonly LinkSample[]): unknown {
  const nodes: Record<string, (readonly [number, number])[]> = {};
  for (const sample of samples) {
    for (const [node, at] of sample.positions ?? [])
      (nodes[node] ??= []).push([Math.round(at[0] * 10) / 10, Math.round(at[1] * 10) / 10]);
  }
  return { t_s: samples.map((s) => s.t), nodes };
}

/** Milliseconds to a tenth. */
export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
