/**
 * Scenarios: what happens to which nodes when, during each load level. A YAML (or JSON)
 * file, `--scenario FILE`, or the shorthands `--faults f` and `--crash-recovery`, which
 * expand into the same form (see docs/faults.md; JSON Schema: docs/scenario.schema.json).
 *
 *   version: 1
 *   events:
 *     - { at: 30s, action: crash, nodes: [node2] }          # a point in time
 *     - { at: 45s, action: restart, nodes: [node2] }
 *     - { from: 60s, to: 70s, action: pause, nodes: node1 }  # a window: undone at `to`
 *     - { every: 20s, action: crash-recovery, faults: 1 }    # Mysten's crash-recovery cycle
 *
 * Times are from the start of the level's load (warm-up included): seconds as a number,
 * or "500ms", "30s", "2m". Every event is an `action` with its own fields, so the next
 * kinds (network conditions) are new actions and files written now stay valid.
 *
 * Parsing gives the file's line for each problem; `expandScenario` turns events into
 * the primitive steps the injector runs, and `checkTimeline` replays them against the
 * nodes' states (a restart needs a node that is down) before anything starts.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { z } from 'zod';
import { MeshbenchError } from '../common/errors.js';
import { jsonSchemaOf } from '../common/json-schema.js';
import {
  NETWORK_ACTIONS,
  namedNodes,
  NetworkEventProblem,
  networkEventOf,
  networkEventSchema,
  type NetworkEvent,
} from './events.js';
import { MobilityProblem, parseMobility, positionsProblem, type MobilitySpec } from './mobility.js';
import { loadZoneMatrix, ORCHESTRATOR, ZoneProblem, type ZonesSpec } from './zones.js';

export const SCENARIO_VERSION = 1;

/** A node action a step applies: `crash` is `kill` (SIGKILL). */
export type NodeAction = 'kill' | 'stop' | 'pause' | 'unpause' | 'restart';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/;

const durationSchema = z
  .union([z.number().nonnegative(), z.string().regex(DURATION, 'a time like 30s, 500ms or 2m')])
  .describe('from the start of the level: seconds, or "500ms", "30s", "2m"');
const nodesSchema = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .describe('a node ID (as the testbed names it: node0, or a compose service) or a list of them');

const pointActions = ['crash', 'kill', 'stop', 'pause', 'unpause', 'restart'] as const;
const windowActions = ['crash', 'kill', 'stop', 'pause'] as const;

const pointEventSchema = z
  .strictObject({
    at: durationSchema,
    action: z.enum(pointActions),
    nodes: nodesSchema,
    note: z.string().optional(),
  })
  .describe('one action at one time; restart brings back a node that is down, unpause one that is paused');
const windowEventSchema = z
  .strictObject({
    from: durationSchema,
    to: durationSchema,
    action: z.enum(windowActions),
    nodes: nodesSchema,
    note: z.string().optional(),
  })
  .describe('an action at `from`, undone at `to` (crash/kill/stop: restart; pause: unpause)');
const crashRecoverySchema = z
  .strictObject({
    every: durationSchema,
    action: z.literal('crash-recovery'),
    faults: z.int().min(1).describe('at most this many nodes down at once'),
    nodes: nodesSchema
      .optional()
      .describe('the nodes it crashes, in order (default: the last `faults` nodes)'),
    from: durationSchema.optional().describe('first tick at from + every (default 0)'),
    to: durationSchema.optional().describe('no tick at or after this (default: the level end)'),
    note: z.string().optional(),
  })
  .describe(
    "Mysten's crash-recovery schedule: every `every`, crash the next floor(f/3) nodes (all f when f < 3) until f are down, then restart all f together; repeat",
  );

/**
 * One event as the file gives it: a network condition by its action (docs/conditions.md),
 * else a node event whose shape is told by its time keys (`at`, `from`/`to`, `every`).
 */
const eventSchema = z.union([pointEventSchema, windowEventSchema, crashRecoverySchema, networkEventSchema]);

const zonesSchema = z
  .strictObject({
    matrix: z.string().min(1).describe('a CSV matrix of one-way delays between zones, relative to this file'),
    nodes: z
      .record(z.string(), z.string())
      .optional()
      .describe('node → zone (default: round robin over the zones in the file order)'),
  })
  .describe('zones: each node in a zone, the matrix gives each pair of zones its link (docs/conditions.md)');

