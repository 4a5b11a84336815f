/**
 * `npm run bench:fanout` — SSH fan-out cost at 8, 32 and 64 hosts (issue 19). Brings up 64
 * sshd-only sandbox hosts once (`--dir`, default .meshbench/sandbox-fanout; reused when one is
 * already up there), then for N in `--sizes` (alternating the order over `--rounds`) measures
 * meshbench's own process, per phase, through the real code paths:
 *   connect  connectAll (TCP, SSH handshake, auth, the known_hosts check), under --concurrency;
 *   checks   RemoteHostAgent.ensureDockerQuiet: the first checks a deploy makes (the engine's
 *            socket over SSH, then one probe for uid/sudo/docker/os-release, then `docker
 *            version`); on these hosts without Docker it ends, as it should, in DOCKER_UNAVAILABLE;
 *   fanout   `--fanout-rounds` rounds of one small command (`uname -n`) on every host;
 *   close    closeAll.
 * Per phase: CPU (process.cpuUsage) in ms per host, wall time, event-loop utilisation and delay
 * (perf_hooks), and for connect each host's handshake time against the time it waited for a
 * slot under the concurrency limit. Then the claim "CPU per host at 64 <= 1.2 x at 8" per round,
 * a linear fit of wall and CPU against N (simple-statistics) extrapolated to 200 and 500 hosts,
 * a concurrency sweep at the largest N (`--concurrencies`) and, with `--profile`, a CPU profile of
 * one largest-N pass bucketed by where the time went. The sandbox hosts run on this machine, so
 * their sshd CPU competes with meshbench's: the load average is recorded with every figure.
 *
 * A declaration on the bench harness (lib/harness.ts): the sides are the sizes (`N=8`, …),
 * `--rounds` rounds of each, the order turned each round; setup brings up (or reuses) the sandbox
 * and makes one unrecorded pass; the sweep and the profile run once after the rounds (`after`).
 * Writes benchmarks/results/fanout-<timestamp>.json and .txt.
 */
