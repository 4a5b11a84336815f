/**
 * Remote deploy benchmark on sandbox hosts (`npm run bench:remote`).
 *
 * Deploy time (connect → Docker found → image → nodes started → all ready) to
 * 2, 4 and 8 hosts, with the image already present and with shipping, measured
 * side by side in the same run. Target: T(8) <= 1.5 x T(2) with the image
 * present (parallelism). Also the image transfer: archive size, save time,
 * per-host ship time. Figures go to benchmarks/results/remote-<timestamp>.json.
 *
 * The record keeps each size's spread across repetitions and the load average before, during
 * (every 5 s) and after; the target is met or missed only when every repetition's T(8)/T(2)
 * agrees on a quiet machine, else "inconclusive" (lib/verdict.ts). Exit code 1 only for a miss.
 *
 * Flags (`-- --help`): --reps N, --no-ship, --inner-storage overlay2|vfs; the environment
 * variables BENCH_REMOTE_REPS, BENCH_REMOTE_SHIP=0 and BENCH_REMOTE_INNER_STORAGE still set
 * their defaults.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { COMMON_FLAGS, choiceFlag, flagsOrExit, numberFlag } from './lib/flags.js';
import { LoadMonitor, judgeRatio, loadLine, spread, verdictLine } from './lib/verdict.js';
import type { HostsConfig } from '../../src/testbed/remote/hosts.js';
import type { InnerStorage, SandboxState } from '../../src/testbed/sandbox/sandbox.js';

const USAGE = {
  name: 'bench:remote',
  summary:
    '`remote-network` deploy time to 2, 4 and 8 sandbox hosts (image present, and with shipping),\n' +
    'next to the same nodes started without meshbench; the image transfer; CPU per deploy.',
  notes: [
    'Env BENCH_REMOTE_REPS, BENCH_REMOTE_SHIP=0 and BENCH_REMOTE_INNER_STORAGE set the defaults of',
    '--reps, --no-ship and --inner-storage.',
    'Writes benchmarks/results/remote-<timestamp>.json; exit code 1 when the target is missed.',
  ],
};
const FLAGS = {
  reps: {
    type: 'string',
    valueName: 'N',
    default: process.env.BENCH_REMOTE_REPS ?? '5',
    description: 'interleaved repetitions of the image-present deploys',
  },
  'no-ship': {
    type: 'boolean',
    default: process.env.BENCH_REMOTE_SHIP === '0',
    description: 'skip the shipping deploys (quick iterations; reports need them)',
  },
  'inner-storage': {
    type: 'string',
    valueName: 'overlay2|vfs',
    default: process.env.BENCH_REMOTE_INNER_STORAGE ?? 'overlay2',
    description: "the sandbox hosts' own Docker storage",
  },
  ...COMMON_FLAGS,
} as const;
const args = flagsOrExit(USAGE, FLAGS, (values) => ({
  reps: numberFlag('reps', values.reps, { integer: true, min: 1 }),
  ship: !values['no-ship'],
  innerStorage: choiceFlag('inner-storage', values['inner-storage'], ['overlay2', 'vfs']) as InnerStorage,
  maxLoad: numberFlag('max-load', values['max-load'], { min: 0 }),
}));
// Before anything runs: the load the machine had without this script.
const monitor = new LoadMonitor(args.maxLoad !== undefined ? { quietBelow: args.maxLoad } : {});

// Imported after the flags, so --help answers at once and without an engine.
const { writeFileAtomic } = await import('../../src/common/atomic-write.js');
const { hostsFromVariables } = await import('../../src/testbed/remote/hosts.js');
const { imageArchive, inspectLocalImage } = await import('../../src/testbed/remote/image-transfer.js');
const { cometbftProbe, waitForReady } = await import('../../src/testbed/readiness.js');
const { RUN_LABEL } = await import('../../src/common/run-id.js');
const { DEFAULT_IMAGE, RemoteTestbed } = await import('../../src/testbed/remote/remote-testbed.js');
const { docker, sandboxDown, sandboxUp } = await import('../../src/testbed/sandbox/sandbox.js');

const SIZES = [2, 4, 8] as const;
const REPS = args.reps;
const SHIP = args.ship;
const DIR = resolve('.meshbench/sandbox-bench');
/** A tag of its own, so a rebuild of meshbench/refnode:latest during the run changes nothing here. */
const BENCH_IMAGE = `meshbench/refnode:bench-${process.pid}`;
let benchImageId = '';
let archiveDir = '';
/** The sandbox hosts' own Docker storage: overlay2 on tmpfs (default) or vfs on disk. */
const INNER_STORAGE = args.innerStorage;