const mobilitySchema = z
  .strictObject({
    model: z.literal('range').optional().describe("the range model (CORE's basic range, with a loss ramp)"),
    range: z.number().positive().describe('metres: no link at or beyond'),
    fade: z
      .number()
      .min(0)
      .lt(1)
      .optional()
      .describe('share of the range where loss starts rising (default 0.8)'),
    delay: z.union([z.string(), z.number()]).optional().describe('base one-way delay (default 1ms)'),
    rate: z
      .union([z.string(), z.number()])
      .optional()
      .describe('bandwidth within range, falling to the edge'),
    positions: z.record(z.string(), z.tuple([z.number(), z.number()])).describe('node → [x, y] in metres'),
    moves: z
      .array(
        z.strictObject({
          node: z.string(),
          from: z.union([z.string(), z.number()]),
          to: z.union([z.string(), z.number()]),
          position: z.tuple([z.number(), z.number()]),
          note: z.string().optional(),
        }),
      )
      .optional()
      .describe('linear moves: from its position at `from` to `position` at `to`'),
  })
  .describe('moving nodes: link quality follows from distance, recomputed each second');

export const scenarioFileSchema = z
  .strictObject({
    version: z.literal(SCENARIO_VERSION).optional().describe('the format version (1)'),
    name: z.string().optional(),
    events: z.array(eventSchema),
    zones: zonesSchema.optional(),
    mobility: mobilitySchema.optional(),
  })
  .meta({
    title: 'meshbench scenario',
    description:
      'Timed events applied to the nodes during each load level (benchmark --scenario FILE). Times are from the start of the level (warm-up included).',
  });

export type ScenarioEventInput = z.infer<typeof eventSchema>;
type NodeEventInput = z.infer<
  typeof pointEventSchema | typeof windowEventSchema | typeof crashRecoverySchema
>;

/** The scenario format as JSON Schema (docs/scenario.schema.json, written by npm run schema). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return jsonSchemaOf(scenarioFileSchema, 'scenario.schema.json');
}

/** A scenario, parsed: times in milliseconds, nodes as lists. Stored in the record as it is. */
export type ScenarioEvent =
  | {
      readonly kind: 'point';
      readonly atMs: number;
      readonly action: NodeAction;
      readonly nodes: readonly string[];
    }
  | {
      readonly kind: 'window';
      readonly fromMs: number;
      readonly toMs: number;
      readonly action: Exclude<NodeAction, 'unpause' | 'restart'>;
      readonly nodes: readonly string[];
    }
  | {
      readonly kind: 'crash-recovery';
      readonly everyMs: number;
      readonly faults: number;
      /** Absent: the last `faults` nodes of the network. */
      readonly nodes?: readonly string[];
      readonly fromMs: number;
      readonly toMs?: number;
    }
  | NetworkEvent;

export interface Scenario {
  readonly version: typeof SCENARIO_VERSION;
  readonly name?: string;
  /** Where it came from: the file, or the flags it was expanded from. */
  readonly source: string;
  readonly events: readonly ScenarioEvent[];
  /** Each event's line in the file (for messages), by index. */
  readonly lines?: readonly (number | undefined)[];
  /** Zones and their matrix (network conditions). */
  readonly zones?: ZonesSpec;
  /** Moving nodes (network conditions). */
  readonly mobility?: MobilitySpec;
}

/** A parsed scenario whose zone matrix is still a path (parseScenario; loadScenarioFile reads it). */
export interface ParsedScenario extends Scenario {
  readonly zonesFile?: { readonly path: string; readonly assign?: Readonly<Record<string, string>> };
}

/** The scenario's network events (conditions), with their index in `events`. */
export function networkEvents(scenario: Pick<Scenario, 'events'>): NetworkEvent[] {
  return scenario.events.filter((event): event is NetworkEvent => event.kind === 'network');
}

/** Whether a scenario shapes the network (conditions, zones or mobility). */
export function hasNetworkConditions(scenario: Scenario): boolean {
  return (
    networkEvents(scenario).length > 0 || scenario.zones !== undefined || scenario.mobility !== undefined
  );
}

/** Whether a scenario acts on the nodes themselves (crashes, pauses). */
export function hasNodeEvents(scenario: Pick<Scenario, 'events'>): boolean {
  return scenario.events.some((event) => event.kind !== 'network');
}

