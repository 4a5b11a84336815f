/**
 * How local nodes are reached (issue 12, part 5): the same 4-node seed network, loaded at the
 * same rates through its published ports (every request and reply through docker-proxy) and
 * at the containers' own addresses on the compose network, side by side in one run, the two
 * sides alternating first in each round. Per side and round: commit and ack p50/p99
 * (coordinated-omission corrected), achieved and committed rates, the generator's CPU, and
 * the CPU the docker-proxy processes used in that window (from /proc).
 *
 * A declaration on the bench harness (lib/harness.ts): one side per access and rate
 * (`published@3500`, `direct@3500`, …), the order turned each round. The record keeps each
 * side's spread across rounds and the load average before, during and after;
 * "direct / published commit p50 <= 1" per rate is a verdict only when every round agrees on a
 * quiet machine, else "inconclusive" (lib/verdict.ts).
 *
 * Usage: npm run build && npm run bench:access [-- --rates 3500,5000 --rounds 3 --seconds 10]
 * (`-- --help` lists every flag). Writes benchmarks/results/access-<timestamp>.json.
 */
import { resolve } from 'node:path';
import { numberFlag, numberListFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';
import { cpuTicks, pidsByName, TICK_MS } from './lib/proc.js';
import { judgeRatio } from './lib/verdict.js';

type Endpoint = import('../../src/testbed/testbed.js').Endpoint;
type Deployment = import('../../src/testbed/testbed.js').Deployment;

process.chdir(resolve(import.meta.dirname, '../..'));

/** CPU seconds used so far by every docker-proxy process (utime + stime, /proc/<pid>/stat). */
function proxyCpuSeconds(): number {
  let ticks = 0;
  for (const pid of pidsByName(['docker-proxy'])) ticks += cpuTicks(`/proc/${pid}/stat`) ?? 0;
  return (ticks * TICK_MS) / 1000;
}

type Access = 'published' | 'direct';
interface Args {
  readonly rates: readonly number[];
  readonly seconds: number;
}
interface Network {
  readonly deployment: Deployment;
  readonly direct: readonly Endpoint[];
  readonly published: readonly Endpoint[];
}
interface SideRun {
  readonly side: string;
  readonly rate: number;
  readonly commitP50Ms: number;
  readonly commitP99Ms: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly achievedRate: number;
  readonly committedThroughput: number;
  readonly failed: number;
  /** CPU the generator process used per second of the window (1 = one core). */
  readonly generatorCores: number;
  /** CPU every docker-proxy process used per second of the window. */
  readonly proxyCores: number;
}

const sideOf = (access: Access, rate: number) => `${access}@${rate}`;

async function startNetwork(): Promise<Network> {
  // imported here, not at the top: --help answers without an engine
  const { LocalTestbed } = await import('../../src/testbed/local/local-testbed.js');
  const testbed = new LocalTestbed({
    composePath: 'systems/refnode/docker-compose.yml',
    nodeAccess: 'direct',
  });
  const deployment = await testbed.deploy();
  try {
    // The same containers through their published ports.
    const docker = await testbed.getDocker();
    const published: Endpoint[] = await Promise.all(
      deployment.nodes.map(async (node) => {
        const info = await docker.getContainer(node.containerId).inspect();
        const hostPort = (port: number) => info.NetworkSettings.Ports?.[`${port}/tcp`]?.[0]?.HostPort;
        const rpc = `127.0.0.1:${hostPort(26657)}`;
        return {
          nodeId: node.nodeId,
          rpcUrl: `http://${rpc}`,
          wsUrl: `ws://${rpc}/websocket`,
          host: 'local',
        };
      }),
    );
    return { deployment, direct: [...deployment.endpoints], published };
  } catch (error) {
    await deployment.destroy();
    throw error;
  }
}

async function oneRound(side: string, network: Network, args: Args, pair: number): Promise<SideRun> {
  const { runLoad } = await import('../../src/load/index.js');
  const { waitForMempoolsToDrain } = await import('../../src/bench/settle.js');
  const [access, rateText] = side.split('@') as [Access, string];
  const rate = Number(rateText);
  const endpoints = access === 'direct' ? network.direct : network.published;
  await waitForMempoolsToDrain({ endpoints, timeoutMs: 30_000, pollIntervalMs: 100 });
  const cpuBefore = process.cpuUsage();
  const proxyBefore = proxyCpuSeconds();
  const t0 = performance.now();
  const result = await runLoad({
    runId: `access-${access}-${rate}-${pair}`,
    endpoints,
    protocol: { kind: 'cometbft', broadcastMode: 'async' },
    shape: { kind: 'fixed', rate },
    durationMs: args.seconds * 1000,
    warmupMs: 2000,
    transactionSizeBytes: 256,
    confirm: 'commit',
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    side,
    rate,
    commitP50Ms: result.latency.commit?.corrected.p50 ?? NaN,
    commitP99Ms: result.latency.commit?.corrected.p99 ?? NaN,
    ackP50Ms: result.latency.ack.corrected.p50,
    ackP99Ms: result.latency.ack.corrected.p99,
    achievedRate: result.achievedRate,
    committedThroughput: result.committedThroughput,
    failed: result.sent - result.outcomes.ok,
    generatorCores: (cpu.user + cpu.system) / 1e6 / seconds,
    proxyCores: (proxyCpuSeconds() - proxyBefore) / seconds,
  };
}

await runBench({
  usage: {
    name: 'bench:access',
    summary:
      'Commit latency and CPU of the 4-node seed network reached through published ports\n' +
      '(docker-proxy) and at the container addresses, alternating in one run. Needs the images.',
    notes: ['Writes benchmarks/results/access-<timestamp>.json.'],
  },
  flags: {
    rates: { type: 'string', valueName: 'R1,R2', default: '3500', description: 'input rates, tx/s' },
    seconds: {
      type: 'string',
      valueName: 'S',
      default: '10',
      description: 'measured seconds per side and round',
    },
  },
  defaultPairs: 3,
  // its flag before the harness: rounds (each runs both sides at every rate)
  pairsFlag: 'rounds',
  args: (values): Args => ({
    rates: numberListFlag('rates', values.rates, { min: 1 }),
    seconds: numberFlag('seconds', values.seconds, { min: 1 }),
  }),
  file: 'access',
  setup: async (_args, { log }) => {
    const network = await startNetwork();
    log(`direct:    ${network.direct.map((e) => e.rpcUrl).join(' ')}`);
    log(`published: ${network.published.map((e) => e.rpcUrl).join(' ')}`);
    return network;
  },
  teardown: (network) => network.deployment.destroy(),
  sides: [],
  sidesFrom: (args) => args.rates.flatMap((rate) => [sideOf('published', rate), sideOf('direct', rate)]),
  round: (side, { shared, args, pair }) => oneRound(side, shared, args, pair),
  describe: (run) =>
    `commit p50 ${run.commitP50Ms.toFixed(1)} ms p99 ${run.commitP99Ms.toFixed(1)} ms, ack p50 ${run.ackP50Ms.toFixed(2)} ms, committed ${run.committedThroughput.toFixed(0)} tx/s, generator ${(run.generatorCores * 100).toFixed(0)}% core, docker-proxy ${(run.proxyCores * 100).toFixed(0)}% core`,
  figures: {
    commitP50Ms: (run) => run.commitP50Ms,
    commitP99Ms: (run) => run.commitP99Ms,
    ackP50Ms: (run) => run.ackP50Ms,
    generatorCores: (run) => run.generatorCores,
    proxyCores: (run) => run.proxyCores,
  },
  claims: (bySide, args, load) =>
    args.rates.map((rate) =>
      judgeRatio({
        claim: `${rate} tx/s: direct / published commit p50 <= 1`,
        target: 1,
        numerator: (bySide[sideOf('direct', rate)] ?? []).map((run) => run.commitP50Ms),
        denominator: (bySide[sideOf('published', rate)] ?? []).map((run) => run.commitP50Ms),
        load,
      }),
    ),
});
