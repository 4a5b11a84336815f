/**
 * How local nodes are reached (issue 12, part 5): the same 4-node seed network, loaded at the
 * same rates through its published ports (every request and reply through docker-proxy) and
 * at the containers' own addresses on the compose network, side by side in one run, the two
 * sides alternating first in each round. Per side and round: commit and ack p50/p99
 * (coordinated-omission corrected), achieved and committed rates, the generator's CPU, and
 * the CPU the docker-proxy processes used in that window (from /proc).
 *
 * The record keeps each side's spread across rounds and the load average before, during and
 * after; "direct / published commit p50 <= 1" is a verdict only when every round agrees on a
 * quiet machine, else "inconclusive" (lib/verdict.ts).
 *
 * Usage: npm run build && npm run bench:access [-- --rates 3500,5000 --rounds 3 --seconds 10]
 * (`-- --help` lists every flag). Writes benchmarks/results/access-<timestamp>.json.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { COMMON_FLAGS, flagsOrExit, numberFlag, numberListFlag } from './lib/flags.js';
import { LoadMonitor, judgeRatio, loadLine, spread, verdictLine } from './lib/verdict.js';

const USAGE = {
  name: 'bench:access',
  summary:
    'Commit latency and CPU of the 4-node seed network reached through published ports\n' +
    '(docker-proxy) and at the container addresses, alternating in one run. Needs the images.',
  notes: ['Writes benchmarks/results/access-<timestamp>.json.'],
};
const FLAGS = {
  rates: { type: 'string', valueName: 'R1,R2', default: '3500', description: 'input rates, tx/s' },
  rounds: {
    type: 'string',
    valueName: 'N',
    default: '3',
    description: 'rounds per rate (each runs both sides)',
  },
  seconds: {
    type: 'string',
    valueName: 'S',
    default: '10',
    description: 'measured seconds per side and round',
  },
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => ({
  rates: numberListFlag('rates', values.rates, { min: 1 }),
  rounds: numberFlag('rounds', values.rounds, { integer: true, min: 1 }),
  seconds: numberFlag('seconds', values.seconds, { min: 1 }),
  maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
}));
const monitor = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});

// Imported after the flags, so --help answers at once and without an engine.
const { runLoad } = await import('../../src/load/index.js');
const { waitForMempoolsToDrain } = await import('../../src/bench/settle.js');
const { LocalTestbed } = await import('../../src/testbed/local/local-testbed.js');
type Endpoint = import('../../src/testbed/testbed.js').Endpoint;

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds used so far by every docker-proxy process (utime + stime, /proc/<pid>/stat). */
function proxyCpuSeconds(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'docker-proxy') continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / CLOCK_TICKS;
}

type Side = 'published' | 'direct';
interface SideRun {
  readonly side: Side;
  readonly rate: number;
  readonly round: number;
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

const started = new Date();
const testbed = new LocalTestbed({ composePath: 'systems/refnode/docker-compose.yml', nodeAccess: 'direct' });
const deployment = await testbed.deploy();
const runs: SideRun[] = [];
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
});
try {
  const direct: Endpoint[] = [...deployment.endpoints];
  // The same containers through their published ports.
  const docker = await testbed.getDocker();
  const published: Endpoint[] = await Promise.all(
    deployment.nodes.map(async (node) => {
      const info = await docker.getContainer(node.containerId).inspect();
      const hostPort = (port: number) => info.NetworkSettings.Ports?.[`${port}/tcp`]?.[0]?.HostPort;
      const rpc = `127.0.0.1:${hostPort(26657)}`;
      return { nodeId: node.nodeId, rpcUrl: `http://${rpc}`, wsUrl: `ws://${rpc}/websocket`, host: 'local' };
    }),
  );
  console.log(`direct:    ${direct.map((e) => e.rpcUrl).join(' ')}`);
  console.log(`published: ${published.map((e) => e.rpcUrl).join(' ')}`);
  const window = monitor.window();
  for (const rate of args.rates) {
    for (let round = 1; round <= args.rounds && !interrupted; round++) {
      const order: Side[] = round % 2 === 1 ? ['published', 'direct'] : ['direct', 'published'];
      for (const side of order) {
        const endpoints = side === 'direct' ? direct : published;
        await waitForMempoolsToDrain({ endpoints, timeoutMs: 30_000, pollIntervalMs: 100 });
        const cpuBefore = process.cpuUsage();
        const proxyBefore = proxyCpuSeconds();
        const t0 = performance.now();
        const result = await runLoad({
          runId: `access-${side}-${rate}-${round}`,
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
        const run: SideRun = {
          side,
          rate,
          round,
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
        runs.push(run);
        console.log(
          `${rate} tx/s round ${round} ${side.padEnd(9)} commit p50 ${run.commitP50Ms.toFixed(1)} ms p99 ${run.commitP99Ms.toFixed(1)} ms, ack p50 ${run.ackP50Ms.toFixed(2)} ms, committed ${run.committedThroughput.toFixed(0)} tx/s, generator ${(run.generatorCores * 100).toFixed(0)}% core, docker-proxy ${(run.proxyCores * 100).toFixed(0)}% core`,
        );
      }
    }
  }
  const load = window.close();
  const perRate = args.rates.map((rate) => {
    const side = (name: Side) => runs.filter((run) => run.rate === rate && run.side === name);
    const pick = (name: Side, key: keyof SideRun) => side(name).map((run) => run[key] as number);
    return {
      rate,
      published: {
        commitP50Ms: spread(pick('published', 'commitP50Ms')),
        commitP99Ms: spread(pick('published', 'commitP99Ms')),
        ackP50Ms: spread(pick('published', 'ackP50Ms')),
        proxyCores: spread(pick('published', 'proxyCores')),
        generatorCores: spread(pick('published', 'generatorCores')),
      },
      direct: {
        commitP50Ms: spread(pick('direct', 'commitP50Ms')),
        commitP99Ms: spread(pick('direct', 'commitP99Ms')),
        ackP50Ms: spread(pick('direct', 'ackP50Ms')),
        proxyCores: spread(pick('direct', 'proxyCores')),
        generatorCores: spread(pick('direct', 'generatorCores')),
      },
      verdict: judgeRatio({
        claim: `${rate} tx/s: direct / published commit p50 <= 1`,
        target: 1,
        numerator: pick('direct', 'commitP50Ms'),
        denominator: pick('published', 'commitP50Ms'),
        load,
      }),
    };
  });
  const whole = monitor.stop();
  console.log(`\n  ${loadLine(load)}`);
  for (const entry of perRate) console.log(`  ${verdictLine(entry.verdict)}`);
  const out = {
    benchmark: 'access',
    timestamp: started.toISOString(),
    flags: args,
    interrupted,
    load,
    wholeRun: whole,
    endpoints: { direct, published },
    runs,
    perRate,
  };
  mkdirSync('benchmarks/results', { recursive: true });
  const file = `benchmarks/results/access-${out.timestamp.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${file}`);
} finally {
  await deployment.destroy();
}
