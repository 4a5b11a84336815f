/**
 * local-network on the real engine: a 4-node committee commits 300 tx at 100 tx/s and
 * --cleanup leaves nothing with the run's label (nor the anonymous volumes); --committee 7
 * works and --down removes what a run without --cleanup left; bad input gives one line,
 * a non-zero exit and nothing half-started.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/local-network.js';
import { RUN_LABEL } from '../../src/common/labels.js';
import { resultValidator } from '../../src/results/validate.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { removeRun } from '../../src/testbed/local/teardown.js';
import { captureCli, type Captured } from './capture-cli.js';

const docker = createDocker();
let dir: string;

function runCli(args: string[]): Promise<Captured> {
  return captureCli(main, [...args, '--output', dir]);
}

/** Containers, networks and volumes with the run's label, plus the anonymous volumes its containers mounted. */
async function leftovers(runId: string, sinceSecs: number): Promise<string[]> {
  const label = { label: [`${RUN_LABEL}=${runId}`] };
  const left = [
    ...(await docker.listContainers({ all: true, filters: label })).map((c) => `container ${c.Names[0]}`),
    ...(await docker.listNetworks({ filters: label })).map((n) => `network ${n.Name}`),
    ...((await docker.listVolumes({ filters: label })).Volumes ?? []).map((v) => `volume ${v.Name}`),
  ];
  const until = Math.ceil(Date.now() / 1000) + 1;
  const events = async (filters: Record<string, string[]>) => {
    const stream = (await docker.getEvents({ since: sinceSecs, until, filters })) as NodeJS.ReadableStream;
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks)
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { Actor: { ID: string; Attributes: Record<string, string> } });
  };
  const containerIds = new Set(
    (await events({ type: ['container'], event: ['create'], label: label.label })).map(
      (event) => event.Actor.ID,
    ),
  );
  const mounted = (await events({ type: ['volume'], event: ['mount'] }))
    .filter((event) => containerIds.has(event.Actor.Attributes.container ?? ''))
    .map((event) => event.Actor.ID);
  const existing = new Set(((await docker.listVolumes()).Volumes ?? []).map((v) => v.Name));
  if (containerIds.size === 0) left.push('(no container create events seen: the check itself is broken)');
  return [...left, ...mounted.filter((name) => existing.has(name)).map((name) => `anonymous volume ${name}`)];
}

interface LocalRecord {
  parameters: { nodes: number; load: number };
  results: {
    successful_transactions: number;
    failed_transactions: number;
    sent_transactions: number;
    outcomes: { ok: number; committed: number };
    commit_latency_ms?: { count: number };
    per_node?: { node_id: string }[];
  };
  local_network: { ready_after_ms: number; endpoints: unknown[] };
}

const validate = resultValidator();

/** The run's result file, checked against the result schema. */
async function resultOf(runId: string): Promise<LocalRecord> {
  const record = JSON.parse(
    await readFile(join(dir, `run-${runId}`, 'local-benchmark-1.json'), 'utf8'),
  ) as unknown;
  expect(validate(record), JSON.stringify(validate.errors)).toBe(true);
  return record as LocalRecord;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-local-it-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('local-network on the real engine', () => {
  it('a 4-node network commits 300 tx at 100 tx/s, and --cleanup leaves nothing with the run label', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const run = await runCli([
      '--committee',
      '4',
      '--num-transactions',
      '300',
      '--transaction-rate',
      '100',
      '--cleanup',
    ]);
    expect(run.stderr, run.stderr).not.toMatch(/error/);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/all 4 nodes ready after \d+\.\d\d s/);
    expect(run.stdout).toMatch(/Successful: +300\n/);
    expect(run.stdout).toMatch(/Failed: +0\n/);
    expect(run.stdout).toMatch(
      /Latency submit→commit: +mean [\d.]+ ms, stddev [\d.]+ ms, p50 [\d.]+ ms, p99 [\d.]+ ms/,
    );
    const record = await resultOf(run.runId);
    expect(record.parameters).toMatchObject({ nodes: 4, load: 100 });
    expect(record.results.sent_transactions).toBe(300);
    expect(record.results.successful_transactions).toBe(300);
    expect(record.results.outcomes.committed).toBe(300);
    expect(record.results.commit_latency_ms?.count).toBe(300);
    expect(record.local_network.endpoints).toHaveLength(4);
    expect(await leftovers(run.runId, since)).toEqual([]);
  });

  it('--committee 7 works, and --down removes the network a run without --cleanup left', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const run = await runCli(['--committee', '7', '--num-transactions', '140', '--transaction-rate', '70']);
    try {
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/all 7 nodes ready/);
      expect(run.stdout).toContain(`remove it with: local-network --down ${run.runId}`);
      const record = await resultOf(run.runId);
      expect(record.results.outcomes.committed).toBe(140);
      expect((record.results.per_node ?? []).map((node) => node.node_id).sort()).toEqual([
        'node0',
        'node1',
        'node2',
        'node3',
        'node4',
        'node5',
        'node6',
      ]);
      const running = await docker.listContainers({ filters: { label: [`${RUN_LABEL}=${run.runId}`] } });
      expect(running).toHaveLength(7);

      // The leftover check sees the running network, anonymous volumes included.
      const before = await leftovers(run.runId, since);
      expect(before.filter((item) => item.startsWith('container '))).toHaveLength(7);
      expect(before.filter((item) => item.startsWith('anonymous volume '))).toHaveLength(7);

      // the start of its id will do (the id less its last two characters: no other run starts so)
      const down = await runCli(['--down', run.runId.slice(0, -2)]);
      expect(down.code).toBe(0);
      expect(down.stdout).toContain(`run ${run.runId}: removed 7 containers, 1 network,`);
      // again (or a mistyped id): nothing is left to remove, and it says so
      const again = await runCli(['--down', run.runId]);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(`run ${run.runId}: nothing of it on this engine`);
    } finally {
      // Whatever failed above, the network does not outlive the test.
      await removeRun(docker, run.runId, { volumes: true });
    }
    expect(await leftovers(run.runId, since)).toEqual([]);
  });
});

