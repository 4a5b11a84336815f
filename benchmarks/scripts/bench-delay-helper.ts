/**
 * `npm run bench:delay-helper` — nfq-delay, the userspace delay on NFQUEUE for kernels without
 * netem (sidecars/nethelper/nfq-delay, in meshbench/nethelper), on a bridge network of three nethelper
 * containers this script creates: `hub` runs nfq-delay with `--delay-ms` for the `shaped` peer
 * only; the `plain` peer is on no line of its config, so its probes pass through the queue
 * undelayed. UDP probes carry their send time; senders and receivers are this machine's node
 * running in the containers' network namespaces (nsenter -n), so both ends read one
 * CLOCK_MONOTONIC. Each hook (`--hooks`) is measured in turn:
 *   output      the queue on the sender's way out: hub -> peer, `nfq-delay -k dst`;
 *   prerouting  the queue on the receiver's way in: peer -> hub, `nfq-delay -k src` (the
 *               placement that leaves TCP unthrottled; see sidecars/nethelper/nfq-delay/nfq-delay.c).
 *
 *   1. precision: at `--rate` probes/s, the one-way delay to the shaped side minus the configured
 *      delay (p50 and p99) against the plain side's one-way delay, rounds alternating which side
 *      goes first, each side's round measuring every hook with a fresh helper (targets:
 *      |p50 - delay| <= 0.5 ms, p99 - delay <= 2 ms);
 *   2. ceiling: rates stepped up (`--ceiling-rates`) with a fresh helper each step: the highest
 *      step with its own late-release p99 <= 2 ms, no ENOBUFS, no probe lost or let through
 *      undelayed (the steps go on past a late one, and stop at the first loss, ENOBUFS, or a
 *      sender that cannot keep the rate); the helper's CPU per packet from /proc/<pid>/stat
 *      (utime, stime) over each step.
 *
 * A declaration on the bench harness (lib/harness.ts): the sides are `shaped` and `plain`,
 * `--rounds` rounds of each, the order turned each round; the containers and the network are what
 * the rounds share; the ceiling steps run once after the rounds (`after`). The load average is
 * recorded before, during and after; a claim whose rounds straddle the target or that ran on a
 * busy machine is "inconclusive" (lib/verdict.ts). The whole run is bounded: past its budget it
 * removes what it made and exits 1.
 * Writes benchmarks/results/delay-helper-<timestamp>.json.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { choiceListFlag, FlagError, numberFlag, numberListFlag, type FlagValues } from './lib/flags.js';
import { runBench } from './lib/harness.js';
import { cpuTimes, TICK_MS } from './lib/proc.js';
import type { ProbeReport, SendReport } from './lib/udp-probe.js';
import { judgeThreshold, loadLine, verdictLine, type Judgement, type LoadRecord } from './lib/verdict.js';
import { processAlive } from '../../src/common/process-alive.js';

const USAGE = {
  name: 'bench:delay-helper',
  summary:
    'nfq-delay (the delay helper for kernels without netem): one-way delay error at a fixed rate,\n' +
    'shaped against unshaped, and the highest rate it holds, queued on the way out and on the way in.\n' +
    'Needs root and the image meshbench/nethelper (npm run images).',
  notes: ['Writes benchmarks/results/delay-helper-<timestamp>.json.'],
};
const HOOKS = ['output', 'prerouting'] as const;
type Hook = (typeof HOOKS)[number];
const FLAGS = {
  rate: {
    type: 'string',
    valueName: 'PPS',
    default: '5000',
    description: 'probe rate of the precision rounds',
  },
  'delay-ms': { type: 'string', valueName: 'MS', default: '50', description: 'the configured delay' },
  // the harness's pairs flag (pairsFlag below, which gives --help its text), named here so the
  // run's time budget can count the rounds
  rounds: {
    type: 'string',
    valueName: 'N',
    default: '3',
    description: 'precision rounds per hook (each runs both sides)',
  },
  seconds: { type: 'string', valueName: 'S', default: '4', description: 'seconds per side and round' },
  hooks: {
    type: 'string',
    valueName: 'H1,H2',
    default: 'output,prerouting',
    description: 'where the queue sits: output (sender side), prerouting (receiver side)',
  },
  'ceiling-rates': {
    type: 'string',
    valueName: 'R1,R2',
    default: '5000,10000,20000,40000,80000,160000',
    description: 'ceiling steps, probes/s, ascending',
  },
  'step-seconds': { type: 'string', valueName: 'S', default: '3', description: 'seconds per ceiling step' },
  'no-ceiling': { type: 'boolean', default: false, description: 'skip the ceiling steps' },
  nice: {
    type: 'string',
    valueName: 'N',
    default: '0',
    description: 'run the helper under `nice -n N` (-20..19, negative as --nice=-10; the hub gets SYS_NICE)',
  },
} as const;
type Args = ReturnType<typeof parseArgs>;
function parseArgs(values: FlagValues<typeof FLAGS>) {
  const hooks = choiceListFlag('hooks', values.hooks, HOOKS);
  if (new Set(hooks).size !== hooks.length)
    throw new FlagError(`--hooks "${values.hooks}" names a hook twice`);
  return {
    rate: numberFlag('rate', values.rate, { min: 1 }),
    delayMs: numberFlag('delay-ms', values['delay-ms'], { min: 1 }),
    rounds: numberFlag('rounds', values.rounds, { integer: true, min: 1 }),
    seconds: numberFlag('seconds', values.seconds, { min: 1 }),
    hooks,
    ceilingRates: numberListFlag('ceiling-rates', values['ceiling-rates'], { min: 1 }),
    stepSeconds: numberFlag('step-seconds', values['step-seconds'], { min: 1 }),
    ceiling: !values['no-ceiling'],
    nice: niceFlag(values.nice),
  };
}
function niceFlag(value: string): number {
  const nice =
    numberFlag('nice', value.replace(/^-/, ''), { integer: true }) * (value.startsWith('-') ? -1 : 1);
  if (nice < -20 || nice > 19) throw new FlagError(`--nice "${value}" is not valid: a whole number -20..19`);
  return nice;
}

const root = resolve(import.meta.dirname, '../..');
const exec = promisify(execFile);
const IMAGE = 'meshbench/nethelper:latest';
const LABEL = 'meshbench.bench=delay-helper';
const QUEUE = 7;
const PORT = 9000;
const LATE_P99_LIMIT_US = 2000;
const tag = `${process.pid}`;
const names = {
  network: `meshbench-bench-delay-${tag}`,
  hub: `meshbench-bench-delay-hub-${tag}`,
  shaped: `meshbench-bench-delay-shaped-${tag}`,
  plain: `meshbench-bench-delay-plain-${tag}`,
};
const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** The whole run is bounded: past this, clean up and exit 1. */
function budgetMs(args: Args): number {
  return (
    60_000 +
    args.hooks.length *
      (args.rounds * 2 * (args.seconds * 1000 + args.delayMs + 5500) +
        (args.ceiling ? args.ceilingRates.length * (args.stepSeconds * 1000 + args.delayMs + 4000) : 0))
  );
}

