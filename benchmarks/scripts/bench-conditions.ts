/**
 * `npm run bench:conditions` — the network conditioner's own overhead (issue 16), on a
 * local network of `--nodes` (16) idle containers (or reference nodes with --refnodes):
 *   1. changes: a scenario that changes every link of every node each `--gap-ms`
 *      (delay, then loss, then a rate, then a bisect partition, then clear, over and over);
 *      per change, the time from firing until every namespace has it (target: p99 < 1 s for
 *      16 nodes), and how late it fired on the level's clock;
 *   2. mobility: every node moving for the whole level, so every second each node's links
 *      change; per tick, its lateness and duration (target: the 1 s period kept: each tick
 *      done before the next is due).
 * Both run the conditioner directly against the deployment, on the level's clock, with no
 * load (the nodes idle), so the figures are the conditioner's and the helpers'.
 *
 * A declaration on the bench harness (lib/harness.ts): the two parts are its sides, without a
 * comparison (they are not rivals); `--pairs` (default 1) runs both that many times, the order
 * turned each time. A target is met or missed only when every round agrees on a quiet machine,
 * else "inconclusive" (lib/verdict.ts). Writes benchmarks/results/conditions-<timestamp>.json.
 */
import { resolve } from 'node:path';
import { numberFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';
import { benchNetwork } from './lib/networks.js';
import { judgeThreshold, type LoadRecord } from './lib/verdict.js';

interface Args {
  readonly nodes: number;
  readonly changes: number;
  readonly gapMs: number;
  readonly seconds: number;
  readonly refnodes: boolean;
}

const { NetworkConditioner } = await import('../../src/conditions/conditioner.js');
const { networkEvents, parseScenario } = await import('../../src/scenario/scenario.js');

type Deployment = import('../../src/testbed/testbed.js').Deployment;
type Conditions = import('../../src/conditions/model.js').NetworkConditions;
type EventRecord = import('../../src/conditions/conditioner.js').ConditionEventRecord;

process.chdir(resolve(import.meta.dirname, '../..'));
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;

/** Runs one level of `levelMs` with these conditions on the deployment; the timeline it recorded. */
async function level(
  deployment: Deployment,
  conditions: Conditions,
  levelMs: number,
): Promise<EventRecord[]> {
  const conditioner = new NetworkConditioner({
    conditions,
    source: 'bench:conditions',
    confirmCommit: false,
    control: false,
  });
  await conditioner.onDeploy(deployment);
  const controller = new AbortController();
  const started = performance.now();
  let block: { events: EventRecord[] } | undefined;
  const context = {
    signal: controller.signal,
    elapsedMs: () => performance.now() - started,
    block: (_name: string, data: unknown) => {
      block = data as { events: EventRecord[] };
    },
    log: () => undefined,
  };
  try {
    conditioner.onLevelStart({ warmupMs: 0, durationMs: levelMs }, context);
    await new Promise((done) => setTimeout(done, levelMs));
    controller.abort();
    const load = {
      startedAt: new Date(Date.now() - levelMs).toISOString(),
      durationSecs: levelMs / 1000,
      timeSeries: [],
    };
    await conditioner.onLoadEnd({ warmupMs: 0, durationMs: levelMs }, load as never, context);
  } finally {
    await conditioner.onTeardown();
  }
  return block?.events ?? [];
}

function figures(events: readonly EventRecord[]) {
  const applied = events.filter((e) => e.changed > 0 && e.edge !== 'clear');
  const apply = applied.map((e) => e.done_ms - e.fired_ms).sort((a, b) => a - b);
  const late = applied.map((e) => e.fired_ms - e.scheduled_ms).sort((a, b) => a - b);
  return {
    changes: applied.length,
    namespaces: Math.max(0, ...applied.map((e) => e.changed)),
    applyMs: {
      p50: round(quantile(apply, 0.5)),
      p99: round(quantile(apply, 0.99)),
      max: round(apply.at(-1) ?? 0),
    },
    latenessMs: {
      p50: round(quantile(late, 0.5)),
      p99: round(quantile(late, 0.99)),
      max: round(late.at(-1) ?? 0),
    },
    errors: applied.filter((e) => e.errors).length,
    apply,
  };
}

type Figures = ReturnType<typeof figures>;
type Part = 'changes' | 'mobility';
interface Round extends Figures {
  readonly part: Part;
  /** For mobility: the slowest tick plus the most late a tick fired, against its 1 s period. */
  readonly slowestTickMs?: number;
  /** The load average over this round alone. */
  readonly load: LoadRecord;
}

const nodeIdsOf = (nodes: number) => Array.from({ length: nodes }, (_, i) => `node${i}`);

/** 1. changes of every link of every node */
function changesScenario(args: Args): { conditions: Conditions; levelMs: number } {
  const kinds = [
    'action: delay, delay: 20ms',
    'action: loss, loss: 2%',
    'action: bandwidth, rate: 50mbit',
    'action: partition, shape: bisect',
  ];
  const lines = Array.from({ length: args.changes }, (_, i) => {
    const from = (1000 + i * args.gapMs) / 1000;
    return `  - { from: ${from}s, to: ${from + (args.gapMs * 0.6) / 1000}s, ${kinds[i % kinds.length]} }`;
  });
  const scenario = parseScenario(`events:\n${lines.join('\n')}\n`, 'bench-changes.yaml');
  return {
    conditions: { events: networkEvents(scenario) },
    levelMs: 1000 + args.changes * args.gapMs + 1000,
  };
}

/** 2. mobility: every node on the move for the whole level */
function mobilityScenario(args: Args): { conditions: Conditions; levelMs: number } {
  const nodeIds = nodeIdsOf(args.nodes);
  const positions = nodeIds
    .map((node, i) => `${node}: [${(i % 4) * 30}, ${Math.floor(i / 4) * 30}]`)
    .join(', ');
  const moves = nodeIds
    .map(
      (node, i) =>
        `    - { node: ${node}, from: 0s, to: ${args.seconds}s, position: [${(i % 4) * 30 + (i % 2 === 0 ? 150 : -150)}, ${Math.floor(i / 4) * 30}] }`,
    )
    .join('\n');
  const mobility = parseScenario(
    `events: []\nmobility:\n  range: 120\n  fade: 0.5\n  delay: 1ms\n  rate: 54mbit\n  positions: { ${positions} }\n  moves:\n${moves}\n`,
    'bench-mobility.yaml',
  );
  return {
    conditions: { events: [], ...(mobility.mobility ? { mobility: mobility.mobility } : {}) },
    levelMs: args.seconds * 1000,
  };
}

await runBench({
  usage: {
    name: 'bench:conditions',
    summary:
      'Time to apply network conditions to every node of a local network (target < 1 s for 16 nodes), and\n' +
      'whether a mobility scenario with every node moving keeps its 1 s period. Needs the images (npm run setup).',
    notes: ['Writes benchmarks/results/conditions-<timestamp>.json.'],
  },
  flags: {
    nodes: { type: 'string', valueName: 'N', default: '16', description: 'nodes in the network' },
    changes: { type: 'string', valueName: 'N', default: '20', description: 'changes in the first part' },
    'gap-ms': { type: 'string', valueName: 'MS', default: '1500', description: 'time between changes' },
    seconds: { type: 'string', valueName: 'S', default: '20', description: 'length of the mobility level' },
    refnodes: {
      type: 'boolean',
      default: false,
      description:
        'shape a network of reference nodes (busy: 16 of them load 2 cores) instead of idle containers',
    },
  },
  defaultPairs: 1,
  args: (values): Args => ({
    nodes: numberFlag('nodes', values.nodes, { integer: true, min: 2 }),
    changes: numberFlag('changes', values.changes, { integer: true, min: 1 }),
    gapMs: numberFlag('gap-ms', values['gap-ms'], { min: 100 }),
    seconds: numberFlag('seconds', values.seconds, { integer: true, min: 2 }),
    refnodes: values.refnodes === true,
  }),
  file: 'conditions',
  setup: async (args, { log }) => {
    log(`deploying ${args.nodes} ${args.refnodes ? 'reference nodes' : 'idle containers'} …`);
    return benchNetwork({ nodes: args.nodes, refnodes: args.refnodes, prefix: 'bench-conditions' });
  },
  teardown: (deployment) => deployment.destroy(),
  sides: ['changes', 'mobility'],
  compare: false,
  round: async (side, { shared, args, window }): Promise<Round> => {
    const part = side as Part;
    const { conditions, levelMs } = part === 'changes' ? changesScenario(args) : mobilityScenario(args);
    const measured = window();
    const figured = figures(await level(shared, conditions, levelMs));
    const load = measured.close();
    return part === 'changes'
      ? { part, ...figured, load }
      : { part, ...figured, slowestTickMs: Math.max(0, ...figured.apply) + figured.latenessMs.max, load };
  },
  describe: (r) =>
    r.part === 'changes'
      ? `${r.changes} changes (${r.namespaces} namespaces each): applied in p50 ${r.applyMs.p50} ms, p99 ${r.applyMs.p99} ms, max ${r.applyMs.max} ms; fired late p99 ${r.latenessMs.p99} ms; ${r.errors} with errors`
      : `${r.changes} ticks: each took p50 ${r.applyMs.p50} ms, max ${r.applyMs.max} ms; fired late p99 ${r.latenessMs.p99} ms, max ${r.latenessMs.max} ms; ${r.errors} with errors`,
  figures: {
    applyP50Ms: (r) => r.applyMs.p50,
    applyP99Ms: (r) => r.applyMs.p99,
    applyMaxMs: (r) => r.applyMs.max,
    latenessP99Ms: (r) => r.latenessMs.p99,
    latenessMaxMs: (r) => r.latenessMs.max,
    errors: (r) => r.errors,
  },
  // each round's level is one sample (its p99, or its slowest tick): every round must agree
  claims: ({ changes = [], mobility = [] }, args, load) => [
    judgeThreshold({
      claim: `apply a change to ${args.nodes} nodes: p99 < 1000 ms`,
      values: changes.map((r) => r.applyMs.p99),
      target: 1000,
      minRounds: 1,
      load,
    }),
    judgeThreshold({
      claim: `mobility with ${args.nodes} moving nodes: every tick done within its 1 s period (max tick duration + lateness < 1000 ms)`,
      values: mobility.map((r) => r.slowestTickMs ?? NaN),
      target: 1000,
      minRounds: 1,
      load,
    }),
  ],
  extra: (_bySide, args) => ({
    nodes: args.nodes,
    namespaces: args.refnodes ? 'reference nodes' : 'idle containers',
  }),
});
