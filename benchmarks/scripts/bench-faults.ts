/**
 * `npm run bench:faults` — the fault injector's own performance (issue 15):
 *   1. scheduling: a 100-event scenario (pause and unpause of one node, alternating every
 *      `--gap-ms`) during a load level, on a local 4-node network and (unless
 *      `--no-remote`) on 4 sandbox SSH hosts; each event's lateness is fired − scheduled
 *      on the level's clock (target: p99 <= 50 ms on each testbed);
 *   2. hot path: the generator's CPU per 1,000 committed tx with and without an idle
 *      scenario (the injector registered, its one event after the measured window), side
 *      by side on the same local network, rounds alternating (target: ratio <= 1, within
 *      noise: the injector adds no work per transaction).
 * Both parts run levels through the real sweep (`runSweep`) in this process, so CPU is this
 * process's (the generator runs in it with --workers 1).
 *
 * The load average is recorded before, during and after; a claim whose rounds straddle the
 * target, whose sides' ranges overlap, or that ran on a busy machine is "inconclusive"
 * (lib/verdict.ts). Writes benchmarks/results/faults-<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { COMMON_FLAGS, flagsOrExit, numberFlag } from './lib/flags.js';
import { LoadMonitor, judgeRatio, judgeThreshold, loadLine, spread, verdictLine } from './lib/verdict.js';

const USAGE = {
  name: 'bench:faults',
  summary:
    'Fault events against their schedule (100 events per level, local and on sandbox hosts), and the\n' +
    "generator's CPU per 1,000 tx with and without an idle scenario. Needs the images (npm run setup).",
  notes: ['Writes benchmarks/results/faults-<timestamp>.json.'],
};
const FLAGS = {
  events: { type: 'string', valueName: 'N', default: '100', description: 'events per scheduling level' },
  'gap-ms': { type: 'string', valueName: 'MS', default: '150', description: 'time between events' },
  rounds: { type: 'string', valueName: 'N', default: '4', description: 'CPU rounds of each side' },
  seconds: { type: 'string', valueName: 'S', default: '10', description: 'seconds of each CPU level' },
  rate: { type: 'string', valueName: 'TX/S', default: '500', description: 'load of the CPU levels' },
  'no-remote': { type: 'boolean', default: false, description: 'skip the sandbox hosts' },
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => ({
  events: numberFlag('events', values.events, { integer: true, min: 2 }),
  gapMs: numberFlag('gap-ms', values['gap-ms'], { min: 10 }),
  rounds: numberFlag('rounds', values.rounds, { integer: true, min: 1 }),
  seconds: numberFlag('seconds', values.seconds, { integer: true, min: 2 }),
  rate: numberFlag('rate', values.rate, { min: 1 }),
  remote: !values['no-remote'],
  maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
}));
const monitor = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});

const { runLoad } = await import('../../src/load/index.js');
const { runSweep } = await import('../../src/bench/sweep.js');
const { buildBenchmarkPlan } = await import('../../src/bench/plan.js');
const { FaultInjector } = await import('../../src/faults/injector.js');
const { createProtocol } = await import('../../src/protocols/registry.js');
const { LocalTestbed } = await import('../../src/testbed/local/local-testbed.js');
const { RemoteTestbed, defaultKnownHostsPath } = await import('../../src/testbed/remote/remote-testbed.js');
const { loadHosts } = await import('../../src/testbed/remote/hosts.js');

type Scenario = import('../../src/scenario/scenario.js').Scenario;
type Deployment = import('../../src/testbed/testbed.js').Deployment;
type FaultsBlock = import('../../src/faults/recovery.js').FaultsBlock;
type SweepObserver = import('../../src/bench/observer.js').SweepObserver;
type LevelEnd = import('../../src/bench/observer.js').LevelEnd;

const root = resolve(import.meta.dirname, '../..');
process.chdir(root);
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;

/** Pause and unpause `node` alternately: `events` events, `gapMs` apart from 1 s. */
function pauseTrain(node: string, events: number, gapMs: number): Scenario {
  return {
    version: 1,
    source: `bench:faults (${events} events, ${gapMs} ms apart)`,
    events: Array.from({ length: events }, (_, index) => ({
      kind: 'point' as const,
      atMs: 1000 + index * gapMs,
      action: index % 2 === 0 ? ('pause' as const) : ('unpause' as const),
      nodes: [node],
    })),
  };
}