async function docker(argv: readonly string[], timeoutMs = 30_000): Promise<string> {
  return (await exec('docker', argv, { timeout: timeoutMs, killSignal: 'SIGKILL' })).stdout;
}

// ------------------------------------------------------------------ processes we start

const children = new Set<ChildProcess>();

/** A udp-probe process in a container's network namespace, driven by JSON lines. */
class Probe {
  private readonly child: ChildProcess;
  private readonly waiting: ((line: string) => void)[] = [];
  private stderr = '';

  constructor(
    readonly name: string,
    pid: number,
  ) {
    this.child = spawn(
      'nsenter',
      [
        '-t',
        String(pid),
        '-n',
        process.execPath,
        '--import',
        'tsx',
        join(import.meta.dirname, 'lib/udp-probe.ts'),
      ],
      // its own process group: Ctrl-C stops the run after the round, not the probes in it
      { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    children.add(this.child);
    this.child.on('exit', () => children.delete(this.child));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.waiting.shift()?.(line));
  }

  async call<T>(command: object, timeoutMs: number): Promise<T> {
    const line = await new Promise<string>((done, fail) => {
      const timer = setTimeout(
        () =>
          fail(
            new Error(
              `probe ${this.name}: no answer to ${JSON.stringify(command)} in ${timeoutMs} ms: ${this.stderr}`,
            ),
          ),
        timeoutMs,
      );
      this.waiting.push((answer) => {
        clearTimeout(timer);
        done(answer);
      });
      this.child.stdin?.write(`${JSON.stringify(command)}\n`);
    });
    const answer = JSON.parse(line) as T & { error?: string };
    if (answer.error) throw new Error(`probe ${this.name}: ${answer.error}`);
    return answer;
  }

  close(): void {
    this.child.stdin?.end();
  }
}

interface HelperStats {
  packets: number;
  delayed: number;
  passed: number;
  held_max: number;
  late_max_us: number;
  late_p99_us?: number;
  enobufs: number;
  verdict_errors?: number;
}

/** CPU time of a process (utime, stime). */
interface Cpu {
  readonly userSeconds: number;
  readonly systemSeconds: number;
}

/** CPU used between two readings, and per packet. */
function cpuUsed(before: Cpu, after: Cpu, packets: number) {
  const user = after.userSeconds - before.userSeconds;
  const system = after.systemSeconds - before.systemSeconds;
  const perPacket = (seconds: number) => round((seconds / Math.max(1, packets)) * 1e6, 2);
  return {
    userSeconds: round(user, 2),
    systemSeconds: round(system, 2),
    usPerPacket: perPacket(user + system),
    userUsPerPacket: perPacket(user),
    systemUsPerPacket: perPacket(system),
  };
}

/** nfq-delay in the hub container, its host PID found by name and network namespace. */
class Helper {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {}

