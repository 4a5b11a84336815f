/**
 * local-network performance (issue 4), on this machine's engine with the images built:
 *   1. start-to-ready of the 4-node seed network: `local-network` from process spawn to its
 *      "all 4 nodes ready" line (it then sends 1 tx and cleans up), against a hand-run
 *      `docker-compose up -d` + /health polling of the same file, alternated in the same run;
 *      the ratio compares medians (target: local-network ≤ 10 s, ratio ≤ 1.2);
 *   2. time-to-ready and memory per node (docker stats working set, idle after ready and after
 *      a short load) for committees of 4, 8 and 16 (LocalTestbed in this process).
 * Both sides run the same copy of the seed file with its host ports moved to free ports
 * (other runs on this shared engine take the seed ports at any moment).
 *
 * The record keeps each side's spread across rounds and the load average before, during (every
 * 5 s) and after the start-up rounds and the whole run; a target is met or missed only when
 * every round agrees on a quiet machine, else "inconclusive" (lib/verdict.ts).
 *
 * Usage: npm run build && npm run bench:local [-- --repeats 5 --committees 4,8,16]
 * (`-- --help` lists every flag). Writes benchmarks/results/local-<timestamp>.json.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { COMMON_FLAGS, flagsOrExit, numberFlag, numberListFlag } from './lib/flags.js';
import { LoadMonitor, judgeRatio, judgeThreshold, loadLine, spread, verdictLine } from './lib/verdict.js';

const USAGE = {
  name: 'bench:local',
  summary:
    '`local-network` start to all-ready for the 4-node seed network against a hand-run\n' +
    '`docker-compose up -d` plus /health polling (alternated, same run), and time-to-ready and\n' +
    'memory per node for several committee sizes. Needs the images (npm run build && npm run images).',
  notes: ['Writes benchmarks/results/local-<timestamp>.json.'],
};
const FLAGS = {
  repeats: { type: 'string', valueName: 'N', default: '5', description: 'start-up rounds of each side' },
  committees: {
    type: 'string',
    valueName: 'N1,N2',
    default: '4,8,16',
    description: 'committee sizes for time-to-ready and memory per node',
  },
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => ({
  repeats: numberFlag('repeats', values.repeats, { integer: true, min: 1 }),
  committees: numberListFlag('committees', values.committees, { integer: true, min: 1 }),
  maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
}));
// Before anything runs: the load the machine had without this script.
const monitor = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});

// Imported after the flags, so --help answers at once and without an engine.
const { Agent, request } = await import('undici');
const { runLoad } = await import('../../src/load/index.js');
const { newRunId } = await import('../../src/common/run-id.js');
const { detectCompose, runCommand } = await import('../../src/testbed/local/compose-cli.js');
const { createDocker } = await import('../../src/testbed/local/docker-engine.js');
const { LocalTestbed } = await import('../../src/testbed/local/local-testbed.js');
const { pickFreePorts } = await import('../../src/testbed/local/ports.js');

const root = resolve(import.meta.dirname, '../..');
process.chdir(root);
const { repeats, committees } = args;
const docker = createDocker();
const MiB = 1024 * 1024;

const median = (values: number[]) => spread(values).median;
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * The seed file with its host ports moved to free ports above 46657: other runs on this
 * shared engine take the seed ports at any moment (the same copy serves both sides).
 */
async function seedFile(): Promise<{ path: string; rpcPorts: number[]; shifted: boolean }> {
  const seed = 'systems/refnode/docker-compose.yml';
  const all = [26657, 26658, 26659, 26660, 26670, 26671, 26672, 26673];
  const ports = await pickFreePorts(docker, 8, 46657);
  let text = readFileSync(seed, 'utf8');
  all.forEach((port, index) => {
    text = text.replace(`127.0.0.1:${port}:`, `127.0.0.1:${ports[index]}:`);
  });
  const path = join(tmpdir(), `meshbench-bench-seed-${process.pid}.yml`);
  writeFileSync(path, text);
  return { path, rpcPorts: ports.slice(0, 4), shifted: true };
}

/** Start-up timeline of one local-network run: ms since its process started, per trace event. */
type Timeline = Record<string, number>;
const timelines: Timeline[] = [];

/**
 * local-network as a user runs it: spawn → the "all N nodes ready" line. MESHBENCH_TRACE=1
 * makes it print its start-up timeline (src/common/trace.ts), kept in `timelines`.
 */
