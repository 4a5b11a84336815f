/**
 * `remote-network --engine swarm` on sandbox hosts, where it must stop: a host already in another
 * swarm and a manager the others cannot reach are refused with one line each and leave no swarm
 * behind; Ctrl-C during the stack deploy exits 130 and leaves nothing. (remote-swarm.test.ts: a
 * run on a swarm meshbench forms, with a crash, and `--down` on an adopted swarm; these three
 * left it to keep each file well under the 4-minute budget: it took 247 s in CI #90, a slow day.)
 */
import { describe, expect, it } from 'vitest';
import { docker } from '../../src/testbed/sandbox/sandbox.js';
import { errorLines, hostsFile, innerDocker, leftovers, runCliModule } from './sandbox-fixture.js';
import { runSwarm, swarmState, swarmSuite } from './remote-swarm-fixture.js';

const suite = swarmSuite();

/** `remote-network --engine swarm` on the hosts of `file`, which must refuse: its one error line (no stack trace). */
async function refusal(file: string): Promise<string> {
  const run = await runCliModule('remote-network', [
    '--engine',
    'swarm',
    '--hosts-file',
    file,
    '--num-transactions',
    '10',
    '--cleanup',
  ]);
  expect(run.exitCode).not.toBe(0);
  const lines = errorLines(run);
  expect(lines, run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

describe('remote-network --engine swarm: refusals and Ctrl-C on sandbox hosts', () => {
  it('refuses a host already in another swarm, names it and how to leave, and leaves the others untouched', async () => {
    const file = await hostsFile(suite.sandbox, 'swarm-four', suite.hosts);
    const other = suite.hosts[3]!;
    await innerDocker(other, ['swarm', 'init', '--advertise-addr', other.address]);
    try {
      const line = await refusal(file);
      expect(line).toContain(`${other.name} (`);
      expect(line).toContain('already in another swarm');
      expect(line).toContain('docker swarm leave --force');
      for (const host of suite.hosts.slice(0, 3)) expect(await swarmState(host)).toBe('inactive');
      expect(await swarmState(other)).toBe('active');
    } finally {
      await innerDocker(other, ['swarm', 'leave', '--force']);
    }
  }, 600_000);

  it('a manager the others cannot reach: one line naming both, and no swarm left behind', async () => {
    const pair = suite.hosts.slice(0, 2);
    const file = await hostsFile(suite.sandbox, 'swarm-two', pair);
    const manager = pair[0]!;
    const block = ['INPUT', '-p', 'tcp', '--dport', '2377', '-j', 'REJECT', '--reject-with', 'tcp-reset'];
    const iptables = (action: '-I' | '-D') =>
      docker(['exec', manager.container, 'iptables', action, ...block]).then((result) => {
        if (result.exitCode !== 0) throw new Error(result.stderr);
      });
    await iptables('-I');
    try {
      const line = await refusal(file);
      expect(line).toContain(`${pair[1]!.name} (`);
      expect(line).toContain(`its manager ${manager.address}:2377 is unreachable`);
      expect(line).toContain('TCP 2377');
    } finally {
      await iptables('-D');
    }
    for (const host of pair) expect(await swarmState(host)).toBe('inactive');
  }, 300_000);

  it('Ctrl-C while the stack deploys exits 130 and leaves no stack, volume or swarm', async () => {
    const pair = suite.hosts.slice(0, 2);
    const file = await hostsFile(suite.sandbox, 'swarm-interrupt', pair);
    let interrupted = false;
    const run = await runSwarm(
      ['--engine', 'swarm', '--hosts-file', file, '--num-transactions', '100', '--cleanup'],
      (output, child) => {
        // the last worker joined: the manager is deploying the stack now
        if (interrupted || !/joined as a worker/.test(output)) return;
        interrupted = true;
        child.kill('SIGINT');
      },
    );
    expect(interrupted, run.stderr).toBe(true);
    expect(run.exitCode, run.stderr).toBe(130);
    expect(errorLines(run), run.stderr).toEqual([]);
    // the deploy was cut off mid-way before: the stack went on, and its node's volume outlived the swarm
    for (const host of pair) {
      expect(await swarmState(host)).toBe('inactive');
      expect(await leftovers(host), run.stderr).toEqual({ containers: [], volumes: [] });
    }
  }, 300_000);
});
