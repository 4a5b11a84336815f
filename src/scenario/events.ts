/**
 * Network conditions as scenario events (docs/conditions.md), in the same file as the
 * node faults and told apart by their `action`:
 *
 *   - { at: 10s, action: delay, delay: 50ms, jitter: 5ms }              # every link, to the level's end
 *   - { from: 10s, to: 40s, action: delay, nodes: [node2], delay: 100ms } # node2's links, both ways
 *   - { from: 10s, to: 80s, action: loss, links: ["node0->node1"], loss: "0%->20%" }  # a ramp
 *   - { from: 20s, to: 40s, action: bandwidth, links: ["node0<->node1"], rate: 1mbit }
 *   - { from: 30s, to: 50s, action: link, nodes: node3, delay: 20ms, loss: 1%, rate: 10mbit }
 *   - { from: 30s, to: 50s, action: partition, shape: bisect }          # Jepsen's shapes
 *   - { from: 30s, to: 50s, action: partition, groups: [[node0, node1], [node2, node3]] }
 *
 * Without `nodes` or `links` an event covers every link. A window's conditions come off at
 * `to`; an `at` event lasts until the level's end. Every condition comes off when the
 * level's load ends.
 */
import { z } from 'zod';
import { PARTITION_SHAPES, type PartitionShape } from './partitions.js';
import { parseDelay, parseLoss, parseRamp, parseRate, type Parsed, type Ramp } from './quantities.js';

export const NETWORK_ACTIONS = ['delay', 'jitter', 'loss', 'bandwidth', 'link', 'partition'] as const;
export type NetworkAction = (typeof NETWORK_ACTIONS)[number];

const duration = z.union([
  z.number().nonnegative(),
  z.string().regex(/^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/, 'a time like 30s, 500ms or 2m'),
]);
const quantity = z.union([z.string(), z.number()]);
const nodes = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .describe('node IDs: the event covers every link from and to them');
const links = z
  .union([z.string(), z.array(z.string()).min(1)])
  .describe('links as "node0->node1" (one way) or "node0<->node1" (both ways)');

export const networkEventSchema = z
  .strictObject({
    at: duration.optional(),
    from: duration.optional(),
    to: duration.optional(),
    action: z.enum(NETWORK_ACTIONS),
    nodes: nodes.optional(),
    links: links.optional(),
    delay: quantity.optional().describe('one-way delay with its unit: 50ms, or a ramp 10ms->80ms'),
    jitter: quantity.optional().describe('delay variation (uniform, ±): 5ms'),
    loss: quantity.optional().describe('packet loss in percent: 2%, or a ramp 0%->20%'),
    rate: quantity.optional().describe('bandwidth with its unit: 10mbit, 512kbit, 1gbit'),
    shape: z.enum(PARTITION_SHAPES).optional().describe("a partition in one of Jepsen's shapes"),
    groups: z
      .array(z.array(z.string().min(1)).min(1))
      .min(2)
      .optional()
      .describe('a partition by name'),
    node: z.string().min(1).optional().describe('split-one: the node cut off (default: the first)'),
    note: z.string().optional(),
  })
  .describe(
    'a network condition on links (delay, jitter, loss, bandwidth, or all of them as `link`), or a partition; `at` lasts to the level end, `from`/`to` is a window',
  );

export type NetworkEventInput = z.infer<typeof networkEventSchema>;

/** Which links an event covers. */
export type LinkSelector =
  | { readonly kind: 'all' }
  | { readonly kind: 'nodes'; readonly nodes: readonly string[] }
  | { readonly kind: 'links'; readonly links: readonly { readonly from: string; readonly to: string }[] };

export interface LinkSettings {
  readonly delay?: Ramp;
  readonly jitter?: Ramp;
  readonly loss?: Ramp;
  /** Bits per second. */
  readonly rate?: Ramp;
}

export interface PartitionSpec {
  readonly shape?: PartitionShape;
  readonly groups?: readonly (readonly string[])[];
  readonly node?: string;
}

export interface NetworkEvent {
  readonly kind: 'network';
  readonly action: NetworkAction;
  readonly fromMs: number;
  /** null: until the level's end. */
  readonly toMs: number | null;
  readonly selector: LinkSelector;
  readonly settings: LinkSettings;
  readonly partition?: PartitionSpec;
}

/** A problem with one field of an event: the caller adds the file, the line and the hint. */
export class NetworkEventProblem extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const REQUIRED: Readonly<Record<NetworkAction, readonly (keyof LinkSettings)[]>> = {
  delay: ['delay'],
  jitter: ['jitter'],
  loss: ['loss'],
  bandwidth: ['rate'],
  link: [],
  partition: [],
};