import { resolve } from 'node:path';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import os from 'node:os';
import { linearRegression, linearRegressionLine, median, rSquared } from 'simple-statistics';
import { numberFlag, numberListFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';
import { judgeRatio, loadLine, spread, type LoadRecord, type Spread } from './lib/verdict.js';

const USAGE = {
  name: 'bench:fanout',
  summary:
    "SSH fan-out: meshbench's own CPU and wall time per phase (connect, checks, command fan-out, close)\n" +
    'at 8, 32 and 64 sshd-only sandbox hosts (target: CPU per host at 64 <= 1.2 x at 8).',
  notes: [
    'Needs Docker and the sandbox image meshbench/sandbox-host-nodocker (built when missing).',
    'Writes benchmarks/results/fanout-<timestamp>.json and .txt.',
  ],
};
type HostsConfig = import('../../src/testbed/remote/hosts.js').HostsConfig;
type RemoteHostAgent = import('../../src/testbed/remote/remote-host.js').RemoteHostAgent;

process.chdir(resolve(import.meta.dirname, '../..'));
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

interface Args {
  readonly sizes: readonly number[];
  readonly fanoutRounds: number;
  readonly concurrency: number | undefined;
  readonly concurrencies: readonly number[];
  readonly sweepRounds: number;
  readonly profile: boolean;
  readonly sshTimeoutMs: number;
  readonly dir: string;
  readonly keepSandbox: boolean;
}

// meshbench's modules are imported where they are used, not at the top: --help answers at once.
const PHASES = ['connect', 'checks', 'fanout', 'close'] as const;
type PhaseName = (typeof PHASES)[number];

interface Phase {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly cpuMsPerHost: number;
  /** Event-loop utilisation over the phase (0-1). */
  readonly eventLoopUtilization: number;
  readonly eventLoopDelayP99Ms: number;
  readonly eventLoopDelayMaxMs: number;
}

interface Measurement {
  readonly hosts: number;
  readonly concurrency: number;
  readonly round: number;
  readonly phases: Record<PhaseName, Phase>;
  /** connect+checks+fanout+close. */
  readonly cpuMsPerHost: number;
  readonly wallMs: number;
  /** connect: each host's own handshake (as connectAll reports it) and its wait for a slot. */
  readonly handshakeMs: { median: number; max: number };
  readonly queueWaitMs: { median: number; max: number };
  readonly connectRetries: number;
  /** ensureDockerQuiet outcomes by error code (DOCKER_UNAVAILABLE expected). */
  readonly checkOutcomes: Record<string, number>;
  readonly fanoutExecMs: { median: number; p99: number; max: number };
  readonly fanoutFailures: number;
  readonly loadAverage: number;
}

async function phase<T>(fn: () => Promise<T>, hosts: number): Promise<{ value: T; figures: Phase }> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await fn();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const utilization = performance.eventLoopUtilization(elu).utilization;
  delay.disable();
  const cpuMs = (used.user + used.system) / 1000;
  return {
    value,
    figures: {
      wallMs: round(wallMs, 1),
      cpuMs: round(cpuMs, 1),
      cpuMsPerHost: round(cpuMs / hosts, 3),
      eventLoopUtilization: round(utilization, 3),
      eventLoopDelayP99Ms: round(delay.percentile(99) / 1e6, 1),
      eventLoopDelayMaxMs: round(delay.max / 1e6, 1),
    },
  };
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measure(
  all: HostsConfig,
  n: number,
  limit: number,
  roundIndex: number,
  fanoutRounds: number,
): Promise<Measurement> {
  const { connectAll, closeAll } = await import('../../src/testbed/remote/connect.js');
  const { mapSettled } = await import('../../src/testbed/remote/concurrency.js');
  const { isMeshbenchError } = await import('../../src/common/errors.js');
  const hosts: HostsConfig = { ...all, hosts: all.hosts.slice(0, n) };
  const handshake: number[] = [];
  const finishedAt: number[] = [];
  let retries = 0;
  const connectStarted = performance.now();
  const connect = await phase(
    () =>
      connectAll(hosts, {
        strictHostKeyChecking: 'yes',
        knownHostsPath: all.knownHostsPath!,
        concurrency: limit,
        onProgress: (progress) => {
          const took = /\((\d+) ms\)$/.exec(progress.message);
          if (took) {
            handshake.push(Number(took[1]));
            finishedAt.push(performance.now() - connectStarted);
          } else retries++;
        },
      }),
    n,
  );
  const agents: RemoteHostAgent[] = connect.value;
  try {
    const outcomes: Record<string, number> = {};
    const checks = await phase(async () => {
      const results = await mapSettled(agents, limit, (agent) => agent.ensureDockerQuiet());
      for (const result of results) {
        const code =
          result.status === 'fulfilled'
            ? 'ok'
            : isMeshbenchError(result.reason)
              ? result.reason.code
              : String(result.reason);
        outcomes[code] = (outcomes[code] ?? 0) + 1;
      }
    }, n);
    const execMs: number[] = [];
    let failures = 0;
    const fanout = await phase(async () => {
      for (let r = 0; r < fanoutRounds; r++) {
        await mapSettled(agents, limit, async (agent) => {
          const started = performance.now();
          const result = await agent.session.exec(['uname', '-n']);
          execMs.push(performance.now() - started);
          if (result.exitCode !== 0) failures++;
        });
      }
    }, n);
    const close = await phase(async () => {
      closeAll(agents);
      await new Promise((done) => setImmediate(done));
    }, n);
    const phases = {
      connect: connect.figures,
      checks: checks.figures,
      fanout: fanout.figures,
      close: close.figures,
    };
    const queueWait = finishedAt.map((at, i) => Math.max(0, at - handshake[i]!));
    return {
      hosts: n,
      concurrency: limit,
      round: roundIndex,
      phases,
      cpuMsPerHost: round(PHASES.reduce((sum, name) => sum + phases[name].cpuMs, 0) / n, 3),
      wallMs: round(
        PHASES.reduce((sum, name) => sum + phases[name].wallMs, 0),
        1,
      ),
      handshakeMs: { median: round(median(handshake), 1), max: Math.max(...handshake) },
      queueWaitMs: { median: round(median(queueWait), 1), max: round(Math.max(...queueWait), 1) },
      connectRetries: retries,
      checkOutcomes: outcomes,
      fanoutExecMs: {
        median: round(median(execMs), 1),
        p99: round(percentile(execMs, 99), 1),
        max: round(Math.max(...execMs), 1),
      },
      fanoutFailures: failures,
      loadAverage: round(os.loadavg()[0]!),
    };
  } finally {
    closeAll(agents);
    // sshd on the hosts reaps its sessions before the next measurement
    await new Promise((done) => setTimeout(done, 1000));
  }
}

function line(m: Measurement): string {
  const p = m.phases;
  return (
    `N=${String(m.hosts).padStart(2)} c=${String(m.concurrency).padStart(2)} round ${m.round + 1}: ` +
    `CPU/host ${m.cpuMsPerHost.toFixed(2)} ms (connect ${p.connect.cpuMsPerHost.toFixed(2)}, checks ${p.checks.cpuMsPerHost.toFixed(2)}, fanout ${p.fanout.cpuMsPerHost.toFixed(2)}); ` +
    `wall connect ${p.connect.wallMs} ms, checks ${p.checks.wallMs} ms, fanout ${p.fanout.wallMs} ms; ` +
    `handshake median ${m.handshakeMs.median} ms, queue wait median ${m.queueWaitMs.median} ms; ` +
    `ELU connect ${p.connect.eventLoopUtilization}; load ${m.loadAverage}`
  );
}

/** Self time of one profile, bucketed by where it was spent. */
function bucketProfile(profile: {
  nodes: { id: number; callFrame: { url: string; functionName: string } }[];
  samples?: number[];
  timeDeltas?: number[];
}): { buckets: Record<string, number>; topFunctions: { name: string; ms: number }[] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const buckets: Record<string, number> = {};
  const functions = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    if (!node) continue;
    const ms = (deltas[i] ?? 0) / 1000;
    const { url, functionName } = node.callFrame;
    const bucket =
      functionName === '(idle)'
        ? 'idle (waiting on the network)'
        : functionName === '(garbage collector)'
          ? 'garbage collection'
          : functionName === '(program)'
            ? 'native, outside JavaScript'
            : /ssh2\/lib\/protocol\/(crypto|kex|keyParser)/.test(url)
              ? 'ssh2 crypto and key exchange'
              : /ssh2\//.test(url)
                ? 'ssh2 protocol (framing, channels)'
                : /known-hosts/.test(url)
                  ? 'known_hosts checks'
                  : /src\/testbed\//.test(url)
                    ? 'meshbench testbed code'
                    : /docker-modem|dockerode/.test(url)
                      ? 'Docker client'
                      : url.startsWith('node:') || url === ''
                        ? 'Node.js internals (sockets, streams, timers)'
                        : 'other';
    buckets[bucket] = round((buckets[bucket] ?? 0) + ms, 1);
    const name = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^.*\/src\//, 'src/')}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
  }
  const topFunctions = [...functions.entries()]
    .filter(([name]) => !name.startsWith('('))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([name, ms]) => ({ name, ms: round(ms, 1) }));
  return { buckets, topFunctions };
}

