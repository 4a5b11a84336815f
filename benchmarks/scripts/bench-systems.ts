/**
 * `npm run bench:systems` — the systems under test side by side (issue 30): for each of
 * `--systems` (default refnode, libp2p-gossipsub, crdt-sync), a generated network of `--nodes`
 * (8) from its system.json, as `--system NAME --committee N` makes it, timed from the deploy's
 * start to every node ready (the testbed's own readyAfterMs: compose up, then each node's
 * readiness through its protocol), then removed; the systems alternate each pair (A B C,
 * C B A, …) so a drifting machine hits each alike. Also each image's size, unpacked and as
 * shipped (`docker save | gzip -1`, what remote-network sends), once. Images are built first
 * when missing, as a user's first run builds them.
 * Writes benchmarks/results/systems-<timestamp>.json.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { numberFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';

type NodeTemplate = import('../../src/testbed/node-template.js').NodeTemplate;

interface Args {
  readonly systems: readonly string[];
  readonly nodes: number;
}

interface Round {
  readonly system: string;
  readonly readyMs: number;
  readonly removeMs: number;
}

process.chdir(resolve(import.meta.dirname, '../..'));
const run = promisify(execFile);
const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The image's size unpacked, and gzipped as remote-network ships it. */
async function imageSizes(image: string): Promise<{ unpackedMb: number; gzippedMb: number }> {
  const { stdout: size } = await run('docker', ['image', 'inspect', '--format', '{{.Size}}', image]);
  const { stdout: gz } = await run('bash', ['-c', `docker save ${image} | gzip -1 | wc -c`], {
    maxBuffer: 1024 * 1024,
  });
  return { unpackedMb: round(Number(size) / 1e6, 1), gzippedMb: round(Number(gz) / 1e6, 1) };
}

async function oneRound(template: NodeTemplate, nodes: number, pair: number): Promise<Round> {
  const { LocalTestbed } = await import('../../src/testbed/local/local-testbed.js');
  const started = performance.now();
  const testbed = new LocalTestbed({
    committee: nodes,
    system: template,
    protocol: template.protocol,
    runId: `bench-systems-${template.name}-${pair}-${Date.now()}`,
    startupTimeoutMs: 180_000,
    startedAtMs: started,
  });
  const deployment = await testbed.deploy({});
  const removing = performance.now();
  await deployment.destroy({ thorough: false });
  return {
    system: template.name,
    readyMs: round(deployment.readyAfterMs),
    removeMs: round(performance.now() - removing),
  };
}

const templates = new Map<string, NodeTemplate>();
const sizes: Record<string, { unpackedMb: number; gzippedMb: number }> = {};

await runBench({
  usage: {
    name: 'bench:systems',
    summary:
      'Time to ready of a generated network of each system under test (--system NAME --committee N),\n' +
      'alternating, and each image’s size unpacked and gzipped as shipped.',
    notes: ['Writes benchmarks/results/systems-<timestamp>.json.'],
  },
  flags: {
    systems: {
      type: 'string',
      valueName: 'A,B',
      default: 'refnode,libp2p-gossipsub,crdt-sync',
      description:
        "the systems (meshbench's systems/ or folders with a system.json); the first is the reference",
    },
    nodes: { type: 'string', valueName: 'N', default: '8', description: 'nodes in each network' },
  },
  defaultPairs: 3,
  args: (values): Args => ({
    systems: String(values.systems)
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
    nodes: numberFlag('nodes', values.nodes, { integer: true, min: 1 }),
  }),
  file: 'systems',
  setup: async (args, { log }) => {
    // imported here, not at the top: --help answers without loading the testbed
    const { loadSystemTemplate } = await import('../../src/testbed/system-template.js');
    const { ensureImage } = await import('../../src/testbed/docker/ensure-image.js');
    for (const name of args.systems) {
      const template = loadSystemTemplate(name);
      templates.set(name, template);
      await ensureImage(template.image, { log });
      sizes[name] = await imageSizes(template.image);
      log(`${name}: ${template.image}, ${sizes[name].unpackedMb} MB, ${sizes[name].gzippedMb} MB gzipped`);
    }
  },
  sides: [],
  sidesFrom: (args) => args.systems,
  round: (side, { args, pair }) => oneRound(templates.get(side) as NodeTemplate, args.nodes, pair),
  describe: (r) =>
    `all ready after ${(r.readyMs / 1000).toFixed(2)} s, removed in ${(r.removeMs / 1000).toFixed(2)} s`,
  figures: { readyMs: (r) => r.readyMs, removeMs: (r) => r.removeMs },
  extra: (_bySide, args) => ({ settings: args, images: sizes }),
});
