/**
 * What every link should be at a moment of the level: the zones' matrix as the base, the
 * mobility model over it, then each active event in file order (a later event's fields
 * win). Pure: the conditioner asks it at each event's edge and each second, and applies
 * only what changed.
 */
import { namedNodes, type LinkSelector, type NetworkEvent } from '../scenario/events.js';
import { distance, positionsAt, rangeQuality, type MobilitySpec } from '../scenario/mobility.js';
import { cutLinks, shapeViews, viewsOf, type Views } from '../scenario/partitions.js';
import { rampAt } from '../scenario/quantities.js';
import { ORCHESTRATOR, zoneCell, zoneOfNodes, type ZonesSpec } from '../scenario/zones.js';

/** One direction of one link, as applied at its source's egress. */
export interface LinkQuality {
  readonly delayMs: number;
  readonly jitterMs: number;
  readonly lossPct: number;
  /** Bits per second; null: not limited. */
  readonly rateBits: number | null;
  /** false: every packet dropped (a partition, or out of range). */
  readonly up: boolean;
}

export const CLEAR: LinkQuality = { delayMs: 0, jitterMs: 0, lossPct: 0, rateBits: null, up: true };

export interface NetworkConditions {
  readonly events: readonly NetworkEvent[];
  readonly zones?: ZonesSpec;
  readonly mobility?: MobilitySpec;
}

export function linkKey(from: string, to: string): string {
  return `${from}->${to}`;
}

export function isClear(quality: LinkQuality): boolean {
  return (
    quality.up &&
    quality.delayMs === 0 &&
    quality.jitterMs === 0 &&
    quality.lossPct === 0 &&
    quality.rateBits === null
  );
}

export function sameQuality(a: LinkQuality, b: LinkQuality): boolean {
  return (
    a.up === b.up &&
    a.delayMs === b.delayMs &&
    a.jitterMs === b.jitterMs &&
    a.lossPct === b.lossPct &&
    a.rateBits === b.rateBits
  );
}

/** The network's conditions, resolved against its nodes once (zones assigned, partitions drawn). */
export class ConditionModel {
  readonly #conditions: NetworkConditions;
  /** The network's nodes: partition shapes and mobility cover these. */
  readonly #nodes: readonly string[];
  /** The ends of links: the nodes, and the orchestrator (`client`) when it is shaped. */
  readonly #ends: readonly string[];
  readonly #zoneOf: Map<string, string> | undefined;
  readonly #cuts: Map<number, ReadonlySet<string>>;

  constructor(
    conditions: NetworkConditions,
    nodeIds: readonly string[],
    options: { readonly orchestrator?: boolean } = {},
  ) {
    this.#conditions = conditions;
    this.#nodes = nodeIds;
    this.#ends = options.orchestrator ? [...nodeIds, ORCHESTRATOR] : nodeIds;
    this.#zoneOf = conditions.zones
      ? zoneOfNodes(conditions.zones, nodeIds, options.orchestrator ? [ORCHESTRATOR] : [])
      : undefined;
    this.#cuts = new Map();
    conditions.events.forEach((event, index) => {
      if (event.action !== 'partition') return;
      this.#cuts.set(index, new Set(cutLinks(this.viewsOf(event)).map(([from, to]) => linkKey(from, to))));
    });
  }

  get nodes(): readonly string[] {
    return this.#nodes;
  }

  /** The ends of links: the nodes, and `client` when the orchestrator is shaped. */
  get ends(): readonly string[] {
    return this.#ends;
  }

  zoneOf(node: string): string | undefined {
    return this.#zoneOf?.get(node);
  }