/**
 * The host-key lookup one connect makes, with a known_hosts of `size` hosts: a scan of every
 * entry (checkHostKey, what KnownHostsFile did before) against the index it uses now. In µs
 * per lookup, the median of 5 batches of 200 lookups.
 */
const LOOKUPS = 200;
function knownHostsLookups(
  size: number,
  { checkHostKey, KnownHostsIndex }: typeof import('../../src/testbed/remote/known-hosts.js'),
): { entries: number; scanUs: number; indexUs: number } {
  const key = Buffer.alloc(51, 7);
  const entries = Array.from({ length: size }, (_, i) => ({
    patterns: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    keyType: 'ssh-ed25519',
    keyBase64: key.toString('base64'),
  }));
  const index = new KnownHostsIndex(entries);
  const timeIt = (lookup: (host: string) => unknown) => {
    const batches: number[] = [];
    for (let b = 0; b < 5; b++) {
      const started = performance.now();
      for (let i = 0; i < LOOKUPS; i++) lookup(entries[(i * 7919) % size]!.patterns);
      batches.push(((performance.now() - started) * 1000) / LOOKUPS);
    }
    return round(median(batches), 2);
  };
  return {
    entries: size,
    scanUs: timeIt((host) => checkHostKey(entries, host, 22, key)),
    indexUs: timeIt((host) => index.check(host, 22, key)),
  };
}