  static async start(hubPid: number, key: 'dst' | 'src', config: string, nice: number): Promise<Helper> {
    await docker(['exec', names.hub, 'sh', '-c', `printf '%s\\n' '${config}' > /tmp/nfq.conf`]);
    const child = spawn(
      'docker',
      [
        'exec',
        names.hub,
        ...(nice !== 0 ? ['nice', '-n', String(nice)] : []),
        'nfq-delay',
        '-q',
        String(QUEUE),
        '-k',
        key,
        '-c',
        '/tmp/nfq.conf',
        '-s',
        '/tmp/nfq-stats.json',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    children.add(child);
    child.on('exit', () => children.delete(child));
    let stderr = '';
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`nfq-delay not ready in 10000 ms: ${stderr}`)), 10_000);
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes(`nfq-delay: ready queue ${QUEUE}\n`)) {
          clearTimeout(timer);
          done();
        }
      });
      child.once('exit', (code) => fail(new Error(`nfq-delay exited with ${code}: ${stderr}`)));
    });
    const netns = readlinkSync(`/proc/${hubPid}/ns/net`);
    const pid = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .find((candidate) => {
        try {
          return (
            readFileSync(`/proc/${candidate}/comm`, 'utf8').trim() === 'nfq-delay' &&
            readlinkSync(`/proc/${candidate}/ns/net`) === netns
          );
        } catch {
          return false;
        }
      });
    if (pid === undefined) throw new Error('nfq-delay is ready but not found in /proc');
    return new Helper(child, pid);
  }

  /** utime and stime so far. */
  cpu(): Cpu {
    const times = cpuTimes(`/proc/${this.pid}/stat`);
    if (!times) throw new Error(`the helper's nfq-delay (pid ${this.pid}) is gone`);
    return {
      userSeconds: (times.userTicks * TICK_MS) / 1000,
      systemSeconds: (times.systemTicks * TICK_MS) / 1000,
    };
  }

  async stats(): Promise<HelperStats> {
    await docker(['exec', names.hub, 'rm', '-f', '/tmp/nfq-stats.json']);
    process.kill(this.pid, 'SIGUSR1');
    for (let attempt = 0; attempt < 50; attempt++) {
      await sleep(20);
      const out = await docker(['exec', names.hub, 'cat', '/tmp/nfq-stats.json']).catch(() => '');
      if (out) return JSON.parse(out) as HelperStats;
    }
    throw new Error('nfq-delay wrote no stats file within 1 s of SIGUSR1');
  }

  /** SIGTERM; resolves with its exit code (it must be 0). */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((done) => this.child.once('exit', done));
    process.kill(this.pid, 'SIGTERM');
    return Promise.race([exited, sleep(5000).then(() => null)]);
  }
}

