/**
 * SSH fan-out through the real code path (issue 19): 8 sshd-only sandbox hosts of this file's
 * own, connected with connectAll under a limit smaller than the host count (so hosts queue),
 * checked by RemoteHostAgent (no Docker there: DOCKER_UNAVAILABLE), a command on every host,
 * then closed. Also checks the sandbox's pre-made ed25519 host keys: known_hosts is written
 * from them with no `docker exec`, and strict host key checking accepts every host.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, sandboxDown, sandboxUp, type SandboxState } from '../../src/testbed/sandbox/sandbox.js';
import { loadHostsFile } from '../../src/testbed/remote/hosts.js';
import { closeAll, connectAll } from '../../src/testbed/remote/connect.js';
import { mapSettled } from '../../src/testbed/remote/concurrency.js';
import { isMeshbenchError } from '../../src/common/errors.js';

const HOSTS = 8;
let dir: string;
let sandbox: SandboxState;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-fanout-'));
  sandbox = await sandboxUp({ hosts: HOSTS, withoutDocker: HOSTS, dir });
}, 600_000);

afterAll(async () => {
  if (!dir) return;
  const runId = sandbox?.runId;
  try {
    await sandboxDown({ dir });
  } finally {
    // only once sandbox down has read its state file (in dir); its hosts carry the run's label
    await rm(dir, { recursive: true, force: true });
  }
  if (runId) {
    const left = await docker(['ps', '-aq', '--filter', `label=meshbench.run=${runId}`]);
    expect(left.stdout.trim()).toBe('');
  }
}, 300_000);

describe('SSH fan-out to sshd-only hosts', () => {
  it('connects to 8 hosts under a limit of 3, runs the checks and a command on each, and closes', async () => {
    const knownHosts = (await readFile(sandbox.knownHostsPath, 'utf8')).trim().split('\n');
    expect(knownHosts).toHaveLength(HOSTS);
    expect(knownHosts.every((line) => / ssh-ed25519 AAAA/.test(line))).toBe(true);

    const hosts = { ...(await loadHostsFile(sandbox.hostsEnvPath)), sshTimeoutMs: 120_000 };
    expect(hosts.hosts).toHaveLength(HOSTS);
    let inFlight = 0;
    let mostInFlight = 0;
    const agents = await connectAll(hosts, {
      strictHostKeyChecking: 'yes',
      knownHostsPath: sandbox.knownHostsPath,
      concurrency: 3,
      onProgress: () => undefined,
    });
    try {
      expect(agents.map((agent) => agent.host.name)).toEqual(hosts.hosts.map((host) => host.name));

      const checks = await mapSettled(agents, 3, (agent) => agent.ensureDockerQuiet());
      for (const result of checks) {
        expect(result.status).toBe('rejected');
        const reason = (result as PromiseRejectedResult).reason;
        expect(isMeshbenchError(reason) && reason.code).toBe('DOCKER_UNAVAILABLE');
      }

      const names = await mapSettled(agents, 3, async (agent) => {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          return (await agent.session.run(['uname', '-n'])).trim();
        } finally {
          inFlight--;
        }
      });
      // each connection reached its own host (the sandbox names them sandbox-host<i>)
      expect(names.map((r) => (r as PromiseFulfilledResult<string>).value)).toEqual(
        sandbox.hosts.map((host) => `sandbox-${host.name}`),
      );
      expect(mostInFlight).toBeLessThanOrEqual(3);
    } finally {
      closeAll(agents);
    }
    expect(agents.every((agent) => agent.session.isClosed)).toBe(true);
  }, 300_000);
});
