/**
 * `--load-clients dedicated:N`: the inventory's client hosts (`role: client` per host or on a
 * group) are kept out of node placement; the first N are picked; bad input is refused in one
 * line naming the problem and the fix, before anything is deployed.
 */
import { loadClientsOf } from '../../../src/clients/plugin.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBenchmarkPlan } from '../../../src/bench/plan.js';
import { MeshbenchError } from '../../../src/common/errors.js';
import { pickClientHosts, separateClientHosts } from '../../../src/testbed/remote/client-hosts.js';
import { hostsFromInventory, hostsFromVariables } from '../../../src/testbed/remote/hosts.js';
import { validateArgs, type RemoteNetworkArgs } from '../../../src/cli/remote-network.js';

const INVENTORY = `
defaults: { user: root, key: /keys/id }
groups:
  loaders: { role: client, port: 2222 }
hosts:
  - { name: a, host: 10.0.0.1 }
  - { name: b, host: 10.0.0.2, role: node }
  - { name: c, host: 10.0.0.3, role: client }
  - { name: d, host: 10.0.0.4, group: loaders }
  - { name: e, host: 10.0.0.5 }
`;

const inventory = () => hostsFromInventory(INVENTORY, { where: 'inv.yaml', homeDir: '/home/u' });

function refusal(run: () => unknown): MeshbenchError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(MeshbenchError);
    const message = (error as MeshbenchError).message;
    expect(message).not.toContain('\n');
    return error as MeshbenchError;
  }
  throw new Error('expected a refusal');
}

async function refusalOf(run: () => Promise<unknown>): Promise<MeshbenchError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(MeshbenchError);
    expect((error as MeshbenchError).message).not.toContain('\n');
    return error as MeshbenchError;
  }
  throw new Error('expected a refusal');
}

describe('client hosts in the inventory', () => {
  it('reads role: client per host and from the group; node is the default', () => {
    const hosts = inventory().hosts;
    expect(hosts.map((h) => [h.name, h.role ?? 'node'])).toEqual([
      ['a', 'node'],
      ['b', 'node'],
      ['c', 'client'],
      ['d', 'client'],
      ['e', 'node'],
    ]);
    // the group's connection settings still apply beside its role
    expect(hosts.find((h) => h.name === 'd')?.port).toBe(2222);
  });

  it('keeps client hosts out of the node hosts, in inventory order', () => {
    const separated = separateClientHosts(inventory());
    expect(separated.hosts.map((h) => h.name)).toEqual(['a', 'b', 'e']);
    expect(separated.clientHosts?.map((h) => h.name)).toEqual(['c', 'd']);
    // once is enough: separating again changes nothing
    expect(separateClientHosts(separated)).toBe(separated);
  });

  it('picks the first N client hosts', () => {
    expect(pickClientHosts(separateClientHosts(inventory()), 1).map((h) => h.name)).toEqual(['c']);
    expect(pickClientHosts(inventory(), 2).map((h) => h.name)).toEqual(['c', 'd']);
  });

  it('refuses an unknown role, naming the field', () => {
    const error = refusal(() =>
      hostsFromInventory('hosts:\n  - { host: 10.0.0.1, role: loader }\n', { where: 'inv.yaml' }),
    );
    expect(error.message).toMatch(/^inv\.yaml: hosts\.0\.role: /);
  });

  it('refuses more clients than hosts marked, saying how many are', () => {
    const error = refusal(() => pickClientHosts(separateClientHosts(inventory()), 3));
    expect(error.code).toBe('BAD_FLAG');
    expect(error.message).toBe(
      '--load-clients "dedicated:3" is not valid: inv.yaml marks 2 hosts role: client (c, d); mark 1 more (role: client in a YAML inventory, docs/remote-network.md) or use dedicated:2',
    );
  });

  it('refuses dedicated clients with hosts from the environment (none can be marked)', () => {
    const env = hostsFromVariables({ MYSTICETI_NODE0_HOST: '10.0.0.1' });
    const error = refusal(() => pickClientHosts(env, 1));
    expect(error.message).toMatch(/the environment marks 0 hosts role: client; mark 1 more/);
  });

  it('refuses an inventory whose every host is a client host', () => {
    const config = hostsFromInventory('hosts:\n  - { host: 10.0.0.1, role: client }\n', {
      where: 'inv.yaml',
    });
    const error = refusal(() => separateClientHosts(config));
    expect(error.message).toMatch(
      /^inv\.yaml: every host is marked role: client, so no host is left for the nodes/,
    );
  });
});

describe('--load-clients dedicated:N, bad input before anything is deployed', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbench-dedicated-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('benchmark refuses dedicated clients with a local network', async () => {
    const error = await refusalOf(() =>
      buildBenchmarkPlan({ outputDir: dir, loadClients: 'dedicated:2' }, { env: {} }),
    );
    expect(error.code).toBe('BAD_FLAG');
    expect(error.message).toMatch(
      /^--load-clients "dedicated:2" is not valid: dedicated clients run on remote hosts marked role: client; use --network-type remote .* \(got local\) or --load-clients local$/,
    );
  });

  it('benchmark takes dedicated:N for a remote network', async () => {
    const hostsFile = join(dir, 'inv.yaml');
    await writeFile(hostsFile, INVENTORY);
    const plan = await buildBenchmarkPlan(
      { outputDir: dir, loadClients: 'dedicated:2', networkType: 'remote', hostsFile },
      { env: {} },
    );
    expect(loadClientsOf(plan)).toEqual({ kind: 'dedicated', count: 2 });
  });

  it('remote-network refuses dedicated clients with --engine swarm', () => {
    const error = refusal(() =>
      validateArgs({
        loadClients: 'dedicated:1',
        engine: 'swarm',
        nodesPerHost: 1,
        concurrency: 8,
        numTransactions: 10,
        transactionRate: 10,
        transactionSize: 512,
        startupWait: 60,
      } as unknown as RemoteNetworkArgs),
    );
    expect(error.message).toMatch(/local with --engine swarm \(dedicated clients need --engine docker\)/);
  });
});
