/**
 * `npm run bench:dashboard` — what `--dashboard` costs the orchestrator (issue 18): the real
 * `benchmark` command (bin/benchmark.js, a child process) on a local refnode network, rounds
 * with `--dashboard 0` and a client reading its event stream, and rounds without, side by
 * side in one run, alternating (on/off, then off/on, …) so drifting load hits both sides
 * alike. Per round, from the level's record: the orchestrator process's CPU during the level
 * (the resource monitor's `generator.cpu_percent`, worker threads included), its main
 * thread's event-loop delay p99 and the generator's schedule lag p99 (does the dashboard
 * slow the generator?). Each side's spread and the load average are recorded; a difference
 * smaller than the spreads is called inconclusive. Needs the images (npm run setup).
 * Writes benchmarks/results/dashboard-<timestamp>.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { COMMON_FLAGS, flagsOrExit, numberFlag } from './lib/flags.js';
import { LoadMonitor, loadLine, spread, type Spread } from './lib/verdict.js';
import { parseSse } from '../../src/report/dashboard/sse.js';

const USAGE = {
  name: 'bench:dashboard',
  summary:
    "The live dashboard's cost to the orchestrator: benchmark on a local network with --dashboard (and a client\n" +
    'on its stream) against rounds without, alternating. Needs the images (npm run setup).',
  notes: ['Writes benchmarks/results/dashboard-<timestamp>.json.'],
};
const FLAGS = {
  pairs: { type: 'string', valueName: 'N', default: '3', description: 'pairs of rounds (one on, one off)' },
  seconds: { type: 'string', valueName: 'S', default: '15', description: 'length of each level' },
  rate: { type: 'string', valueName: 'TX/S', default: '500', description: 'the offered load' },
  committee: { type: 'string', valueName: 'N', default: '4', description: 'nodes in the network' },
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => ({
  pairs: numberFlag('pairs', values.pairs, { integer: true, min: 1 }),
  seconds: numberFlag('seconds', values.seconds, { integer: true, min: 4 }),
  rate: numberFlag('rate', values.rate, { min: 1 }),
  committee: numberFlag('committee', values.committee, { integer: true, min: 1 }),
  maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
}));
const load = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});
const root = resolve(import.meta.dirname, '../..');

interface Round {
  readonly dashboard: boolean;
  readonly cpuPercentMean: number;
  readonly cpuPercentP99: number;
  readonly eventLoopDelayP99Ms: number;
  readonly scheduleLagP99Ms: number;
  readonly throughput: number;
  /** Dashboard rounds: what the stream client received. */
  readonly events?: number;
  readonly streamBytes?: number;
  readonly wallMs: number;
}

/** Reads the dashboard's stream until it ends: events and bytes received. */
function readStream(url: string): Promise<{ events: number; bytes: number }> {
  return new Promise((done, fail) => {
    get(`${url}events`, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('close', () => done({ events: parseSse(text).length, bytes: Buffer.byteLength(text) }));
    }).on('error', fail);
  });
}