// ------------------------------------------------------------------ setup and cleanup

let cleaned: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    for (const child of children) child.kill('SIGKILL');
    await docker(['rm', '-f', names.hub, names.shaped, names.plain]).catch(() => undefined);
    await docker(['network', 'rm', names.network]).catch(() => undefined);
  })();
  return cleaned;
}
// Ctrl-C is the harness's (stop after the round; twice: remove everything and quit)
process.once('SIGTERM', () => {
  console.error('bench:delay-helper: SIGTERM: removing the containers and the network');
  void cleanup().then(() => process.exit(130));
});
function startWatchdog(args: Args): void {
  const budget = budgetMs(args);
  const watchdog = setTimeout(() => {
    console.error(`bench:delay-helper: still running after ${Math.round(budget / 1000)} s: stopping`);
    void cleanup().then(() => process.exit(1));
  }, budget);
  watchdog.unref();
}

/** Whether the bench run that named a leftover (…-<pid>) is gone. */
function ownerGone(name: string): boolean {
  const pid = Number(/-(\d+)$/.exec(name)?.[1]);
  if (!Number.isInteger(pid) || pid === process.pid) return false;
  return !processAlive(pid);
}

async function setUp() {
  // Leftovers of an earlier run that was killed outright (its process is gone).
  const list = async (kind: 'ps' | 'network') =>
    (
      await docker(
        kind === 'ps'
          ? ['ps', '-a', '--filter', `label=${LABEL}`, '--format', '{{.Names}}']
          : ['network', 'ls', '--filter', `label=${LABEL}`, '--format', '{{.Name}}'],
      )
    )
      .split('\n')
      .filter((name) => name && ownerGone(name));
  const staleContainers = await list('ps');
  if (staleContainers.length > 0) await docker(['rm', '-f', ...staleContainers]);
  for (const network of await list('network'))
    await docker(['network', 'rm', network]).catch(() => undefined);

  await docker(['network', 'create', '--label', LABEL, names.network]);
  const common = ['run', '-d', '--label', LABEL, '--network', names.network];
  await docker([...common, '--name', names.shaped, IMAGE]);
  await docker([...common, '--name', names.plain, IMAGE]);
  await docker([...common, '--name', names.hub, '--cap-add', 'NET_ADMIN', '--cap-add', 'SYS_NICE', IMAGE]);
  const inspect = async (name: string) => {
    const [ip = '', pid = ''] = (
      await docker([
        'inspect',
        '-f',
        '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}} {{.State.Pid}}',
        name,
      ])
    )
      .trim()
      .split(' ');
    return {
      ip,
      pid: Number(pid),
      probe: new Probe(name.replace(/^meshbench-bench-delay-|-\d+$/g, ''), Number(pid)),
    };
  };
  const hub = await inspect(names.hub);
  const shaped = await inspect(names.shaped);
  const plain = await inspect(names.plain);
  // Every probe the hub sends or receives goes through queue 7; the helper's config delays
  // those to (output) or from (prerouting) the shaped peer only.
  for (const chain of ['OUTPUT', 'PREROUTING'])
    await docker([
      'exec',
      names.hub,
      'iptables',
      '-t',
      'mangle',
      '-A',
      chain,
      '-p',
      'udp',
      '--dport',
      String(PORT),
      '-j',
      'NFQUEUE',
      '--queue-num',
      String(QUEUE),
      '--queue-bypass',
    ]);
  for (const end of [hub, shaped, plain]) await end.probe.call({ op: 'listen', port: PORT }, 20_000);
  return { hub, shaped, plain };
}

