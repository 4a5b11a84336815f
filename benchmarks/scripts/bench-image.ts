/**
 * The node image's size and what it costs to ship (issue 19): the Debian-based refnode image
 * against the lean one (FROM scratch: the node binary, the libraries it links, the bundled
 * refnode), both built by scripts/build-images.sh from the same inputs.
 *
 * Per image (once, before the rounds): the size the engine reports, the archive image-transfer
 * ships (docker save | gzip, level 1) and the time to make it. Then, on sandbox hosts with
 * Docker, the two images alternate first in each round: the image is removed from every host,
 * and a `remote-network` deploy (RemoteTestbed: connect, ship to every host in parallel through
 * image-transfer, start one node per host, all ready) takes it there; the record keeps the
 * slowest host's ship time, every host's, and the whole deploy. Optionally (--ready-rounds),
 * after the sandbox is removed, the start-to-ready time of a 4-node local network with each
 * image, alternating too.
 *
 * A declaration on the bench harness (lib/harness.ts): the two images are its sides, `--rounds`
 * its ship rounds; the builds and the sandbox are setup, the local start-to-ready rounds an after
 * step. The record keeps each side's spread across rounds and the load average before, during
 * and after; "lean / debian ship time <= 1" is a verdict only when every round agrees on a
 * quiet machine, else "inconclusive" (lib/verdict.ts).
 *
 * Usage: npm run build && npm run bench:image [-- --rounds 3 --hosts 8 --ready-rounds 2]
 * (`-- --help` lists every flag). Writes benchmarks/results/image-<timestamp>.json.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { numberFlag } from './lib/flags.js';
import { paired, runBench } from './lib/harness.js';
import { judgeRatio, spread } from './lib/verdict.js';
import type { HostsConfig } from '../../src/testbed/remote/hosts.js';
import type { SandboxState } from '../../src/testbed/sandbox/sandbox.js';

interface Args {
  readonly hosts: number;
  readonly dir: string;
  readonly readyRounds: number;
}

type Side = 'debian' | 'lean';
const SIDES: readonly Side[] = ['debian', 'lean'];
/** Tags of the bench's own, so a rebuild of meshbench/refnode:latest meanwhile changes nothing here. */
const tagOf = (side: Side) => `meshbench/refnode:bench-${side}-${process.pid}`;
const baseOf: Record<Side, string> = { debian: 'debian', lean: 'scratch' };

function run(file: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolvePromise, reject) =>
    execFile(file, [...argv], { env, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      error
        ? reject(new Error(`${file} ${argv.join(' ')}: ${stderr.trim() || error.message}`))
        : resolvePromise(stdout),
    ),
  );
}

/** Builds one side with the project's own recipe (scripts/build-images.sh refnode). */
async function build(side: Side): Promise<void> {
  await run('bash', ['scripts/build-images.sh', 'refnode'], {
    ...process.env,
    MESHBENCH_REFNODE_BASE: baseOf[side],
    MESHBENCH_REFNODE_IMAGE: tagOf(side),
  });
}

interface ImageFigure {
  readonly side: Side;
  readonly reference: string;
  readonly id: string;
  readonly layers: number;
  /** What the engine reports (docker image inspect .Size). */
  readonly sizeBytes: number;
  /** The archive image-transfer ships: docker save | gzip -1. */
  readonly gzipBytes: number;
  readonly saveMs: number;
}

interface ShipFigure {
  readonly side: Side;
  readonly round: number;
  /** The slowest host's ship (hosts receive the image in parallel). */
  readonly shipMs: number;
  readonly perHostShipMs: readonly number[];
  readonly bytesShipped: number;
  /** connect → every node ready, the image shipped on the way. */
  readonly deployMs: number;
  readonly stageMs: Readonly<Record<string, number>>;
}

interface ReadyFigure {
  readonly side: Side;
  readonly round: number;
  readonly readyAfterMs: number;
  readonly composeUpMs: number;
  /** compose up done → every node ready. */
  readonly untilReadyMs: number;
}

async function hostsFor(state: SandboxState): Promise<HostsConfig> {
  const { hostsFromVariables } = await import('../../src/testbed/remote/hosts.js');
  const variables: Record<string, string> = {
    SSH_TIMEOUT: '30',
    MESHBENCH_SSH_KNOWN_HOSTS: state.knownHostsPath,
  };
  state.hosts.forEach((host, n) => {
    variables[`MYSTICETI_NODE${n}_HOST`] = host.address;
    variables[`MYSTICETI_NODE${n}_SSH_USER`] = 'root';
    variables[`MYSTICETI_NODE${n}_SSH_KEY`] = state.keyPath;
  });
  return hostsFromVariables(variables);
}

/** Removes the image (by ID) from every host through the outer engine, not the code under test. */
async function removeFromHosts(state: SandboxState, id: string): Promise<void> {
  const { docker } = await import('../../src/testbed/sandbox/sandbox.js');
  await Promise.all(
    state.hosts.map(async (host) => {
      await docker(['exec', host.container, 'docker', 'image', 'rm', '-f', id]);
      const left = await docker(['exec', host.container, 'docker', 'image', 'inspect', id]);
      if (left.exitCode === 0) throw new Error(`${host.name} still has image ${id.slice(0, 19)}`);
    }),
  );
}

