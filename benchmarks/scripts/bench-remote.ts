/**
 * Remote deploy benchmark on sandbox hosts (`npm run bench:remote`).
 *
 * Deploy time (connect → Docker found → image → nodes started → all ready) to 2, 4 and 8
 * sandbox hosts with the image already present, next to the same nodes started without
 * meshbench (the reference); before those, one deploy per size that ships the image (archive
 * size, save time, per-host ship time). Target: T(8) <= 1.5 x T(2) with the image present
 * (parallelism).
 *
 * A declaration on the bench harness (lib/harness.ts): the sides are the sizes (`2 hosts`,
 * `4 hosts`, `8 hosts`), `--reps` rounds of each, the order turned each round; setup tags the
 * image, saves its archive, brings up 8 sandbox hosts (.meshbench/sandbox-bench) and makes the
 * shipping deploys; the teardown removes them. The target is met or missed only when every
 * repetition's T(8)/T(2) agrees on a quiet machine, else "inconclusive" (lib/verdict.ts).
 * Exit code 1 only for a miss.
 *
 * Flags (`-- --help`): --reps N, --no-ship, --inner-storage overlay2|vfs; the environment
 * variables BENCH_REMOTE_REPS, BENCH_REMOTE_SHIP=0 and BENCH_REMOTE_INNER_STORAGE still set
 * their defaults. Writes benchmarks/results/remote-<timestamp>.json.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { choiceFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';
import { judgeRatio, spread } from './lib/verdict.js';
import type { HostsConfig } from '../../src/testbed/remote/hosts.js';
import type { InnerStorage, SandboxState } from '../../src/testbed/sandbox/sandbox.js';

interface Args {
  readonly ship: boolean;
  readonly innerStorage: InnerStorage;
}

// Imported when a run starts (not at the top), so --help answers at once and without an engine.
const importMeshbench = async () => ({
  ...(await import('../../src/testbed/remote/hosts.js')),
  ...(await import('../../src/testbed/remote/image-transfer.js')),
  ...(await import('../../src/testbed/readiness.js')),
  ...(await import('../../src/common/run-id.js')),
  ...(await import('../../src/testbed/remote/remote-testbed.js')),
  ...(await import('../../src/testbed/sandbox/sandbox.js')),
});
let meshbench!: Awaited<ReturnType<typeof importMeshbench>>;

const SIZES = [2, 4, 8] as const;
const DIR = resolve(import.meta.dirname, '../../.meshbench/sandbox-bench');
/** A tag of its own, so a rebuild of meshbench/refnode:latest during the run changes nothing here. */
const BENCH_IMAGE = `meshbench/refnode:bench-${process.pid}`;
let benchImageId = '';
let archiveDir = '';

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
  return meshbench.hostsFromVariables(variables);
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
      const result = await meshbench.docker([
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
  await meshbench.waitForReady({
    targets: hosts.map((host, i) => ({ nodeId: `node${i}`, rpcUrl: `http://${host.address}:26657` })),
    probeFor: () => meshbench.cometbftProbe(count - 1),
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  const elapsedMs = Math.round(performance.now() - started);
  await Promise.all(
    hosts.map((host) =>
      meshbench.docker(['exec', host.container, 'docker', 'rm', '-f', '-v', 'bench-reference']),
    ),
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
        .map((host) =>
          meshbench.docker(['exec', host.container, 'docker', 'image', 'rm', '-f', benchImageId]),
        ),
    );
  }
  const testbed = new meshbench.RemoteTestbed({
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
          meshbench.docker([
            'exec',
            host.container,
            'docker',
            'ps',
            '-q',
            '--no-trunc',
            '--filter',
            `label=${meshbench.RUN_LABEL}=${testbed.runId}`,
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

interface Failure {
  readonly hosts: number;
  readonly mode: string;
  readonly error: string;
}

/** A failed deploy (e.g. a node not ready in time on an overloaded machine) is recorded, not fatal. */
async function attempt(
  state: SandboxState,
  count: number,
  mode: 'present' | 'ship',
  rep: number,
): Promise<DeployFigure | Failure> {
  try {
    return await deployOnce(state, count, mode, rep);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`  ${mode.padEnd(7)} ${count} hosts: FAILED: ${message}\n`);
    return { hosts: count, mode, error: message };
  }
}

const failed = (run: DeployFigure | Failure): run is Failure => 'error' in run;
const median = (values: readonly number[]) => spread(values).median;

/** What setup made and measured once: the image, its archive, the sandbox, the shipping deploys. */
interface Prepared {
  readonly state: SandboxState;
  readonly imageBytes: number;
  readonly archiveBytes: number;
  readonly archiveSaveMs: number;
  readonly sandboxUpMs: number;
  readonly ship: readonly (DeployFigure | Failure)[];
}
let prepared: Prepared | undefined;

/** One repetition at one size: a deploy with the image present, then the reference. */
interface Round {
  readonly hosts: number;
  readonly present: DeployFigure | Failure;
  readonly referenceMs: number;
}

const sideOf = (hosts: number) => `${hosts} hosts`;

async function prepare(args: Args, signal: AbortSignal): Promise<Prepared> {
  meshbench = await importMeshbench();
  await new Promise<void>((resolvePromise, reject) =>
    execFile('docker', ['tag', meshbench.DEFAULT_IMAGE, BENCH_IMAGE], (error) =>
      error ? reject(error) : resolvePromise(),
    ),
  );
  try {
    const image = await meshbench.inspectLocalImage(BENCH_IMAGE);
    benchImageId = image.id;
    // a fresh folder, so the save is timed; the deploys then reuse this archive
    archiveDir = await mkdtemp(join(tmpdir(), 'meshbench-bench-archive-'));
    const archive = await meshbench.imageArchive(image, archiveDir);
    process.stderr.write(
      `image ${meshbench.DEFAULT_IMAGE} (as ${BENCH_IMAGE}): ${(image.sizeBytes / 1e6).toFixed(1)} MB, archive ${(archive.compressedBytes / 1e6).toFixed(1)} MB gzip in ${(archive.saveMs / 1000).toFixed(2)} s\n`,
    );
    await meshbench.sandboxDown({ dir: DIR });
    const upStarted = performance.now();
    const state = await meshbench.sandboxUp({
      hosts: Math.max(...SIZES),
      dir: DIR,
      innerStorage: args.innerStorage,
    });
    const sandboxUpMs = Math.round(performance.now() - upStarted);
    process.stderr.write(`sandbox: ${state.hosts.length} hosts up in ${(sandboxUpMs / 1000).toFixed(1)} s\n`);
    hostContainerIds = (
      await meshbench.docker(['inspect', '--format', '{{.Id}}', ...state.hosts.map((host) => host.container)])
    ).stdout
      .trim()
      .split('\n');
    // Shipping: each size once (a fresh ship to every host), smallest first. (Without it, one
    // deploy to all hosts still ships the image, so the rounds find it present.)
    const ship: (DeployFigure | Failure)[] = [];
    for (const count of args.ship ? SIZES : [Math.max(...SIZES)])
      if (!signal.aborted) ship.push(await attempt(state, count, 'ship', 0));
    return {
      state,
      imageBytes: image.sizeBytes,
      archiveBytes: archive.compressedBytes,
      archiveSaveMs: archive.saveMs,
      sandboxUpMs,
      ship,
    };
  } catch (error) {
    await removeAll();
    throw error;
  }
}

async function removeAll(): Promise<void> {
  await meshbench.sandboxDown({ dir: DIR });
  await meshbench.docker(['image', 'rm', BENCH_IMAGE]);
  if (archiveDir) await rm(archiveDir, { recursive: true, force: true });
}

function summary(bySide: Readonly<Record<string, readonly Round[]>>) {
  const present = (n: number) =>
    (bySide[sideOf(n)] ?? []).map((r) => r.present).filter((f): f is DeployFigure => !failed(f));
  const reference = (n: number) => (bySide[sideOf(n)] ?? []).map((r) => r.referenceMs);
  const ship = Object.fromEntries(
    SIZES.map((n) => {
      const figure = prepared?.ship.find((f): f is DeployFigure => !failed(f) && f.hosts === n);
      return [n, figure ?? { deployMs: NaN, imageMs: NaN, bytesShipped: 0, perHostImageMs: [NaN] }];
    }),
  );
  const presentMedian = Object.fromEntries(SIZES.map((n) => [n, median(present(n).map((f) => f.deployMs))]));
  return {
    imageBytes: prepared?.imageBytes,
    archiveBytes: prepared?.archiveBytes,
    archiveSaveMs: prepared?.archiveSaveMs,
    sandboxUpMs: prepared?.sandboxUpMs,
    presentMedianDeployMs: presentMedian,
    shipDeployMs: Object.fromEntries(SIZES.map((n) => [n, ship[n]!.deployMs])),
    shipImageMs: Object.fromEntries(SIZES.map((n) => [n, ship[n]!.imageMs])),
    shipMedianPerHostMs: Object.fromEntries(SIZES.map((n) => [n, median(ship[n]!.perHostImageMs)])),
    shipAggregateMBps: Object.fromEntries(
      SIZES.map((n) => [n, Number((ship[n]!.bytesShipped / 1e6 / (ship[n]!.imageMs / 1000)).toFixed(2))]),
    ),
    presentStageMedianMs: Object.fromEntries(
      SIZES.map((n) => {
        const runs = present(n);
        const stages = Object.keys(runs[0]?.stageMs ?? {});
        return [
          n,
          Object.fromEntries(stages.map((stage) => [stage, median(runs.map((r) => r.stageMs[stage] ?? 0))])),
        ];
      }),
    ),
    presentCpuMedianMs: Object.fromEntries(
      SIZES.map((n) => {
        const runs = present(n);
        const pick = (key: keyof CpuFigure) => {
          const values = runs.map((r) => r.cpu[key]).filter((v): v is number => v !== undefined);
          return values.length > 0 ? median(values) : null;
        };
        return [n, { orchestrator: pick('orchestratorMs'), hosts: pick('hostsMs'), nodes: pick('nodesMs') }];
      }),
    ),
    referenceMedianMs: Object.fromEntries(SIZES.map((n) => [n, median(reference(n))])),
    referenceRatio8to2: Number((median(reference(8)) / median(reference(2))).toFixed(3)),
    failedDeploys: [
      ...(prepared?.ship ?? []),
      ...Object.values(bySide).flatMap((runs) => runs.map((r) => r.present)),
    ].filter(failed).length,
    /** Ratio of the medians; the per-repetition ratios are in the judgement's spread. */
    presentRatio8to2: Number((presentMedian[8]! / presentMedian[2]!).toFixed(3)),
    targetRatio: 1.5,
  };
}

await runBench({
  usage: {
    name: 'bench:remote',
    summary:
      '`remote-network` deploy time to 2, 4 and 8 sandbox hosts (image present, and with shipping),\n' +
      'next to the same nodes started without meshbench; the image transfer; CPU per deploy.',
    notes: [
      'Env BENCH_REMOTE_REPS, BENCH_REMOTE_SHIP=0 and BENCH_REMOTE_INNER_STORAGE set the defaults of',
      '--reps, --no-ship and --inner-storage.',
      'Writes benchmarks/results/remote-<timestamp>.json; exit code 1 when the target is missed.',
    ],
  },
  flags: {
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
  },
  // its flag before the harness: repetitions of the image-present deploys, every size once each
  pairsFlag: 'reps',
  defaultPairs: Number(process.env.BENCH_REMOTE_REPS ?? '5'),
  args: (values): Args => ({
    ship: !values['no-ship'],
    innerStorage: choiceFlag('inner-storage', values['inner-storage'], ['overlay2', 'vfs']) as InnerStorage,
  }),
  file: 'remote',
  setup: async (args, { signal }) => {
    prepared = await prepare(args, signal);
    return prepared.state;
  },
  teardown: removeAll,
  sides: SIZES.map(sideOf),
  round: async (side, { shared, pair }) => {
    const hosts = Number.parseInt(side, 10);
    const present = await attempt(shared, hosts, 'present', pair + 1);
    return { hosts, present, referenceMs: await referenceOnce(shared, hosts) };
  },
  describe: (r) =>
    `${failed(r.present) ? `deploy FAILED: ${r.present.error}` : `deploy ${(r.present.deployMs / 1000).toFixed(2)} s`}, reference ${(r.referenceMs / 1000).toFixed(2)} s`,
  figures: {
    deployMs: (r) => (failed(r.present) ? undefined : r.present.deployMs),
    referenceMs: (r) => r.referenceMs,
  },
  claims: (bySide, _args, load) => {
    // T(8)/T(2) per repetition, over the repetitions where both deploys succeeded.
    const pairs = (bySide[sideOf(8)] ?? []).flatMap((big, i) => {
      const small = bySide[sideOf(2)]?.[i];
      return small && !failed(big.present) && !failed(small.present)
        ? [[big.present.deployMs, small.present.deployMs] as const]
        : [];
    });
    return [
      judgeRatio({
        claim: 'deploy T(8) <= 1.5 x T(2), image present',
        numerator: pairs.map(([big]) => big),
        denominator: pairs.map(([, small]) => small),
        target: 1.5,
        load,
      }),
    ];
  },
  extra: (bySide, args) => ({
    innerStorage: args.innerStorage,
    summary: summary(bySide),
    ship: prepared?.ship ?? [],
  }),
});
