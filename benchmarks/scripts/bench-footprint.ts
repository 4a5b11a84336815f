/**
 * `npm run bench:footprint` — the orchestrator's own footprint with every observer on (issue 31):
 * on one local network of `--nodes` (16) reference nodes shared by every round, the real
 * `benchmark` command (src/cli/benchmark-command.ts, run in this process with its testbed
 * replaced by the shared network) at `--rate` (2,000) tx/s for `--seconds` a level, in rounds
 * with every observer on and rounds with everything off, alternating (on/off, then off/on, …).
 *
 *   on:  --monitor (the resource monitor: a stats stream per node, this machine, the generator),
 *        --propagation (probe txs, peer round trips), --dashboard with headless Chromium
 *        connected to it (lib/dashboard-viewer.ts, a process of its own), --metrics-port (the
 *        Prometheus exporter: the generator's /metrics and the nodes as targets at /sd/nodes)
 *        scraped every second by a real Prometheus, and --influx-url to a real InfluxDB 1.x
 *        (which turns --node-metrics on: every node's /metrics read each second). Prometheus
 *        and InfluxDB are Debian's (scripts/ensure-monitoring.sh), started once by the script
 *        on loopback (test/integration/monitoring-fixture.ts) and stopped at the end.
 *   off: --monitor false, --node-metrics false, no propagation, dashboard, exporter or Influx.
 *
 * The generator sends from `--workers` (2) worker threads, so its work is apart from the
 * orchestrator's. Per second of the level (its start to its load's end), from
 * /proc/self/task/<tid>/stat: the CPU of the threads this process had before the level started
 * (the orchestrator: main thread, libuv pool, V8's helpers), in % of one core; the threads
 * born during the level are the generator's workers (Node 20 names every thread `node`, so
 * they are told apart by tid; their count is recorded: 4 for 2 workers here, likely each
 * worker's own thread for tsx's module hooks).
 * V8's helper threads (garbage collection, optimising compiles) are one pool shared by every
 * isolate of the process: the workers' collections ran there and were counted as the
 * orchestrator's (a worker allocating for 3 s kept the four helpers at 1.9 s of CPU). So the
 * script runs under V8's `--single-threaded` (it restarts itself with it when started
 * without): each isolate collects and compiles on its own thread. The orchestrator's threads
 * other than the main one are recorded apart (`otherThreadsCpuPercent`). RSS
 * (/proc/self/status VmRSS, workers included: they share the process) and the main thread's V8
 * heap in use (the orchestrator's own objects) each second; their growth is the median over the
 * level's last minute less the median over its second minute (windows of a sixth of a level
 * shorter than 6 minutes), the last minute ending at the level's last second with every generator
 * worker running (they end, and their heaps leave the RSS, before the load does). Medians: the
 * RSS saws by 20 MB and more as the heaps collect, so two single samples said little.
 * A 6 s round with every observer on runs first and is not counted (see setup). The sampler's
 * own reads of /proc each second are timed and taken off the main thread's CPU.
 * `--without LIST`: a side more per observer listed (`on-monitor`, …), with every observer on
 * but that one, so what each costs is the `on` side less its own (--node-metrics is the
 * nodes' /metrics read each second, which --influx-url turns on; `on-influx` leaves out both).
 * `--profile DIR`: a V8 CPU profile of the main thread over each level, written to
 * DIR/<side>-<pair>.cpuprofile, and a sampling heap profile of what it allocated beside it
 * (.heapprofile: under --single-threaded the main thread collects its own garbage, so what it
 * allocates is CPU of its own; the sampling costs a little CPU too: figures of a profiled
 * run are for finding where the time goes, not for the claim).
 * `--long`: 10-minute levels. Claims: the orchestrator with every observer on ≤ 5 % of one core; with
 * --long, RSS growth ≤ 10 MB after the first minute. Needs the images (npm run setup),
 * chromium, prometheus and influxd. Writes benchmarks/results/footprint-<timestamp>.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { mean, median } from 'simple-statistics';
import { join, resolve } from 'node:path';
import { FlagError, numberFlag } from './lib/flags.js';
import { cpuTicks, readdirSafe, rssBytes, TICK_MS } from './lib/proc.js';
import { startProfiler, type CpuProfiler } from './lib/cpu-profile.js';
import { runBench } from './lib/harness.js';
import { benchNetwork } from './lib/networks.js';
import { judgeThreshold, spread } from './lib/verdict.js';
import type { Viewer } from './lib/dashboard-viewer.js';

type Deployment = import('../../src/testbed/testbed.js').Deployment;
type Testbed = import('../../src/testbed/testbed.js').Testbed;
type SweepObserver = import('../../src/bench/observer.js').SweepObserver;
type Started = import('../../test/integration/monitoring-fixture.js').Started;

/** What `--without` can leave out of the `on` side, one side each (`on-X`). */
const OBSERVERS = ['monitor', 'propagation', 'dashboard', 'exporter', 'influx', 'node-metrics'] as const;
type Observer = (typeof OBSERVERS)[number];

