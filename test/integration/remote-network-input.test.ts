/**
 * remote-network's bad input against real sshd and real Docker engines in sandbox hosts: a
 * wrong or missing key, an encrypted key and an ssh-agent, an unreachable host, a changed host
 * key in strict mode, a full disk while loading the image. Each is one line naming the host and
 * the fix, and leaves the other hosts clean. (A run, Ctrl-C, installing Docker:
 * remote-network.test.ts.)
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  docker,
  sandboxDown,
  sandboxUp,
  writeKnownHosts,
  type SandboxState,
} from '../../src/testbed/sandbox/sandbox.js';
import { errorLines, hostsFile, leftovers, runCliModule, useSandbox } from './sandbox-fixture.js';

let sandbox: SandboxState;
/** The tests' folders (keys, the small sandbox's), each a folder of its own in here; removed after the file's tests. */
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshbench-remote-input-'));
  sandbox = await useSandbox();
});

afterAll(async () => {
  // after every test: the full-disk test has taken its sandbox down (its state file is in here) in its finally
  if (root) await rm(root, { recursive: true, force: true });
});

describe('bad input gives one line naming the host and the fix, and leaves the other hosts clean', () => {
  const expectOneLine = (run: Awaited<ReturnType<typeof runCliModule>>, pattern: RegExp) => {
    expect(run.exitCode).not.toBe(0);
    const errors = errorLines(run);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(pattern);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  };

  it('a wrong key', async () => {
    const dir = await mkdtemp(join(root, 'key-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'wrong')]);
    const hosts = sandbox.hosts.slice(0, 2);
    const run = await runCliModule('remote-network', [
      '--hosts-file',
      await hostsFile(sandbox, 'wrong-key', hosts, { keyPath: join(dir, 'wrong') }),
      '--num-transactions',
      '5',
    ]);
    expectOneLine(
      run,
      /host[01] \(root@[\d.]+:22\): user root was refused with key .*wrong; check the host's SSH_USER and SSH_KEY/,
    );
    for (const host of hosts) expect((await leftovers(host)).containers).toEqual([]);
  });

  it('a missing key file', async () => {
    const run = await runCliModule('remote-network', [
      '--hosts-file',
      await hostsFile(sandbox, 'no-key', sandbox.hosts.slice(0, 1), { keyPath: '/nonexistent/id_rsa' }),
      '--num-transactions',
      '5',
    ]);
    expectOneLine(
      run,
      /host0 .*SSH key \/nonexistent\/id_rsa does not exist; point the host's SSH_KEY at a readable private key/,
    );
  });

  it('an encrypted key needs MESHBENCH_SSH_KEY_PASSPHRASE; an ssh-agent works without a key file', async () => {
    const dir = await mkdtemp(join(root, 'key-'));
    const key = join(dir, 'locked');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'open sesame', '-f', key]);
    // the sandbox hosts accept every key listed in their (bind-mounted) authorized keys file
    await appendFile(`${sandbox.keyPath}.pub`, await readFile(`${key}.pub`, 'utf8'));
    const file = await hostsFile(sandbox, 'locked', sandbox.hosts.slice(0, 1), { keyPath: key });
    const locked = await runCliModule('remote-network', ['--hosts-file', file, '--status']);
    expectOneLine(locked, /host0 .*SSH key .*locked is encrypted; set MESHBENCH_SSH_KEY_PASSPHRASE/);
    const wrong = await runCliModule('remote-network', ['--hosts-file', file, '--status'], {
      MESHBENCH_SSH_KEY_PASSPHRASE: 'nope',
    });
    expectOneLine(wrong, /did not open with the given passphrase/);
    const opened = await runCliModule('remote-network', ['--hosts-file', file, '--status'], {
      MESHBENCH_SSH_KEY_PASSPHRASE: 'open sesame',
    });
    expect(opened.exitCode, opened.stderr).toBe(0);

    const socket = join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
      execFileSync('ssh-add', ['-q', sandbox.keyPath], {
        env: { ...process.env, SSH_AUTH_SOCK: socket },
        stdio: 'ignore',
      });
      const viaAgent = await runCliModule(
        'remote-network',
        [
          '--hosts-file',
          await hostsFile(sandbox, 'agent', sandbox.hosts.slice(0, 1), { keyPath: null }),
          '--status',
        ],
        { SSH_AUTH_SOCK: socket, HOME: dir },
      );
      expect(viaAgent.exitCode, viaAgent.stderr).toBe(0);
    } finally {
      agent.kill();
    }
  });

  it('an unreachable host, reported within SSH_TIMEOUT, while the reachable hosts stay clean', async () => {
    const hosts = sandbox.hosts.slice(0, 2);
    const file = await hostsFile(sandbox, 'unreachable', hosts, {
      sshTimeoutSeconds: 3,
      addresses: [hosts[0]!.address, sandbox.unusedAddress],
    });
    const started = Date.now();
    const run = await runCliModule('remote-network', ['--hosts-file', file, '--num-transactions', '5']);
    const elapsedMs = Date.now() - started;
    expectOneLine(
      run,
      new RegExp(
        `host1 \\(root@${sandbox.unusedAddress.replaceAll('.', '\\.')}:22\\) is unreachable: .*within SSH_TIMEOUT=3s; check the address`,
      ),
    );
    // the issue asks for the report within SSH_TIMEOUT: 3 s plus process start-up
    expect(elapsedMs).toBeLessThan(3_000 + 10_000);
    expect((await leftovers(hosts[0]!)).containers).toEqual([]);
  });

  it('a changed host key in strict mode', async () => {
    const hosts = sandbox.hosts.slice(0, 3);
    const changed = hosts[2]!;
    // A real change: new host keys on that host, sshd re-reads them on SIGHUP.
    await docker([
      'exec',
      changed.container,
      'sh',
      '-c',
      'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && kill -HUP 1',
    ]);
    // until sshd answers with the new key (it re-executes itself on SIGHUP)
    const serving = await docker([
      'exec',
      changed.container,
      'sh',
      '-c',
      'key=$(cut -d" " -f2 /etc/ssh/ssh_host_ed25519_key.pub); for i in $(seq 300); do ssh-keyscan -T 2 -t ed25519 127.0.0.1 2>/dev/null | grep -qF "$key" && exit 0; sleep 0.1; done; exit 1',
    ]);
    expect(serving.exitCode, `sshd on ${changed.name} did not serve its new key: ${serving.stderr}`).toBe(0);
    const run = await runCliModule('remote-network', [
      '--hosts-file',
      await hostsFile(sandbox, 'changed', hosts),
      '--strict-host-key-checking',
      'yes',
      '--num-transactions',
      '5',
    ]);
    expectOneLine(
      run,
      /host2 \(root@[\d.]+:22\): host key differs from the one in .*known_hosts.*; if the change is expected, run ssh-keygen -R/,
    );
    for (const host of hosts) expect((await leftovers(host)).containers).toEqual([]);
    // accept-new refuses a changed key too; `no` accepts it
    const lax = await runCliModule('remote-network', [
      '--hosts-file',
      await hostsFile(sandbox, 'changed-one', [changed]),
      '--strict-host-key-checking',
      'no',
      '--status',
    ]);
    expect(lax.exitCode).toBe(0);
    // the shared sandbox trusts the new key from now on
    await writeKnownHosts(sandbox.knownHostsPath, sandbox.hosts);
  });
});