// ------------------------------------------------------------------ measurement

type Rig = Awaited<ReturnType<typeof setUp>>;
type Side = 'shaped' | 'plain';
let roundId = 0;

/** The helper for a hook: keyed by destination on the way out, by source on the way in. */
function startHelper(rig: Rig, hook: Hook, args: Args): Promise<Helper> {
  return Helper.start(
    rig.hub.pid,
    hook === 'output' ? 'dst' : 'src',
    `${rig.shaped.ip} ${args.delayMs * 1000} 0`,
    args.nice,
  );
}

/** One window of probes between the hub and one peer; the receiver's figures once the last one is due. */
async function window(rig: Rig, hook: Hook, side: Side, rate: number, seconds: number, delayMs: number) {
  const id = ++roundId;
  const [sender, receiver, host] =
    hook === 'output' ? [rig.hub, rig[side], rig[side].ip] : [rig[side], rig.hub, rig.hub.ip];
  const earlyBelowUs = side === 'shaped' ? (delayMs * 1000) / 2 : 0;
  await receiver.probe.call({ op: 'collect', round: id, earlyBelowUs }, 5000);
  // About 100 probes in flight per socket (see udp-probe.ts).
  const sockets = Math.ceil((rate * (delayMs + 20)) / 1000 / 100);
  const sent = await sender.probe.call<SendReport>(
    { op: 'send', host, port: PORT, rate, seconds, round: id, sockets },
    (seconds + 10) * 1000,
  );
  await sleep(delayMs + 300);
  const received = await receiver.probe.call<ProbeReport>({ op: 'report' }, 5000);
  return { sent, received };
}

