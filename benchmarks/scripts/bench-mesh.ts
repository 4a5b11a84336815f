/**
 * `npm run bench:mesh` — what reading the mesh's delivery streams costs the orchestrator
 * (issue 30), against what publishing costs it, side by side in one run, alternating:
 *
 *  - `publish`: the generator publishes `--rate` messages a second round robin over `--nodes`
 *    nodes and reads only the replies (`--confirm none`, no mesh figures);
 *  - `read`: the same publishes, and every node's `GET /deliveries` stream read as `benchmark
 *    --protocol mesh` reads them (the commit watch, which tells when a message reached every
 *    node, and the mesh figures' monitor: the matrix, the receivers, the windows).
 *
 * The nodes are a stand-in (lib/mesh-standin.mjs, its own process): each publish puts one
 * delivery on every node's stream at once, so `--nodes` × `--rate` deliveries a second reach
 * the orchestrator, and the stand-in's own CPU is not the orchestrator's. A real P2P stack at
 * 8 × 1,000 would take this machine's two cores for itself.
 *
 * A 2 s round of each side runs first and is not counted (module loading, JIT warm-up).
 * The orchestrator's CPU is process.cpuUsage() over the round (the generator's worker threads
 * included). Reading costs `read − publish` per pair; per delivery, that over the deliveries the
 * round read; publishing costs the `publish` round's CPU, per message over the messages sent.
 * Target: reading the deliveries costs no more than publishing (per pair, read − publish ≤ publish).
 * Writes benchmarks/results/mesh-<timestamp>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { numberFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';
import { judgeRatio } from './lib/verdict.js';

type Endpoint = import('../../src/protocols/endpoint.js').Endpoint;
type MeshBlock = import('../../src/monitor/mesh/monitor.js').MeshBlock;
type Deployment = import('../../src/testbed/testbed.js').Deployment;

interface Args {
  readonly nodes: number;
  readonly rate: number;
  readonly seconds: number;
}

interface Network {
  readonly child: ChildProcess;
  readonly endpoints: readonly Endpoint[];
}

interface Round {
  readonly side: string;
  /** The orchestrator process over the round: percent of one core. */
  readonly cpuPercent: number;
  readonly cpuMs: number;
  readonly sent: number;
  readonly ok: number;
  /** Deliveries the mesh monitor read (read rounds). */
  readonly deliveries?: number;
  readonly committed?: number;
  readonly wallMs: number;
}

process.chdir(resolve(import.meta.dirname, '../..'));
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