/** One sweep level on an already deployed network, with these observers; returns its end. */
async function level(
  deployment: Deployment,
  options: { rate: number; seconds: number; observers: SweepObserver[]; output: string },
): Promise<{ level: LevelEnd; cpuMs: number }> {
  const plan = await buildBenchmarkPlan(
    {
      loads: String(options.rate),
      duration: options.seconds,
      warmup: 1,
      consoleOutput: false,
      fileOutput: false,
      outputDir: options.output,
      settleTimeout: 10,
      workers: 1,
    },
    { env: {}, skipFileChecks: true },
  );
  let ended: LevelEnd | undefined;
  const before = process.cpuUsage();
  await runSweep(plan, {
    createTestbed: () => ({ kind: deployment.kind, deploy: async () => wrap(deployment) }),
    runLoad,
    observers: [...options.observers, { name: 'bench', onLevelEnd: (end) => void (ended = end) }],
    stdout: () => undefined,
    stderr: (line) => process.stderr.write(`${line}\n`),
  });
  const used = process.cpuUsage(before);
  if (!ended) throw new Error('the level did not end');
  return { level: ended, cpuMs: (used.user + used.system) / 1000 };
}

/** The deployment as the sweep sees it, minus its removal: the script removes it at the end. */
function wrap(deployment: Deployment): Deployment {
  return Object.assign(Object.create(deployment) as Deployment, {
    destroy: async () => undefined,
    release: async () => undefined,
  });
}

async function scheduling(deployment: Deployment, testbed: string) {
  const node = deployment.nodes.at(-1)?.nodeId as string;
  const scenario = pauseTrain(node, args.events, args.gapMs);
  const seconds = Math.ceil((1000 + args.events * args.gapMs) / 1000) + 3;
  const injector = new FaultInjector({
    scenario,
    protocol: createProtocol({ kind: 'cometbft', broadcastMode: 'async' }, 'b'),
    confirmCommit: true,
  });
  injector.onDeploy(deployment);
  const window = monitor.window();
  const { level: end } = await level(deployment, {
    rate: 100,
    seconds,
    observers: [injector as unknown as SweepObserver],
    output: tmpdir(),
  });
  const load = window.close();
  const block = end.runs[0]?.blocks?.faults as FaultsBlock;
  const lateness = block.events
    .filter((event) => event.scheduled_ms !== null)
    .map((event) => event.fired_ms - (event.scheduled_ms as number))
    .sort((a, b) => a - b);
  const actionMs = block.events.map((event) => event.done_ms - event.fired_ms).sort((a, b) => a - b);
  const judgement = judgeThreshold({
    claim: `${testbed}: event lateness p99 <= 50 ms`,
    values: [quantile(lateness, 0.99)],
    target: 50,
    minRounds: 1,
    load,
  });
  console.log(
    `${testbed}: ${lateness.length} events, lateness p50 ${round(quantile(lateness, 0.5))} ms, p99 ${round(quantile(lateness, 0.99))} ms, max ${round(lateness.at(-1) ?? 0)} ms; the engine's pause/unpause took p50 ${round(quantile(actionMs, 0.5))} ms, max ${round(actionMs.at(-1) ?? 0)} ms`,
  );
  console.log(`  ${verdictLine(judgement)}`);
  console.log(`  ${loadLine(load)}`);
  return {
    testbed,
    events: lateness.length,
    latenessMs: {
      p50: round(quantile(lateness, 0.5)),
      p99: round(quantile(lateness, 0.99)),
      max: round(lateness.at(-1) ?? 0),
      values: lateness.map((v) => round(v)),
    },
    engineActionMs: { p50: round(quantile(actionMs, 0.5)), max: round(actionMs.at(-1) ?? 0) },
    errors: block.events.filter((event) => event.errors).length,
    load,
    judgement,
  };
}