// ------------------------------------------------------------------ the sandbox and the rounds

/** A measurement that failed (a host timed out on a loaded machine): kept, not fatal. */
interface Failure {
  readonly hosts: number;
  readonly concurrency: number;
  readonly round: number;
  readonly error: string;
}
type Outcome = Measurement | Failure;
const failed = (outcome: Outcome | undefined): outcome is Failure =>
  outcome !== undefined && 'error' in outcome;
const measured = (outcomes: readonly Outcome[]): Measurement[] =>
  outcomes.filter((o): o is Measurement => !failed(o));

interface Shared {
  readonly hosts: HostsConfig;
  /** The connect limit of the rounds (`--concurrency`, else the remote testbed's default). */
  readonly concurrency: number;
  /** The sandbox's folder, when the teardown removes it (not one that was up before, nor with --keep-sandbox). */
  readonly removeSandbox: string | undefined;
}

/** What setup found and made, for the record. */
let prepared:
  | {
      readonly concurrency: number;
      readonly sandbox: { dir: string; reused: boolean; hosts: number; upMs: number | undefined };
      readonly knownHostsLookups: ReturnType<typeof knownHostsLookups>[];
    }
  | undefined;

async function tryMeasure(shared: Shared, n: number, limit: number, r: number, args: Args): Promise<Outcome> {
  try {
    return await measure(shared.hosts, n, limit, r, args.fanoutRounds);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.log(`N=${n} c=${limit} round ${r + 1}: FAILED: ${message}`);
    await new Promise((done) => setTimeout(done, 2000));
    return { hosts: n, concurrency: limit, round: r, error: message };
  }
}

async function setUp(args: Args, log: (line: string) => void): Promise<Shared> {
  const { readSandboxState, sandboxUp } = await import('../../src/testbed/sandbox/sandbox.js');
  const { loadHostsFile } = await import('../../src/testbed/remote/hosts.js');
  const { DEFAULT_REMOTE_CONCURRENCY } = await import('../../src/testbed/remote/connect.js');
  const knownHostsModule = await import('../../src/testbed/remote/known-hosts.js');
  const largest = Math.max(...args.sizes);
  const knownHosts = [64, 500, 5000].map((size) => knownHostsLookups(size, knownHostsModule));
  for (const k of knownHosts)
    log(`known_hosts of ${k.entries} hosts: ${k.scanUs} µs per lookup by scan, ${k.indexUs} µs by index`);
  const dir = resolve(args.dir);
  let state = await readSandboxState(dir);
  const reused = state !== undefined;
  if (state && state.hosts.length < largest) {
    // nothing made yet: as a bad flag would, one line and exit 2
    console.error(
      `bench:fanout: the sandbox in ${dir} has ${state.hosts.length} hosts; ${largest} are needed`,
    );
    console.error(`  remove it (node bin/sandbox.js down --dir ${args.dir}) or pick another --dir`);
    process.exit(2);
  }
  let upMs: number | undefined;
  if (!state) {
    log(`bringing up ${largest} sshd-only sandbox hosts in ${dir} …`);
    const t = performance.now();
    state = await sandboxUp({ hosts: largest, withoutDocker: largest, dir });
    upMs = Math.round(performance.now() - t);
    log(`sandbox up in ${(upMs / 1000).toFixed(1)} s`);
  } else log(`reusing the sandbox in ${dir} (${state.hosts.length} hosts)`);
  const concurrency = args.concurrency ?? DEFAULT_REMOTE_CONCURRENCY;
  prepared = {
    concurrency,
    sandbox: { dir, reused, hosts: state.hosts.length, upMs },
    knownHostsLookups: knownHosts,
  };
  const removeSandbox = reused || args.keepSandbox ? undefined : dir;
  try {
    const hosts = { ...(await loadHostsFile(state.hostsEnvPath)), sshTimeoutMs: args.sshTimeoutMs };
    const shared = { hosts, concurrency, removeSandbox };
    // one unrecorded pass first: dockerode's first import and the JIT would land on whichever size came first
    await tryMeasure(shared, Math.min(...args.sizes), concurrency, -1, args);
    return shared;
  } catch (error) {
    await tearDown({ removeSandbox });
    throw error;
  }
}