/** One primitive step of the expanded timeline. */
export interface ScenarioStep {
  readonly atMs: number;
  readonly action: NodeAction;
  readonly nodes: readonly string[];
  /** Index of the event it comes from. */
  readonly event: number;
}

/** `30s` → 30000; a number is seconds. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return Math.round(value * 1000);
  const match = DURATION.exec(value.trim());
  if (!match) throw new Error(`not a time: ${value}`);
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(amount * (unit === 'ms' ? 1 : unit === 'm' ? 60_000 : 1000));
}

function nodeList(nodes: string | readonly string[]): readonly string[] {
  return typeof nodes === 'string' ? [nodes] : [...nodes];
}

function actionOf(action: string): NodeAction {
  return action === 'crash' ? 'kill' : (action as NodeAction);
}

/** Reads and parses a scenario file; one line naming the file, the line and the field on a problem. */
export async function loadScenarioFile(path: string, shown = path): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw scenarioError(
      `--scenario ${shown}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      'give an existing YAML or JSON scenario file (examples in examples/scenarios/)',
    );
  }
  const parsed = parseScenario(text, shown);
  if (!parsed.zonesFile) return parsed;
  const { zonesFile, ...scenario } = parsed;
  const matrixPath = resolve(dirname(path), zonesFile.path);
  try {
    const matrix = await loadZoneMatrix(matrixPath, zonesFile.path);
    return { ...scenario, zones: { matrix, ...(zonesFile.assign ? { assign: zonesFile.assign } : {}) } };
  } catch (error) {
    if (error instanceof ZoneProblem)
      throw scenarioError(
        `${shown}: zones.matrix: ${error.message}`,
        'see docs/conditions.md for the matrix format',
      );
    throw error;
  }
}

export function parseScenario(text: string, shown: string): ParsedScenario {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter });
  const problem = document.errors[0];
  if (problem) {
    const what = (problem.message.split('\n')[0] ?? '').replace(/:$/, '');
    throw scenarioError(`${shown}: not valid YAML or JSON: ${what}`, 'fix the file');
  }
  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    for (let length = path.length; length >= 0; length--) {
      const node = document.getIn(path.slice(0, length), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const content: unknown = document.toJS();
  if (content === null || typeof content !== 'object' || Array.isArray(content)) {
    throw scenarioError(
      `${shown}: not a scenario (expected "events:" with a list)`,
      'see examples/scenarios/',
    );
  }
  const top = z
    .strictObject({
      version: z.unknown().optional(),
      name: z.unknown().optional(),
      events: z.unknown(),
      zones: z.unknown().optional(),
      mobility: z.unknown().optional(),
    })
    .safeParse(content);
  if (!top.success) throw fieldError(shown, top.error, [], lineOf);
  const { events: _events, ...header } = content as Record<string, unknown>;
  const parsed = scenarioFileSchema.omit({ events: true }).safeParse(header);
  if (!parsed.success) throw fieldError(shown, parsed.error, [], lineOf);
  const rawEvents = (content as { events?: unknown }).events;
  if (!Array.isArray(rawEvents)) {
    throw scenarioError(
      `${shown}: line ${lineOf(['events']) ?? 1}: events: must be a list of events`,
      'see examples/scenarios/',
    );
  }
  const events: ScenarioEvent[] = [];
  const lines: (number | undefined)[] = [];
  rawEvents.forEach((raw: unknown, index) => {
    const where = ['events', index];
    if (isNetworkEvent(raw)) {
      const result = networkEventSchema.safeParse(raw);
      if (!result.success) throw fieldError(shown, result.error, where, lineOf);
      try {
        events.push(networkEventOf(result.data, parseDuration));
      } catch (error) {
        if (!(error instanceof NetworkEventProblem)) throw error;
        const path = [...where, error.field];
        throw scenarioError(
          `${shown}: line ${lineOf(path) ?? '?'}: events[${index}].${error.field}: ${error.message}`,
          'see docs/conditions.md for network conditions',
        );
      }
      lines.push(lineOf(where));
      return;
    }
    const schema = shapeOf(raw);
    if (!schema) {
      throw scenarioError(
        `${shown}: line ${lineOf(where) ?? '?'}: events[${index}]: needs a time: "at", "from" and "to", or "every"`,
        'e.g. { at: 30s, action: crash, nodes: [node2] }',
      );
    }
    const result = schema.safeParse(raw);
    if (!result.success) throw fieldError(shown, result.error, where, lineOf);
    events.push(eventOf(result.data as NodeEventInput));
    lines.push(lineOf(where));
  });
  events.forEach((event, index) => {
    if (event.kind === 'window' && event.toMs <= event.fromMs) {
      throw scenarioError(
        `${shown}: line ${lines[index] ?? '?'}: events[${index}].to: must be after from (${event.fromMs / 1000} s)`,
        'give a window that ends after it starts',
      );
    }
    if (event.kind === 'crash-recovery' && event.everyMs <= 0) {
      throw scenarioError(
        `${shown}: line ${lines[index] ?? '?'}: events[${index}].every: must be above 0`,
        'e.g. every: 20s',
      );
    }
  });
  const name = (content as { name?: unknown }).name;
  const { zones, mobility } = parsed.data;
  let mobilitySpec: MobilitySpec | undefined;
  if (mobility) {
    try {
      mobilitySpec = parseMobility(mobility, parseDuration);
    } catch (error) {
      if (!(error instanceof MobilityProblem)) throw error;
      const path = [
        'mobility',
        ...error.field
          .split(/[.[\]]+/)
          .filter(Boolean)
          .map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
      ];
      throw scenarioError(
        `${shown}: line ${lineOf(path) ?? '?'}: mobility.${error.field}: ${error.message}`,
        'see docs/conditions.md for the mobility model',
      );
    }
  }
  return {
    version: SCENARIO_VERSION,
    ...(typeof name === 'string' ? { name } : {}),
    source: shown,
    events,
    lines,
    ...(zones ? { zonesFile: { path: zones.matrix, ...(zones.nodes ? { assign: zones.nodes } : {}) } } : {}),
    ...(mobilitySpec ? { mobility: mobilitySpec } : {}),
  };
}

function isNetworkEvent(raw: unknown): raw is Record<string, unknown> {
  return (
    raw !== null &&
    typeof raw === 'object' &&
    (NETWORK_ACTIONS as readonly unknown[]).includes((raw as { action?: unknown }).action)
  );
}

function shapeOf(raw: unknown) {
  if (raw === null || typeof raw !== 'object') return undefined;
  if ('every' in raw) return crashRecoverySchema;
  if ('from' in raw || 'to' in raw) return windowEventSchema;
  if ('at' in raw) return pointEventSchema;
  return undefined;
}

function eventOf(input: NodeEventInput): ScenarioEvent {
  if ('every' in input) {
    return {
      kind: 'crash-recovery',
      everyMs: parseDuration(input.every),
      faults: input.faults,
      ...(input.nodes ? { nodes: nodeList(input.nodes) } : {}),
      fromMs: input.from === undefined ? 0 : parseDuration(input.from),
      ...(input.to === undefined ? {} : { toMs: parseDuration(input.to) }),
    };
  }
  if ('from' in input) {
    return {
      kind: 'window',
      fromMs: parseDuration(input.from),
      toMs: parseDuration(input.to),
      action: actionOf(input.action) as Exclude<NodeAction, 'unpause' | 'restart'>,
      nodes: nodeList(input.nodes),
    };
  }
  return {
    kind: 'point',
    atMs: parseDuration(input.at),
    action: actionOf(input.action),
    nodes: nodeList(input.nodes),
  };
}

function fieldError(
  shown: string,
  error: z.ZodError,
  base: readonly (string | number)[],
  lineOf: (path: readonly (string | number)[]) => number | undefined,
): MeshbenchError {
  const issue = error.issues[0];
  const path = [...base, ...(issue?.path ?? [])].filter(
    (part): part is string | number => typeof part === 'string' || typeof part === 'number',
  );
  const field = path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i > 0 ? '.' : ''}${part}`))
    .join('');
  const message =
    issue?.code === 'unrecognized_keys'
      ? `unknown field ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`
      : issue?.code === 'invalid_value'
        ? `must be one of ${issue.values.map((value) => String(value)).join(', ')}`
        : (issue?.message ?? 'not valid');
  return scenarioError(
    `${shown}: line ${lineOf(path) ?? '?'}: ${field || 'the file'}: ${message}`,
    'see docs/faults.md for the scenario format',
  );
}

