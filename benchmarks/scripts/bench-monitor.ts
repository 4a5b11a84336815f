/**
 * `npm run bench:monitor` — the resource monitor's own cost (issue 17): on a local network of
 * `--nodes` (16) containers, the orchestrator process's CPU over rounds of `--seconds` with
 * the monitor sampling every `--interval-ms` (1000: a stats stream per node, this machine's
 * /proc, the generator's own figures, the quiet check before each round) and rounds with it
 * off, side by side in one run, alternating (on/off, then off/on, …) so drifting load hits
 * both sides alike. Target: monitoring costs under 5 % of one core (on − off, per pair).
 * Also recorded: the Docker daemon's CPU (dockerd and containerd, which compute the stats the
 * streams carry; not the orchestrator's, but the machine's), each side's spread, and the load
 * average. By default the containers idle (the monitor's cost alone); with --refnodes they
 * are reference nodes (busy ones load 2 cores, which makes every figure noisier).
 * Writes benchmarks/results/monitor-<timestamp>.json.
 */
import { resolve } from 'node:path';
import { numberFlag } from './lib/flags.js';
import { cpuTicks, pidsByName, TICK_MS } from './lib/proc.js';
import { runBench } from './lib/harness.js';
import { benchNetwork } from './lib/networks.js';
import { judgeThreshold } from './lib/verdict.js';

const { ResourceMonitor } = await import('../../src/monitor/resources/monitor.js');

interface Args {
  readonly nodes: number;
  readonly seconds: number;
  readonly intervalMs: number;
  readonly refnodes: boolean;
}

type Deployment = import('../../src/testbed/testbed.js').Deployment;
type ResourcesBlock = import('../../src/monitor/resources/schema.js').ResourcesBlock;

process.chdir(resolve(import.meta.dirname, '../..'));
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** CPU jiffies (user + system) of the processes with these names: the Docker daemon's share. */
function daemonTicks(names: readonly string[]): number {
  let ticks = 0;
  for (const pid of pidsOf(names)) ticks += cpuTicks(`/proc/${pid}/stat`) ?? 0;
  return ticks;
}

let daemonPids: number[] | undefined;
function pidsOf(names: readonly string[]): number[] {
  daemonPids ??= pidsByName(names);
  return daemonPids;
}

interface Round {
  readonly monitor: boolean;
  /** The orchestrator process: percent of one core over the round. */
  readonly cpuPercent: number;
  /** dockerd + containerd: percent of one core. */
  readonly daemonCpuPercent: number;
  readonly wallMs: number;
  /** Monitor rounds: the nodes sampled, and the fewest samples any had. */
  readonly nodesSampled?: number;
  readonly fewestSamples?: number;
}

async function oneRound(deployment: Deployment, monitorOn: boolean, args: Args): Promise<Round> {
  const monitor = monitorOn
    ? new ResourceMonitor({ intervalMs: args.intervalMs, threads: 1, quietCheck: true })
    : undefined;
  // the quiet check's first window (after a deploy) is not part of a round's cost
  if (monitor) await monitor.onDeploy(deployment);
  const controller = new AbortController();
  let block: ResourcesBlock | undefined;
  const daemonBefore = daemonTicks(['dockerd', 'containerd']);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const context = {
    deployment,
    signal: controller.signal,
    elapsedMs: () => performance.now() - started,
    block: (_name: string, data: unknown) => {
      block = data as ResourcesBlock;
    },
    log: () => undefined,
  };
  monitor?.onLevelStart({ warmupMs: 0 }, context);
  await new Promise((done) => setTimeout(done, args.seconds * 1000));
  controller.abort();
  await monitor?.onLoadEnd({ warmupMs: 0 }, { scheduleLag: { count: 0, p99: 0 } }, context);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const daemonTicksUsed = daemonTicks(['dockerd', 'containerd']) - daemonBefore;
  await monitor?.onTeardown();
  const samples = block?.nodes.map((node) => node.cpu_percent.count) ?? [];
  return {
    monitor: monitorOn,
    cpuPercent: round(((cpu.user + cpu.system) / 1000 / wallMs) * 100),
    daemonCpuPercent: round((daemonTicksUsed * TICK_MS * 100) / wallMs),
    wallMs: round(wallMs, 0),
    ...(monitorOn ? { nodesSampled: samples.length, fewestSamples: Math.min(...samples) } : {}),
  };
}

await runBench({
  usage: {
    name: 'bench:monitor',
    summary:
      "The resource monitor's cost to the orchestrator on a local network (target < 5 % of one core for 16\n" +
      'nodes sampled every second), against rounds with it off, alternating. Needs the images (npm run setup).',
    notes: ['Writes benchmarks/results/monitor-<timestamp>.json.'],
  },
  flags: {
    nodes: { type: 'string', valueName: 'N', default: '16', description: 'nodes in the network' },
    seconds: { type: 'string', valueName: 'S', default: '10', description: 'length of each round' },
    'interval-ms': { type: 'string', valueName: 'MS', default: '1000', description: 'the monitor interval' },
    refnodes: {
      type: 'boolean',
      default: false,
      description: 'monitor a network of reference nodes instead of idle containers',
    },
  },
  defaultPairs: 4,
  args: (values): Args => ({
    nodes: numberFlag('nodes', values.nodes, { integer: true, min: 1 }),
    seconds: numberFlag('seconds', values.seconds, { integer: true, min: 2 }),
    intervalMs: numberFlag('interval-ms', values['interval-ms'], { integer: true, min: 100 }),
    refnodes: values.refnodes === true,
  }),
  file: 'monitor',
  setup: async (args, { log }) => {
    log(`deploying ${args.nodes} ${args.refnodes ? 'reference nodes' : 'idle containers'} …`);
    return benchNetwork({ nodes: args.nodes, refnodes: args.refnodes, prefix: 'bench-monitor' });
  },
  teardown: (deployment) => deployment.destroy(),
  sides: ['on', 'off'],
  round: (side, { shared, args }) => oneRound(shared, side === 'on', args),
  describe: (r) =>
    `orchestrator ${r.cpuPercent}% of a core, docker daemon ${r.daemonCpuPercent}%` +
    (r.monitor ? `, ${r.nodesSampled} nodes sampled (fewest samples ${r.fewestSamples})` : ''),
  figures: {
    orchestratorCpuPercent: (r) => r.cpuPercent,
    dockerDaemonCpuPercent: (r) => r.daemonCpuPercent,
  },
  // per pair: the monitor's cost is its round's CPU minus the paired round's
  claims: ({ on = [], off = [] }, args, load) => [
    judgeThreshold({
      claim: `monitoring ${args.nodes} nodes every ${args.intervalMs} ms costs the orchestrator < 5% of one core (on − off per pair)`,
      values: costs(on, off),
      target: 5,
      load,
    }),
  ],
  extra: ({ on = [], off = [] }, args) => ({
    network: args.refnodes ? 'reference nodes' : 'idle containers',
    costPercentPerPair: costs(on, off),
  }),
});

function costs(on: readonly Round[], off: readonly Round[]): number[] {
  return on.map((r, i) => round(r.cpuPercent - (off[i]?.cpuPercent ?? 0)));
}
