/**
 * remote-network through a jump host: a sandbox whose two hosts sit on an internal Docker network
 * this machine has no route to, behind a bastion (`sandbox up --bastion`). Deploys through the
 * inventory's `jump:` and through the ssh config's ProxyJump, runs transactions, cleans up; shows
 * that the hosts do not answer directly, and that a failing jump host is named as such.
 * Its own sandbox: MESHBENCH_TEST_SANDBOX_DIR + `-bastion`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostsFromVariables } from '../../src/testbed/remote/hosts.js';
import { connectAll } from '../../src/testbed/remote/remote-testbed.js';
import {
  docker,
  readSandboxState,
  sandboxDown,
  sandboxUp,
  type SandboxState,
} from '../../src/testbed/sandbox/sandbox.js';
import { runBin } from './run-bin.js';
import { errorLines, leftovers, runCliModule } from './sandbox-fixture.js';
import { TEST_SANDBOX_BASE } from './sandbox-slots.js';

const DIR = resolve(`${TEST_SANDBOX_BASE}-bastion`);
let sandbox: SandboxState;

beforeAll(async () => {
  const existing = await readSandboxState(DIR);
  const running = existing
    ? (await docker(['ps', '-q', '--filter', `label=meshbench.run=${existing.runId}`])).stdout
        .split('\n')
        .filter(Boolean).length
    : 0;
  if (existing?.bastion && running === existing.hosts.length + 1) {
    sandbox = existing;
    return;
  }
  if (existing) await sandboxDown({ dir: DIR });
  sandbox = await sandboxUp({ hosts: 2, bastion: true, dir: DIR });
}, 300_000);

afterAll(async () => {
  if (process.env.MESHBENCH_KEEP_SANDBOX !== '1') await sandboxDown({ dir: DIR });
}, 120_000);

/**
 * The tests' folders (outputs, inventories, a wrong key), each a folder of its own in here. Its
 * afterAll, registered after the one above, runs before it (vitest runs afterAll hooks last
 * registered first): nothing in here is needed to take the sandbox (in DIR) down.
 */
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshbench-bastion-'));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('hosts behind a bastion', () => {
  it('do not answer from this machine directly', async () => {
    const config = hostsFromVariables({
      MYSTICETI_NODE0_HOST: sandbox.hosts[0]!.address,
      MYSTICETI_NODE0_SSH_USER: 'root',
      MYSTICETI_NODE0_SSH_KEY: sandbox.keyPath,
      SSH_TIMEOUT: '4',
    });
    await expect(
      connectAll(config, {
        strictHostKeyChecking: 'yes',
        knownHostsPath: sandbox.knownHostsPath,
        concurrency: 1,
      }),
    ).rejects.toThrow(/host0 .* is unreachable/);
  }, 30_000);

  it('deploy, run and clean up through the inventory jump:', async () => {
    const output = await mkdtemp(join(root, 'output-'));
    const run = await runCliModule('remote-network', [
      '--hosts-file',
      sandbox.bastion!.inventoryPath,
      '--num-transactions',
      '60',
      '--transaction-rate',
      '30',
      '--cleanup',
      '--output',
      output,
    ]);
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(
      new RegExp(`\\[host0\\] connect: connected to .* via ${sandbox.bastion!.address}`),
    );
    expect(run.stdout).toMatch(/Committed:\s+60 /);
    for (const host of sandbox.hosts) expect((await leftovers(host)).containers).toEqual([]);
  }, 240_000);

  it('colocated load clients behind the bastion reach their node at its host address, not the tunnel', async () => {
    const output = await mkdtemp(join(root, 'clients-'));
    const run = await runCliModule('remote-network', [
      '--hosts-file',
      sandbox.bastion!.inventoryPath,
      '--load-clients',
      'colocated',
      '--num-transactions',
      '40',
      '--transaction-rate',
      '20',
      '--cleanup',
      '--output',
      output,
    ]);
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/Committed:\s+40 /);
    const [runDir] = await readdir(output);
    const record = JSON.parse(await readFile(join(output, runDir!, 'remote-benchmark-1.json'), 'utf8')) as {
      runs: {
        blocks?: { load_clients?: { per_client: { status: string; sent?: number; ok?: number }[] } };
      }[];
    };
    const clients = record.runs[0]!.blocks!.load_clients!.per_client;
    expect(clients.map((client) => [client.status, client.sent, client.ok])).toEqual([
      ['ok', 20, 20],
      ['ok', 20, 20],
    ]);
    for (const host of sandbox.hosts) expect((await leftovers(host)).containers).toEqual([]);
  }, 240_000);

  it('deploy through the ssh config ProxyJump, --status, then --down removes it', async () => {
    const output = await mkdtemp(join(root, 'output-'));
    const inventory = sandbox.bastion!.sshConfigInventoryPath;
    expect(await readFile(inventory, 'utf8')).not.toMatch(/jump:/);
    const run = await runCliModule('remote-network', [
      '--hosts-file',
      inventory,
      '--num-transactions',
      '40',
      '--transaction-rate',
      '40',
      '--output',
      output,
    ]);
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/\[host1\] connect: connected to .* via sandbox-bastion/);
    expect(run.stdout).toMatch(/Committed:\s+40 /);
    const status = await runCliModule('remote-network', ['--hosts-file', inventory, '--status']);
    expect(status.stdout.split('\n').filter((line) => /\trunning\t/.test(line))).toHaveLength(2);
    const down = await runCliModule('remote-network', ['--hosts-file', inventory, '--down']);
    expect(down.exitCode).toBe(0);
    for (const host of sandbox.hosts) expect((await leftovers(host)).containers).toEqual([]);
  }, 240_000);

  it('benchmark --ssh-config: the aliases and ProxyJump from the flag; the record keeps the route', async () => {
    const dir = await mkdtemp(join(root, 'bench-'));
    // the aliases-only inventory without its ssh_config: line: only the flag can resolve them
    const text = (await readFile(sandbox.bastion!.sshConfigInventoryPath, 'utf8')).replace(
      /^ssh_config: .*$/m,
      '',
    );
    const inventory = join(dir, 'inventory.yaml');
    await writeFile(inventory, text);
    const output = join(dir, 'out');
    const args = ['--network-type', 'remote', '--hosts-file', inventory, '--loads', '20', '--duration', '3'];
    const run = await runBin('benchmark', [
      ...args,
      '--ssh-config',
      sandbox.bastion!.sshConfigPath,
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.stderr).not.toMatch(/: error: /);
    expect(run.code).toBe(0);
    const [runDir] = await readdir(output);
    const files = (await readdir(join(output, runDir!))).filter((name) =>
      /^remote-benchmark-\d+\.json$/.test(name),
    );
    expect(files.length).toBeGreaterThan(0);
    const record = JSON.parse(await readFile(join(output, runDir!, files[0]!), 'utf8')) as {
      environment: { testbed: { sshConfig?: string[]; hosts: { name: string; via?: string[] }[] } };
    };
    expect(record.environment.testbed.sshConfig).toEqual([sandbox.bastion!.sshConfigPath]);
    expect(record.environment.testbed.hosts.map((host) => host.via)).toEqual(
      sandbox.hosts
        .slice(0, record.environment.testbed.hosts.length)
        .map(() => [`root@${sandbox.bastion!.address}:22`]),
    );
    for (const host of sandbox.hosts) expect((await leftovers(host)).containers).toEqual([]);
    // without the flag (and no ~/.ssh/config naming them) the aliases do not resolve: one line
    const bare = await runBin('benchmark', [...args, '--ssh-config', 'none', '--output-dir', output], {
      MESHBENCH_SSH_CONFIG: '',
    });
    expect(bare.code).not.toBe(0);
    expect(bare.stderr.split('\n').filter((line) => /: error: /.test(line))).toHaveLength(1);
    expect(bare.stderr).not.toMatch(/\n\s+at /);
  }, 240_000);

  it('a jump host that refuses the key is named, with the host behind it', async () => {
    const dir = await mkdtemp(join(root, 'key-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'wrong')]);
    const text = (await readFile(sandbox.bastion!.inventoryPath, 'utf8')).replace(
      /^ {2}key: .*$/m,
      `  key: ${join(dir, 'wrong')}`,
    );
    const path = join(dir, 'inventory.yaml');
    await writeFile(path, text);
    const run = await runCliModule('remote-network', ['--hosts-file', path, '--status']);
    expect(run.exitCode).not.toBe(0);
    expect(errorLines(run)).toHaveLength(1);
    expect(errorLines(run)[0]).toMatch(
      /jump host .* user root was refused with key .*wrong \(on the way to host\d \(root@/,
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('a jump host that does not answer is named, with the host behind it', async () => {
    const dir = await mkdtemp(join(root, 'dead-'));
    const text = (await readFile(sandbox.bastion!.inventoryPath, 'utf8'))
      .replace(/^ssh_timeout: .*$/m, 'ssh_timeout: 3')
      .replace(/jump: root@[^\s]+/, `jump: root@${sandbox.unusedAddress}:22`);
    const path = join(dir, 'inventory.yaml');
    await writeFile(path, text);
    const run = await runCliModule('remote-network', ['--hosts-file', path, '--status']);
    expect(run.exitCode).not.toBe(0);
    expect(errorLines(run)[0]).toMatch(
      new RegExp(
        `jump host ${sandbox.unusedAddress.replace(/\./g, '\\.')} .* is unreachable.*on the way to host\\d`,
      ),
    );
  }, 60_000);
});