async function tearDown({ removeSandbox }: Pick<Shared, 'removeSandbox'>): Promise<void> {
  if (removeSandbox === undefined) return;
  const { sandboxDown } = await import('../../src/testbed/sandbox/sandbox.js');
  await sandboxDown({ dir: removeSandbox }).catch(() => undefined);
}

/** After the rounds: the concurrency sweep at the largest size, and the profiled pass. */
interface After {
  readonly sweep: readonly Outcome[];
  readonly sweepLoad: LoadRecord;
  readonly profile?: ReturnType<typeof bucketProfile>;
}

async function sweepAndProfile(
  args: Args,
  shared: Shared,
  signal: AbortSignal,
  window: () => { close(): LoadRecord },
): Promise<After> {
  const largest = Math.max(...args.sizes);
  const sweep: Outcome[] = [];
  const load = window();
  for (let r = 0; r < args.sweepRounds && args.concurrencies.length > 0 && !signal.aborted; r++) {
    const order = r % 2 === 0 ? [...args.concurrencies] : [...args.concurrencies].reverse();
    for (const c of order) {
      const m = await tryMeasure(shared, largest, c, r, args);
      sweep.push(m);
      if (!failed(m)) console.log(`sweep ${line(m)}`);
    }
  }
  const sweepLoad = load.close();
  if (!args.profile || signal.aborted) return { sweep, sweepLoad };
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const m = await tryMeasure(shared, largest, shared.concurrency, 0, args);
  const { profile: raw } = await session.post('Profiler.stop');
  session.disconnect();
  if (!failed(m)) console.log(`profiled ${line(m)}`);
  return { sweep, sweepLoad, profile: bucketProfile(raw as never) };
}

// ------------------------------------------------------------------ figures

const sideOf = (hosts: number) => `N=${hosts}`;