export function scenarioError(message: string, hint: string): MeshbenchError {
  return new MeshbenchError('BAD_SCENARIO', message, { hint, exitCode: 2 });
}

// ---- the shorthands ----

/** `--faults f` (with `--fault-nodes`): crash those nodes when the measured window starts. */
export function faultsScenario(options: {
  readonly nodes: readonly string[];
  readonly atMs: number;
}): ScenarioEvent {
  return { kind: 'point', atMs: options.atMs, action: 'kill', nodes: options.nodes };
}

/** `--crash-recovery --crash-interval S --faults f`: Mysten's cycle every S from the level start. */
export function crashRecoveryScenario(options: {
  readonly faults: number;
  readonly nodes?: readonly string[];
  readonly everyMs: number;
}): ScenarioEvent {
  return {
    kind: 'crash-recovery',
    everyMs: options.everyMs,
    faults: options.faults,
    ...(options.nodes ? { nodes: options.nodes } : {}),
    fromMs: 0,
  };
}

// ---- expansion and the timeline check ----

/**
 * The primitive steps of a scenario over a level of `levelMs`, sorted by time (file
 * order within the same time). `nodeIds` is the network's nodes in order; events with no
 * nodes of their own (the shorthands) take the last `faults` of them.
 */
export function expandScenario(
  scenario: Pick<Scenario, 'events'>,
  nodeIds: readonly string[],
  levelMs: number,
): ScenarioStep[] {
  const steps: ScenarioStep[] = [];
  scenario.events.forEach((event, index) => {
    if (event.kind === 'network') return;
    if (event.kind === 'point') {
      steps.push({ atMs: event.atMs, action: event.action, nodes: event.nodes, event: index });
    } else if (event.kind === 'window') {
      steps.push({ atMs: event.fromMs, action: event.action, nodes: event.nodes, event: index });
      const undo: NodeAction = event.action === 'pause' ? 'unpause' : 'restart';
      steps.push({ atMs: event.toMs, action: undo, nodes: event.nodes, event: index });
    } else {
      const nodes = event.nodes ?? nodeIds.slice(Math.max(0, nodeIds.length - event.faults));
      const end = Math.min(event.toMs ?? levelMs, levelMs);
      const cycle = [...crashRecoveryTicks(event.faults, nodes)];
      let tick = 0;
      for (let at = event.fromMs + event.everyMs; at < end; at += event.everyMs, tick++) {
        const next = cycle[tick % cycle.length] as { action: NodeAction; nodes: readonly string[] };
        steps.push({ atMs: at, action: next.action, nodes: next.nodes, event: index });
      }
    }
  });
  return steps
    .map((step, order) => ({ step, order }))
    .sort((a, b) => a.step.atMs - b.step.atMs || a.order - b.order)
    .map(({ step }) => step);
}

