/**
 * Ctrl-C soak (`npm run bench:interrupts`): N interrupts per command at random moments in
 * [0.2 s, 8 s] after start, for `local-network`, `benchmark` and `remote-network` (on a
 * sandbox of 2 hosts this script starts and removes). A third of them are doubled (a second
 * SIGINT 0.3 s after the first), and one per command is a SIGKILL followed by `--down`.
 * After each: anything labelled with that run (container, network, volume; on the sandbox
 * hosts' engines too) is a leak, and the time from the last signal to the exit is measured.
 * A trial whose run had already ended when its signal was due interrupted nothing: it is
 * listed as missed and drawn again, so each command gets N interrupts that landed.
 * Writes benchmarks/results/interrupts-<timestamp>.json and .txt; exits 1 on any leak or an
 * exit later than 10 s after the last signal.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { COMMON_FLAGS, flagsOrExit, numberFlag } from './lib/flags.js';
import { LoadMonitor } from './lib/verdict.js';

const USAGE = {
  name: 'bench:interrupts',
  summary:
    'Interrupts each network command at random moments and checks that nothing labelled with the run\n' +
    'is left and that the command exits within 10 s of the last signal.',
  notes: [
    'Needs the images (npm run build && npm run images); starts its own sandbox (.meshbench/sandbox-interrupts).',
    'Writes benchmarks/results/interrupts-<timestamp>.json and .txt.',
  ],
};
const FLAGS = {
  count: { type: 'string', valueName: 'N', default: '15', description: 'interrupts per command' },
  commands: {
    type: 'string',
    valueName: 'LIST',
    default: 'local-network,benchmark,remote-network',
    description: 'commands to interrupt',
  },
  seed: { type: 'string', valueName: 'N', default: '1', description: 'seed of the random moments' },
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => ({
  count: numberFlag('count', values.count, { integer: true, min: 1 }),
  commands: values.commands.split(',').filter(Boolean),
  seed: numberFlag('seed', values.seed, { integer: true, min: 0 }),
  maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
}));
const monitor = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});

const { writeFileAtomic } = await import('../../src/common/atomic-write.js');
const { sandboxDown, sandboxUp } = await import('../../src/testbed/sandbox/sandbox.js');
type Sandbox = Awaited<ReturnType<typeof sandboxUp>>;

const ROOT = resolve(import.meta.dirname, '../..');
const SANDBOX_DIR = resolve(ROOT, '.meshbench/sandbox-interrupts');
const EXIT_LIMIT_MS = 10_000;
const run = promisify(execFile);

type Kind = 'single' | 'double' | 'kill';
interface Trial {
  readonly command: string;
  readonly kind: Kind;
  readonly atMs: number;
  readonly runId: string | undefined;
  readonly code: number | null;
  readonly exitAfterMs: number;
  readonly leaks: readonly string[];
  readonly lastLine: string;
  /** The run had ended before its first signal was due: nothing was interrupted. */
  readonly missed: boolean;
  /** What the command said it was doing when interrupted (start-up, a level …), from its last lines. */
  readonly during: string;
}

/** mulberry32: the same moments for the same seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function argvOf(command: string, out: string, sandbox: Sandbox | undefined): string[] {
  const bin = join(ROOT, 'bin', `${command}.js`);
  if (command === 'benchmark')
    return [bin, '--local-loads', '100,200', '--duration', '4', '--cleanup', '--output-dir', out];
  const common = ['--num-transactions', '1000', '--transaction-rate', '200', '--cleanup', '--output', out];
  if (command === 'remote-network') return [bin, '--hosts-file', sandbox!.hostsEnvPath, ...common];
  return [bin, ...common];
}

async function names(argv: string[]): Promise<string[]> {
  const { stdout } = await run(argv[0]!, argv.slice(1));
  return stdout.split('\n').filter(Boolean);
}

/** Everything labelled with the run, on this engine and (remote) on each sandbox host's engine. */
async function leftovers(runId: string, sandbox: Sandbox | undefined): Promise<string[]> {
  const engines: { where: string; prefix: string[] }[] = [{ where: 'local', prefix: ['docker'] }];
  for (const host of sandbox?.hosts ?? [])
    engines.push({ where: host.name, prefix: ['docker', 'exec', host.container, 'docker'] });
  const found: string[] = [];
  for (const { where, prefix } of engines) {
    for (const filter of [
      `label=meshbench.run=${runId}`,
      `label=com.docker.compose.project=meshbench-${runId}`,
    ]) {
      for (const [what, list] of [
        ['container', ['ps', '-aq']],
        ['network', ['network', 'ls', '-q']],
        ['volume', ['volume', 'ls', '-q']],
      ] as const) {
        const ids = await names([...prefix, ...list, '--filter', filter]).catch(() => []);
        for (const id of ids) found.push(`${where}: ${what} ${id}`);
      }
    }
  }
  return [...new Set(found)];
}