/** Every figure the record and the summary derive from the rounds and the sweep. */
function figures(bySide: Readonly<Record<string, readonly Outcome[]>>, args: Args, after: After | undefined) {
  const largest = Math.max(...args.sizes);
  const smallest = Math.min(...args.sizes);
  const measurements = measured(Object.values(bySide).flat());
  const at = (n: number) => measured(bySide[sideOf(n)] ?? []);
  const bySize = Object.fromEntries(
    args.sizes.map((n) => [
      n,
      {
        cpuMsPerHost: spread(at(n).map((m) => m.cpuMsPerHost)),
        wallMs: spread(at(n).map((m) => m.wallMs)),
        phases: Object.fromEntries(
          PHASES.map((name) => [
            name,
            {
              cpuMsPerHost: spread(at(n).map((m) => m.phases[name].cpuMsPerHost)),
              wallMs: spread(at(n).map((m) => m.phases[name].wallMs)),
              eventLoopUtilization: spread(at(n).map((m) => m.phases[name].eventLoopUtilization)),
              eventLoopDelayP99Ms: spread(at(n).map((m) => m.phases[name].eventLoopDelayP99Ms)),
            },
          ]),
        ),
        handshakeMedianMs: spread(at(n).map((m) => m.handshakeMs.median)),
        queueWaitMedianMs: spread(at(n).map((m) => m.queueWaitMs.median)),
        fanoutExecMedianMs: spread(at(n).map((m) => m.fanoutExecMs.median)),
      },
    ]),
  );
  const paired = pairedRounds(bySide, largest, smallest);
  const phaseRatios = Object.fromEntries(
    PHASES.map((name) => [
      name,
      spread(paired.map(([big, small]) => big.phases[name].cpuMsPerHost / small.phases[name].cpuMsPerHost)),
    ]),
  );
  /** Least squares against N over every measurement, extrapolated. */
  const fit = (value: (m: Measurement) => number) => {
    const points = measurements.map((m) => [m.hosts, value(m)] as [number, number]);
    if (new Set(points.map(([n]) => n)).size < 2) return undefined;
    const model = linearRegression(points);
    const predict = linearRegressionLine(model);
    return {
      intercept: round(model.b, 2),
      slopePerHost: round(model.m, 3),
      rSquared: round(rSquared(points, predict), 3),
      at200: round(predict(200), 0),
      at500: round(predict(500), 0),
    };
  };
  const model = {
    wallMs: Object.fromEntries(PHASES.map((name) => [name, fit((m) => m.phases[name].wallMs)])),
    cpuMs: Object.fromEntries(PHASES.map((name) => [name, fit((m) => m.phases[name].cpuMs)])),
    totalWallMs: fit((m) => m.wallMs),
    totalCpuMs: fit((m) => m.cpuMsPerHost * m.hosts),
  };
  const sweep = measured(after?.sweep ?? []);
  const sweepSummary = args.concurrencies.map((c) => {
    const of = sweep.filter((m) => m.concurrency === c);
    return {
      concurrency: c,
      wallMs: spread(of.map((m) => m.wallMs)),
      connectWallMs: spread(of.map((m) => m.phases.connect.wallMs)),
      cpuMsPerHost: spread(of.map((m) => m.cpuMsPerHost)),
      handshakeMedianMs: spread(of.map((m) => m.handshakeMs.median)),
      eventLoopDelayP99Ms: spread(of.map((m) => m.phases.connect.eventLoopDelayP99Ms)),
    };
  });
  const best = Math.min(...sweepSummary.map((s) => s.wallMs.median));
  // the smallest limit within 10 % of the fastest: more parallelism buys nothing after it
  const recommended = sweepSummary.find((s) => s.wallMs.median <= best * 1.1)?.concurrency;
  const failures = [...Object.values(bySide).flat(), ...(after?.sweep ?? [])].filter(failed);
  return { bySize, phaseRatios, model, sweep, sweepSummary, recommended, failures };
}

/** Per round: the largest size's measurement and the smallest's, where both succeeded. */
function pairedRounds(
  bySide: Readonly<Record<string, readonly Outcome[]>>,
  largest: number,
  smallest: number,
): [Measurement, Measurement][] {
  return (bySide[sideOf(largest)] ?? []).flatMap((big, i) => {
    const small = bySide[sideOf(smallest)]?.[i];
    return !failed(big) && small !== undefined && !failed(small)
      ? [[big, small] as [Measurement, Measurement]]
      : [];
  });
}

