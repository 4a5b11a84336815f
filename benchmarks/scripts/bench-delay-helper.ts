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
 *      goes first (targets: |p50 - delay| <= 0.5 ms, p99 - delay <= 2 ms);
 *   2. ceiling: rates stepped up (`--ceiling-rates`) with a fresh helper each step: the highest
 *      step with its own late-release p99 <= 2 ms, no ENOBUFS, no probe lost or let through
 *      undelayed (the steps go on past a late one, and stop at the first loss, ENOBUFS, or a
 *      sender that cannot keep the rate); the helper's CPU per packet from /proc/<pid>/stat
 *      (utime, stime) over each step.
 *
 * The load average is recorded before, during and after; a claim whose rounds straddle the
 * target or that ran on a busy machine is "inconclusive" (lib/verdict.ts).
 * Writes benchmarks/results/delay-helper-<timestamp>.json.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { choiceFlag, COMMON_FLAGS, FlagError, flagsOrExit, numberFlag, numberListFlag } from './lib/flags.js';
import type { ProbeReport, SendReport } from './lib/udp-probe.js';
import { LoadMonitor, judgeThreshold, loadLine, spread, verdictLine } from './lib/verdict.js';

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
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => {
  const hooks = values.hooks.split(',').map((hook) => choiceFlag('hooks', hook, HOOKS) as Hook);
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
    maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
  };
});
function niceFlag(value: string): number {
  const nice =
    numberFlag('nice', value.replace(/^-/, ''), { integer: true }) * (value.startsWith('-') ? -1 : 1);
  if (nice < -20 || nice > 19) throw new FlagError(`--nice "${value}" is not valid: a whole number -20..19`);
  return nice;
}
const monitor = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});

const root = resolve(import.meta.dirname, '../..');
const exec = promisify(execFile);
const IMAGE = 'meshbench/nethelper:latest';
const LABEL = 'meshbench.bench=delay-helper';
const QUEUE = 7;
const PORT = 9000;
const CLOCK_TICKS = 100; // USER_HZ on Linux
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