async function hotPath(deployment: Deployment) {
  const sides = { without: [] as number[], with: [] as number[] };
  const window = monitor.window();
  for (let roundIndex = 0; roundIndex < args.rounds; roundIndex++) {
    const order = roundIndex % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const);
    for (const side of order) {
      // Idle: the injector registered on the sweep, with nothing to fire.
      const idle: Scenario = { version: 1, source: 'idle', events: [] };
      const observers: SweepObserver[] = [];
      if (side === 'with') {
        const injector = new FaultInjector({ scenario: idle, confirmCommit: true });
        injector.onDeploy(deployment);
        observers.push(injector as unknown as SweepObserver);
      }
      const { level: end, cpuMs } = await level(deployment, {
        rate: args.rate,
        seconds: args.seconds + 2,
        observers,
        output: tmpdir(),
      });
      const committed = end.runs[0]?.load.outcomes.committed ?? 0;
      const perThousand = (cpuMs / Math.max(1, committed)) * 1000;
      sides[side].push(round(perThousand, 3));
      console.log(
        `  round ${roundIndex + 1} ${side.padEnd(7)} ${round(perThousand, 1)} ms CPU per 1,000 tx (${committed} committed)`,
      );
    }
  }
  const load = window.close();
  const judgement = judgeRatio({
    claim: 'CPU per 1,000 tx with an idle scenario / without <= 1',
    numerator: sides.with,
    denominator: sides.without,
    target: 1,
    load,
  });
  console.log(
    `  with ${JSON.stringify(spread(sides.with))}\n  without ${JSON.stringify(spread(sides.without))}`,
  );
  console.log(`  ${verdictLine(judgement)}`);
  console.log(`  ${loadLine(load)}`);
  return {
    rate: args.rate,
    seconds: args.seconds,
    cpuPer1000TxMs: { with: spread(sides.with), without: spread(sides.without) },
    load,
    judgement,
  };
}

const startedAt = new Date().toISOString();
const results: Record<string, unknown> = { tool: 'bench:faults', startedAt, flags: args };
const local = await new LocalTestbed({
  committee: 4,
  nodeAccess: 'auto',
  protocol: 'cometbft',
  startupTimeoutMs: 60_000,
  log: () => undefined,
}).deploy({});
try {
  console.log('local 4-node network:');
  results.localScheduling = await scheduling(local, 'local');
  console.log('hot path (local):');
  results.hotPath = await hotPath(local);
} finally {
  await local.destroy({ thorough: true });
}
if (args.remote) {
  const { useSandbox, hostsFile, DOCKER_HOSTS } = await import('../../test/integration/sandbox-fixture.js');
  const state = await useSandbox();
  const path = await hostsFile(state, 'bench-faults', state.hosts.slice(0, DOCKER_HOSTS));
  const hosts = await loadHosts({ hostsFile: path });
  const remote = await new RemoteTestbed({
    hosts,
    startupWaitMs: 120_000,
    knownHostsPath: hosts.knownHostsPath ?? defaultKnownHostsPath(),
  }).deploy({});
  try {
    console.log('sandbox SSH hosts:');
    results.remoteScheduling = await scheduling(remote, 'sandbox hosts');
  } finally {
    await remote.destroy({ thorough: false });
  }
}
results.endedAt = new Date().toISOString();
results.loadAverage = monitor.stop();
const dir = join(root, 'benchmarks/results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `faults-${startedAt.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${file}`);