function hostsFor(state: SandboxState, count: number): HostsConfig {
  const variables: Record<string, string> = {
    SSH_TIMEOUT: '30',
    MESHBENCH_SSH_KNOWN_HOSTS: state.knownHostsPath,
  };
  state.hosts.slice(0, count).forEach((host, n) => {
    variables[`MYSTICETI_NODE${n}_HOST`] = host.address;
    variables[`MYSTICETI_NODE${n}_SSH_USER`] = 'root';
    variables[`MYSTICETI_NODE${n}_SSH_KEY`] = state.keyPath;
  });
  return hostsFromVariables(variables);
}

/** Full IDs of the sandbox host containers, for CPU accounting. */
let hostContainerIds: string[] = [];

/**
 * CPU time (ms) a container has used so far, from its cgroup (v1 cpuacct, or v2 cpu.stat);
 * undefined when the cgroup is not visible here. The hosts' own containers (the nodes) run in
 * cgroups of their own next to the hosts' (the hosts' engines share the machine's cgroup tree).
 */
async function containerCpuMs(id: string): Promise<number | undefined> {
  try {
    return Number(await readFile(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, 'utf8')) / 1e6;
  } catch {
    for (const dir of [`/sys/fs/cgroup/docker/${id}`, `/sys/fs/cgroup/system.slice/docker-${id}.scope`]) {
      try {
        const stat = await readFile(`${dir}/cpu.stat`, 'utf8');
        const usec = /usage_usec (\d+)/.exec(stat)?.[1];
        if (usec) return Number(usec) / 1e3;
      } catch {
        // try the next layout
      }
    }
    return undefined;
  }
}

async function cpuSumMs(ids: readonly string[]): Promise<number | undefined> {
  const values = await Promise.all(ids.map(containerCpuMs));
  return values.some((v) => v === undefined) ? undefined : values.reduce((a, b) => a! + b!, 0);
}

/** CPU spent during one deploy: by this process, by the hosts (sshd, dockerd, containerd, shims), by the nodes. */
interface CpuFigure {
  readonly orchestratorMs: number;
  readonly hostsMs?: number;
  readonly nodesMs?: number;
}

interface DeployFigure {
  /** Which repetition (image present), 0 for the shipping deploys. */
  readonly rep: number;
  readonly hosts: number;
  readonly mode: 'present' | 'ship';
  readonly deployMs: number;
  readonly imageMs: number;
  readonly bytesShipped: number;
  readonly perHostImageMs: readonly number[];
  readonly stageMs: Readonly<Record<string, number>>;
  readonly cpu: CpuFigure;
}

/**
 * The reference: the same nodes started on the same hosts with no meshbench and no SSH
 * (`docker exec <host> docker run …` in parallel), and the same readiness wait. Its
 * 8-to-2 ratio is what the hardware gives (the emulated hosts share this machine's cores).
 */
