/**
 * Remote load clients against one local generator (`npm run bench:clients`).
 *
 * On 4 sandbox hosts (one node each), in the same run and in alternating rounds: the highest
 * total input rate sustained at efficiency >= 99 % (a short search over rates: the benchmark's
 * own `--load-search`, doubling then bisecting to within 5 %) with `--load-clients colocated`
 * (one client beside each node) and with `--load-clients local` (one generator in this
 * process). Each side's figure across rounds is kept as a spread, with the colocated/local
 * ratio per round; the load average is recorded before, during and after, and the figures
 * are flagged when the machine was busy (lib/verdict.ts). Writes
 * benchmarks/results/clients-<timestamp>.json.
 *
 * The emulated hosts share this machine's cores with the local generator, so on a small
 * machine the colocated side competes with the nodes for the same CPUs: the figure to read
 * is the ratio on a quiet machine, not a claim about real fleets.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { COMMON_FLAGS, flagsOrExit, numberFlag } from './lib/flags.js';
import { LoadMonitor, judgeRatio, loadLine, spread, verdictLine } from './lib/verdict.js';

const USAGE = {
  name: 'bench:clients',
  summary:
    'Highest input rate at efficiency >= 99 % on 4 sandbox hosts: colocated load clients vs one\n' +
    'local generator, alternating rounds in the same run, with spreads.',
  notes: [
    'Needs the images (npm run build && npm run images); starts its own sandbox (.meshbench/sandbox-bench-clients).',
    'Writes benchmarks/results/clients-<timestamp>.json.',
  ],
};
const FLAGS = {
  rounds: {
    type: 'string',
    valueName: 'N',
    default: '3',
    description: 'alternating rounds (each: both sides)',
  },
  duration: { type: 'string', valueName: 'S', default: '10', description: 'seconds per probed rate' },
  'search-start': { type: 'string', valueName: 'TX/S', default: '400', description: 'first rate probed' },
  'search-max': { type: 'string', valueName: 'TX/S', default: '20000', description: 'highest rate probed' },
  hosts: { type: 'string', valueName: 'N', default: '4', description: 'sandbox hosts (one node each)' },
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => ({
  rounds: numberFlag('rounds', values.rounds, { integer: true, min: 1 }),
  durationSecs: numberFlag('duration', values.duration, { min: 1 }),
  searchStart: numberFlag('search-start', values['search-start'], { min: 1 }),
  searchMax: numberFlag('search-max', values['search-max'], { min: 1 }),
  hosts: numberFlag('hosts', values.hosts, { integer: true, min: 1 }),
  maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
}));
// Before anything runs: the load the machine had without this script.
const monitor = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});

// Imported after the flags, so --help answers at once and without an engine.
const { writeFileAtomic } = await import('../../src/common/atomic-write.js');
const { sandboxDown, sandboxUp } = await import('../../src/testbed/sandbox/sandbox.js');

const ROOT = resolve(import.meta.dirname, '../..');
const DIR = resolve(ROOT, '.meshbench/sandbox-bench-clients');
type Side = 'colocated' | 'local';

interface Probe {
  readonly load: number;
  readonly passed: boolean;
  readonly efficiency?: number;
}

interface SideRound {
  readonly round: number;
  readonly side: Side;
  /** Highest rate that passed (efficiency >= 99 %), tx/s; NaN when none did or the run failed. */
  readonly bestLoad: number;
  readonly probes: readonly Probe[];
  readonly stoppedBecause?: string;
  readonly wallMs: number;
  readonly error?: string;
  readonly load: ReturnType<ReturnType<LoadMonitor['window']>['close']>;
}

function benchmark(argv: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/benchmark.js'), ...argv], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolvePromise({ code: code ?? 1, output }));
  });
}