interface Args {
  readonly nodes: number;
  readonly rate: number;
  readonly seconds: number;
  readonly workers: number;
  readonly long: boolean;
  readonly profile: string | undefined;
  readonly without: readonly Observer[];
}

interface Shared {
  readonly deployment: Deployment;
  readonly prometheus: Started;
  readonly influx: Started;
  readonly metricsPort: number;
  readonly dashboardPort: number;
  /** The browser of the round in progress (closed by the round, or by the teardown after Ctrl-C). */
  viewer: Viewer | undefined;
  readonly remove: () => Promise<void>;
}

interface Round {
  readonly side: string;
  /** The orchestrator's threads (not the generator's workers), mean of the level's seconds: % of one core. */
  readonly cpuPercent: number;
  readonly cpuPercentP90: number;
  readonly cpuPercentMax: number;
  /** The main thread alone (part of cpuPercent), mean: % of one core. */
  readonly mainThreadCpuPercent: number;
  /** The orchestrator's other threads (V8's helpers, libuv's pool, tsx's module hooks), mean: % of one core. */
  readonly otherThreadsCpuPercent: number;
  /** The generator's worker threads, mean: % of one core. */
  readonly workersCpuPercent: number;
  /** Threads born during the level (the generator's workers). */
  readonly workerThreads: number;
  readonly rssStartMb: number;
  readonly rssEndMb: number;
  readonly rssMaxMb: number;
  /**
   * Median RSS over the level's last window − median RSS over the window from `rssBaselineAtS`
   * (windows of `rssBaselineAtS` seconds: a minute in a 10-minute level). Medians, not single
   * samples: the RSS saws up and down by 20 MB and more as the heaps collect (a 10-minute level
   * went 367-422 MB after its first minute with no trend), so one sample against another said
   * more about where two collections fell than about growth.
   */
  readonly rssGrowthMb: number;
  readonly rssBaselineAtS: number;
  /** The same for the main thread's V8 heap (used, MB): the orchestrator's own objects, the workers' heaps apart. */
  readonly mainHeapGrowthMb: number;
  readonly seconds: number;
  /** From the level's record: committed (the headline) and accepted tx/s, and the rate sent. */
  readonly throughput: number | undefined;
  readonly acceptedThroughput: number | undefined;
  readonly achievedRate: number | undefined;
  readonly exitCode: number;
  /** Each second of the level: the orchestrator's CPU (% of one core) and the RSS (MB). */
  readonly perSecond: {
    readonly cpuPercent: readonly number[];
    readonly rssMb: readonly number[];
    readonly mainHeapMb: readonly number[];
  };
}

const root = resolve(import.meta.dirname, '../..');
process.chdir(root);

