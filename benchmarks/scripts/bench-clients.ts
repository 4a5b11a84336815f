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
import { numberFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';
import { judgeRatio, type LoadRecord } from './lib/verdict.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIR = resolve(ROOT, '.meshbench/sandbox-bench-clients');

interface Args {
  readonly durationSecs: number;
  readonly searchStart: number;
  readonly searchMax: number;
  readonly hosts: number;
}

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
  readonly load: LoadRecord;
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

async function searchOnce(
  hostsFile: string,
  side: Side,
  round: number,
  args: Args,
  window: { close(): LoadRecord },
): Promise<SideRound> {
  const output = await mkdtemp(join(tmpdir(), `meshbench-bench-clients-${side}-`));
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
    return result;
  } finally {
    await rm(output, { recursive: true, force: true });
  }
}

await runBench({
  usage: {
    name: 'bench:clients',
    summary:
      'Highest input rate at efficiency >= 99 % on 4 sandbox hosts: colocated load clients vs one\n' +
      'local generator, alternating rounds in the same run, with spreads.',
    notes: [
      'Needs the images (npm run build && npm run images); starts its own sandbox (.meshbench/sandbox-bench-clients).',
      'Writes benchmarks/results/clients-<timestamp>.json.',
    ],
  },
  flags: {
    duration: { type: 'string', valueName: 'S', default: '10', description: 'seconds per probed rate' },
    'search-start': { type: 'string', valueName: 'TX/S', default: '400', description: 'first rate probed' },
    'search-max': { type: 'string', valueName: 'TX/S', default: '20000', description: 'highest rate probed' },
    hosts: { type: 'string', valueName: 'N', default: '4', description: 'sandbox hosts (one node each)' },
  },
  pairsFlag: 'rounds',
  defaultPairs: 3,
  args: (values): Args => ({
    durationSecs: numberFlag('duration', values.duration, { min: 1 }),
    searchStart: numberFlag('search-start', values['search-start'], { min: 1 }),
    searchMax: numberFlag('search-max', values['search-max'], { min: 1 }),
    hosts: numberFlag('hosts', values.hosts, { integer: true, min: 1 }),
  }),
  file: 'clients',
  // the sandbox hosts (and what runs on them) go after the last round, an error or Ctrl-C
  setup: async (args, { log }) => {
    const { sandboxDown, sandboxUp } = await import('../../src/testbed/sandbox/sandbox.js');
    await sandboxDown({ dir: DIR });
    const state = await sandboxUp({ hosts: args.hosts, dir: DIR });
    log(`sandbox: ${state.hosts.length} hosts up`);
    return state.hostsEnvPath;
  },
  teardown: async () => {
    const { sandboxDown } = await import('../../src/testbed/sandbox/sandbox.js');
    await sandboxDown({ dir: DIR });
  },
  sides: ['colocated', 'local'],
  round: (side, { shared, pair, args, window }) => searchOnce(shared, side as Side, pair + 1, args, window()),
  describe: (r) =>
    `highest rate at >= 99 % ${Number.isFinite(r.bestLoad) ? `${r.bestLoad} tx/s` : 'none'} (${r.probes.length} probes, ${(r.wallMs / 1000).toFixed(0)} s${r.error ? `; FAILED: ${r.error}` : ''})`,
  figures: { bestLoad: (r) => (Number.isFinite(r.bestLoad) ? r.bestLoad : undefined) },
  claims: ({ colocated = [], local = [] }, _args, load) => {
    // the pairs where both sides found a rate
    const pairs = colocated.flatMap((c, i) => {
      const l = local[i];
      return l && Number.isFinite(c.bestLoad) && Number.isFinite(l.bestLoad)
        ? [[c.bestLoad, l.bestLoad]]
        : [];
    });
    return [
      judgeRatio({
        claim: 'colocated clients sustain at least the local generator (colocated / local >= 1)',
        numerator: pairs.map(([c]) => c as number),
        denominator: pairs.map(([, l]) => l as number),
        target: 1,
        direction: 'at-least',
        load,
      }),
    ];
  },
  extra: ({ colocated = [], local = [] }) => ({
    minEfficiency: 0.99,
    failedSearches: [...colocated, ...local].filter((r) => r.error !== undefined).length,
  }),
});
