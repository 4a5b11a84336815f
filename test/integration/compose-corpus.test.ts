/**
 * Compose files in the styles real projects use (test/fixtures/compose-corpus), read the
 * way local-network reads them: through the compose tool's own `config`. Each must be
 * read right; the anchors-and-merge-keys file and CometBFT's localnet shape run end to
 * end (direct and published node access), a node built from its folder (build:) with its
 * protocol in a label runs without --protocol, and a file compose cannot start shows
 * compose's own reason.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/local-network.js';
import { main as benchmarkMain } from '../../src/cli/benchmark.js';
import { RUN_LABEL } from '../../src/common/labels.js';
import { readComposeModel, type ComposeModel } from '../../src/testbed/local/compose-file.js';
import { refnodeCompose, renderCompose, seedPortLayout } from '../../src/testbed/local/compose-generate.js';
import { detectCompose, type ComposeCli } from '../../src/testbed/local/compose-cli.js';
import { activeComposeProfiles, resolveComposeProject } from '../../src/testbed/local/compose-config.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import type { Endpoint } from '../../src/testbed/testbed.js';
import { captureCli, type Captured } from './capture-cli.js';

const CORPUS = resolve('test/fixtures/compose-corpus');
const docker = createDocker();
let cli: ComposeCli;
let dir: string;

/** This process's environment without compose settings of its own (the tests set those). */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('COMPOSE_')));
  return { ...env, ...extra };
}

async function read(
  files: readonly string[],
  env = cleanEnv(),
): Promise<{ model: ComposeModel; project: Record<string, unknown> }> {
  const paths = files.map((file) => join(CORPUS, file));
  const projectDirectory = join(paths[0] ?? '', '..');
  const resolved = await resolveComposeProject({ cli, files: paths, env, cacheDir: undefined });
  const activeProfiles = await activeComposeProfiles(cli, projectDirectory, env);
  return {
    model: readComposeModel(resolved.project, files.join(','), { activeProfiles }),
    project: resolved.project,
  };
}

function ports(model: ComposeModel): string[] {
  return model.publishedPorts.map(
    (port) =>
      `${port.service} ${port.hostIp}:${port.hostPort ?? '*'}->${port.containerPort}/${port.protocol}`,
  );
}