async function oneRound(dashboard: boolean): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-dashboard-'));
  const started = performance.now();
  try {
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin', 'benchmark.js'),
        '--network-type',
        'local',
        '--committee',
        String(args.committee),
        '--loads',
        String(args.rate),
        '--duration',
        String(args.seconds),
        '--warmup',
        '2',
        '--output-dir',
        dir,
        '--cleanup',
        '--startup-wait',
        '180',
        '--console-output',
        'false',
        ...(dashboard ? ['--dashboard', '0'] : []),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let stream: Promise<{ events: number; bytes: number }> | undefined;
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)?.[1];
      if (url && !stream) stream = readStream(url);
    });
    const code = await new Promise<number | null>((done) => child.once('close', done));
    if (code !== 0) throw new Error(`benchmark exited ${code}: ${stderr.slice(-2000)}`);
    const received = await stream;
    const runDir = readdirSync(dir).map((name) => join(dir, name))[0] as string;
    const record = JSON.parse(readFileSync(join(runDir, 'local-benchmark-1.json'), 'utf8')) as {
      results: { throughput: number; schedule_lag_ms: { p99: number } };
      runs: {
        blocks?: {
          resources?: {
            generator: { cpu_percent: { mean: number; p99: number }; event_loop_delay_ms: { p99: number } };
          };
        };
      }[];
    };
    const generator = record.runs[0]?.blocks?.resources?.generator;
    if (!generator) throw new Error('the record has no resources block (is --monitor on?)');
    return {
      dashboard,
      cpuPercentMean: generator.cpu_percent.mean,
      cpuPercentP99: generator.cpu_percent.p99,
      eventLoopDelayP99Ms: generator.event_loop_delay_ms.p99,
      scheduleLagP99Ms: record.results.schedule_lag_ms.p99,
      throughput: record.results.throughput,
      ...(received ? { events: received.events, streamBytes: received.bytes } : {}),
      wallMs: Math.round(performance.now() - started),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const startedAt = new Date().toISOString();
const rounds: Round[] = [];
for (let pair = 0; pair < args.pairs; pair++) {
  const order = pair % 2 === 0 ? [true, false] : [false, true];
  for (const dashboard of order) {
    const round = await oneRound(dashboard);
    rounds.push(round);
    console.log(
      `pair ${pair + 1} ${dashboard ? 'dashboard' : 'without  '}: orchestrator CPU mean ${round.cpuPercentMean} % (p99 ${round.cpuPercentP99} %), event-loop delay p99 ${round.eventLoopDelayP99Ms} ms, schedule lag p99 ${round.scheduleLagP99Ms} ms, throughput ${round.throughput} tx/s${round.events !== undefined ? `, ${round.events} events / ${round.streamBytes} bytes streamed` : ''}`,
    );
  }
}
const loadRecord = load.stop();
const side = (dashboard: boolean, pick: (round: Round) => number): Spread =>
  spread(rounds.filter((round) => round.dashboard === dashboard).map(pick));
const figures = {
  cpuPercentMean: {
    dashboard: side(true, (r) => r.cpuPercentMean),
    without: side(false, (r) => r.cpuPercentMean),
  },
  eventLoopDelayP99Ms: {
    dashboard: side(true, (r) => r.eventLoopDelayP99Ms),
    without: side(false, (r) => r.eventLoopDelayP99Ms),
  },
  scheduleLagP99Ms: {
    dashboard: side(true, (r) => r.scheduleLagP99Ms),
    without: side(false, (r) => r.scheduleLagP99Ms),
  },
};
/** Per pair, dashboard − without: conclusive only when every pair's difference has one sign and the sides' ranges do not overlap. */
function verdict(name: keyof typeof figures): string {
  const { dashboard, without } = figures[name];
  const overlap = dashboard.min <= without.max && without.min <= dashboard.max;
  const difference = dashboard.median - without.median;
  if (overlap || loadRecord.busy)
    return `inconclusive (median difference ${difference.toFixed(2)}; ${overlap ? 'the sides overlap' : ''}${overlap && loadRecord.busy ? '; ' : ''}${loadRecord.busy ? 'busy machine' : ''})`;
  return `${difference > 0 ? 'higher' : 'lower'} with the dashboard by ${Math.abs(difference).toFixed(2)} (median)`;
}
for (const name of Object.keys(figures) as (keyof typeof figures)[]) {
  const { dashboard, without } = figures[name];
  console.log(
    `${name}: dashboard median ${dashboard.median.toFixed(2)} [${dashboard.min}–${dashboard.max}], without ${without.median.toFixed(2)} [${without.min}–${without.max}]: ${verdict(name)}`,
  );
}
console.log(loadLine(loadRecord));
const out = join(root, 'benchmarks', 'results');
mkdirSync(out, { recursive: true });
const file = join(out, `dashboard-${startedAt.replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ startedAt, args, rounds, figures, verdicts: Object.fromEntries(Object.keys(figures).map((name) => [name, verdict(name as keyof typeof figures)])), loadAverage: loadRecord }, null, 2)}\n`,
);
console.log(`wrote ${file}`);