async function referenceOnce(state: SandboxState, count: number): Promise<number> {
  const hosts = state.hosts.slice(0, count);
  const peers = hosts.map((host, i) => `node${i}@${host.address}:26656`).join(',');
  const started = performance.now();
  await Promise.all(
    hosts.map(async (host, i) => {
      const result = await docker([
        'exec',
        host.container,
        'docker',
        'run',
        '-d',
        '--name',
        'bench-reference',
        '--network',
        'host',
        '-e',
        `REFNODE_ID=node${i}`,
        '-e',
        `REFNODE_PEERS=${peers}`,
        '-e',
        'REFNODE_DATA_DIR=/data',
        benchImageId,
      ]);
      if (result.exitCode !== 0) throw new Error(`reference docker run on ${host.name}: ${result.stderr}`);
    }),
  );
  await waitForReady({
    targets: hosts.map((host, i) => ({ nodeId: `node${i}`, rpcUrl: `http://${host.address}:26657` })),
    probeFor: () => cometbftProbe(count - 1),
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  const elapsedMs = Math.round(performance.now() - started);
  await Promise.all(
    hosts.map((host) => docker(['exec', host.container, 'docker', 'rm', '-f', '-v', 'bench-reference'])),
  );
  process.stderr.write(`  reference ${count} hosts: start + ready ${(elapsedMs / 1000).toFixed(2)} s\n`);
  return elapsedMs;
}

async function deployOnce(
  state: SandboxState,
  count: number,
  mode: 'present' | 'ship',
  rep: number,
): Promise<DeployFigure> {
  if (mode === 'ship') {
    // make the hosts lack the image, so it is shipped to each of them
    await Promise.all(
      state.hosts
        .slice(0, count)
        .map((host) => docker(['exec', host.container, 'docker', 'image', 'rm', '-f', benchImageId])),
    );
  }
  const testbed = new RemoteTestbed({
    hosts: hostsFor(state, count),
    image: BENCH_IMAGE,
    cacheDir: archiveDir,
    strictHostKeyChecking: 'yes',
    startupWaitMs: 120_000,
  });
  const hosts = hostContainerIds.slice(0, count);
  const hostsCpuBefore = await cpuSumMs(hosts);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deployment = await testbed.deployRemote();
  const deployMs = performance.now() - started;
  const orchestrator = process.cpuUsage(cpuBefore);
  const hostsCpuAfter = await cpuSumMs(hosts);
  // read through the outer engine (not the code under test), after the timed part
  const nodeIds = (
    await Promise.all(
      state.hosts
        .slice(0, count)
        .map((host) =>
          docker([
            'exec',
            host.container,
            'docker',
            'ps',
            '-q',
            '--no-trunc',
            '--filter',
            `label=${RUN_LABEL}=${testbed.runId}`,
          ]),
        ),
    )
  ).flatMap((result) => result.stdout.split('\n').filter(Boolean));
  const nodesCpu = await cpuSumMs(nodeIds);
  const cpu: CpuFigure = {
    orchestratorMs: Math.round((orchestrator.user + orchestrator.system) / 1000),
    ...(hostsCpuBefore !== undefined && hostsCpuAfter !== undefined
      ? { hostsMs: Math.round(hostsCpuAfter - hostsCpuBefore) }
      : {}),
    ...(nodesCpu !== undefined ? { nodesMs: Math.round(nodesCpu) } : {}),
  };
  const environment = deployment.environment;
  await deployment.destroy({ thorough: false });
  const figure: DeployFigure = {
    rep,
    hosts: count,
    mode,
    deployMs: Math.round(deployMs),
    imageMs: environment.imageTransferMs,
    bytesShipped: environment.imageBytesShipped,
    perHostImageMs: environment.hosts.map((h) => h.imageMs ?? 0),
    stageMs: environment.stageMs,
    cpu,
  };
  const expected = mode === 'ship' ? 'shipped' : 'present';
  if (!environment.hosts.every((h) => h.image === expected))
    throw new Error(`expected every host to report ${expected}`);
  process.stderr.write(
    `  ${mode.padEnd(7)} ${count} hosts: deploy ${(deployMs / 1000).toFixed(2)} s, image ${(figure.imageMs / 1000).toFixed(2)} s, ${(figure.bytesShipped / 1e6).toFixed(1)} MB; stages ${JSON.stringify(figure.stageMs)}; cpu ms ${JSON.stringify(cpu)}\n`,
  );
  return figure;
}

/** A failed deploy (e.g. a node not ready in time on an overloaded machine) is recorded, not fatal. */
async function attempt(
  state: SandboxState,
  count: number,
  mode: 'present' | 'ship',
  rep: number,
  figures: DeployFigure[],
  failures: { hosts: number; mode: string; error: string }[],
): Promise<void> {
  try {
    figures.push(await deployOnce(state, count, mode, rep));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    failures.push({ hosts: count, mode, error: message });
    process.stderr.write(`  ${mode.padEnd(7)} ${count} hosts: FAILED: ${message}\n`);
  }
}

const median = (values: readonly number[]) => spread(values).median;

async function main(): Promise<void> {
  await new Promise<void>((resolvePromise, reject) =>
    execFile('docker', ['tag', DEFAULT_IMAGE, BENCH_IMAGE], (error) =>
      error ? reject(error) : resolvePromise(),
    ),
  );
  try {
    await measure();
  } finally {
    await docker(['image', 'rm', BENCH_IMAGE]);
    if (archiveDir) await rm(archiveDir, { recursive: true, force: true });
  }
}

async function measure(): Promise<void> {
  const image = await inspectLocalImage(BENCH_IMAGE);
  benchImageId = image.id;
  // a fresh folder, so the save is timed; the deploys then reuse this archive
  archiveDir = await mkdtemp(join(tmpdir(), 'meshbench-bench-archive-'));
  const archive = await imageArchive(image, archiveDir);
  process.stderr.write(
    `image ${DEFAULT_IMAGE} (as ${BENCH_IMAGE}): ${(image.sizeBytes / 1e6).toFixed(1)} MB, archive ${(archive.compressedBytes / 1e6).toFixed(1)} MB gzip in ${(archive.saveMs / 1000).toFixed(2)} s\n`,
  );

  await sandboxDown({ dir: DIR });
  const upStarted = performance.now();
  const state = await sandboxUp({ hosts: Math.max(...SIZES), dir: DIR, innerStorage: INNER_STORAGE });
  const sandboxUpMs = Math.round(performance.now() - upStarted);
  process.stderr.write(`sandbox: ${state.hosts.length} hosts up in ${(sandboxUpMs / 1000).toFixed(1)} s\n`);
  hostContainerIds = (
    await docker(['inspect', '--format', '{{.Id}}', ...state.hosts.map((host) => host.container)])
  ).stdout
    .trim()
    .split('\n');
  const figures: DeployFigure[] = [];
  const failures: { hosts: number; mode: string; error: string }[] = [];
  const reference: { rep: number; hosts: number; ms: number }[] = [];
  const window = monitor.window();
  try {
    // Shipping: each size once (a fresh ship to every host), smallest first.
    // (without SHIP, one deploy to all hosts still ships the image, so the others find it present)
    for (const count of SHIP ? SIZES : [Math.max(...SIZES)])
      await attempt(state, count, 'ship', 0, figures, failures);
    // Image present: interleaved repetitions, so drift from other load on the machine hits all sizes alike.
    for (let rep = 1; rep <= REPS; rep++) {
      for (const count of SIZES) {
        await attempt(state, count, 'present', rep, figures, failures);
        reference.push({ rep, hosts: count, ms: await referenceOnce(state, count) });
      }
    }
  } finally {
    await sandboxDown({ dir: DIR });
  }
  const load = window.close();
  // T(8)/T(2) per repetition, over the repetitions where both deploys succeeded.
  const presentMs = (rep: number, hosts: number) =>
    figures.find((f) => f.mode === 'present' && f.rep === rep && f.hosts === hosts)?.deployMs;
  const paired = Array.from({ length: REPS }, (_, i) => i + 1).filter(
    (rep) => presentMs(rep, 8) !== undefined && presentMs(rep, 2) !== undefined,
  );
  const verdict = judgeRatio({
    claim: 'deploy T(8) <= 1.5 x T(2), image present',
    numerator: paired.map((rep) => presentMs(rep, 8)!),
    denominator: paired.map((rep) => presentMs(rep, 2)!),
    target: 1.5,
    load,
  });
  const present = Object.fromEntries(
    SIZES.map((n) => [
      n,
      median(figures.filter((f) => f.mode === 'present' && f.hosts === n).map((f) => f.deployMs)),
    ]),
  );
  const ship = Object.fromEntries(
    SIZES.map((n) => [
      n,
      figures.find((f) => f.mode === 'ship' && f.hosts === n) ?? {
        deployMs: NaN,
        imageMs: NaN,
        bytesShipped: 0,
        perHostImageMs: [NaN],
      },
    ]),
  );
  const ratio = present[8]! / present[2]!;
  const summary = {
    imageBytes: image.sizeBytes,
    archiveBytes: archive.compressedBytes,
    archiveSaveMs: archive.saveMs,
    sandboxUpMs,
    presentMedianDeployMs: present,
    shipDeployMs: Object.fromEntries(SIZES.map((n) => [n, ship[n]!.deployMs])),
    shipImageMs: Object.fromEntries(SIZES.map((n) => [n, ship[n]!.imageMs])),
    shipMedianPerHostMs: Object.fromEntries(SIZES.map((n) => [n, median(ship[n]!.perHostImageMs)])),
    shipAggregateMBps: Object.fromEntries(
      SIZES.map((n) => [n, Number((ship[n]!.bytesShipped / 1e6 / (ship[n]!.imageMs / 1000)).toFixed(2))]),
    ),
    presentStageMedianMs: Object.fromEntries(
      SIZES.map((n) => {
        const runs = figures.filter((f) => f.mode === 'present' && f.hosts === n);
        const stages = Object.keys(runs[0]?.stageMs ?? {});
        return [
          n,
          Object.fromEntries(stages.map((stage) => [stage, median(runs.map((r) => r.stageMs[stage] ?? 0))])),
        ];
      }),
    ),
    presentCpuMedianMs: Object.fromEntries(
      SIZES.map((n) => {
        const runs = figures.filter((f) => f.mode === 'present' && f.hosts === n);
        const pick = (key: keyof CpuFigure) => {
          const values = runs.map((r) => r.cpu[key]).filter((v): v is number => v !== undefined);
          return values.length > 0 ? median(values) : null;
        };
        return [n, { orchestrator: pick('orchestratorMs'), hosts: pick('hostsMs'), nodes: pick('nodesMs') }];
      }),
    ),
    referenceMedianMs: Object.fromEntries(
      SIZES.map((n) => [n, median(reference.filter((r) => r.hosts === n).map((r) => r.ms))]),
    ),
    referenceRatio8to2: Number(
      (
        median(reference.filter((r) => r.hosts === 8).map((r) => r.ms)) /
        median(reference.filter((r) => r.hosts === 2).map((r) => r.ms))
      ).toFixed(3),
    ),
    failedDeploys: failures.length,
    /** Ratio of the medians; the per-repetition ratios are in verdict.spread. */
    presentRatio8to2: Number(ratio.toFixed(3)),
    targetRatio: 1.5,
    /** Each size's deploy time across repetitions (image present), and the reference's. */
    presentDeployMsSpread: Object.fromEntries(
      SIZES.map((n) => [
        n,
        spread(figures.filter((f) => f.mode === 'present' && f.hosts === n).map((f) => f.deployMs)),
      ]),
    ),
    referenceMsSpread: Object.fromEntries(
      SIZES.map((n) => [n, spread(reference.filter((r) => r.hosts === n).map((r) => r.ms))]),
    ),
    /** pass | fail | inconclusive, with the reasons; never a verdict from a busy machine. */
    verdict,
    loadAverage: load,
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = resolve('benchmarks/results', `remote-${stamp}.json`);
  await writeFileAtomic(
    path,
    `${JSON.stringify({ benchmark: 'remote', createdAt: new Date().toISOString(), reps: REPS, innerStorage: INNER_STORAGE, summary, runs: figures, reference, failures, loadAverage: monitor.stop() }, null, 2)}\n`,
  );
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${loadLine(load)}\n${verdictLine(verdict)}\nwritten: ${path}\n`);
  if (verdict.verdict === 'fail') process.exitCode = 1;
}

await main();