beforeAll(async () => {
  cli = await detectCompose();
  dir = await mkdtemp(join(tmpdir(), 'meshbench-corpus-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('compose files read through the compose tool', () => {
  it('anchors and merge keys', async () => {
    const { model } = await read(['anchors-merge.yml']);
    expect(model.nodeRule).toBe('label');
    expect(model.nodes.map((node) => [node.service, node.image, node.protocol, node.publishesRpc])).toEqual([
      ['kv0', 'meshbench/refnode:latest', 'cometbft', true],
      ['kv1', 'meshbench/refnode:latest', 'cometbft', false],
      ['kv2', 'meshbench/refnode:latest', 'cometbft', false],
    ]);
    expect(ports(model)).toEqual(['kv0 127.0.0.1:*->26657/tcp']);
  });

  it('extends and env_file', async () => {
    const { model, project } = await read(['extends/node.yml']);
    expect(model.nodes.map((node) => [node.service, node.metricsContainerPort, node.image])).toEqual([
      ['a', 26660, 'meshbench/refnode:latest'],
      ['b', 26660, 'meshbench/refnode:latest'],
    ]);
    const services = project.services as Record<string, { environment: Record<string, string> }>;
    expect(services.b?.environment).toMatchObject({ REFNODE_ID: 'b', REFNODE_PEERS: 'a@a:26656,b@b:26656' });
  });

  it('.env interpolation, defaults and $$', async () => {
    const { model } = await read(['dotenv/docker-compose.yml']);
    expect(model.nodeRule).toBe('rpc-port');
    expect(model.nodes.map((node) => [node.service, node.image, node.labels['meshbench.note']])).toEqual([
      ['node', 'meshbench/refnode:latest', 'costs $5'],
    ]);
    expect(ports(model)).toEqual(['node 127.0.0.1:41657->26657/tcp', 'node 127.0.0.1:41670->26660/tcp']);
    // The environment wins over .env and over the file's default, as in compose.
    const overridden = await read(
      ['dotenv/docker-compose.yml'],
      cleanEnv({ RPC_HOST_PORT: '41000', METRICS_HOST_PORT: '41001' }),
    );
    expect(ports(overridden.model)).toEqual([
      'node 127.0.0.1:41000->26657/tcp',
      'node 127.0.0.1:41001->26660/tcp',
    ]);
  });

  it('profiles: services of inactive profiles do not count', async () => {
    const plain = await read(['profiles.yml']);
    expect(plain.model.nodes.map((node) => node.service)).toEqual(['n0', 'n1']);
    expect(plain.model.services.map((service) => service.name)).toEqual(['n0', 'n1']);
    const extra = await read(['profiles.yml'], cleanEnv({ COMPOSE_PROFILES: 'extra' }));
    expect(extra.model.nodes.map((node) => node.service)).toEqual(['n0', 'n1', 'n2']);
    expect(extra.model.services.map((service) => service.name)).toEqual(['n0', 'n1', 'n2']);
  });

  it('long-form ports', async () => {
    const { model } = await read(['long-ports.yml']);
    expect(model.nodes.map((node) => node.service)).toEqual(['v0', 'v1']);
    expect(ports(model)).toEqual(['v0 :42657->26657/tcp', 'v0 :*->26656/udp', 'v1 :*->26657/tcp']);
  });

  it("CometBFT's localnet shape: version 3, container_name, port ranges, env lists, static addresses", async () => {
    const { model, project } = await read(['cometbft-localnet.yml']);
    expect(model.nodes.map((node) => node.service)).toEqual(['node0', 'node1']);
    expect(ports(model)).toEqual([
      'node0 127.0.0.1:36656->26656/tcp',
      'node0 127.0.0.1:36657->26657/tcp',
      'node1 127.0.0.1:36658->26656/tcp',
      'node1 127.0.0.1:36659->26657/tcp',
    ]);
    expect(model.networks).toEqual(['localnet']);
    expect(project.networks).toMatchObject({
      localnet: { driver: 'bridge', ipam: { config: [{ subnet: '192.167.10.0/16' }] } },
    });
  });

  it('several files merged, as compose -f a -f b', async () => {
    const { model, project } = await read(['multi-file/base.yml', 'multi-file/override.yml']);
    expect(model.nodeRule).toBe('label');
    expect(model.nodes.map((node) => [node.service, node.publishesRpc])).toEqual([
      ['n0', true],
      ['n1', false],
    ]);
    const services = project.services as Record<string, { environment: Record<string, string> }>;
    expect(services.n1?.environment).toEqual({ REFNODE_ID: 'n1', REFNODE_PEERS: 'n0@n0:26656,n1@n1:26656' });
  });

  it('a generated many-node file', async () => {
    const layout = seedPortLayout(16);
    const path = join(dir, 'many.yml');
    await writeFile(
      path,
      await renderCompose(
        refnodeCompose({ committee: 16, rpcHostPorts: layout.rpc, metricsHostPorts: layout.metrics }),
        'x',
      ),
    );
    const resolved = await resolveComposeProject({
      cli,
      files: [path],
      env: cleanEnv(),
      cacheDir: undefined,
    });
    const model = readComposeModel(resolved.project, path);
    expect(model.nodes).toHaveLength(16);
    expect(model.nodes.at(-1)).toMatchObject({
      service: 'node15',
      rpcContainerPort: 26657,
      metricsContainerPort: 26660,
    });
    expect(
      model.publishedPorts.filter((port) => port.containerPort === 26657).map((port) => port.hostPort),
    ).toEqual(layout.rpc);
  });

  it("a file compose refuses: compose's own reason, code COMPOSE_FILE", async () => {
    const path = join(dir, 'refused.yml');
    await writeFile(path, 'services:\n  a:\n    image: meshbench/refnode:latest\n    bogus_option: 1\n');
    await expect(resolveComposeProject({ cli, files: [path], env: cleanEnv() })).rejects.toMatchObject({
      code: 'COMPOSE_FILE',
      message: expect.stringMatching(/config refused .*refused\.yml: .*bogus_option/),
    });
  });

  it('caches the answer by content: a changed env_file, .env or environment is asked again', async () => {
    const project = join(dir, 'cached');
    await cp(join(CORPUS, 'extends'), project, { recursive: true });
    const cacheDir = join(dir, 'cache');
    const ask = (env = cleanEnv()) =>
      resolveComposeProject({ cli, files: [join(project, 'node.yml')], env, cacheDir });
    const first = await ask();
    expect(first.cached).toBe(false);
    const second = await ask();
    expect(second).toEqual({ project: first.project, cached: true });

    await writeFile(join(project, 'node.env'), 'REFNODE_PEERS=a@a:26656\n');
    const changed = await ask();
    expect(changed.cached).toBe(false);
    const services = changed.project.services as Record<string, { environment: Record<string, string> }>;
    expect(services.a?.environment.REFNODE_PEERS).toBe('a@a:26656');

    await writeFile(join(project, '.env'), 'UNUSED=1\n');
    expect((await ask()).cached).toBe(false);
    expect((await ask(cleanEnv({ SOME_VARIABLE: 'x' }))).cached).toBe(false);
    expect((await ask(cleanEnv({ SOME_VARIABLE: 'x' }))).cached).toBe(true);
  });
});

/**
 * local-network on a corpus file. The fixed host ports of some files (36657-36659) can be held
 * for a moment by a container of the other integration lane, whose ports the engine picks from
 * the same ephemeral range (CI #153): the pre-check then refuses the run in one line, and it is
 * run again once the port is let go (up to 5 tries, 3 s apart).
 */
async function runLocalNetwork(args: readonly string[]): Promise<Captured> {
  for (let attempt = 1; ; attempt++) {
    const run = await captureCli(main, [...args, '--output', dir]);
    if (attempt >= 5 || !/error: port \d+ \(service \S+\) is in use by/.test(run.stderr)) return run;
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

async function leftovers(runId: string): Promise<number> {
  const label = { label: [`${RUN_LABEL}=${runId}`] };
  return (
    (await docker.listContainers({ all: true, filters: label })).length +
    (await docker.listNetworks({ filters: label })).length
  );
}

interface LocalRecord {
  local_network: { endpoints: Endpoint[]; environment: { nodeAccess: string } };
  results: { outcomes: { committed: number } };
}

describe('corpus files run end to end', () => {
  /** Runs a corpus file with 100 tx at 100 tx/s and --cleanup: its record, after checking it ran clean and left nothing. */
  async function runCorpusFile(file: string, extra: readonly string[] = []): Promise<LocalRecord> {
    const run = await runLocalNetwork([
      '--docker-compose-path',
      join(CORPUS, file),
      ...extra,
      '--num-transactions',
      '100',
      '--transaction-rate',
      '100',
      '--cleanup',
    ]);
    expect(run.stderr).not.toMatch(/error/);
    expect(run.code).toBe(0);
    expect(await leftovers(run.runId)).toBe(0);
    const record = JSON.parse(
      await readFile(join(dir, `run-${run.runId}`, 'local-benchmark-1.json'), 'utf8'),
    ) as LocalRecord;
    expect(record.results.outcomes.committed).toBe(100);
    return record;
  }

  it('the anchors-and-merge-keys file: 3 nodes reached directly, every tx committed', async () => {
    const record = await runCorpusFile('anchors-merge.yml');
    expect(record.local_network.environment.nodeAccess).toBe('direct');
    expect(record.local_network.endpoints.map((endpoint) => endpoint.nodeId)).toEqual(['kv0', 'kv1', 'kv2']);
  });

  it("CometBFT's localnet shape with static addresses, forced onto published ports", async () => {
    const record = await runCorpusFile('cometbft-localnet.yml', ['--node-access', 'published']);
    expect(record.local_network.environment.nodeAccess).toBe('published');
    expect(record.local_network.endpoints.map((endpoint) => endpoint.rpcUrl)).toEqual([
      'http://127.0.0.1:36657',
      'http://127.0.0.1:36659',
    ]);
  });

  it('a node built from its folder that names its protocol in a label: no --protocol needed, one image for every run', async () => {
    const file = join(CORPUS, 'build-labelled', 'docker-compose.yml');
    const image = 'meshbench-build/build-labelled-kv0:latest';
    const runIds: string[] = [];
    try {
      for (let round = 0; round < 2; round++) {
        const run = await runLocalNetwork([
          '--docker-compose-path',
          file,
          '--num-transactions',
          '50',
          '--transaction-rate',
          '100',
          '--cleanup',
        ]);
        expect(run.code, run.stderr).toBe(0);
        runIds.push(run.runId);
        expect(run.stderr).toContain(
          "the compose file's nodes are labelled meshbench.protocol=etcd: the load speaks etcd",
        );
        expect(await leftovers(run.runId)).toBe(0);
        const record = JSON.parse(
          await readFile(join(dir, `run-${run.runId}`, 'local-benchmark-1.json'), 'utf8'),
        ) as {
          parameters: { protocol: string };
          results: { outcomes: { ok: number } };
          local_network: { environment: { images: Record<string, string> } };
        };
        expect(record.parameters.protocol).toBe('etcd');
        expect(record.local_network.environment.images[image]).toMatch(/^sha256:/);
        expect(record.results.outcomes.ok).toBe(50);
      }
      // compose would have named the image after each run's project: one image per run, left behind
      const tags = (await docker.listImages()).flatMap((info) => info.RepoTags ?? []);
      expect(tags).toContain(image);
      expect(tags.filter((tag) => runIds.some((runId) => tag.includes(runId)))).toEqual([]);
    } finally {
      await docker
        .getImage(image)
        .remove()
        .catch(() => undefined);
    }
  });

  it("a node on the host's network is reached on loopback at its own port; network conditions refuse it", async () => {
    const file = join(CORPUS, 'host-network.yml');
    const run = await runLocalNetwork([
      '--docker-compose-path',
      file,
      '--num-transactions',
      '30',
      '--cleanup',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(await leftovers(run.runId)).toBe(0);
    const record = JSON.parse(
      await readFile(join(dir, `run-${run.runId}`, 'local-benchmark-1.json'), 'utf8'),
    ) as LocalRecord & { results: { outcomes: { ok: number } } };
    expect(record.local_network.endpoints.map((endpoint) => endpoint.rpcUrl)).toEqual([
      'http://127.0.0.1:23791',
    ]);
    expect(record.results.outcomes.ok).toBe(30);
    // a delay there would shape this machine's own traffic: refused before any load
    const scenario = join(dir, 'host-delay.yaml');
    await writeFile(scenario, 'events:\n  - { from: 1s, to: 2s, action: delay, nodes: [kv], delay: 20ms }\n');
    const bench = await captureCli(benchmarkMain, [
      '--docker-compose-path',
      file,
      '--scenario',
      scenario,
      '--loads',
      '20',
      '--duration',
      '2',
      '--cleanup',
      '--output-dir',
      dir,
    ]);
    expect(bench.code).not.toBe(0);
    expect(bench.stderr).toMatch(
      /network conditions need each node in a network namespace of its own; kv runs in this machine's \(network_mode: host\)/,
    );
    const network = /compose project meshbench-(\S+),/.exec(bench.stdout + bench.stderr)?.[1];
    expect(network).toBeDefined();
    expect(await leftovers(network ?? '')).toBe(0);
  });

  it("a file compose cannot start: compose's own reason on one line, nothing left", async () => {
    const text = (await readFile(join(CORPUS, 'cometbft-localnet.yml'), 'utf8'))
      .replaceAll('192.167.10.3', '10.99.0.3')
      .replaceAll('meshbench-corpus-', 'meshbench-badip-');
    const path = join(dir, 'bad-address.yml');
    await writeFile(path, text);
    const run = await runLocalNetwork([
      '--docker-compose-path',
      path,
      '--num-transactions',
      '10',
      '--cleanup',
    ]);
    expect(run.code).toBe(1);
    const errors = run.stderr.split('\n').filter((line) => line.startsWith('local-network: error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /up failed for .*bad-address\.yml: .*10\.99\.0\.3.*does not belong to any of this network's subnets/,
    );
    expect(errors[0]).not.toMatch(/Encountered errors/);
    expect(await leftovers(run.runId)).toBe(0);
  });
});