/** The parsed event; throws NetworkEventProblem naming the field. */
export function networkEventOf(
  input: NetworkEventInput,
  parseTime: (value: number | string) => number,
): NetworkEvent {
  const hasWindow = input.from !== undefined || input.to !== undefined;
  if (hasWindow && input.at !== undefined)
    throw new NetworkEventProblem('at', 'give "at", or "from" and "to", not both');
  if (!hasWindow && input.at === undefined)
    throw new NetworkEventProblem('at', 'needs a time: "at", or "from" and "to"');
  if (hasWindow && (input.from === undefined || input.to === undefined)) {
    throw new NetworkEventProblem(
      input.from === undefined ? 'from' : 'to',
      'a window needs both "from" and "to"',
    );
  }
  const fromMs = parseTime((input.at ?? input.from) as number | string);
  const toMs = input.to === undefined ? null : parseTime(input.to);
  if (toMs !== null && toMs <= fromMs)
    throw new NetworkEventProblem('to', `must be after from (${fromMs / 1000} s)`);
  if (input.nodes !== undefined && input.links !== undefined) {
    throw new NetworkEventProblem('links', 'give "nodes" or "links", not both');
  }
  const settings: { -readonly [K in keyof LinkSettings]: Ramp } = {};
  const read = (
    key: keyof LinkSettings,
    field: 'delay' | 'jitter' | 'loss' | 'rate',
    parse: (v: unknown) => Parsed<number>,
  ) => {
    const value = input[field];
    if (value === undefined) return;
    const parsed = parseRamp(value, parse);
    if (!parsed.ok) throw new NetworkEventProblem(field, parsed.reason);
    if (toMs === null && parsed.value.from !== parsed.value.to) {
      throw new NetworkEventProblem(field, 'a ramp needs a window ("from" and "to")');
    }
    settings[key] = parsed.value;
  };
  read('delay', 'delay', parseDelay);
  read('jitter', 'jitter', parseDelay);
  read('loss', 'loss', parseLoss);
  read('rate', 'rate', parseRate);
  if (input.action === 'partition') {
    for (const field of ['delay', 'jitter', 'loss', 'rate'] as const) {
      if (input[field] !== undefined)
        throw new NetworkEventProblem(field, 'a partition takes no link settings (use action: link)');
    }
    const given = [input.shape, input.groups, input.nodes, input.links].filter(
      (value) => value !== undefined,
    ).length;
    if (given === 0)
      throw new NetworkEventProblem(
        'shape',
        `a partition needs "shape" (${PARTITION_SHAPES.join(', ')}), "groups", "nodes" or "links"`,
      );
    if (given > 1)
      throw new NetworkEventProblem('shape', 'give one of "shape", "groups", "nodes" or "links"');
    if (input.node !== undefined && input.shape !== 'split-one')
      throw new NetworkEventProblem('node', 'only a split-one partition takes "node"');
  } else {
    for (const field of ['shape', 'groups', 'node'] as const) {
      if (input[field] !== undefined) throw new NetworkEventProblem(field, 'only a partition takes it');
    }
    for (const key of REQUIRED[input.action]) {
      if (settings[key] === undefined)
        throw new NetworkEventProblem(key, `a ${input.action} event needs "${key}"`);
    }
    if (Object.keys(settings).length === 0)
      throw new NetworkEventProblem('delay', 'give at least one of delay, jitter, loss, rate');
  }
  const selector = selectorOf(input);
  const partition: PartitionSpec | undefined =
    input.action === 'partition' && (input.shape || input.groups)
      ? {
          ...(input.shape ? { shape: input.shape } : {}),
          ...(input.groups ? { groups: input.groups } : {}),
          ...(input.node ? { node: input.node } : {}),
        }
      : undefined;
  return {
    kind: 'network',
    action: input.action,
    fromMs,
    toMs,
    selector,
    settings,
    ...(partition ? { partition } : {}),
  };
}

function selectorOf(input: NetworkEventInput): LinkSelector {
  if (input.nodes !== undefined) {
    return { kind: 'nodes', nodes: typeof input.nodes === 'string' ? [input.nodes] : [...input.nodes] };
  }
  if (input.links !== undefined) {
    const list = typeof input.links === 'string' ? [input.links] : input.links;
    const out: { from: string; to: string }[] = [];
    for (const link of list) {
      const both = /^\s*([^<>\s-][^<>\s]*?)\s*<->\s*([^<>\s]+)\s*$/.exec(link);
      const one = /^\s*([^<>\s-][^<>\s]*?)\s*->\s*([^<>\s]+)\s*$/.exec(link);
      const match = both ?? one;
      if (!match || match[1] === match[2]) {
        throw new NetworkEventProblem(
          'links',
          `${JSON.stringify(link)} is not a link (write "node0->node1" or "node0<->node1")`,
        );
      }
      out.push({ from: match[1] as string, to: match[2] as string });
      if (both) out.push({ from: match[2] as string, to: match[1] as string });
    }
    return { kind: 'links', links: out };
  }
  return { kind: 'all' };
}

/** The node names an event mentions (to check them against the network). */
export function namedNodes(event: NetworkEvent): readonly string[] {
  const names = new Set<string>();
  if (event.selector.kind === 'nodes') for (const node of event.selector.nodes) names.add(node);
  if (event.selector.kind === 'links') {
    for (const link of event.selector.links) {
      names.add(link.from);
      names.add(link.to);
    }
  }
  for (const group of event.partition?.groups ?? []) for (const node of group) names.add(node);
  if (event.partition?.node) names.add(event.partition.node);
  return [...names];
}