async function startNetwork(nodes: number): Promise<Network> {
  const child = spawn(process.execPath, ['benchmarks/scripts/lib/mesh-standin.mjs', String(nodes)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { ports } = JSON.parse(line) as { ports: number[] };
  const endpoints = ports.map((port, index) => ({
    nodeId: `node${index}`,
    rpcUrl: `http://127.0.0.1:${port}`,
    host: 'local',
    clockOffsetMs: 0, // this machine's clock: the deliveries are timed by their `at`, as a local testbed's
  }));
  return { child, endpoints };
}

async function oneRound(side: string, network: Network, args: Args, pair: number): Promise<Round> {
  // imported here, not at the top: --help answers without loading the generator
  const { runLoad } = await import('../../src/load/index.js');
  const { MeshMonitor } = await import('../../src/monitor/mesh/monitor.js');
  const read = side === 'read';
  const monitor = read ? new MeshMonitor() : undefined;
  let block: MeshBlock | undefined;
  const controller = new AbortController();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const context = {
    deployment: { endpoints: network.endpoints } as unknown as Deployment,
    signal: controller.signal,
    elapsedMs: () => performance.now() - started,
    block: (_name: string, data: unknown) => {
      block = data as MeshBlock;
    },
    log: () => undefined,
    publish: () => undefined,
  };
  monitor?.onLevelStart({ warmupMs: 0 } as never, context);
  const load = await runLoad({
    runId: `bench-mesh-${side}-${pair}`,
    endpoints: network.endpoints,
    protocol: { kind: 'mesh' },
    shape: { kind: 'fixed', rate: args.rate },
    durationMs: args.seconds * 1000,
    warmupMs: 0,
    transactionSizeBytes: 64,
    confirm: read ? 'commit' : 'none',
  });
  controller.abort();
  await monitor?.onLoadEnd({ warmupMs: 0 } as never, load, context);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    side,
    cpuPercent: round((cpuMs / wallMs) * 100),
    cpuMs: round(cpuMs, 0),
    sent: load.sent,
    ok: load.outcomes.ok,
    ...(block ? { deliveries: block.receivers.reduce((sum, receiver) => sum + receiver.delivered, 0) } : {}),
    ...(read ? { committed: load.outcomes.committed ?? 0 } : {}),
    wallMs: round(wallMs, 0),
  };
}

await runBench({
  usage: {
    name: 'bench:mesh',
    summary:
      "The orchestrator's CPU for reading the mesh's delivery streams against its CPU for publishing\n" +
      '(target: reading costs no more than publishing), at --nodes x --rate deliveries a second, alternating.',
    notes: ['Writes benchmarks/results/mesh-<timestamp>.json.'],
  },
  flags: {
    nodes: { type: 'string', valueName: 'N', default: '8', description: 'nodes in the stand-in mesh' },
    rate: { type: 'string', valueName: 'MSG/S', default: '1000', description: 'publishes a second' },
    seconds: { type: 'string', valueName: 'S', default: '10', description: 'length of each round' },
  },
  defaultPairs: 3,
  args: (values): Args => ({
    nodes: numberFlag('nodes', values.nodes, { integer: true, min: 1 }),
    rate: numberFlag('rate', values.rate, { min: 1 }),
    seconds: numberFlag('seconds', values.seconds, { integer: true, min: 2 }),
  }),
  file: 'mesh',
  setup: async (args, { log }) => {
    log(`starting a stand-in mesh of ${args.nodes} nodes …`);
    const network = await startNetwork(args.nodes);
    // One short round of each side first, not counted: the first round in the process would
    // otherwise also pay for loading the generator and the monitor and for warming the JIT.
    log('warming up (a 2 s round of each side, not counted) …');
    for (const side of ['read', 'publish']) await oneRound(side, network, { ...args, seconds: 2 }, 0);
    return network;
  },
  teardown: async (network) => {
    network.child.kill('SIGTERM');
    if (network.child.exitCode === null) await once(network.child, 'exit');
  },
  sides: ['read', 'publish'],
  round: (side, { shared, args, pair }) => oneRound(side, shared, args, pair),
  describe: (r) =>
    `orchestrator ${r.cpuPercent}% of a core (${r.cpuMs} ms CPU), ${r.sent} sent, ${r.ok} ok` +
    (r.deliveries !== undefined ? `, ${r.deliveries} deliveries read, ${r.committed} committed` : ''),
  figures: {
    orchestratorCpuPercent: (r) => r.cpuPercent,
  },
  claims: ({ read = [], publish = [] }, args, load) => [
    judgeRatio({
      claim: `reading ${args.nodes} x ${args.rate} deliveries a second costs no more CPU than publishing ${args.rate} messages (read − publish ≤ publish, per pair)`,
      numerator: readCosts(read, publish),
      denominator: publish.map((r) => r.cpuMs),
      target: 1,
      load,
    }),
  ],
  extra: ({ read = [], publish = [] }, args) => ({
    settings: args,
    readCostCpuMsPerPair: readCosts(read, publish),
    readCostMicrosPerDelivery: read.map((r, i) =>
      round(((r.cpuMs - (publish[i]?.cpuMs ?? 0)) * 1000) / Math.max(1, r.deliveries ?? 0)),
    ),
    publishCostMicrosPerMessage: publish.map((r) => round((r.cpuMs * 1000) / Math.max(1, r.sent))),
  }),
});

function readCosts(read: readonly Round[], publish: readonly Round[]): number[] {
  return read.map((r, i) => round(r.cpuMs - (publish[i]?.cpuMs ?? 0), 0));
}