function summary(bySide: Readonly<Record<string, readonly Outcome[]>>, args: Args, after: After | undefined) {
  const { bySize, phaseRatios, model, sweep, sweepSummary, recommended, failures } = figures(
    bySide,
    args,
    after,
  );
  const largest = Math.max(...args.sizes);
  const smallest = Math.min(...args.sizes);
  const sandbox = prepared?.sandbox;
  const profile = after?.profile;
  const fmt = (s: Spread, digits = 2) =>
    `${round(s.median, digits)} (${round(s.min, digits)}-${round(s.max, digits)})`;
  return [
    `bench:fanout: ${Object.values(bySide)[0]?.length ?? 0} rounds over N = ${args.sizes.join(', ')}, concurrency ${prepared?.concurrency}, ${args.fanoutRounds} fan-out commands per host`,
    `sandbox: ${sandbox?.hosts} sshd-only hosts on this machine${sandbox?.upMs !== undefined ? `, up in ${(sandbox.upMs / 1000).toFixed(1)} s` : ' (reused)'}`,
    '',
    'meshbench CPU per host, ms: median (min-max over rounds)',
    ...args.sizes.map(
      (n) =>
        `  N=${String(n).padStart(3)}: total ${fmt(bySize[n]!.cpuMsPerHost)}; ` +
        PHASES.map((name) => `${name} ${fmt(bySize[n]!.phases[name]!.cpuMsPerHost)}`).join(', '),
    ),
    `  ${largest}/${smallest} ratio per phase (median): ` +
      PHASES.map((name) => `${name} ${round(phaseRatios[name]!.median)}`).join(', '),
    '',
    'wall time per phase, ms: median (min-max)',
    ...args.sizes.map(
      (n) =>
        `  N=${String(n).padStart(3)}: ` +
        PHASES.map((name) => `${name} ${fmt(bySize[n]!.phases[name]!.wallMs, 0)}`).join(', ') +
        `; handshake median ${fmt(bySize[n]!.handshakeMedianMs, 0)}, queue wait median ${fmt(bySize[n]!.queueWaitMedianMs, 0)}, exec median ${fmt(bySize[n]!.fanoutExecMedianMs, 1)}`,
    ),
    'event-loop utilisation during connect: ' +
      args.sizes.map((n) => `N=${n} ${fmt(bySize[n]!.phases.connect!.eventLoopUtilization, 3)}`).join(', '),
    '',
    'linear model (least squares over every measurement): value = intercept + slope x N',
    ...(['connect', 'checks', 'fanout'] as const).map((name) => {
      const w = model.wallMs[name];
      const c = model.cpuMs[name];
      return w && c
        ? `  ${name}: wall ${w.intercept} + ${w.slopePerHost} x N ms (r² ${w.rSquared}; 200 hosts ${w.at200} ms, 500 hosts ${w.at500} ms); CPU ${c.intercept} + ${c.slopePerHost} x N ms (r² ${c.rSquared}; 500 hosts ${c.at500} ms)`
        : `  ${name}: one size only, no fit`;
    }),
    '',
    ...(sweep.length > 0
      ? [
          `concurrency sweep at N=${largest}, total wall ms median (min-max); CPU/host ms; handshake median ms:`,
          ...sweepSummary.map(
            (s) =>
              `  c=${String(s.concurrency).padStart(3)}: wall ${fmt(s.wallMs, 0)} (connect ${fmt(s.connectWallMs, 0)}); CPU/host ${fmt(s.cpuMsPerHost)}; handshake ${fmt(s.handshakeMedianMs, 0)}; loop delay p99 ${fmt(s.eventLoopDelayP99Ms, 0)}`,
          ),
          `  smallest limit within 10 % of the fastest: ${recommended}`,
          `  ${loadLine(after!.sweepLoad)}`,
          '',
        ]
      : []),
    ...(profile
      ? [
          `CPU profile of one N=${largest} pass, self time ms by bucket:`,
          ...Object.entries(profile.buckets)
            .sort((a, b) => b[1] - a[1])
            .map(([name, ms]) => `  ${name}: ${ms}`),
          'top functions (self ms):',
          ...profile.topFunctions.map((f) => `  ${f.ms}  ${f.name}`),
          '',
        ]
      : []),
    'host-key lookup per connect, µs (scan of every entry, as before / the index, now):',
    ...(prepared?.knownHostsLookups ?? []).map(
      (k) => `  known_hosts of ${k.entries} hosts: ${k.scanUs} / ${k.indexUs}`,
    ),
    ...(failures.length > 0
      ? [
          '',
          `${failures.length} measurement(s) failed and are left out:`,
          ...failures.map((f) => `  N=${f.hosts} c=${f.concurrency} round ${f.round + 1}: ${f.error}`),
        ]
      : []),
  ];
}

