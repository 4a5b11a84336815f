/**
 * `npm run bench:conditions` — the network conditioner's own overhead (issue 16), on a
 * local network of `--nodes` (16) reference nodes:
 *   1. changes: a scenario that changes every link of every node each `--gap-ms`
 *      (delay, then loss, then a rate, then a bisect partition, then clear, over and over);
 *      per change, the time from firing until every namespace has it (target: < 1 s for
 *      16 nodes), and how late it fired on the level's clock;
 *   2. mobility: every node moving for the whole level, so every second each node's links
 *      change; per tick, its lateness and duration (target: the 1 s period kept: each tick
 *      done before the next is due).
 * Both run the conditioner directly against the deployment, on the level's clock, with no
 * load (the nodes idle), so the figures are the conditioner's and the helpers'. The load
 * average is recorded; on a busy machine the verdict is "inconclusive" (lib/verdict.ts).
 * Writes benchmarks/results/conditions-<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { COMMON_FLAGS, flagsOrExit, numberFlag } from './lib/flags.js';
import { judgeThreshold, LoadMonitor, loadLine, verdictLine } from './lib/verdict.js';
import { benchNetwork } from './lib/networks.js';

const USAGE = {
  name: 'bench:conditions',
  summary:
    'Time to apply network conditions to every node of a local network (target < 1 s for 16 nodes), and\n' +
    'whether a mobility scenario with every node moving keeps its 1 s period. Needs the images (npm run setup).',
  notes: ['Writes benchmarks/results/conditions-<timestamp>.json.'],
};
const FLAGS = {
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
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => ({
  nodes: numberFlag('nodes', values.nodes, { integer: true, min: 2 }),
  changes: numberFlag('changes', values.changes, { integer: true, min: 1 }),
  gapMs: numberFlag('gap-ms', values['gap-ms'], { min: 100 }),
  seconds: numberFlag('seconds', values.seconds, { integer: true, min: 2 }),
  refnodes: values.refnodes === true,
  maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
}));
const monitor = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});

const { NetworkConditioner } = await import('../../src/conditions/conditioner.js');
const { networkEvents, parseScenario } = await import('../../src/scenario/scenario.js');

type Deployment = import('../../src/testbed/testbed.js').Deployment;
type Conditions = import('../../src/conditions/model.js').NetworkConditions;
type EventRecord = import('../../src/conditions/conditioner.js').ConditionEventRecord;

const root = resolve(import.meta.dirname, '../..');
process.chdir(root);
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

const startedAt = new Date().toISOString();
const results: Record<string, unknown> = { startedAt, nodes: args.nodes };
const nodeIds = Array.from({ length: args.nodes }, (_, i) => `node${i}`);

console.log(`deploying ${args.nodes} ${args.refnodes ? 'reference nodes' : 'idle containers'} …`);
const deployment = await benchNetwork({
  nodes: args.nodes,
  refnodes: args.refnodes,
  prefix: 'bench-conditions',
});
results.namespaces = args.refnodes ? 'reference nodes' : 'idle containers';
try {
  // 1. changes of every link of every node
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
  const changesMs = 1000 + args.changes * args.gapMs + 1000;
  const scenario = parseScenario(`events:\n${lines.join('\n')}\n`, 'bench-changes.yaml');
  let window = monitor.window();
  const changes = figures(await level(deployment, { events: networkEvents(scenario) }, changesMs));
  let load = window.close();
  const changeJudgement = judgeThreshold({
    claim: `apply a change to ${args.nodes} nodes: p99 < 1000 ms`,
    values: [changes.applyMs.p99],
    target: 1000,
    minRounds: 1,
    load,
  });
  console.log(
    `changes: ${changes.changes} (${changes.namespaces} namespaces each): applied in p50 ${changes.applyMs.p50} ms, p99 ${changes.applyMs.p99} ms, max ${changes.applyMs.max} ms; fired late p99 ${changes.latenessMs.p99} ms; ${changes.errors} with errors`,
  );
  console.log(`  ${verdictLine(changeJudgement)}`);
  console.log(`  ${loadLine(load)}`);
  results.changes = { ...changes, load, judgement: changeJudgement };

  // 2. mobility: every node on the move for the whole level
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
  window = monitor.window();
  const ticks = figures(
    await level(
      deployment,
      { events: [], ...(mobility.mobility ? { mobility: mobility.mobility } : {}) },
      args.seconds * 1000,
    ),
  );
  load = window.close();
  const slowest = Math.max(0, ...ticks.apply);
  const periodJudgement = judgeThreshold({
    claim: `mobility with ${args.nodes} moving nodes: every tick done within its 1 s period (max tick duration + lateness < 1000 ms)`,
    values: [slowest + ticks.latenessMs.max],
    target: 1000,
    minRounds: 1,
    load,
  });
  console.log(
    `mobility: ${ticks.changes} ticks over ${args.seconds} s: each took p50 ${ticks.applyMs.p50} ms, max ${ticks.applyMs.max} ms; fired late p99 ${ticks.latenessMs.p99} ms, max ${ticks.latenessMs.max} ms; ${ticks.errors} with errors`,
  );
  console.log(`  ${verdictLine(periodJudgement)}`);
  console.log(`  ${loadLine(load)}`);
  results.mobility = { ...ticks, load, judgement: periodJudgement };
} finally {
  await deployment.destroy();
}
results.endedAt = new Date().toISOString();
results.loadAverage = monitor.stop();
const dir = join(root, 'benchmarks/results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `conditions-${startedAt.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${file}`);