/**
 * One cycle of Mysten's CrashRecoverySchedule (crates/orchestrator/src/faults.rs): with
 * m = floor(f/3), crash nodes [0, m), then [m, 2m), then [2m, f) (all f at once when
 * m = 0), one group per tick, then restart all f together at the next tick.
 */
export function* crashRecoveryTicks(
  faults: number,
  nodes: readonly string[],
): Generator<{ action: NodeAction; nodes: readonly string[] }> {
  const f = Math.min(faults, nodes.length);
  const m = Math.floor(f / 3);
  const groups =
    m === 0
      ? [[0, f]]
      : [
          [0, m],
          [m, 2 * m],
          [2 * m, f],
        ];
  for (const [low, high] of groups) yield { action: 'kill', nodes: nodes.slice(low, high) };
  yield { action: 'restart', nodes: nodes.slice(0, f) };
}

type NodeState = 'up' | 'down' | 'paused';

const NEEDS: Readonly<Record<NodeAction, readonly NodeState[]>> = {
  kill: ['up', 'paused'],
  stop: ['up', 'paused'],
  pause: ['up'],
  unpause: ['paused'],
  restart: ['down'],
};
const AFTER: Readonly<Record<NodeAction, NodeState>> = {
  kill: 'down',
  stop: 'down',
  pause: 'paused',
  unpause: 'up',
  restart: 'up',
};

/**
 * Replays the steps against the nodes (all up at the start) and refuses, in one line
 * naming the event, a node that does not exist, a step at or after the level's end, and
 * an action on a node in the wrong state (a restart of a node that is not down).
 * `nodeIds` undefined: the names are not known yet (a compose file before deploy).
 */
