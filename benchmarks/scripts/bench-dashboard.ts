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
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { numberFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';
import { parseSse } from '../../src/report/dashboard/sse.js';

const root = resolve(import.meta.dirname, '../..');

interface Args {
  readonly seconds: number;
  readonly rate: number;
  readonly committee: number;
}

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

async function oneRound(dashboard: boolean, args: Args): Promise<Round> {
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

await runBench({
  usage: {
    name: 'bench:dashboard',
    summary:
      "The live dashboard's cost to the orchestrator: benchmark on a local network with --dashboard (and a client\n" +
      'on its stream) against rounds without, alternating. Needs the images (npm run setup).',
    notes: ['Writes benchmarks/results/dashboard-<timestamp>.json.'],
  },
  flags: {
    seconds: { type: 'string', valueName: 'S', default: '15', description: 'length of each level' },
    rate: { type: 'string', valueName: 'TX/S', default: '500', description: 'the offered load' },
    committee: { type: 'string', valueName: 'N', default: '4', description: 'nodes in the network' },
  },
  defaultPairs: 3,
  args: (values): Args => ({
    seconds: numberFlag('seconds', values.seconds, { integer: true, min: 4 }),
    rate: numberFlag('rate', values.rate, { min: 1 }),
    committee: numberFlag('committee', values.committee, { integer: true, min: 1 }),
  }),
  file: 'dashboard',
  sides: ['dashboard', 'without'],
  round: (side, { args }) => oneRound(side === 'dashboard', args),
  describe: (r) =>
    `orchestrator CPU mean ${r.cpuPercentMean} % (p99 ${r.cpuPercentP99} %), event-loop delay p99 ${r.eventLoopDelayP99Ms} ms, schedule lag p99 ${r.scheduleLagP99Ms} ms, throughput ${r.throughput} tx/s${r.events !== undefined ? `, ${r.events} events / ${r.streamBytes} bytes streamed` : ''}`,
  // each compared dashboard against without: a difference only when every pair agrees and the ranges do not overlap
  figures: {
    cpuPercentMean: (r) => r.cpuPercentMean,
    eventLoopDelayP99Ms: (r) => r.eventLoopDelayP99Ms,
    scheduleLagP99Ms: (r) => r.scheduleLagP99Ms,
  },
});
