/**
 * `npm run bench:wakeups` — what an event-loop sampler costs a process that is otherwise idle
 * (issue 31): Node's `monitorEventLoopDelay` wakes the main thread once per period, and
 * meshbench runs two, prom-client's behind `--metrics-port` and the resource monitor's.
 * Sides, each a fresh process doing nothing else (lib/wakeups-child.ts):
 *   none                 nothing started: the floor;
 *   prom-client-default  collectDefaultMetrics() as prom-client ships it (its lag sampled every 10 ms);
 *   exporter             meshbench's GeneratorMetrics (src/monitor/prometheus/exporter.ts);
 *   resources            the resource monitor's sampler at the default interval (every 100 ms);
 *   resources-20ms       the same at 20 ms, as it was before (and still is at --monitor-interval 200 or less).
 * The figure is the process's CPU per second (user + system) over `--seconds` after a 1 s
 * settle, in alternating rounds. Writes benchmarks/results/wakeups-<timestamp>.json.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { numberFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';

interface Args {
  readonly seconds: number;
}

interface Round {
  readonly side: string;
  readonly cpuMsPerSecond: number;
}

const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

async function oneRound(side: string, seconds: number): Promise<Round> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', resolve(root, 'benchmarks/scripts/lib/wakeups-child.ts'), side, String(seconds)],
    { cwd: root },
  );
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const parsed = JSON.parse(line) as Round;
  return { side, cpuMsPerSecond: Math.round(parsed.cpuMsPerSecond * 1000) / 1000 };
}

await runBench({
  usage: {
    name: 'bench:wakeups',
    summary:
      'CPU per second of an otherwise idle process with each event-loop sampler meshbench runs\n' +
      "(prom-client's default, the exporter's, the resource monitor's), alternating rounds.",
    notes: ['Writes benchmarks/results/wakeups-<timestamp>.json.'],
  },
  flags: {
    seconds: { type: 'string', valueName: 'S', default: '5', description: 'seconds measured per round' },
  },
  defaultPairs: 3,
  args: (values): Args => ({ seconds: numberFlag('seconds', values.seconds, { min: 1 }) }),
  file: 'wakeups',
  sides: ['none', 'prom-client-default', 'exporter', 'resources', 'resources-20ms'],
  compare: false,
  round: (side, { args }) => oneRound(side, args.seconds),
  describe: (r) => `${r.cpuMsPerSecond.toFixed(2)} ms of CPU a second`,
  figures: { cpuMsPerSecond: (r) => r.cpuMsPerSecond },
  extra: (_bySide, args) => ({ settings: args }),
});
