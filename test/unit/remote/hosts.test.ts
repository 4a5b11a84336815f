import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hostsFromInventory,
  hostsFromVariables,
  loadHostsFile,
  parseEnvFile,
} from '../../../src/testbed/remote/hosts.js';
import { MeshbenchError } from '../../../src/common/errors.js';

const home = '/home/tester';

describe('hostsFromVariables', () => {
  it('reads N hosts with defaults', () => {
    const config = hostsFromVariables(
      {
        MYSTICETI_NODE0_HOST: '10.0.0.1',
        MYSTICETI_NODE1_HOST: 'box-1.example.org',
        MYSTICETI_NODE1_SSH_PORT: '2222',
        MYSTICETI_NODE1_SSH_USER: 'admin',
        MYSTICETI_NODE1_SSH_KEY: '~/.ssh/other',
        MYSTICETI_NODE2_HOST: '10.0.0.3',
        SSH_TIMEOUT: '7.5',
      },
      { homeDir: home },
    );
    expect(config.hosts).toHaveLength(3);
    expect(config.hosts[0]).toMatchObject({
      name: 'host0',
      address: '10.0.0.1',
      port: 22,
      user: 'ubuntu',
      keyPath: '/home/tester/.ssh/id_rsa',
      keyPathExplicit: false,
    });
    expect(config.hosts[1]).toMatchObject({
      port: 2222,
      user: 'admin',
      keyPath: '/home/tester/.ssh/other',
      keyPathExplicit: true,
    });
    expect(config.sshTimeoutMs).toBe(7500);
  });

  it('defaults SSH_TIMEOUT to 30 s', () => {
    expect(hostsFromVariables({ MYSTICETI_NODE0_HOST: 'a' }).sshTimeoutMs).toBe(30_000);
  });

  it('names the missing variable when the range has a gap', () => {
    const vars = { MYSTICETI_NODE0_HOST: 'a', MYSTICETI_NODE1_SSH_USER: 'x', MYSTICETI_NODE2_HOST: 'c' };
    expect(() => hostsFromVariables(vars)).toThrow(/MYSTICETI_NODE1_HOST is missing/);
    expect(() => hostsFromVariables({ MYSTICETI_NODE1_HOST: 'b' })).toThrow(
      /MYSTICETI_NODE0_HOST is missing/,
    );
    // there but blank: said as such, not as missing
    expect(() => hostsFromVariables({ MYSTICETI_NODE0_HOST: '' })).toThrow(
      /^MYSTICETI_NODE0_HOST is empty in/,
    );
  });

  it('rejects no hosts, bad ports, bad timeouts and blank hosts with a hint', () => {
    for (const vars of [
      {},
      { MYSTICETI_NODE0_HOST: 'a', MYSTICETI_NODE0_SSH_PORT: '70000' },
      { MYSTICETI_NODE0_HOST: 'a', MYSTICETI_NODE0_SSH_PORT: '22x' },
      { MYSTICETI_NODE0_HOST: 'a', SSH_TIMEOUT: '-1' },
      { MYSTICETI_NODE0_HOST: 'a b' },
      { MYSTICETI_NODE0_HOST: ' ' },
    ]) {
      let error: unknown;
      try {
        hostsFromVariables(vars);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(MeshbenchError);
      expect((error as MeshbenchError).hint).toBeTruthy();
    }
  });
});

describe('parseEnvFile', () => {
  it('handles comments, export, quotes and inline comments', () => {
    const parsed = parseEnvFile(
      [
        '# comment',
        'export A=1',
        "B='two words # not a comment'",
        'C="quote \\" inside"',
        'D=plain # trailing comment',
        '',
        'E=',
      ].join('\n'),
    );
    expect(parsed).toEqual({
      A: '1',
      B: 'two words # not a comment',
      C: 'quote " inside',
      D: 'plain',
      E: '',
    });
  });

  it('rejects lines that are not KEY=VALUE and unterminated quotes', () => {
    expect(() => parseEnvFile('oops')).toThrow(/line 1/);
    expect(() => parseEnvFile('A="x')).toThrow(/unterminated/);
  });
});

describe('hostsFromInventory', () => {
  const where = 'inventory.yaml';
  it('reads per-host fields, defaults, region and labels', () => {
    const config = hostsFromInventory(
      [
        'ssh_timeout: 12',
        'known_hosts: kh',
        'defaults: { user: deploy, key: keys/id }',
        'hosts:',
        '  - { name: eu-1, host: 10.1.0.1, region: eu-west, labels: { rack: a, gpu: true } }',
        '  - { host: 10.1.0.2, port: 2200, user: root, key: /abs/key }',
      ].join('\n'),
      { where, baseDir: '/etc/inv', homeDir: home },
    );
    expect(config.sshTimeoutMs).toBe(12_000);
    expect(config.knownHostsPath).toBe('/etc/inv/kh');
    expect(config.hosts[0]).toMatchObject({
      name: 'eu-1',
      user: 'deploy',
      keyPath: '/etc/inv/keys/id',
      region: 'eu-west',
      labels: { rack: 'a', gpu: 'true' },
    });
    expect(config.hosts[1]).toMatchObject({ name: 'host1', port: 2200, user: 'root', keyPath: '/abs/key' });
  });

  it('rejects unknown fields, bad ports, duplicate names and bad YAML', () => {
    expect(() => hostsFromInventory('hosts:\n  - { host: a, colour: red }', { where })).toThrow(/hosts\.0/);
    expect(() => hostsFromInventory('hosts:\n  - { host: a, port: 0 }', { where })).toThrow(/port/);
    expect(() =>
      hostsFromInventory('hosts:\n  - { name: x, host: a }\n  - { name: x, host: b }', { where }),
    ).toThrow(/used twice/);
    expect(() => hostsFromInventory('hosts: [', { where })).toThrow(/not valid YAML/);
    expect(() => hostsFromInventory('hosts: []', { where })).toThrow(/hosts/);
  });
});

describe('loadHostsFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbench-hosts-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads env files and YAML inventories, resolving relative keys against the file', async () => {
    await writeFile(
      join(dir, 'hosts.env'),
      'MYSTICETI_NODE0_HOST=1.2.3.4\nMYSTICETI_NODE0_SSH_KEY=id_test\n',
    );
    await writeFile(join(dir, 'inv.yml'), 'hosts:\n  - host: 5.6.7.8\n');
    const env = await loadHostsFile(join(dir, 'hosts.env'));
    expect(env.hosts[0]).toMatchObject({ address: '1.2.3.4', keyPath: join(dir, 'id_test') });
    const yaml = await loadHostsFile(join(dir, 'inv.yml'));
    expect(yaml.hosts[0]?.address).toBe('5.6.7.8');
    await expect(loadHostsFile(join(dir, 'missing.env'))).rejects.toThrow(/cannot read hosts file/);
  });

  it('accepts hosts.example.env', async () => {
    const config = await loadHostsFile('hosts.example.env');
    expect(config.hosts.length).toBeGreaterThanOrEqual(4);
  });
});