describe('a full disk while loading the image', () => {
  it('gives one line naming the host and how much space to free', async () => {
    const dir = await mkdtemp(join(root, 'small-disk-'));
    // A Docker data root of 60 % of the image's unpacked size cannot hold it (the lean refnode
    // is ~92 MB, the Debian one 273 MB); the engine itself starts in a few MB.
    const imageBytes = Number(
      (await docker(['image', 'inspect', '--format', '{{.Size}}', 'meshbench/refnode:latest'])).stdout.trim(),
    );
    const dockerDiskMb = Math.max(40, Math.floor((imageBytes / 1e6) * 0.6));
    const small = await sandboxUp({ hosts: 1, dir, dockerDiskMb });
    try {
      const run = await runCliModule('remote-network', [
        '--hosts-file',
        small.hostsEnvPath,
        '--num-transactions',
        '5',
      ]);
      expect(run.exitCode).toBe(1);
      const errors = errorLines(run);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(
        /host0 \(root@[\d.]+:22\): disk full while loading image .*; free at least \d+ MB under Docker's data root on that host/,
      );
      const containers = await docker(['exec', small.hosts[0]!.container, 'docker', 'ps', '-aq']);
      expect(containers.stdout.trim()).toBe('');
    } finally {
      await sandboxDown({ dir });
    }
  });
});
