import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostsFromInventory, type RemoteHost } from '../../../src/testbed/remote/hosts.js';
import { JumpPool } from '../../../src/testbed/remote/jump.js';
import {
  BuiltinSshConfig,
  expandTokens,
  hasOpenSshClient,
  matchPatternList,
  OpenSshConfig,
  type SshConfigResolver,
} from '../../../src/testbed/remote/ssh-config.js';
import { jumpRoute, parseJumpSpec, resolveHosts } from '../../../src/testbed/remote/ssh-config-hosts.js';
import { SshSession } from '../../../src/testbed/remote/ssh-session.js';

let dir: string;
let config: string;
const sshPresent = await hasOpenSshClient();

const CONFIG = `# test config
Host web-* !web-9
  HostName 10.1.0.%h
  User deploy
  IdentityFile ~/.ssh/%h_key
  ProxyJump bastion

Host web-1
  # too late: HostName and User were obtained above, IdentityFile accumulates
  HostName 10.9.9.9
  User other
  IdentityFile "/keys/second key"

Host db?
  Port=2201
  ProxyJump admin@gate:2022,bastion

Host bastion
  HostName 192.0.2.10
  User jumper
  Port 2222

Host gate
  HostName 192.0.2.20
  ProxyJump none

Host loop-a
  ProxyJump loop-b
Host loop-b
  ProxyJump loop-a

# an Include inside a Host block is conditional: Match all ends loop-b's block first
Match all
Include extra/*.conf

Match host 10.1.0.web-2
  Port 2202

Host *
  User fallback
  Port 2200
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-ssh-config-test-'));
  config = join(dir, 'config');
  await writeFile(config, CONFIG);
  await mkdir(join(dir, 'extra'));
  await writeFile(join(dir, 'extra', 'a.conf'), 'Host included\n  HostName 10.5.5.5\n  Port 2300\n');
  // Include resolves relative paths against ~/.ssh for a user config: point both resolvers at dir
  await writeFile(join(dir, 'config'), CONFIG.replace('Include extra/*.conf', `Include ${dir}/extra/*.conf`));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

const NAMES = ['web-1', 'web-2', 'web-9', 'db1', 'db12', 'bastion', 'gate', 'included', 'plain.example.org'];

describe('ssh config resolution', () => {
  it('matches patterns as OpenSSH does: wildcards, negation', () => {
    expect(matchPatternList('web-1', ['web-*', '!web-9'])).toBe(true);
    expect(matchPatternList('web-9', ['web-*', '!web-9'])).toBe(false);
    expect(matchPatternList('db1', ['db?'])).toBe(true);
    expect(matchPatternList('db12', ['db?'])).toBe(false);
    expect(matchPatternList('x', ['!x'])).toBe(false);
  });

  it('the built-in resolver: first obtained value wins, IdentityFile accumulates, ProxyJump chains', async () => {
    const builtin = new BuiltinSshConfig(config, dir);
    expect(await builtin.resolve('web-1')).toEqual({
      hostName: '10.1.0.web-1',
      user: 'deploy',
      port: 2200,
      identityFiles: ['~/.ssh/%h_key', '/keys/second key'],
      proxyJump: ['bastion'],
    });
    expect(await builtin.resolve('db1')).toMatchObject({
      port: 2201,
      proxyJump: ['admin@gate:2022', 'bastion'],
    });
    expect(await builtin.resolve('gate')).toEqual({ hostName: '192.0.2.20', user: 'fallback', port: 2200 });
    expect(await builtin.resolve('included')).toMatchObject({ hostName: '10.5.5.5', port: 2300 });
    expect(await builtin.resolve('web-2')).toMatchObject({ port: 2202 });
  });

  it.skipIf(!sshPresent)('agrees with ssh -G on every name', async () => {
    const builtin = new BuiltinSshConfig(config, dir);
    const openssh = new OpenSshConfig(config);
    try {
      for (const name of NAMES) {
        const [ours, theirs] = await Promise.all([builtin.resolve(name), openssh.resolve(name)]);
        expect({ name, ...ours }).toEqual({ name, ...theirs });
      }
    } finally {
      await openssh.close();
    }
  });

  const bad: [string, string, RegExp][] = [
    ['unknown keyword', 'Host a\n  Port 22\n  Bogus\n', /line 3: .*(bogus|argument)/i],
    ['bad port', 'Host a\n  Port abc\n', /line 2: bad port 'abc'/i],
    ['unterminated quote', 'Host a\n  IdentityFile "/x\n', /line 2: .*quote/i],
  ];
  for (const [what, text, pattern] of bad) {
    it(`names the file and line of a bad config (${what}), with both resolvers`, async () => {
      const path = join(dir, `bad-${what.replace(/ /g, '-')}`);
      await writeFile(path, text);
      const resolvers: SshConfigResolver[] = [new BuiltinSshConfig(path, dir)];
      if (sshPresent) resolvers.push(new OpenSshConfig(path));
      for (const resolver of resolvers) {
        const error = await resolver.resolve('a').then(
          () => undefined,
          (caught: Error) => caught,
        );
        expect(error?.message, resolver.kind).toMatch(pattern);
        expect(error?.message, resolver.kind).toContain(path);
        await resolver.close();
      }
    });
  }

  it('expands ~ and %h %r %p %n %% in IdentityFile', () => {
    expect(
      expandTokens('~/.ssh/%n-%h-%r-%p-%%', {
        alias: 'web',
        hostName: '10.0.0.1',
        user: 'me',
        port: 22,
        homeDir: '/home/t',
      }),
    ).toBe('/home/t/.ssh/web-10.0.0.1-me-22-%');
  });

  it('parses jump hosts like ProxyJump', () => {
    expect(parseJumpSpec('bastion')).toEqual({ host: 'bastion' });
    expect(parseJumpSpec('admin@10.0.0.1:2222')).toEqual({ user: 'admin', host: '10.0.0.1', port: 2222 });
    expect(parseJumpSpec('[fd00::1]:22')).toEqual({ host: 'fd00::1', port: 22 });
    expect(() => parseJumpSpec('a b')).toThrow(/not \[user@\]host\[:port\]/);
    expect(() => parseJumpSpec('a:99999')).toThrow(/not \[user@\]host/);
  });
});

const inventory = (body: string) => hostsFromInventory(body, { where: 'inv.yaml', homeDir: '/home/t' });

describe('resolveHosts', () => {
  for (const prefer of ['built-in', 'ssh -G'] as const) {
    it.skipIf(prefer === 'ssh -G' && !sshPresent)(`${prefer}: aliases, precedence and chains`, async () => {
      const hosts = await resolveHosts(
        inventory(`hosts:
  - { name: w1, host: web-1 }
  - { name: w1x, host: web-1, user: root, port: 22 }
  - { name: d1, host: db1 }
  - { name: p, host: plain.example.org, jump: none }
`),
        { sshConfig: config, prefer, homeDir: dir },
      );
      const [w1, w1x, d1, p] = hosts.hosts as RemoteHost[];
      expect(w1).toMatchObject({ alias: 'web-1', address: '10.1.0.web-1', user: 'deploy', port: 2200 });
      expect(w1!.jumps?.map((hop) => [hop.address, hop.user, hop.port])).toEqual([
        ['192.0.2.10', 'jumper', 2222],
      ]);
      // what the inventory sets wins over the config
      expect(w1x).toMatchObject({ address: '10.1.0.web-1', user: 'root', port: 22 });
      // admin@gate:2022 then bastion; gate's own ProxyJump is none
      expect(d1!.jumps?.map((hop) => `${hop.user}@${hop.address}:${hop.port}`)).toEqual([
        'admin@192.0.2.20:2022',
        'jumper@192.0.2.10:2222',
      ]);
      expect(p).toMatchObject({ address: 'plain.example.org', user: 'fallback', port: 2200 });
      expect(p!.jumps).toBeUndefined();
    });
  }

  it('inventory jump: per host, per group and in defaults; a group must exist', async () => {
    const hosts = await resolveHosts(
      inventory(`ssh_config: none
defaults: { jump: "ops@edge:2200", user: root }
groups:
  east: { jump: "a@east-gw,b@inner" }
hosts:
  - { host: 10.0.0.1 }
  - { host: 10.0.0.2, group: east }
  - { host: 10.0.0.3, jump: none }
`),
    );
    expect(hosts.hosts.map((h) => h.jumps?.map((j) => `${j.user}@${j.address}:${j.port}`))).toEqual([
      ['ops@edge:2200'],
      ['a@east-gw:22', 'b@inner:22'],
      undefined,
    ]);
    expect(() => inventory('hosts:\n  - { host: a, group: nope }')).toThrow(
      /group "nope", which groups: does not define/,
    );
  });

  it('refuses a ProxyJump loop, naming it', async () => {
    await expect(
      resolveHosts(inventory('hosts:\n  - { host: loop-a }'), {
        sshConfig: config,
        prefer: 'built-in',
        homeDir: dir,
      }),
    ).rejects.toThrow(/ProxyJump loop loop-a → loop-b → loop-a/);
  });

  for (const prefer of ['built-in', 'ssh -G'] as const) {
    it.skipIf(prefer === 'ssh -G' && !sshPresent)(
      `${prefer}: with no file named, ~/.ssh/config then the system-wide file, as ssh reads them`,
      async () => {
        const home = await mkdtemp(join(tmpdir(), 'meshbench-ssh-home-'));
        try {
          await mkdir(join(home, '.ssh'));
          await writeFile(join(home, '.ssh', 'config'), 'Host sys-a\n  User mine\n');
          const system = join(home, 'system_config');
          // the user's file ends inside a Host block: the system file is still read from its top
          await writeFile(system, 'Host sys-*\n  User theirs\n  Port 2400\n  ProxyJump gw.example\n');
          const inv = inventory('hosts:\n  - { host: sys-a }\n  - { host: sys-b }');
          const env = { HOME: home };
          const both = await resolveHosts(inv, { prefer, homeDir: home, env, systemConfig: system });
          expect(both.sshConfigPaths).toEqual([join(home, '.ssh', 'config'), system]);
          expect(both.hosts.map((h) => [h.user, h.port, jumpRoute(h)])).toEqual([
            ['mine', 2400, ['mine@gw.example:22']],
            ['theirs', 2400, ['theirs@gw.example:22']],
          ]);
          // a file named (like ssh -F) is read alone
          const named = await resolveHosts(inv, {
            prefer,
            homeDir: home,
            env,
            systemConfig: system,
            sshConfig: join(home, '.ssh', 'config'),
          });
          expect(named.sshConfigPaths).toEqual([join(home, '.ssh', 'config')]);
          expect(named.hosts.map((h) => [h.user, h.port, jumpRoute(h)])).toEqual([
            ['mine', 22, undefined],
            [expect.any(String), 22, undefined],
          ]);
        } finally {
          await rm(home, { recursive: true, force: true });
        }
      },
    );
  }

  it('names an unreadable ssh config', async () => {
    await expect(
      resolveHosts(inventory('hosts:\n  - { host: a }'), { sshConfig: join(dir, 'missing') }),
    ).rejects.toThrow(/cannot read ssh config .*missing \(ENOENT\)/);
  });
});

describe('JumpPool', () => {
  it('shares one jump-host connection among many hosts, up to the limit per connection', async () => {
    const bastion: RemoteHost = {
      name: 'jump host b',
      address: '192.0.2.1',
      port: 22,
      user: 'u',
      keyPath: '/k',
      keyPathExplicit: true,
      labels: {},
    };
    const sessions: SshSession[] = [];
    const pool = new JumpPool(async (hop) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      // a real, unconnected client: the pool only counts, shares and closes sessions
      const session = new SshSession(hop, new ssh2.Client());
      sessions.push(session);
      return session;
    }, 64);
    const leases = await Promise.all(Array.from({ length: 200 }, () => pool.lease([bastion])));
    expect(sessions).toHaveLength(4); // ceil(200 / 64), not 200
    expect(new Set(leases.map((lease) => lease.session)).size).toBe(4);
    for (const lease of leases.slice(0, 64)) lease.release();
    expect(sessions.filter((s) => s.isClosed)).toHaveLength(1);
    for (const lease of leases.slice(64)) lease.release();
    expect(sessions.every((s) => s.isClosed)).toBe(true);
    expect(pool.openConnections).toBe(0);
  });
});
