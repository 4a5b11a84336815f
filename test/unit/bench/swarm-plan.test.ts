/** `benchmark --engine swarm`: the plan takes it for remote networks and refuses what cannot apply, one line each. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMeshbenchError } from '../../../src/common/errors.js';
import {
  addBenchmarkOptions,
  benchmarkPlanFromArgs,
  type BenchmarkArgs,
} from '../../../src/cli/benchmark-options.js';

let dir: string;
let compose: string;
const env = { MYSTICETI_NODE0_HOST: 'h' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-swarm-plan-'));
  compose = join(dir, 'compose.yml');
  await writeFile(compose, 'services: {}\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function plan(argv: string[]) {
  const args = (await addBenchmarkOptions(yargs(argv))
    .exitProcess(false)
    .strict()
    .parseAsync()) as BenchmarkArgs;
  return benchmarkPlanFromArgs(args, { env, cwd: dir });
}

async function refusal(argv: string[]): Promise<string> {
  try {
    await plan(argv);
  } catch (error) {
    if (isMeshbenchError(error)) {
      expect(error.exitCode).toBe(2);
      expect(error.message).not.toContain('\n');
      return error.message;
    }
    throw error;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('benchmark --engine swarm', () => {
  it('runs the remote network as a stack; the compose file is that stack when given', async () => {
    const swarm = await plan([
      '--network-type',
      'remote',
      '--engine',
      'swarm',
      '--docker-compose-path',
      compose,
    ]);
    expect(swarm.engine).toBe('swarm');
    expect(swarm.swarmNetwork).toBeUndefined();
    expect(swarm.dockerComposePaths).toEqual([compose]);
    const host = await plan(['--network-type', 'remote', '--engine', 'swarm', '--swarm-network', 'host']);
    expect(host.swarmNetwork).toBe('host');
    const plain = await plan(['--network-type', 'remote']);
    expect(plain.engine).toBeUndefined();
  });

  it('refuses swarm for a local or attached network, and --swarm-network without it', async () => {
    expect(await refusal(['--engine', 'swarm'])).toMatch(
      /--engine .*use --network-type remote \(or both\), got local/,
    );
    expect(await refusal(['--network-type', 'remote', '--swarm-network', 'overlay'])).toMatch(
      /--swarm-network .*needs --engine swarm/,
    );
    expect(await refusal(['--network-type', 'remote', '--engine', 'kubernetes'])).toMatch(
      /--engine .*one of docker, swarm/,
    );
  });

  it("refuses colocated clients, the hosts' network for a compose file, and a topology for it", async () => {
    expect(
      await refusal(['--network-type', 'remote', '--engine', 'swarm', '--load-clients', 'colocated']),
    ).toMatch(/--load-clients .*--engine docker/);
    expect(
      await refusal([
        '--network-type',
        'remote',
        '--engine',
        'swarm',
        '--docker-compose-path',
        compose,
        '--swarm-network',
        'host',
      ]),
    ).toMatch(/--swarm-network .*only the overlay resolves/);
    expect(
      await refusal([
        '--network-type',
        'remote',
        '--engine',
        'swarm',
        '--docker-compose-path',
        compose,
        '--topology',
        'ring',
      ]),
    ).toMatch(/--topology .*sets its own peers/);
  });
});