async function trial(
  command: string,
  kind: Kind,
  atMs: number,
  sandbox: Sandbox | undefined,
): Promise<Trial> {
  const out = await mkdtemp(join(tmpdir(), 'meshbench-interrupts-'));
  const argv = argvOf(command, out, sandbox);
  const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const closed = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  let lastSignalMs = Number.NaN;
  let delivered = 0;
  const send = (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    lastSignalMs = performance.now();
    if (child.kill(signal)) delivered++;
  };
  const timers = [setTimeout(() => send(kind === 'kill' ? 'SIGKILL' : 'SIGINT'), atMs)];
  if (kind === 'double') timers.push(setTimeout(() => send('SIGINT'), atMs + 300));
  const code = await closed;
  const exitedMs = performance.now();
  for (const timer of timers) clearTimeout(timer);
  // Every run id it printed: benchmark's own, and its network's (compose project meshbench-<id>),
  // which differ; the network's labels carry the network's.
  const runIds = [...new Set([...output.matchAll(/(\d{8}-\d{6}-[0-9a-f]{6})/g)].map((m) => m[1] as string))];
  const runId = runIds[0];
  for (const id of kind === 'kill' ? runIds : []) {
    const down =
      command === 'remote-network'
        ? [
            join(ROOT, 'bin/remote-network.js'),
            '--down',
            '--cleanup-thorough',
            '--hosts-file',
            sandbox!.hostsEnvPath,
          ]
        : [join(ROOT, 'bin/local-network.js'), '--down', id];
    // at once, as a user would: --down stops a compose up the SIGKILLed parent left running
    await run(process.execPath, down, { cwd: ROOT }).catch(() => undefined);
  }
  const leaks: string[] = [];
  for (const id of runIds) leaks.push(...(await leftovers(id, sandbox)));
  await rm(out, { recursive: true, force: true });
  const lines = output.trim().split('\n');
  const said = /(?:interrupted|forced exit) during ([^;,\n]+)/.exec(output)?.[1];
  return {
    command,
    kind,
    atMs: Math.round(atMs),
    runId,
    code,
    // a run that ended before the signal has no exit time to measure
    exitAfterMs: Number.isNaN(lastSignalMs) || kind === 'kill' ? 0 : Math.round(exitedMs - lastSignalMs),
    leaks,
    lastLine: lines.at(-1) ?? '',
    missed: delivered === 0,
    during: kind === 'kill' ? 'SIGKILL' : (said ?? (delivered === 0 ? 'after the end' : 'unknown')),
  };
}

async function main(): Promise<void> {
  const next = random(args.seed);
  const window = monitor.window();
  const trials: Trial[] = [];
  let sandbox: Sandbox | undefined;
  process.once('SIGINT', () => {
    process.stderr.write('interrupted: removing the sandbox …\n');
    void sandboxDown({ dir: SANDBOX_DIR })
      .catch(() => undefined)
      .then(() => process.exit(130));
  });
  try {
    for (const command of args.commands) {
      if (command === 'remote-network') {
        await sandboxDown({ dir: SANDBOX_DIR });
        sandbox = await sandboxUp({ hosts: 2, dir: SANDBOX_DIR });
      }
      // Drawn again when the run had ended before the signal, at most count more times.
      for (let i = 0, attempts = 0; i < args.count && attempts < 2 * args.count; attempts++) {
        const kind: Kind = i === 0 ? 'kill' : i % 3 === 0 ? 'double' : 'single';
        const atMs = 200 + next() * 7_800;
        const result = await trial(command, kind, atMs, sandbox);
        trials.push(result);
        if (!result.missed) i++;
        process.stderr.write(
          `${command} #${i}${result.missed ? ' (missed: the run had ended)' : ''} ${kind} at ${result.atMs} ms during ${result.during}: exit ${result.code} after ${result.exitAfterMs} ms, ${result.leaks.length} leaked${result.leaks.length ? ` (${result.leaks.join(', ')})` : ''}\n`,
        );
      }
      if (command === 'remote-network') {
        await sandboxDown({ dir: SANDBOX_DIR });
        sandbox = undefined;
      }
    }
  } finally {
    if (sandbox) await sandboxDown({ dir: SANDBOX_DIR });
  }
  const load = window.close();
  const per = args.commands.map((command) => {
    const all = trials.filter((t) => t.command === command);
    const mine = all.filter((t) => !t.missed);
    const during: Record<string, number> = {};
    for (const t of mine) during[t.during] = (during[t.during] ?? 0) + 1;
    return {
      command,
      interrupts: mine.length,
      doubled: mine.filter((t) => t.kind === 'double').length,
      missed: all.length - mine.length,
      during,
      leaks: mine.filter((t) => t.leaks.length > 0).length,
      slowExits: mine.filter((t) => t.exitAfterMs > EXIT_LIMIT_MS).length,
      maxExitAfterMs: Math.max(0, ...mine.map((t) => t.exitAfterMs)),
    };
  });
  const timestamp = new Date().toISOString();
  const summary = {
    timestamp,
    count: args.count,
    seed: args.seed,
    exitLimitMs: EXIT_LIMIT_MS,
    load,
    per,
    trials,
  };
  const base = `benchmarks/results/interrupts-${timestamp.replace(/[:.]/g, '-')}`;
  const text = [
    `interrupt soak ${timestamp} (seed ${args.seed}, ${args.count} per command, 1-minute load average up to ${load.maxOneMinute}${load.busy ? ', busy machine' : ''})`,
    ...per.map(
      (p) =>
        `${p.command}: ${p.interrupts} interrupts (${p.doubled} doubled; ${p.missed} missed and drawn again), ${p.leaks} leaked, ${p.slowExits} exits over ${EXIT_LIMIT_MS / 1000} s, max exit ${p.maxExitAfterMs} ms after the last signal; during: ${Object.entries(
          p.during,
        )
          .map(([what, n]) => `${what} ${n}`)
          .join(', ')}`,
    ),
  ].join('\n');
  await writeFileAtomic(resolve(ROOT, `${base}.json`), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFileAtomic(resolve(ROOT, `${base}.txt`), `${text}\n`);
  process.stdout.write(`${text}\nwrote ${base}.json and .txt\n`);
  process.exitCode = per.some((p) => p.leaks > 0 || p.slowExits > 0) ? 1 : 0;
}

await main();