function timeCli(composePath: string): Promise<number> {
  const bin = existsSync('dist/cli/local-network.js') ? ['bin/local-network.js'] : undefined;
  const argv = bin ?? [
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    "import { main } from './src/cli/local-network.ts'; process.exitCode = await main(process.argv.slice(1));",
    '--',
  ];
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    let readyMs: number | undefined;
    let output = '';
    const child = spawn(
      process.execPath,
      [
        ...argv,
        '--docker-compose-path',
        composePath,
        '--num-transactions',
        '1',
        '--transaction-rate',
        '10',
        '--cleanup',
        '--output',
        join(tmpdir(), 'meshbench-bench-local'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHBENCH_TRACE: '1' } },
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (readyMs === undefined && /all \d+ nodes ready/.test(output)) readyMs = performance.now() - started;
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || readyMs === undefined)
        reject(new Error(`local-network failed (exit ${code}):\n${output}`));
      else {
        const timeline: Timeline = {};
        for (const [, ms, event] of output.matchAll(/^\[trace (\d+)\] (?!ready: )(.+)$/gm)) {
          if (event !== undefined && timeline[event] === undefined) timeline[event] = Number(ms);
        }
        timelines.push(timeline);
        resolvePromise(readyMs);
      }
    });
  });
}

/** By hand: docker-compose up -d, then poll every node's /health until all answer 200. */
async function timeHandRun(composePath: string, rpcPorts: number[]): Promise<number> {
  const cli = await detectCompose();
  const project = `meshbench-bench-${newRunId()}`;
  const base = [...cli.command, '-p', project, '-f', composePath];
  const started = performance.now();
  const agent = new Agent({ connections: 1 });
  try {
    const up = await runCommand([...base, 'up', '-d']);
    if (up.code !== 0) throw new Error(`compose up failed: ${up.stderr}`);
    await Promise.all(
      rpcPorts.map(async (port) => {
        for (const deadline = performance.now() + 120_000; ;) {
          if (performance.now() > deadline) throw new Error(`port ${port} never answered /health`);
          try {
            const reply = await request(`http://127.0.0.1:${port}/health`, {
              dispatcher: agent,
              headersTimeout: 1000,
            });
            await reply.body.text();
            if (reply.statusCode === 200) return;
          } catch {
            // not up yet
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      }),
    );
    return performance.now() - started;
  } finally {
    await agent.close();
    await runCommand([...base, 'down', '-v', '-t', '1']);
  }
}

interface CommitteeFigures {
  committee: number;
  readyAfterMs: number;
  idleMemoryPerNodeMiB: { mean: number; max: number };
  loadedMemoryPerNodeMiB: { mean: number; max: number };
  cpuPercentPerNodeUnderLoad: { mean: number; max: number };
  /** Resident set of each node process (VmRSS of PID 1, shared pages of the node binary included). */
  loadedRssPerNodeMiB: { mean: number; max: number };
  load: { rate: number; transactions: number; committed: number };
}

async function committeeFigures(committee: number): Promise<CommitteeFigures> {
  const started = performance.now();
  const testbed = new LocalTestbed({ committee, startupTimeoutMs: 120_000, startedAtMs: started });
  const deployment = await testbed.deploy();
  try {
    await new Promise((r) => setTimeout(r, 3_000));
    const idle = await Promise.all(deployment.nodes.map((node) => node.stats()));
    const rate = 200;
    const transactions = 1_000;
    const load = await runLoad({
      runId: deployment.runId,
      endpoints: deployment.endpoints,
      protocol: { kind: 'cometbft', broadcastMode: 'sync' },
      shape: { kind: 'fixed', rate },
      transactions,
      transactionSizeBytes: 512,
      confirm: 'none',
    });
    const loaded = await Promise.all(deployment.nodes.map((node) => node.stats()));
    const rss = await Promise.all(
      deployment.nodes.map(async (node) => {
        const status = await node.exec(['cat', '/proc/1/status']);
        return Number(/^VmRSS:\s+(\d+) kB/m.exec(status.stdout)?.[1] ?? 0) * 1024;
      }),
    );
    const summary = (values: number[]) => ({
      mean: round(values.reduce((a, b) => a + b, 0) / values.length, 1),
      max: round(Math.max(...values), 1),
    });
    return {
      committee,
      readyAfterMs: deployment.readyAfterMs,
      idleMemoryPerNodeMiB: summary(idle.map((s) => s.memoryBytes / MiB)),
      loadedMemoryPerNodeMiB: summary(loaded.map((s) => s.memoryBytes / MiB)),
      cpuPercentPerNodeUnderLoad: summary(loaded.map((s) => s.cpuPercent)),
      loadedRssPerNodeMiB: summary(rss.map((bytes) => bytes / MiB)),
      load: { rate, transactions, committed: load.outcomes.ok },
    };
  } finally {
    await deployment.destroy({ thorough: true });
  }
}

async function main(): Promise<void> {
  const image = await docker
    .getImage('meshbench/refnode:latest')
    .inspect()
    .catch(() => undefined);
  if (!image) throw new Error('meshbench/refnode:latest is missing: run npm run build && npm run images');
  const seed = await seedFile();
  console.log(
    `seed file: ${seed.path}${seed.shifted ? ' (host ports shifted: the seed ports are in use)' : ''}`,
  );

  const cliMs: number[] = [];
  const handMs: number[] = [];
  // One warm-up of each (page cache, compose's first start), not counted.
  await timeHandRun(seed.path, seed.rpcPorts);
  await timeCli(seed.path);
  const window = monitor.window();
  for (let index = 0; index < repeats; index++) {
    // Alternate which goes first, so a slow spell of the shared machine hits both sides.
    if (index % 2 === 0) {
      handMs.push(await timeHandRun(seed.path, seed.rpcPorts));
      cliMs.push(await timeCli(seed.path));
    } else {
      cliMs.push(await timeCli(seed.path));
      handMs.push(await timeHandRun(seed.path, seed.rpcPorts));
    }
    console.log(
      `  round ${index + 1}: local-network ${round(cliMs.at(-1) ?? 0, 0)} ms, by hand ${round(handMs.at(-1) ?? 0, 0)} ms`,
    );
  }
  const load = window.close();
  const verdicts = {
    localNetworkMs: judgeThreshold({
      claim: 'local-network start to all-ready <= 10,000 ms',
      values: cliMs,
      target: 10_000,
      load,
    }),
    ratio: judgeRatio({
      claim: 'local-network / by hand <= 1.2',
      numerator: cliMs,
      denominator: handMs,
      target: 1.2,
      load,
    }),
  };
  // The warm-up run's timeline is not counted.
  const counted = timelines.slice(1);
  const events = [...new Set(counted.flatMap((timeline) => Object.keys(timeline)))];
  const timelineMs = Object.fromEntries(
    events.map((event) => [
      event,
      round(median(counted.flatMap((timeline) => timeline[event] ?? []).filter(Number.isFinite)), 0),
    ]),
  );
  const startToReady = {
    /** Each side's spread across rounds (values in round order). */
    localNetworkMs: spread(cliMs.map((v) => round(v, 0))),
    handRunMs: spread(handMs.map((v) => round(v, 0))),
    /** Median of local-network over median by hand; the per-round ratios are in verdict.ratio.spread. */
    ratio: round(median(cliMs) / median(handMs), 3),
    /** pass | fail | inconclusive, with the reasons; never a verdict from a busy machine. */
    verdict: verdicts,
    loadAverage: load,
    /** local-network's start-up timeline (median ms since its process started, per event). */
    localNetworkTimelineMs: timelineMs,
    targets: { localNetworkMs: 10_000, ratio: 1.2 },
    seedPortsShifted: seed.shifted,
  };
  console.log(
    `local-network timeline (median ms since process start): ${Object.entries(timelineMs)
      .map(([event, ms]) => `${event} ${ms}`)
      .join(', ')}`,
  );
  console.log(
    `start to all-ready, 4 nodes: local-network ${startToReady.localNetworkMs.median} ms (${startToReady.localNetworkMs.min}-${startToReady.localNetworkMs.max}), by hand ${startToReady.handRunMs.median} ms (${startToReady.handRunMs.min}-${startToReady.handRunMs.max}), ratio of medians ${startToReady.ratio}`,
  );
  console.log(`  ${loadLine(load)}`);
  for (const judgement of Object.values(verdicts)) console.log(`  ${verdictLine(judgement)}`);

  const perCommittee: CommitteeFigures[] = [];
  for (const committee of committees) {
    const figures = await committeeFigures(committee);
    perCommittee.push(figures);
    console.log(
      `committee ${committee}: ready after ${figures.readyAfterMs} ms; memory per node idle ${figures.idleMemoryPerNodeMiB.mean} MiB (max ${figures.idleMemoryPerNodeMiB.max}), after ${figures.load.transactions} tx at ${figures.load.rate} tx/s ${figures.loadedMemoryPerNodeMiB.mean} MiB (max ${figures.loadedMemoryPerNodeMiB.max}), RSS ${figures.loadedRssPerNodeMiB.mean} MiB`,
    );
  }

  const compose = await detectCompose();
  const engine = await docker.version();
  const out = {
    benchmark: 'local-network',
    timestamp: new Date().toISOString(),
    machine: {
      cpus: (await import('node:os')).cpus().length,
      engine: engine.Version,
      compose: `${compose.command.join(' ')} ${compose.version}`,
    },
    note: 'Other engineers share this engine and machine: timings are noisy; the ratio is measured side by side, and judged only on a quiet machine.',
    /** The whole run: before (nothing of ours running), every 5 s, after. */
    loadAverage: monitor.stop(),
    startToReady,
    perCommittee,
  };
  mkdirSync('benchmarks/results', { recursive: true });
  const file = `benchmarks/results/local-${out.timestamp.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`figures: ${file}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
