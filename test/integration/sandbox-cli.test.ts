/**
 * `sandbox up` / `sandbox down` through the CLI: a host with sshd and Docker,
 * a hosts.env that remote-network accepts, and nothing left after down.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHostsFile } from '../../src/testbed/remote/hosts.js';
import { docker, readSandboxState } from '../../src/testbed/sandbox/sandbox.js';
import { runCliModule } from './sandbox-fixture.js';

/**
 * The sandbox's folder is a folder of its own in here, removed after the file's tests: after the
 * test's own finally, where `sandbox down` reads the state file in it.
 */
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshbench-sandbox-'));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('sandbox CLI', () => {
  it('up writes a usable hosts.env and prints its path; down removes every host, volume and network', async () => {
    const dir = await mkdtemp(join(root, 'sandbox-'));
    const up = await runCliModule('sandbox', ['up', '--hosts', '2', '--dir', dir]);
    try {
      expect(up.exitCode).toBe(0);
      expect(up.stdout.trim()).toBe(join(dir, 'hosts.env'));
      const config = await loadHostsFile(up.stdout.trim());
      expect(config.hosts).toHaveLength(2);
      expect(config.knownHostsPath).toBe(join(dir, 'known_hosts'));
      const status = await runCliModule('remote-network', [
        '--hosts-file',
        up.stdout.trim(),
        '--status',
        '--strict-host-key-checking',
        'yes',
      ]);
      expect(status.stdout).toContain('no remote-network containers');
      expect(status.exitCode).toBe(0);
      const again = await runCliModule('sandbox', ['up', '--hosts', '1', '--dir', dir]);
      expect(again.exitCode).not.toBe(0);
      expect(again.stderr).toMatch(/already up .*run `npm run sandbox -- down` first/);
    } finally {
      const state = await readSandboxState(dir);
      const down = await runCliModule('sandbox', ['down', '--dir', dir]);
      expect(down.exitCode).toBe(0);
      if (state) {
        for (const kind of ['ps', 'volume', 'network'] as const) {
          const args = kind === 'ps' ? ['ps', '-aq'] : [kind, 'ls', '-q'];
          const left = await docker([...args, '--filter', `label=meshbench.run=${state.runId}`]);
          expect(left.stdout.trim()).toBe('');
        }
      }
    }
  });
});
