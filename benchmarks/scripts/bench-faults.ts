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
 * A declaration on the bench harness (lib/harness.ts): the hot path's two sides are its
 * rounds (`--rounds`); the local scheduling level is measured once before them (setup), the
 * remote one once after them with the local network removed (after), each with its own load
 * window. A claim whose rounds straddle the target, whose sides' ranges overlap, or that ran
 * on a busy machine is "inconclusive" (lib/verdict.ts). Writes
 * benchmarks/results/faults-<timestamp>.json.
 */
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { numberFlag } from './lib/flags.js';
import { paired, runBench, type SetupContext } from './lib/harness.js';
import { judgeRatio, judgeThreshold, type Judgement, type LoadRecord } from './lib/verdict.js';

interface Args {
  readonly events: number;
  readonly gapMs: number;
  readonly seconds: number;
  readonly rate: number;
  readonly remote: boolean;
}

type Scenario = import('../../src/scenario/scenario.js').Scenario;
type Deployment = import('../../src/testbed/testbed.js').Deployment;
type FaultsBlock = import('../../src/faults/recovery.js').FaultsBlock;
type SweepObserver = import('../../src/bench/observer.js').SweepObserver;
type LevelEnd = import('../../src/bench/observer.js').LevelEnd;

process.chdir(resolve(import.meta.dirname, '../..'));
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
  const { runLoad } = await import('../../src/load/index.js');
  const { runSweep } = await import('../../src/bench/sweep.js');
  const { buildBenchmarkPlan } = await import('../../src/bench/plan.js');
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

interface SchedulingFigures {
  readonly testbed: string;
  readonly events: number;
  readonly latenessMs: { p50: number; p99: number; max: number; values: number[] };
  readonly engineActionMs: { p50: number; max: number };
  readonly errors: number;
  readonly load: LoadRecord;
  readonly judgement: Judgement;
}

async function scheduling(
  deployment: Deployment,
  testbed: string,
  args: Args,
  { window, log }: Pick<SetupContext, 'window' | 'log'>,
): Promise<SchedulingFigures> {
  const { FaultInjector } = await import('../../src/faults/injector.js');
  const { createProtocol } = await import('../../src/protocols/registry.js');
  const node = deployment.nodes.at(-1)?.nodeId as string;
  const scenario = pauseTrain(node, args.events, args.gapMs);
  const seconds = Math.ceil((1000 + args.events * args.gapMs) / 1000) + 3;
  const injector = new FaultInjector({
    scenario,
    protocol: createProtocol({ kind: 'cometbft', broadcastMode: 'async' }, 'b'),
    confirmCommit: true,
  });
  injector.onDeploy(deployment);
  const measured = window();
  const { level: end } = await level(deployment, {
    rate: 100,
    seconds,
    observers: [injector as unknown as SweepObserver],
    output: tmpdir(),
  });
  const load = measured.close();
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
  log(
    `${testbed}: ${lateness.length} events, lateness p50 ${round(quantile(lateness, 0.5))} ms, p99 ${round(quantile(lateness, 0.99))} ms, max ${round(lateness.at(-1) ?? 0)} ms; the engine's pause/unpause took p50 ${round(quantile(actionMs, 0.5))} ms, max ${round(actionMs.at(-1) ?? 0)} ms`,
  );
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

/** On 4 sandbox SSH hosts (the integration tests' sandbox, MESHBENCH_TEST_SANDBOX_DIR; left up). */
async function remoteScheduling(
  args: Args,
  context: Pick<SetupContext, 'window' | 'log'>,
): Promise<SchedulingFigures> {
  const { RemoteTestbed, defaultKnownHostsPath } = await import('../../src/testbed/remote/remote-testbed.js');
  const { loadHosts } = await import('../../src/testbed/remote/hosts.js');
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
    return await scheduling(remote, 'sandbox hosts', args, context);
  } finally {
    await remote.destroy({ thorough: false });
  }
}

type Side = 'without' | 'with';
interface Round {
  readonly side: Side;
  readonly cpuPer1000TxMs: number;
  readonly committed: number;
}