async function shipOnce(
  state: SandboxState,
  image: ImageFigure,
  round: number,
  archiveDir: string,
): Promise<ShipFigure> {
  const { RemoteTestbed } = await import('../../src/testbed/remote/remote-testbed.js');
  await removeFromHosts(state, image.id);
  const testbed = new RemoteTestbed({
    hosts: await hostsFor(state),
    image: image.reference,
    cacheDir: archiveDir,
    strictHostKeyChecking: 'yes',
    startupWaitMs: 180_000,
  });
  const started = performance.now();
  const deployment = await testbed.deployRemote();
  const deployMs = Math.round(performance.now() - started);
  const environment = deployment.environment;
  await deployment.destroy({ thorough: false });
  if (!environment.hosts.every((host) => host.image === 'shipped'))
    throw new Error(`${image.side}: not every host reports the image shipped`);
  const figure: ShipFigure = {
    side: image.side,
    round,
    shipMs: environment.imageTransferMs,
    perHostShipMs: environment.hosts.map((host) => host.imageMs ?? NaN),
    bytesShipped: environment.imageBytesShipped,
    deployMs,
    stageMs: environment.stageMs,
  };
  // frees the hosts' tmpfs before the other side's round
  await removeFromHosts(state, image.id);
  return figure;
}

async function readyOnce(
  image: ImageFigure,
  round: number,
  runsDir: string,
  log: (line: string) => void,
): Promise<ReadyFigure> {
  const { LocalTestbed } = await import('../../src/testbed/local/local-testbed.js');
  const testbed = new LocalTestbed({ committee: 4, image: image.reference, runsDir, cacheDir: null });
  const deployment = await testbed.deploy();
  const figure: ReadyFigure = {
    side: image.side,
    round,
    readyAfterMs: Math.round(deployment.readyAfterMs),
    composeUpMs: deployment.phasesMs.composeUp,
    untilReadyMs: deployment.phasesMs.ready,
  };
  await deployment.destroy({ thorough: true });
  log(
    `round ${round} ${image.side.padEnd(6)} 4 local nodes ready after ${(figure.readyAfterMs / 1000).toFixed(2)} s (compose up ${figure.composeUpMs} ms, then ready in ${figure.untilReadyMs} ms)`,
  );
  return figure;
}

interface Shared {
  /** The sandbox's folder. */
  readonly dir: string;
  readonly workDir: string;
  readonly images: readonly ImageFigure[];
  readonly state: SandboxState;
}

const imageOf = (images: readonly ImageFigure[], side: Side) =>
  images.find((figure) => figure.side === side) as ImageFigure;

/** Removes what setup made: the sandbox, the bench's image tags, the archives. */
async function cleanUp(dir: string, workDir: string): Promise<void> {
  const { docker, sandboxDown } = await import('../../src/testbed/sandbox/sandbox.js');
  await sandboxDown({ dir }).catch(() => undefined);
  await Promise.all(SIDES.map((side) => docker(['image', 'rm', tagOf(side)])));
  await rm(workDir, { recursive: true, force: true });
}

/** Both images built, measured and saved; then the sandbox up. */
async function setUp(args: Args, log: (line: string) => void): Promise<Shared> {
  const { imageArchive, inspectLocalImage } = await import('../../src/testbed/remote/image-transfer.js');
  const { sandboxDown, sandboxUp } = await import('../../src/testbed/sandbox/sandbox.js');
  const workDir = await mkdtemp(join(tmpdir(), 'meshbench-bench-image-'));
  try {
    const images: ImageFigure[] = [];
    for (const side of SIDES) {
      await build(side);
      const local = await inspectLocalImage(tagOf(side));
      // a fresh folder, so the save is timed
      const archive = await imageArchive(local, join(workDir, side));
      const layers = Number(
        await run('docker', ['image', 'inspect', '-f', '{{len .RootFS.Layers}}', local.id]),
      );
      images.push({
        side,
        reference: local.reference,
        id: local.id,
        layers,
        sizeBytes: local.sizeBytes,
        gzipBytes: archive.compressedBytes,
        saveMs: archive.saveMs,
      });
      log(
        `${side.padEnd(6)} ${(local.sizeBytes / 1e6).toFixed(1)} MB, ${layers} layer(s); shipped as ${(archive.compressedBytes / 1e6).toFixed(1)} MB gzip (saved in ${(archive.saveMs / 1000).toFixed(2)} s)`,
      );
    }
    await sandboxDown({ dir: args.dir });
    const upStarted = performance.now();
    const state = await sandboxUp({ hosts: args.hosts, dir: args.dir });
    log(
      `sandbox: ${state.hosts.length} hosts up in ${((performance.now() - upStarted) / 1000).toFixed(1)} s`,
    );
    return { dir: args.dir, workDir, images, state };
  } catch (error) {
    await cleanUp(args.dir, workDir);
    throw error;
  }
}