async function searchOnce(hostsFile: string, side: Side, round: number): Promise<SideRound> {
  const output = await mkdtemp(join(tmpdir(), `meshbench-bench-clients-${side}-`));
  const window = monitor.window();
  const started = performance.now();
  try {
    const run = await benchmark([
      '--network-type',
      'remote',
      '--hosts-file',
      hostsFile,
      '--load-clients',
      side,
      '--load-search',
      '--load-search-start',
      String(args.searchStart),
      '--load-search-max',
      String(args.searchMax),
      '--min-efficiency',
      '99',
      // efficiency decides; latency is left free (a generous bound)
      '--p99-bound-ms',
      '60000',
      '--duration',
      String(args.durationSecs),
      '--startup-wait',
      '120',
      '--monitor',
      'false',
      '--cleanup',
      '--output-dir',
      output,
    ]);
    const wallMs = Math.round(performance.now() - started);
    const [runDir] = await readdir(output);
    const file = runDir ? join(output, runDir, 'remote-load-search.json') : '';
    const search = file
      ? (JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as {
          bestLoad?: number;
          stoppedBecause?: string;
          probes?: { load: number; pass: boolean; efficiency?: number }[];
        })
      : {};
    const probes = (search.probes ?? []).map((p) => ({
      load: p.load,
      passed: p.pass,
      ...(p.efficiency !== undefined ? { efficiency: p.efficiency } : {}),
    }));
    const result: SideRound = {
      round,
      side,
      bestLoad: search.bestLoad ?? NaN,
      probes,
      ...(search.stoppedBecause ? { stoppedBecause: search.stoppedBecause } : {}),
      wallMs,
      ...(run.code !== 0 ? { error: run.output.trim().split('\n').slice(-3).join(' | ') } : {}),
      load: window.close(),
    };
    process.stderr.write(
      `  round ${round} ${side.padEnd(9)}: highest rate at >= 99 % ${Number.isFinite(result.bestLoad) ? `${result.bestLoad} tx/s` : 'none'} (${probes.length} probes, ${(wallMs / 1000).toFixed(0)} s${result.error ? `; FAILED: ${result.error}` : ''})\n`,
    );
    return result;
  } finally {
    await rm(output, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  // Ctrl-C: the benchmark child stops itself; the sandbox hosts (and what runs on them) go too.
  process.once('SIGINT', () => {
    process.stderr.write('interrupted: removing the sandbox …\n');
    void sandboxDown({ dir: DIR })
      .catch(() => undefined)
      .then(() => process.exit(130));
  });
  await sandboxDown({ dir: DIR });
  const state = await sandboxUp({ hosts: args.hosts, dir: DIR });
  process.stderr.write(`sandbox: ${state.hosts.length} hosts up\n`);
  const rounds: SideRound[] = [];
  const window = monitor.window();
  try {
    for (let round = 1; round <= args.rounds; round++) {
      // alternate which side goes first, so drift on the machine hits both alike
      const order: Side[] = round % 2 === 1 ? ['colocated', 'local'] : ['local', 'colocated'];
      for (const side of order) rounds.push(await searchOnce(state.hostsEnvPath, side, round));
    }
  } finally {
    await sandboxDown({ dir: DIR });
  }
  const load = window.close();
  const best = (side: Side) => rounds.filter((r) => r.side === side).map((r) => r.bestLoad);
  const paired = Array.from({ length: args.rounds }, (_, i) => i + 1).filter((round) =>
    rounds.every((r) => r.round !== round || Number.isFinite(r.bestLoad)),
  );
  const of = (side: Side, round: number) =>
    rounds.find((r) => r.side === side && r.round === round)!.bestLoad;
  const verdict = judgeRatio({
    claim: 'colocated clients sustain at least the local generator (colocated / local >= 1)',
    numerator: paired.map((round) => of('colocated', round)),
    denominator: paired.map((round) => of('local', round)),
    target: 1,
    direction: 'at-least',
    load,
  });
  const summary = {
    hosts: args.hosts,
    rounds: args.rounds,
    durationSecs: args.durationSecs,
    minEfficiency: 0.99,
    searchStart: args.searchStart,
    searchMax: args.searchMax,
    /** Highest rate at efficiency >= 99 % per round, tx/s. */
    colocated: spread(best('colocated')),
    local: spread(best('local')),
    /** colocated / local, per round (rounds where both sides found a rate). */
    ratio: verdict.spread,
    failedSearches: rounds.filter((r) => r.error !== undefined).length,
    busyMachine: load.busy,
    verdict,
    loadAverage: load,
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = resolve(ROOT, 'benchmarks/results', `clients-${stamp}.json`);
  await writeFileAtomic(
    path,
    `${JSON.stringify({ benchmark: 'clients', createdAt: new Date().toISOString(), summary, rounds, loadAverage: monitor.stop() }, null, 2)}\n`,
  );
  const line = (side: Side) => {
    const s = summary[side];
    return `${side.padEnd(9)}: median ${s.median} tx/s (min ${s.min}, max ${s.max}, IQR ${s.iqr}; ${s.values.join(', ')})`;
  };
  process.stdout.write(
    `${line('colocated')}\n${line('local')}\n${loadLine(load)}\n${verdictLine(verdict)}\nwritten: ${path}\n`,
  );
}

await main();