  /** A partition's views: who hears whom. */
  viewsOf(event: NetworkEvent): Views {
    if (event.partition?.shape) return shapeViews(event.partition.shape, this.#nodes, event.partition.node);
    // the orchestrator takes part only when the event names it
    const nodes = namedNodes(event).includes(ORCHESTRATOR) ? this.#ends : this.#nodes;
    if (event.partition?.groups) return viewsOf(event.partition.groups, nodes);
    if (event.selector.kind === 'nodes') {
      const cut = new Set(event.selector.nodes);
      return viewsOf([[...cut], nodes.filter((node) => !cut.has(node))], nodes);
    }
    // links: the views are everything but the named directions.
    const views = new Map(nodes.map((node) => [node, new Set(nodes)]));
    if (event.selector.kind === 'links')
      for (const link of event.selector.links) views.get(link.to)?.delete(link.from);
    return views;
  }

  /**
   * Every directed link's quality at `tMs` on the level's clock; `live` events (changed by
   * hand while the run goes) apply after the scenario's.
   */
  at(tMs: number, live: readonly NetworkEvent[] = []): Map<string, LinkQuality> {
    const out = new Map<string, LinkQuality>();
    const positions = this.#conditions.mobility ? positionsAt(this.#conditions.mobility, tMs) : undefined;
    for (const from of this.#ends) {
      for (const to of this.#ends) {
        if (from === to) continue;
        out.set(linkKey(from, to), this.#base(from, to, positions));
      }
    }
    const count = this.#conditions.events.length;
    [...this.#conditions.events, ...live].forEach((event, index) => {
      if (tMs < event.fromMs || (event.toMs !== null && tMs >= event.toMs)) return;
      const share = event.toMs === null ? 0 : (tMs - event.fromMs) / (event.toMs - event.fromMs);
      if (event.action === 'partition') {
        const cuts =
          index < count
            ? this.#cuts.get(index)
            : new Set(cutLinks(this.viewsOf(event)).map(([from, to]) => linkKey(from, to)));
        for (const key of cuts ?? []) {
          const current = out.get(key);
          if (current) out.set(key, { ...current, up: false });
        }
        return;
      }
      const { settings } = event;
      for (const key of selectedLinks(event.selector, this.#ends)) {
        const current = out.get(key);
        if (!current) continue;
        out.set(key, {
          ...current,
          ...(settings.delay ? { delayMs: round(rampAt(settings.delay, share)) } : {}),
          ...(settings.jitter ? { jitterMs: round(rampAt(settings.jitter, share)) } : {}),
          ...(settings.loss ? { lossPct: round(rampAt(settings.loss, share)) } : {}),
          ...(settings.rate ? { rateBits: Math.round(rampAt(settings.rate, share)) } : {}),
        });
      }
    });
    return out;
  }

  /** Each node's position at `tMs` (mobility only). */
  positionsAt(tMs: number): Map<string, readonly [number, number]> | undefined {
    return this.#conditions.mobility ? positionsAt(this.#conditions.mobility, tMs) : undefined;
  }

  /** Whether the conditions move between events (ramps, mobility): then they are recomputed each second. */
  get continuous(): boolean {
    const ramps = this.#conditions.events.some((event) =>
      Object.values(event.settings).some((ramp) => ramp && ramp.from !== ramp.to),
    );
    return ramps || (this.#conditions.mobility?.moves.length ?? 0) > 0;
  }

  /** The times (level clock) at which something changes: each event's edges. */
  edges(): number[] {
    const times = new Set<number>([0]);
    for (const event of this.#conditions.events) {
      times.add(event.fromMs);
      if (event.toMs !== null) times.add(event.toMs);
    }
    for (const move of this.#conditions.mobility?.moves ?? []) {
      times.add(move.fromMs);
      times.add(move.toMs);
    }
    return [...times].sort((a, b) => a - b);
  }

  #base(
    from: string,
    to: string,
    positions: Map<string, readonly [number, number]> | undefined,
  ): LinkQuality {
    let quality = CLEAR;
    const fromZone = this.#zoneOf?.get(from);
    const toZone = this.#zoneOf?.get(to);
    // the orchestrator without a zone: its links have no zone delay
    if (this.#conditions.zones && fromZone !== undefined && toZone !== undefined) {
      const cell = zoneCell(this.#conditions.zones, fromZone, toZone);
      quality = {
        ...quality,
        delayMs: cell.delayMs,
        lossPct: cell.lossPct ?? 0,
        rateBits: cell.rateBits ?? null,
      };
    }
    const mobility = this.#conditions.mobility;
    if (mobility && positions) {
      const a = positions.get(from);
      const b = positions.get(to);
      if (a && b) {
        const range = rangeQuality(mobility, distance(a, b));
        quality = {
          ...quality,
          up: quality.up && range.up,
          delayMs: round(quality.delayMs + range.delayMs),
          lossPct: round(Math.min(100, quality.lossPct + range.lossPct)),
          rateBits:
            range.rateBits === undefined
              ? quality.rateBits
              : quality.rateBits === null
                ? range.rateBits
                : Math.min(quality.rateBits, range.rateBits),
        };
      }
    }
    return quality;
  }
}

/** The directed links an event covers (a node's links: from it and to it). */
export function selectedLinks(selector: LinkSelector, nodes: readonly string[]): string[] {
  const keys: string[] = [];
  if (selector.kind === 'links') return selector.links.map((link) => linkKey(link.from, link.to));
  const chosen = selector.kind === 'all' ? new Set(nodes) : new Set(selector.nodes);
  for (const from of nodes) {
    for (const to of nodes) {
      if (from !== to && (chosen.has(from) || chosen.has(to))) keys.push(linkKey(from, to));
    }
  }
  return keys;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