const shipSpreads = (
  bySide: Readonly<Record<string, readonly ShipFigure[]>>,
  pick: (f: ShipFigure) => number,
) => {
  const [lean, debian] = paired((bySide['lean'] ?? []).map(pick), (bySide['debian'] ?? []).map(pick));
  return { lean, debian };
};

await runBench({
  usage: {
    name: 'bench:image',
    summary:
      'Size of the Debian-based and the lean (FROM scratch) refnode image, raw and gzipped as shipped,\n' +
      'and the time to ship each to sandbox hosts through remote-network, alternating in one run.',
    notes: [
      'Builds both images with scripts/build-images.sh (tags of its own, removed at the end).',
      'Writes benchmarks/results/image-<timestamp>.json.',
    ],
  },
  flags: {
    hosts: {
      type: 'string',
      valueName: 'N',
      default: '8',
      description: 'sandbox hosts (about 300 MB RAM each)',
    },
    dir: {
      type: 'string',
      valueName: 'DIR',
      default: '.meshbench/sandbox-lean',
      description: "the sandbox's folder (its hosts are removed at the end)",
    },
    'ready-rounds': {
      type: 'string',
      valueName: 'N',
      default: '2',
      description: 'rounds of a 4-node local network per image, start to ready (0: skip)',
    },
  },
  defaultPairs: 3,
  // its flag before the harness: rounds; each ships both images to every host
  pairsFlag: 'rounds',
  args: (values): Args => ({
    hosts: numberFlag('hosts', values.hosts, { integer: true, min: 1 }),
    dir: resolve(values.dir),
    readyRounds: numberFlag('ready-rounds', values['ready-rounds'], { integer: true, min: 0 }),
  }),
  file: 'image',
  setup: (args, { log }) => setUp(args, log),
  teardown: ({ dir, workDir }) => cleanUp(dir, workDir),
  sides: SIDES,
  round: (side, { shared, pair }) =>
    shipOnce(shared.state, imageOf(shared.images, side as Side), pair + 1, join(shared.workDir, side)),
  describe: (f) =>
    `ship to ${f.perHostShipMs.length} hosts ${(f.shipMs / 1000).toFixed(2)} s (per host ${spread(f.perHostShipMs).min}-${spread(f.perHostShipMs).max} ms, ${(f.bytesShipped / 1e6).toFixed(1)} MB in all), deploy ${(f.deployMs / 1000).toFixed(2)} s`,
  figures: { shipMs: (f) => f.shipMs, deployMs: (f) => f.deployMs },
  // the sandbox removed first, so the local rounds run on a quieter machine
  after: async ({ args, shared, signal, log, window }) => {
    const { sandboxDown } = await import('../../src/testbed/sandbox/sandbox.js');
    await sandboxDown({ dir: args.dir });
    const measured = window();
    const runsDir = join(shared.workDir, 'runs');
    const readies: ReadyFigure[] = [];
    for (let round = 1; round <= args.readyRounds && !signal.aborted; round++) {
      const order: Side[] = round % 2 === 1 ? ['lean', 'debian'] : ['debian', 'lean'];
      for (const side of order) {
        if (signal.aborted) break;
        readies.push(await readyOnce(imageOf(shared.images, side), round, runsDir, log));
      }
    }
    return { readies, readyLoad: measured.close() };
  },
  claims: (bySide, args, load) => {
    const ship = shipSpreads(bySide, (f) => f.shipMs);
    const deploy = shipSpreads(bySide, (f) => f.deployMs);
    return [
      judgeRatio({
        claim: `ship to ${args.hosts} hosts: lean / debian <= 1`,
        target: 1,
        numerator: ship.lean,
        denominator: ship.debian,
        load,
      }),
      judgeRatio({
        claim: `deploy with shipping to ${args.hosts} hosts: lean / debian <= 1`,
        target: 1,
        numerator: deploy.lean,
        denominator: deploy.debian,
        load,
      }),
    ];
  },
  extra: (_bySide, args, ready, { images }) => {
    const readies = ready?.readies ?? [];
    const readyOf = (side: Side) => readies.filter((figure) => figure.side === side);
    return {
      images: Object.fromEntries(images.map((figure) => [figure.side, figure])),
      leanToDebianGzip: Number(
        (imageOf(images, 'lean').gzipBytes / imageOf(images, 'debian').gzipBytes).toFixed(3),
      ),
      leanGzipAtMost40MB: imageOf(images, 'lean').gzipBytes <= 40e6,
      hosts: args.hosts,
      local4ReadyAfterMs: {
        debian: spread(readyOf('debian').map((figure) => figure.readyAfterMs)),
        lean: spread(readyOf('lean').map((figure) => figure.readyAfterMs)),
      },
      local4UntilReadyMs: {
        debian: spread(readyOf('debian').map((figure) => figure.untilReadyMs)),
        lean: spread(readyOf('lean').map((figure) => figure.untilReadyMs)),
      },
      readies,
      readyLoad: ready?.readyLoad,
    };
  },
});