export function checkTimeline(
  scenario: Scenario,
  steps: readonly ScenarioStep[],
  nodeIds: readonly string[] | undefined,
  levelMs: number,
  /** Whether the orchestrator's links (`client`) are shaped; undefined: not known here (checked later). */
  orchestrator?: boolean,
  /** The network the names are judged against, as a refusal names it. */
  network = 'this network',
): void {
  const where = (step: ScenarioStep) =>
    `${scenario.source}${scenario.lines?.[step.event] ? `: line ${scenario.lines[step.event]}` : ''}: events[${step.event}]`;
  scenario.events.forEach((event, index) => {
    if (event.kind !== 'network') return;
    const at = `${scenario.source}${scenario.lines?.[index] ? `: line ${scenario.lines[index]}` : ''}: events[${index}]`;
    if (event.fromMs >= levelMs) {
      throw scenarioError(
        `${at}: ${event.action} at ${event.fromMs / 1000} s is at or after the level's end (${levelMs / 1000} s)`,
        'move it earlier, or give a longer --duration',
      );
    }
    if (event.toMs !== null && event.toMs > levelMs) {
      throw scenarioError(
        `${at}: to ${event.toMs / 1000} s is after the level's end (${levelMs / 1000} s)`,
        'end the window within the level, or give a longer --duration',
      );
    }
    for (const node of namedNodes(event)) {
      if (node === ORCHESTRATOR) {
        if (orchestrator === false)
          throw scenarioError(
            `${at}: ${ORCHESTRATOR} (the orchestrator's traffic with the nodes) is shaped only when asked`,
            'add --shape-orchestrator',
          );
        continue;
      }
      if (nodeIds && !nodeIds.includes(node)) {
        throw scenarioError(
          `${at}: no node ${JSON.stringify(node)} in ${network} (nodes: ${nodeIds.join(', ')})`,
          'name one of its nodes',
        );
      }
    }
  });
  const placed =
    scenario.mobility && nodeIds ? positionsProblem(scenario.mobility, nodeIds, network) : undefined;
  if (placed) throw scenarioError(`${scenario.source}: ${placed.message}`, placed.hint);
  const states = new Map<string, NodeState>();
  for (const step of steps) {
    if (step.atMs >= levelMs) {
      throw scenarioError(
        `${where(step)}: ${step.action} at ${step.atMs / 1000} s is at or after the level's end (${levelMs / 1000} s)`,
        'move it earlier, or give a longer --duration',
      );
    }
    for (const node of step.nodes) {
      if (nodeIds && !nodeIds.includes(node)) {
        throw scenarioError(
          `${where(step)}: no node ${JSON.stringify(node)} in ${network} (nodes: ${nodeIds.join(', ')})`,
          'name one of its nodes',
        );
      }
      const state = states.get(node) ?? 'up';
      if (!NEEDS[step.action].includes(state)) {
        throw scenarioError(
          `${where(step)}: ${step.action} ${node} at ${step.atMs / 1000} s, but ${node} is ${state} then`,
          step.action === 'restart'
            ? 'restart only a node a crash, kill or stop took down'
            : `${step.action} needs a node that is ${NEEDS[step.action].join(' or ')}`,
        );
      }
      states.set(node, AFTER[step.action]);
    }
  }
}

/**
 * The scenario's steps over `nodeIds` for a level of `levelMs`, checked (checkTimeline) before
 * they are used; `nodeIds` undefined: the names are not known yet. `network` names the network
 * in a refusal.
 */
export function checkedSteps(
  scenario: Scenario,
  nodeIds: readonly string[] | undefined,
  levelMs: number,
  network?: string,
): readonly ScenarioStep[] {
  const steps = expandScenario(scenario, nodeIds ?? [], levelMs);
  checkTimeline(scenario, steps, nodeIds, levelMs, undefined, network);
  return steps;
}

/** The largest number of nodes down (or paused) at once over the steps. */
export function maxDown(steps: readonly ScenarioStep[]): number {
  const states = new Map<string, NodeState>();
  let most = 0;
  for (const step of steps) {
    for (const node of step.nodes) states.set(node, AFTER[step.action]);
    most = Math.max(most, [...states.values()].filter((state) => state !== 'up').length);
  }
  return most;
}

/** The scenario as the record stores it (times in ms, the source, no line numbers). */
export function scenarioRecord(scenario: Scenario): Omit<Scenario, 'lines'> {
  const { lines: _lines, ...rest } = scenario as ParsedScenario;
  const { zonesFile: _zonesFile, ...stored } = rest;
  return stored;
}