/** One hot-path level: the generator's CPU per 1,000 committed tx, the idle injector registered or not. */
async function hotPathRound(side: Side, deployment: Deployment, args: Args): Promise<Round> {
  const { FaultInjector } = await import('../../src/faults/injector.js');
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
  return { side, cpuPer1000TxMs: round((cpuMs / Math.max(1, committed)) * 1000, 3), committed };
}

interface Shared {
  readonly local: Deployment;
  /** Removes the local network once (after the rounds, before the remote part; or at teardown). */
  readonly removeLocal: () => Promise<void>;
  readonly localScheduling: SchedulingFigures;
}

await runBench({
  usage: {
    name: 'bench:faults',
    summary:
      'Fault events against their schedule (100 events per level, local and on sandbox hosts), and the\n' +
      "generator's CPU per 1,000 tx with and without an idle scenario. Needs the images (npm run setup).",
    notes: ['Writes benchmarks/results/faults-<timestamp>.json.'],
  },
  flags: {
    events: { type: 'string', valueName: 'N', default: '100', description: 'events per scheduling level' },
    'gap-ms': { type: 'string', valueName: 'MS', default: '150', description: 'time between events' },
    seconds: { type: 'string', valueName: 'S', default: '10', description: 'seconds of each CPU level' },
    rate: { type: 'string', valueName: 'TX/S', default: '500', description: 'load of the CPU levels' },
    'no-remote': { type: 'boolean', default: false, description: 'skip the sandbox hosts' },
  },
  defaultPairs: 4,
  // its flag before the harness: CPU rounds of each side
  pairsFlag: 'rounds',
  args: (values): Args => ({
    events: numberFlag('events', values.events, { integer: true, min: 2 }),
    gapMs: numberFlag('gap-ms', values['gap-ms'], { min: 10 }),
    seconds: numberFlag('seconds', values.seconds, { integer: true, min: 2 }),
    rate: numberFlag('rate', values.rate, { min: 1 }),
    remote: !values['no-remote'],
  }),
  file: 'faults',
  setup: async (args, context): Promise<Shared> => {
    const { LocalTestbed } = await import('../../src/testbed/local/local-testbed.js');
    const local = await new LocalTestbed({
      committee: 4,
      nodeAccess: 'auto',
      protocol: 'cometbft',
      startupTimeoutMs: 60_000,
      log: () => undefined,
    }).deploy({});
    let removing: Promise<void> | undefined;
    const removeLocal = () => (removing ??= local.destroy({ thorough: true }));
    try {
      return { local, removeLocal, localScheduling: await scheduling(local, 'local', args, context) };
    } catch (error) {
      await removeLocal();
      throw error;
    }
  },
  teardown: ({ removeLocal }) => removeLocal(),
  sides: ['without', 'with'],
  round: (side, { shared, args }) => hotPathRound(side as Side, shared.local, args),
  describe: (r) => `${round(r.cpuPer1000TxMs, 1)} ms CPU per 1,000 tx (${r.committed} committed)`,
  figures: { cpuPer1000TxMs: (r) => r.cpuPer1000TxMs },
  // on the sandbox hosts, with the local network removed first (as it ran after it)
  after: async ({ args, shared, log, window }) => {
    if (!args.remote) return undefined;
    await shared.removeLocal();
    return remoteScheduling(args, { log, window });
  },
  claims: ({ with: withScenario = [], without = [] }, _args, load, remote, { localScheduling }) => {
    const [numerator, denominator] = paired(
      withScenario.map((r) => r.cpuPer1000TxMs),
      without.map((r) => r.cpuPer1000TxMs),
    );
    return [
      localScheduling.judgement,
      ...(remote ? [remote.judgement] : []),
      judgeRatio({
        claim: 'CPU per 1,000 tx with an idle scenario / without <= 1',
        numerator,
        denominator,
        target: 1,
        load,
      }),
    ];
  },
  extra: (_bySide, args, remote, { localScheduling }) => ({
    localScheduling,
    remoteScheduling: remote,
    hotPath: { rate: args.rate, seconds: args.seconds },
  }),
});