describe('local-network bad input on the real engine', () => {
  let holder: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (holder ? holder.close(resolve) : resolve(undefined)));
    holder = undefined;
  });

  async function composeFile(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it('an image that is missing: one line, exit 1, nothing started', async () => {
    const path = await composeFile(
      'missing-image.yml',
      'services:\n  n0:\n    image: meshbench/does-not-exist:never\n    ports: ["127.0.0.1::26657"]\n',
    );
    const run = await runCli(['--docker-compose-path', path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'local-network: error: image meshbench/does-not-exist:never (service n0) is missing; pull or build it first (docker pull meshbench/does-not-exist:never)\n',
    );
    expect(
      await docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${run.runId}`] } }),
    ).toEqual([]);
  });

  it('a compose file that is missing or invalid: one line each, exit 1, nothing started', async () => {
    const missing = await runCli(['--docker-compose-path', join(dir, 'nope.yml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `local-network: error: compose file ${join(dir, 'nope.yml')} does not exist; pass an existing file with --docker-compose-path, or use --committee N to generate one\n`,
    );
    // Valid YAML with a node, but an option compose does not know: compose itself refuses it.
    const path = await composeFile(
      'unknown-option.yml',
      'services:\n  n0:\n    image: meshbench/refnode:latest\n    ports: ["127.0.0.1::26657"]\n    no_such_option: 1\n',
    );
    const invalid = await runCli(['--docker-compose-path', path]);
    expect(invalid.code).toBe(1);
    const errors = invalid.stderr.split('\n').filter((line) => line.startsWith('local-network: error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/config refused .*unknown-option\.yml: .*no_such_option.*; fix the file/);
    const label = { label: [`${RUN_LABEL}=${invalid.runId}`] };
    expect(await docker.listContainers({ all: true, filters: label })).toEqual([]);
    expect(await docker.listNetworks({ filters: label })).toEqual([]);
  });

  it('an engine that is not running: one line naming where it looked and the fix', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${join(dir, 'no-engine.sock')}`;
    let run: Captured;
    try {
      run = await runCli(['--committee', '4']);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `local-network: error: the Docker engine is not running (no answer at unix://${join(dir, 'no-engine.sock')}: ENOENT); start it (sudo systemctl start docker, or run npm run setup), then retry\n`,
    );
  });

  it('a committee larger than the memory: names the need and what is free', async () => {
    const run = await runCli(['--committee', '5000']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^local-network: error: a committee of 5000 nodes needs about \d+ MiB of memory \(256 MiB per node \+ 1024 MiB reserve\) but only \d+ MiB is available; use --committee \d+ or less, or free memory\n$/,
    );
  });

  it('a port in use: names the port and who holds it', async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder?.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    const path = await composeFile(
      'port-in-use.yml',
      `services:\n  n0:\n    image: meshbench/refnode:latest\n    ports: ["127.0.0.1:${port}:26657"]\n`,
    );
    const run = await runCli(['--docker-compose-path', path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `^local-network: error: port ${port} \\(service n0\\) is in use by pid ${process.pid} \\([^)]+\\); stop that process`,
      ),
    );
    expect(run.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('a node that dies while starting: NOT_READY naming it, and everything it started is removed', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const path = await composeFile(
      'dies.yml',
      [
        'services:',
        '  good:',
        '    image: meshbench/refnode:latest',
        '    environment: { REFNODE_ID: good }',
        '    ports: ["127.0.0.1::26657"]',
        '  broken:',
        '    image: meshbench/refnode:latest',
        '    environment: { REFNODE_ID: broken, REFNODE_PEERS: "not a peer list" }',
        '    ports: ["127.0.0.1::26657"]',
        '',
      ].join('\n'),
    );
    const run = await runCli(['--docker-compose-path', path, '--startup-wait', '20']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /local-network: error: node broken exited \(exit code 2\) before it was ready/,
    );
    expect(await leftovers(run.runId, since)).toEqual([]);
  });
});