// each isolate's garbage collection and compiles on its own thread (see the header)
if (!process.execArgv.includes('--single-threaded')) {
  const child = spawnSync(
    process.execPath,
    ['--single-threaded', ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit' },
  );
  process.exit(child.status ?? 1);
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Each thread's CPU so far (user + system, in ms) of this process, by tid. */
function threadCpuMs(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const tid of readdirSafe('/proc/self/task')) {
    const ticks = cpuTicks(`/proc/self/task/${tid}/stat`);
    if (ticks !== undefined) cpu.set(Number(tid), ticks * TICK_MS);
  }
  return cpu;
}

function rssMb(): number {
  return rssBytes('self') / 1024 / 1024;
}

interface Second {
  readonly atS: number;
  readonly orchestratorPercent: number;
  /** Of which the main thread (the event loop: observers, dashboard, exporter, Influx writes). */
  readonly mainPercent: number;
  readonly workersPercent: number;
  readonly rssMb: number;
  /** The main thread's V8 heap in use (the orchestrator's objects; each worker has a heap of its own). */
  readonly mainHeapMb: number;
  /** Generator worker threads alive at the sample: once they end, their heaps leave the RSS. */
  readonly workersAlive: number;
}

/**
 * Samples every second from the level's start to its load's end: the threads there at the
 * start are the orchestrator, those born after are the generator's workers.
 */
class FootprintSampler {
  readonly seconds: Second[] = [];
  readonly #orchestrator: Set<number>;
  readonly #born = new Set<number>();
  #last: Map<number, number>;
  #lastAt: number;
  /** The last sample's own time (its reads of /proc), charged to the next second it falls in. */
  #ownMs = 0;
  readonly #startedAt: number;
  readonly #timer: NodeJS.Timeout;
  readonly rssStartMb = rssMb();

  constructor() {
    this.#last = threadCpuMs();
    this.#orchestrator = new Set(this.#last.keys());
    this.#startedAt = this.#lastAt = performance.now();
    this.#timer = setInterval(() => this.#sample(), 1000);
  }

  #sample(): void {
    const now = performance.now();
    const cpu = threadCpuMs();
    // this sampler's own reads of /proc are the script's, not the orchestrator's: taken off below
    const ownMs = performance.now() - now;
    let orchestratorMs = 0;
    let mainMs = 0;
    let workersMs = 0;
    for (const [tid, ms] of cpu) {
      const used = ms - (this.#last.get(tid) ?? 0) - (tid === process.pid ? this.#ownMs : 0);
      if (tid === process.pid) mainMs = used;
      if (this.#orchestrator.has(tid)) orchestratorMs += used;
      else {
        this.#born.add(tid);
        workersMs += used;
      }
    }
    const wallMs = now - this.#lastAt;
    this.seconds.push({
      atS: (now - this.#startedAt) / 1000,
      orchestratorPercent: (orchestratorMs / wallMs) * 100,
      mainPercent: (mainMs / wallMs) * 100,
      workersPercent: (workersMs / wallMs) * 100,
      rssMb: rssMb(),
      mainHeapMb: getHeapStatistics().used_heap_size / 1024 / 1024,
      workersAlive: [...cpu.keys()].filter((tid) => !this.#orchestrator.has(tid)).length,
    });
    this.#last = cpu;
    this.#lastAt = now;
    this.#ownMs = ownMs;
  }

  stop(): { readonly seconds: readonly Second[]; readonly workerThreads: number } {
    clearInterval(this.#timer);
    this.#sample();
    return { seconds: this.seconds, workerThreads: this.#born.size };
  }
}

/** The observer that starts the sampler at the level and opens the browser once the dashboard is up. */
function footprintObserver(
  state: { sampler?: FootprintSampler; result?: ReturnType<FootprintSampler['stop']> },
  openBrowser: (() => Promise<void>) | undefined,
  profileFile: string | undefined,
): SweepObserver {
  let profiler: Promise<CpuProfiler> | undefined;
  return {
    name: 'bench-footprint',
    // after preflight: the dashboard is listening; the browser is on its page before the level
    onDeploy: async () => {
      await openBrowser?.();
    },
    onLevelStart: async () => {
      if (profileFile !== undefined) profiler = startProfiler(1000);
      await profiler;
      state.sampler = new FootprintSampler();
    },
    onLoadEnd: async () => {
      state.result = state.sampler?.stop();
      if (profileFile !== undefined) await (await profiler)?.stop(profileFile);
    },
  };
}

/** The shared network as the `benchmark` command's testbed: deployed once, never removed by a round. */
function sharedTestbed(deployment: Deployment, remove: () => Promise<void>): Testbed {
  const kept = Object.create(deployment, {
    destroy: { value: async () => undefined },
    release: { value: async () => undefined },
  }) as Deployment;
  return {
    kind: 'local',
    deploy: async () => kept,
    // a second Ctrl-C while `benchmark` runs: what the script made goes before it exits
    forceRemove: async () => {
      await remove();
      return { containers: deployment.nodes.length, networks: 1, volumes: 0, errors: [] };
    },
  };
}

function observersFlag(value: unknown): Observer[] {
  if (value === undefined) return [];
  const list = String(value)
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const bad = list.find((part) => !(OBSERVERS as readonly string[]).includes(part));
  if (bad !== undefined || list.length === 0)
    throw new FlagError(
      `--without ${String(value)}: give observers among ${OBSERVERS.join(', ')}, separated by commas`,
    );
  return list as Observer[];
}

async function oneRound(side: string, pair: number, shared: Shared, args: Args): Promise<Round> {
  const { benchmarkDefinition } = await import('../../src/cli/benchmark-command.js');
  const { runCli } = await import('../../src/cli/run-cli.js');
  const { openViewer } = await import('./lib/dashboard-viewer.js');
  // `on`, `off`, or `on-X`: every observer on but X (--without)
  const without = side.startsWith('on-') ? side.slice(3) : undefined;
  const on = side === 'on' || without !== undefined;
  const has = (observer: Observer) => on && without !== observer;
  const dir = mkdtempSync(join(tmpdir(), 'bench-footprint-'));
  const state: { sampler?: FootprintSampler; result?: ReturnType<FootprintSampler['stop']> } = {};
  const dashboardUrl = `http://127.0.0.1:${shared.dashboardPort}/`;
  const observer = footprintObserver(
    state,
    has('dashboard')
      ? async () => {
          shared.viewer = await openViewer(dashboardUrl);
        }
      : undefined,
    args.profile === undefined ? undefined : join(args.profile, `${side}-${pair}.cpuprofile`),
  );
  let results: { throughput?: number; accepted_throughput?: number; achieved_rate?: number } | undefined;
  const argv = [
    '--network-type',
    'local',
    '--committee',
    String(args.nodes),
    '--loads',
    String(args.rate),
    '--duration',
    String(args.seconds),
    '--warmup',
    '2',
    '--workers',
    String(args.workers),
    '--output-dir',
    dir,
    '--console-output',
    'false',
    '--monitor',
    String(has('monitor')),
    '--propagation',
    String(has('propagation')),
    ...(has('dashboard') ? ['--dashboard', String(shared.dashboardPort)] : []),
    ...(has('exporter') ? ['--metrics-port', String(shared.metricsPort)] : []),
    ...(has('influx') ? ['--influx-url', `${shared.influx.url}/meshbench`] : []),
    // on with Influx (which turns it on), off without
    ...(has('node-metrics') ? [] : ['--node-metrics', 'false']),
  ];
  try {
    const exitCode = await runCli(
      benchmarkDefinition({
        createTestbed: async () => sharedTestbed(shared.deployment, shared.remove),
        observers: [observer],
        onOutcome: (outcome) => {
          results = outcome.records[0]?.results;
        },
      }),
      argv,
    );
    const result = state.result;
    if (!result || result.seconds.length === 0)
      throw new Error(`benchmark ${argv.join(' ')} exited ${exitCode} before its level's load ended`);
    return summarize(side, result, args, exitCode, results);
  } finally {
    state.sampler?.stop();
    await shared.viewer?.close();
    shared.viewer = undefined;
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarize(
  side: string,
  result: ReturnType<FootprintSampler['stop']>,
  args: Args,
  exitCode: number,
  results: { throughput?: number; accepted_throughput?: number; achieved_rate?: number } | undefined,
): Round {
  const { seconds } = result;
  const cpu = spread(seconds.map((s) => s.orchestratorPercent));
  const sorted = seconds.map((s) => s.orchestratorPercent).sort((a, b) => a - b);
  const p90 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.9) - 1)] ?? NaN;
  // the first minute of a 10-minute level; the first sixth of a shorter one
  const baselineAtS = Math.min(60, args.seconds / 6);
  const baseline = seconds.find((s) => s.atS >= baselineAtS) ?? seconds[0];
  // the RSS of the level is that of its last seconds with every worker running (they end before the load does)
  const allWorkers = Math.max(...seconds.map((s) => s.workersAlive));
  const last =
    seconds.findLast((s) => s.workersAlive === allWorkers) ?? (seconds[seconds.length - 1] as Second);
  const window = (from: number, to: number) => seconds.filter((s) => s.atS >= from && s.atS < to);
  const firstWindow = window(baselineAtS, 2 * baselineAtS);
  const lastWindow = window(last.atS - baselineAtS, last.atS + 0.5);
  const growth = (of: (s: Second) => number) =>
    firstWindow.length > 0 && lastWindow.length > 0
      ? median(lastWindow.map(of)) - median(firstWindow.map(of))
      : NaN;
  return {
    side,
    cpuPercent: round(mean(seconds.map((s) => s.orchestratorPercent))),
    cpuPercentP90: round(p90),
    cpuPercentMax: round(cpu.max),
    mainThreadCpuPercent: round(mean(seconds.map((s) => s.mainPercent))),
    otherThreadsCpuPercent: round(mean(seconds.map((s) => s.orchestratorPercent - s.mainPercent))),
    workersCpuPercent: round(mean(seconds.map((s) => s.workersPercent))),
    workerThreads: result.workerThreads,
    rssStartMb: round(seconds[0]?.rssMb ?? NaN, 1),
    rssEndMb: round(last.rssMb, 1),
    rssMaxMb: round(Math.max(...seconds.map((s) => s.rssMb)), 1),
    rssGrowthMb: round(
      growth((s) => s.rssMb),
      1,
    ),
    rssBaselineAtS: round(baseline?.atS ?? NaN, 1),
    mainHeapGrowthMb: round(
      growth((s) => s.mainHeapMb),
      1,
    ),
    seconds: seconds.length,
    throughput: results?.throughput,
    acceptedThroughput: results?.accepted_throughput,
    achievedRate: results?.achieved_rate,
    exitCode,
    perSecond: {
      cpuPercent: seconds.map((s) => round(s.orchestratorPercent, 1)),
      rssMb: seconds.map((s) => round(s.rssMb, 1)),
      mainHeapMb: seconds.map((s) => round(s.mainHeapMb, 1)),
    },
  };
}

async function setup(args: Args, log: (line: string) => void): Promise<Shared> {
  const { freePort, startInflux, startPrometheus } =
    await import('../../test/integration/monitoring-fixture.js');
  // libuv starts its whole thread pool at its first task: before any level, so no pool thread is born during one
  await Promise.all(Array.from({ length: 8 }, () => stat(root)));
  const made: { deployment?: Deployment; prometheus?: Started; influx?: Started } = {};
  let removal: Promise<void> | undefined;
  const shared: Shared = {
    viewer: undefined,
    // once, whoever asks first (the harness's teardown, a forced exit during a round)
    remove: () =>
      (removal ??= (async () => {
        await shared.viewer?.close().catch(() => undefined);
        await made.prometheus?.stop().catch(() => undefined);
        await made.influx?.stop().catch(() => undefined);
        await made.deployment?.destroy().catch(() => undefined);
      })()),
  } as Shared;
  try {
    const [metricsPort, dashboardPort] = [await freePort(), await freePort()];
    log('starting InfluxDB and Prometheus on loopback …');
    made.influx = await startInflux('meshbench');
    made.prometheus = await startPrometheus(metricsPort);
    log(`deploying ${args.nodes} reference nodes …`);
    made.deployment = await benchNetwork({ nodes: args.nodes, refnodes: true, prefix: 'bench-footprint' });
    log(`network ${made.deployment.runId} up; influx ${made.influx.url}, prometheus ${made.prometheus.url}`);
    Object.assign(shared, {
      deployment: made.deployment,
      prometheus: made.prometheus,
      influx: made.influx,
      metricsPort,
      dashboardPort,
    });
    // One short round with every observer on first, not counted: the first round in the process
    // would also pay for loading (and, under tsx, transpiling) the modules the observers use,
    // which the bundle users run (bin/run-bin.js) has done before its first level.
    log('warming up (a 6 s round with every observer on, not counted) …');
    await oneRound('on', -1, shared, { ...args, seconds: 6, profile: undefined });
    return shared;
  } catch (error) {
    await shared.remove();
    throw error;
  }
}

await runBench({
  usage: {
    name: 'bench:footprint',
    summary:
      "The orchestrator's CPU (generator's worker threads apart) and RSS with every observer on (resource\n" +
      'monitor, propagation probes, dashboard with a browser, Prometheus exporter scraped, InfluxDB output)\n' +
      'against everything off, alternating, on one shared local network (target: on ≤ 5 % of one core;\n' +
      'with --long, RSS growth ≤ 10 MB after the first minute of a 10-minute level). Needs the images\n' +
      '(npm run setup), chromium, prometheus and influxd (scripts/ensure-monitoring.sh).',
    notes: ['Writes benchmarks/results/footprint-<timestamp>.json.'],
  },
  flags: {
    nodes: { type: 'string', valueName: 'N', default: '16', description: 'reference nodes in the network' },
    rate: { type: 'string', valueName: 'TX/S', default: '2000', description: 'the offered load' },
    seconds: {
      type: 'string',
      valueName: 'S',
      default: '30',
      description: 'length of each level (600 with --long)',
    },
    workers: {
      type: 'string',
      valueName: 'N',
      default: '2',
      description: "the generator's worker threads (at least 2: one would send from the main thread)",
    },
    without: {
      type: 'string',
      valueName: 'LIST',
      description: `a side more for each, with every observer on but that one (what it costs): ${OBSERVERS.join(', ')}`,
    },
    profile: {
      type: 'string',
      valueName: 'DIR',
      description:
        'a CPU profile of the main thread over each level, written to DIR/<side>-<pair>.cpuprofile',
    },
    long: {
      type: 'boolean',
      default: false,
      description: '10-minute levels, and the RSS claim judged (growth ≤ 10 MB after the first minute)',
    },
  },
  defaultPairs: 2,
  args: (values): Args => {
    const long = values.long === true;
    return {
      nodes: numberFlag('nodes', values.nodes, { integer: true, min: 1 }),
      rate: numberFlag('rate', values.rate, { min: 1 }),
      seconds: long ? 600 : numberFlag('seconds', values.seconds, { integer: true, min: 6 }),
      workers: numberFlag('workers', values.workers, { integer: true, min: 2 }),
      long,
      profile: typeof values.profile === 'string' ? resolve(values.profile) : undefined,
      without: observersFlag(values.without),
    };
  },
  file: 'footprint',
  setup: (args, { log }) => setup(args, log),
  teardown: (shared) => shared.remove(),
  sides: ['on', 'off'],
  sidesFrom: (args) => ['on', 'off', ...args.without.map((observer) => `on-${observer}`)],
  round: (side, { shared, args, pair }) => oneRound(side, pair, shared, args),
  describe: (r) =>
    `orchestrator ${r.cpuPercent}% of a core (main thread ${r.mainThreadCpuPercent}%, other threads ${r.otherThreadsCpuPercent}%, p90 ${r.cpuPercentP90}%, max ${r.cpuPercentMax}%), ` +
    `generator's ${r.workerThreads} worker threads ${r.workersCpuPercent}%, RSS ${r.rssStartMb}→${r.rssEndMb} MB ` +
    `(growth ${r.rssGrowthMb} MB after ${r.rssBaselineAtS} s, medians; main thread's heap ${r.mainHeapGrowthMb} MB), sent ${r.achievedRate ?? '?'} tx/s, accepted ${r.acceptedThroughput ?? '?'}, committed ${r.throughput ?? '?'}, ${r.seconds} s sampled`,
  figures: {
    orchestratorCpuPercent: (r) => r.cpuPercent,
    mainThreadCpuPercent: (r) => r.mainThreadCpuPercent,
    otherThreadsCpuPercent: (r) => r.otherThreadsCpuPercent,
    workersCpuPercent: (r) => r.workersCpuPercent,
    rssGrowthMb: (r) => r.rssGrowthMb,
    mainHeapGrowthMb: (r) => r.mainHeapGrowthMb,
  },
  claims: ({ on = [], off = [] }, args, load) => [
    judgeThreshold({
      claim: `with every observer on, at ${args.nodes} nodes and ${args.rate} tx/s, the orchestrator (generator's workers apart) uses ≤ 5% of one core`,
      values: on.map((r) => r.cpuPercent),
      target: 5,
      load,
    }),
    ...(args.long
      ? [
          judgeThreshold({
            claim: `with every observer on, the orchestrator's RSS grows ≤ 10 MB over a 10-minute level after its first minute`,
            values: on.map((r) => r.rssGrowthMb),
            target: 10,
            load,
          }),
          judgeThreshold({
            claim: `with everything off, the orchestrator's RSS grows ≤ 10 MB over a 10-minute level after its first minute`,
            values: off.map((r) => r.rssGrowthMb),
            target: 10,
            load,
          }),
        ]
      : []),
  ],
  extra: ({ on = [], off = [] }, args) => ({
    settings: args,
    v8Flags: process.execArgv.filter((flag) => flag === '--single-threaded'),
    prometheusExporter:
      "--metrics-port (the generator's /metrics and /sd/nodes), scraped every second by a Prometheus the script starts",
    observersCostPercentPerPair: on.map((r, i) => round(r.cpuPercent - (off[i]?.cpuPercent ?? NaN))),
  }),
});