await runBench({
  usage: USAGE,
  flags: {
    sizes: { type: 'string', valueName: 'LIST', default: '8,32,64', description: 'host counts' },
    'fanout-rounds': {
      type: 'string',
      valueName: 'N',
      default: '5',
      description: 'commands run on every host per measurement',
    },
    concurrency: {
      type: 'string',
      valueName: 'N',
      description: 'hosts worked on at once (default: the remote testbed default)',
    },
    concurrencies: {
      type: 'string',
      valueName: 'LIST',
      default: '4,8,16,32,64',
      description: 'limits compared at the largest size (empty: no sweep)',
    },
    'sweep-rounds': { type: 'string', valueName: 'N', default: '2', description: 'rounds of the sweep' },
    'ssh-timeout': {
      type: 'string',
      valueName: 'S',
      default: '60',
      description: 'SSH connect budget per host (the sandbox writes 15; a loaded machine needs more)',
    },
    profile: { type: 'boolean', default: false, description: 'CPU-profile one pass at the largest size' },
    dir: {
      type: 'string',
      valueName: 'DIR',
      default: '.meshbench/sandbox-fanout',
      description: 'sandbox folder',
    },
    'keep-sandbox': {
      type: 'boolean',
      default: false,
      description: 'leave the sandbox up at the end (one that was already up is always left)',
    },
  },
  // its flag before the harness: rounds over the sizes
  pairsFlag: 'rounds',
  defaultPairs: 4,
  args: (values): Args => ({
    sizes: numberListFlag('sizes', values.sizes, { integer: true, min: 1 }),
    fanoutRounds: numberFlag('fanout-rounds', values['fanout-rounds'], { integer: true, min: 1 }),
    concurrency: numberFlag('concurrency', values.concurrency, { integer: true, min: 1 }),
    concurrencies:
      values.concurrencies.trim() === ''
        ? []
        : numberListFlag('concurrencies', values.concurrencies, { integer: true, min: 1 }),
    sweepRounds: numberFlag('sweep-rounds', values['sweep-rounds'], { integer: true, min: 1 }),
    profile: values.profile === true,
    sshTimeoutMs: numberFlag('ssh-timeout', values['ssh-timeout'], { min: 1 }) * 1000,
    dir: values.dir,
    keepSandbox: values['keep-sandbox'] === true,
  }),
  file: 'fanout',
  setup: (args, { log }) => setUp(args, log),
  teardown: tearDown,
  sides: [],
  sidesFrom: (args) => args.sizes.map(sideOf),
  round: (side, { shared, args, pair }) =>
    tryMeasure(shared, Number(side.slice(2)), shared.concurrency, pair, args),
  describe: (m) => (failed(m) ? `FAILED: ${m.error}` : line(m)),
  figures: {
    cpuMsPerHost: (m) => (failed(m) ? undefined : m.cpuMsPerHost),
    wallMs: (m) => (failed(m) ? undefined : m.wallMs),
  },
  after: ({ args, shared, signal, window }) => sweepAndProfile(args, shared, signal, window),
  claims: (bySide, args, load) => {
    const largest = Math.max(...args.sizes);
    const smallest = Math.min(...args.sizes);
    const paired = pairedRounds(bySide, largest, smallest);
    return [
      judgeRatio({
        claim: `meshbench CPU per host at ${largest} hosts <= 1.2 x at ${smallest} hosts`,
        numerator: paired.map(([big]) => big.cpuMsPerHost),
        denominator: paired.map(([, small]) => small.cpuMsPerHost),
        target: 1.2,
        load,
      }),
    ];
  },
  extra: (bySide, args, after) => {
    const { bySize, phaseRatios, model, sweep, sweepSummary, recommended, failures } = figures(
      bySide,
      args,
      after,
    );
    return {
      settings: { ...args, concurrency: prepared?.concurrency },
      sandbox: prepared?.sandbox,
      bySize,
      phaseRatios,
      model,
      sweep:
        sweep.length > 0
          ? { measurements: sweep, summary: sweepSummary, recommended, loadAverage: after?.sweepLoad }
          : undefined,
      profile: after?.profile,
      knownHostsLookups: prepared?.knownHostsLookups,
      failures,
    };
  },
  report: summary,
});