/** One hook's precision window for one side, with a helper of its own. */
interface HookRound {
  /** One-way delay, and its error against the configured delay (the shaped side) or 0 (plain). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p50ErrorMs: number;
  readonly p99ErrorMs: number;
  readonly sent: SendReport;
  readonly received: ProbeReport;
  readonly helper: { stats: HelperStats; cpu: ReturnType<typeof cpuUsed> };
}

interface Round {
  readonly side: Side;
  readonly byHook: Partial<Record<Hook, HookRound>>;
}

async function precisionRound(rig: Rig, side: Side, args: Args): Promise<Round> {
  const byHook: Partial<Record<Hook, HookRound>> = {};
  for (const hook of args.hooks) {
    const helper = await startHelper(rig, hook, args);
    const cpuBefore = helper.cpu();
    const { sent, received } = await window(rig, hook, side, args.rate, args.seconds, args.delayMs);
    const cpuAfter = helper.cpu();
    const stats = await helper.stats();
    const code = await helper.stop();
    if (code !== 0) throw new Error(`nfq-delay exited with ${code} on SIGTERM, not 0`);
    const base = side === 'shaped' ? args.delayMs * 1000 : 0;
    byHook[hook] = {
      p50Ms: round(received.p50Us / 1000),
      p99Ms: round(received.p99Us / 1000),
      p50ErrorMs: round((received.p50Us - base) / 1000),
      p99ErrorMs: round((received.p99Us - base) / 1000),
      sent,
      received,
      helper: { stats, cpu: cpuUsed(cpuBefore, cpuAfter, stats.packets) },
    };
  }
  return { side, byHook };
}

function describe(round: Round): string {
  return Object.entries(round.byHook)
    .map(
      ([hook, r]) =>
        `${hook} ${r.received.count}/${r.sent.sent} received` +
        (r.sent.queuedMax > 0 ? ` (up to ${r.sent.queuedMax} sends backed up in the sender)` : '') +
        (r.received.early > 0 ? ` (${r.received.early} undelayed)` : '') +
        `: one-way p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms` +
        (round.side === 'shaped' ? ` (error p50 ${r.p50ErrorMs} ms, p99 ${r.p99ErrorMs} ms)` : '') +
        `; helper late p99 ${r.helper.stats.late_p99_us ?? '-'} us, ENOBUFS ${r.helper.stats.enobufs}, CPU ${r.helper.cpu.usPerPacket} us/packet`,
    )
    .join('; ');
}

async function ceiling(rig: Rig, hook: Hook, args: Args, load: { close(): LoadRecord }) {
  const steps: Record<string, unknown>[] = [];
  // Highest step that met every criterion, and highest with nothing lost, let through or refused
  // (lateness aside: on a busy machine the helper's wake-ups are late before it runs out of room).
  let held: number | undefined;
  let throughput: number | undefined;
  let stoppedBy = `nothing (up to ${args.ceilingRates.at(-1)} pps)`;
  for (const rate of args.ceilingRates) {
    const helper = await startHelper(rig, hook, args);
    const cpuBefore = helper.cpu();
    const { sent, received } = await window(rig, hook, 'shaped', rate, args.stepSeconds, args.delayMs);
    const cpuAfter = helper.cpu();
    const stats = await helper.stats();
    const code = await helper.stop();
    const achieved = sent.sent / sent.seconds;
    const cpu = cpuUsed(cpuBefore, cpuAfter, stats.packets);
    const late =
      (stats.late_p99_us ?? 0) > LATE_P99_LIMIT_US
        ? [`late p99 ${stats.late_p99_us} us > ${LATE_P99_LIMIT_US}`]
        : [];
    const hard: string[] = [];
    if (stats.enobufs > 0) hard.push(`${stats.enobufs} ENOBUFS`);
    if (received.early > 0) hard.push(`${received.early} probes let through undelayed`);
    if (received.count < sent.sent * 0.99)
      hard.push(`${sent.sent - received.count} of ${sent.sent} probes lost`);
    if (code !== 0) hard.push(`nfq-delay exited with ${code} on SIGTERM`);
    const sender: string[] = [];
    if (achieved < rate * 0.95) sender.push(`the sender reached ${Math.round(achieved)} pps only`);
    if (sent.queuedMax > 0) sender.push(`up to ${sent.queuedMax} sends backed up in the sender`);
    const reasons = [...late, ...hard, ...sender];
    steps.push({
      rate,
      achievedPps: Math.round(achieved),
      sent,
      received,
      helper: stats,
      cpu,
      held: reasons.length === 0,
      reasons,
    });
    console.log(
      `  ${String(rate).padStart(6)} pps: sent ${Math.round(achieved)}/s, received ${received.count}/${sent.sent}, ` +
        `one-way p99 ${round(received.p99Us / 1000)} ms, helper late p99 ${stats.late_p99_us ?? '-'} us, ` +
        `ENOBUFS ${stats.enobufs}, held max ${stats.held_max}, CPU ${cpu.usPerPacket} us/packet` +
        (reasons.length > 0 ? `: ${reasons.join('; ')}` : ''),
    );
    if (reasons.length === 0) held = rate;
    if (hard.length === 0 && sender.length === 0) throughput = rate;
    if (hard.length > 0 || sender.length > 0) {
      stoppedBy = `${[...hard, ...sender].join('; ')}${hard.length === 0 ? ' (the sender, not the helper)' : ''}`;
      break;
    }
  }
  const record = load.close();
  const judgement = judgeThreshold({
    claim: `${hook}: holds ${args.rate} pps at ${args.delayMs} ms (late p99 <= 2 ms, no ENOBUFS, no loss)`,
    values: [held ?? 0],
    target: args.rate,
    direction: 'at-least',
    minRounds: 1,
    load: record,
  });
  console.log(
    `  ceiling: ${held ?? 'none'} pps with every criterion met; ${throughput ?? 'none'} pps without loss or ENOBUFS; ` +
      `stopped by ${stoppedBy}`,
  );
  console.log(`  ${verdictLine(judgement)}`);
  console.log(`  ${loadLine(record)}`);
  return {
    ceilingPps: held ?? null,
    throughputPps: throughput ?? null,
    stoppedBy,
    steps,
    load: record,
    judgement,
  };
}

type Ceiling = Awaited<ReturnType<typeof ceiling>>;

/** The image the helper ran from, for the record. */
let image: { name: string; recipe: string; sizeBytes: number } | undefined;

await runBench({
  usage: USAGE,
  flags: FLAGS,
  pairsFlag: 'rounds',
  defaultPairs: 3,
  args: parseArgs,
  file: 'delay-helper',
  setup: async (args, { log }) => {
    startWatchdog(args);
    try {
      const rig = await setUp();
      image = {
        name: IMAGE,
        recipe: (
          await docker(['image', 'inspect', '-f', '{{index .Config.Labels "meshbench.recipe"}}', IMAGE])
        ).trim(),
        sizeBytes: Number((await docker(['image', 'inspect', '-f', '{{.Size}}', IMAGE])).trim()),
      };
      for (const hook of args.hooks)
        log(
          hook === 'output'
            ? `output: hub ${rig.hub.ip} -> peers (queue in the hub's OUTPUT, -k dst)`
            : `prerouting: peers -> hub ${rig.hub.ip} (queue in the hub's PREROUTING, -k src)`,
        );
      log(
        `${args.delayMs} ms for ${rig.shaped.ip} (shaped), none for ${rig.plain.ip} (plain); ${args.rate} pps`,
      );
      return rig;
    } catch (error) {
      await cleanup();
      throw error;
    }
  },
  teardown: async (rig) => {
    for (const end of [rig.hub, rig.shaped, rig.plain]) end.probe.close();
    await cleanup();
  },
  sides: ['shaped', 'plain'],
  round: (side, { shared, args }) => precisionRound(shared, side as Side, args),
  describe,
  figures: {},
  figuresFrom: (args) =>
    Object.fromEntries(
      args.hooks.flatMap((hook) => [
        [`${hook} p50ErrorMs`, (r: Round) => r.byHook[hook]?.p50ErrorMs],
        [`${hook} p99ErrorMs`, (r: Round) => r.byHook[hook]?.p99ErrorMs],
        [`${hook} helperUsPerPacket`, (r: Round) => r.byHook[hook]?.helper.cpu.usPerPacket],
      ]),
    ),
  after: async ({ args, shared, signal, window: loadWindow }) => {
    const byHook: Partial<Record<Hook, Ceiling>> = {};
    for (const hook of args.ceiling ? args.hooks : []) {
      if (signal.aborted) break;
      console.log(`${hook}: ceiling at ${args.delayMs} ms:`);
      byHook[hook] = await ceiling(shared, hook, args, loadWindow());
    }
    return byHook;
  },
  claims: ({ shaped = [] }, args, load, after) => [
    ...args.hooks.flatMap((hook): Judgement[] => {
      const rounds = shaped.map((r) => r.byHook[hook]).filter((r) => r !== undefined);
      return [
        judgeThreshold({
          claim: `${hook}: |p50 - ${args.delayMs} ms| <= 0.5 ms at ${args.rate} pps`,
          values: rounds.map((r) => Math.abs(r.p50ErrorMs)),
          target: 0.5,
          load,
        }),
        judgeThreshold({
          claim: `${hook}: p99 - ${args.delayMs} ms <= 2 ms at ${args.rate} pps`,
          values: rounds.map((r) => r.p99ErrorMs),
          target: 2,
          load,
        }),
      ];
    }),
    ...Object.values(after ?? {}).map((c) => c.judgement),
  ],
  extra: (_bySide, _args, after) => ({ image, ceiling: after ?? {} }),
});