// The whole run is bounded: past this, clean up and exit 1.
const budgetMs =
  60_000 +
  args.hooks.length *
    (args.rounds * 2 * (args.seconds * 1000 + args.delayMs + 1500) +
      (args.ceiling ? args.ceilingRates.length * (args.stepSeconds * 1000 + args.delayMs + 4000) : 0));

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
      { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
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

  static async start(hubPid: number, key: 'dst' | 'src', config: string): Promise<Helper> {
    await docker(['exec', names.hub, 'sh', '-c', `printf '%s\\n' '${config}' > /tmp/nfq.conf`]);
    const child = spawn(
      'docker',
      [
        'exec',
        names.hub,
        ...(args.nice !== 0 ? ['nice', '-n', String(args.nice)] : []),
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
      { stdio: ['ignore', 'ignore', 'pipe'] },
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
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { userSeconds: Number(fields[11]) / CLOCK_TICKS, systemSeconds: Number(fields[12]) / CLOCK_TICKS };
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
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.error(`bench:delay-helper: ${signal}: removing the containers and the network`);
    void cleanup().then(() => process.exit(130));
  });
const watchdog = setTimeout(() => {
  console.error(`bench:delay-helper: still running after ${Math.round(budgetMs / 1000)} s: stopping`);
  void cleanup().then(() => process.exit(1));
}, budgetMs);
watchdog.unref();

/** Whether the bench run that named a leftover (…-<pid>) is gone. */
function ownerGone(name: string): boolean {
  const pid = Number(/-(\d+)$/.exec(name)?.[1]);
  if (!Number.isInteger(pid) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
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
function startHelper(rig: Rig, hook: Hook): Promise<Helper> {
  return Helper.start(
    rig.hub.pid,
    hook === 'output' ? 'dst' : 'src',
    `${rig.shaped.ip} ${args.delayMs * 1000} 0`,
  );
}

/** One window of probes between the hub and one peer; the receiver's figures once the last one is due. */
async function window(rig: Rig, hook: Hook, side: Side, rate: number, seconds: number) {
  const id = ++roundId;
  const [sender, receiver, host] =
    hook === 'output' ? [rig.hub, rig[side], rig[side].ip] : [rig[side], rig.hub, rig.hub.ip];
  const earlyBelowUs = side === 'shaped' ? (args.delayMs * 1000) / 2 : 0;
  await receiver.probe.call({ op: 'collect', round: id, earlyBelowUs }, 5000);
  // About 100 probes in flight per socket (see udp-probe.ts).
  const sockets = Math.ceil((rate * (args.delayMs + 20)) / 1000 / 100);
  const sent = await sender.probe.call<SendReport>(
    { op: 'send', host, port: PORT, rate, seconds, round: id, sockets },
    (seconds + 10) * 1000,
  );
  await sleep(args.delayMs + 300);
  const received = await receiver.probe.call<ProbeReport>({ op: 'report' }, 5000);
  return { sent, received };
}

async function precision(rig: Rig, hook: Hook) {
  const helper = await startHelper(rig, hook);
  const delayUs = args.delayMs * 1000;
  const rounds: Record<Side, { p50Ms: number; p99Ms: number; p50ErrorMs: number; p99ErrorMs: number }[]> = {
    shaped: [],
    plain: [],
  };
  const runs: unknown[] = [];
  const load = monitor.window();
  const cpuBefore = helper.cpu();
  for (let index = 0; index < args.rounds; index++) {
    const order: Side[] = index % 2 === 0 ? ['shaped', 'plain'] : ['plain', 'shaped'];
    for (const side of order) {
      const { sent, received } = await window(rig, hook, side, args.rate, args.seconds);
      const base = side === 'shaped' ? delayUs : 0;
      const figures = {
        p50Ms: round(received.p50Us / 1000),
        p99Ms: round(received.p99Us / 1000),
        p50ErrorMs: round((received.p50Us - base) / 1000),
        p99ErrorMs: round((received.p99Us - base) / 1000),
      };
      rounds[side].push(figures);
      runs.push({ round: index + 1, side, sent, received, ...figures });
      console.log(
        `  round ${index + 1} ${side.padEnd(6)} ${received.count}/${sent.sent} received` +
          (sent.queuedMax > 0 ? ` (up to ${sent.queuedMax} sends backed up in the sender)` : '') +
          (received.early > 0 ? ` (${received.early} undelayed)` : '') +
          `: one-way p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms` +
          (side === 'shaped' ? ` (error p50 ${figures.p50ErrorMs} ms, p99 ${figures.p99ErrorMs} ms)` : ''),
      );
    }
  }
  const cpuAfter = helper.cpu();
  const record = load.close();
  const stats = await helper.stats();
  const code = await helper.stop();
  if (code !== 0) throw new Error(`nfq-delay exited with ${code} on SIGTERM, not 0`);
  const p50 = judgeThreshold({
    claim: `${hook}: |p50 - ${args.delayMs} ms| <= 0.5 ms at ${args.rate} pps`,
    values: rounds.shaped.map((r) => Math.abs(r.p50ErrorMs)),
    target: 0.5,
    load: record,
  });
  const p99 = judgeThreshold({
    claim: `${hook}: p99 - ${args.delayMs} ms <= 2 ms at ${args.rate} pps`,
    values: rounds.shaped.map((r) => r.p99ErrorMs),
    target: 2,
    load: record,
  });
  const shaped = {
    p50ErrorMs: spread(rounds.shaped.map((r) => r.p50ErrorMs)),
    p99ErrorMs: spread(rounds.shaped.map((r) => r.p99ErrorMs)),
  };
  const unshaped = {
    p50Ms: spread(rounds.plain.map((r) => r.p50Ms)),
    p99Ms: spread(rounds.plain.map((r) => r.p99Ms)),
  };
  const cpu = cpuUsed(cpuBefore, cpuAfter, stats.packets);
  const range = (figure: { min: number; max: number }) => `${figure.min}..${figure.max} ms`;
  console.log(
    `  shaped error p50 ${range(shaped.p50ErrorMs)}, p99 ${range(shaped.p99ErrorMs)}; ` +
      `unshaped p50 ${range(unshaped.p50Ms)}, p99 ${range(unshaped.p99Ms)}`,
  );
  console.log(
    `  helper: late p99 ${stats.late_p99_us ?? '-'} us, max ${stats.late_max_us} us, ENOBUFS ${stats.enobufs}, ` +
      `CPU ${cpu.usPerPacket} us/packet (user ${cpu.userUsPerPacket}, system ${cpu.systemUsPerPacket})`,
  );
  console.log(`  ${verdictLine(p50)}`);
  console.log(`  ${verdictLine(p99)}`);
  console.log(`  ${loadLine(record)}`);
  return {
    rate: args.rate,
    seconds: args.seconds,
    delayMs: args.delayMs,
    shaped,
    unshaped,
    runs,
    helper: { stats, cpu },
    load: record,
    judgements: [p50, p99],
  };
}

async function ceiling(rig: Rig, hook: Hook) {
  const steps: Record<string, unknown>[] = [];
  // Highest step that met every criterion, and highest with nothing lost, let through or refused
  // (lateness aside: on a busy machine the helper's wake-ups are late before it runs out of room).
  let held: number | undefined;
  let throughput: number | undefined;
  let stoppedBy = `nothing (up to ${args.ceilingRates.at(-1)} pps)`;
  const load = monitor.window();
  for (const rate of args.ceilingRates) {
    const helper = await startHelper(rig, hook);
    const cpuBefore = helper.cpu();
    const { sent, received } = await window(rig, hook, 'shaped', rate, args.stepSeconds);
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

// ------------------------------------------------------------------ run

const startedAt = new Date().toISOString();
const results: Record<string, unknown> = { tool: 'bench:delay-helper', startedAt, flags: args };
const precisionByHook: Partial<Record<Hook, unknown>> = {};
const ceilingByHook: Partial<Record<Hook, unknown>> = {};
let failed = false;
try {
  const rig = await setUp();
  results.image = {
    name: IMAGE,
    recipe: (
      await docker(['image', 'inspect', '-f', '{{index .Config.Labels "meshbench.recipe"}}', IMAGE])
    ).trim(),
    sizeBytes: Number((await docker(['image', 'inspect', '-f', '{{.Size}}', IMAGE])).trim()),
  };
  results.precision = precisionByHook;
  results.ceiling = ceilingByHook;
  for (const hook of args.hooks) {
    const path =
      hook === 'output'
        ? `hub ${rig.hub.ip} -> peers (queue in the hub's OUTPUT, -k dst)`
        : `peers -> hub ${rig.hub.ip} (queue in the hub's PREROUTING, -k src)`;
    console.log(`${hook}: ${path}; ${args.delayMs} ms for ${rig.shaped.ip}, none for ${rig.plain.ip}`);
    console.log(`precision at ${args.rate} pps:`);
    precisionByHook[hook] = await precision(rig, hook);
    if (args.ceiling) {
      console.log(`ceiling at ${args.delayMs} ms:`);
      ceilingByHook[hook] = await ceiling(rig, hook);
    }
  }
  for (const end of [rig.hub, rig.shaped, rig.plain]) end.probe.close();
} catch (error) {
  failed = true;
  results.error = (error as Error).message;
  console.error(`bench:delay-helper: ${(error as Error).message}`);
} finally {
  await cleanup();
}
results.endedAt = new Date().toISOString();
results.loadAverage = monitor.stop();
const dir = join(root, 'benchmarks/results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `delay-helper-${startedAt.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${file}`);
process.exit(failed ? 1 : 0);
