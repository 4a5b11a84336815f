/**
 * `local-network --down` first stops a compose up that a killed meshbench left running (it runs
 * in its own process group, so a SIGKILL of its parent does not reach it): found in /proc by its
 * `--project-name`, killed with its group. Without a project, only orphans (parent gone) of a
 * meshbench-… project are taken; a compose up whose meshbench is alive is left alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { stopOrphanComposeUps } from '../../../../src/testbed/local/compose-cli.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** A process whose command line reads like compose up of `project`, in its own process group. */
async function fakeComposeUp(project: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['-e', 'setInterval(() => {}, 1000)', '--', '--project-name', project, 'up', '--detach'],
    { detached: true, stdio: 'ignore' },
  );
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<NodeJS.Signals | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode);
    else child.once('exit', (_code, signal) => resolve(signal));
  });

describe.skipIf(!existsSync('/proc/self/cmdline'))('stopping compose ups a killed meshbench left', () => {
  it("kills the named project's compose up with its process group, and nothing else", async () => {
    const suffix = `${process.pid}-${Date.now()}`;
    const mine = await fakeComposeUp(`meshbench-orphan-${suffix}`);
    const other = await fakeComposeUp(`meshbench-other-${suffix}`);
    expect(await stopOrphanComposeUps(`meshbench-orphan-${suffix}`)).toBe(1);
    expect(await exited(mine)).toBe('SIGKILL');
    expect(other.exitCode).toBeNull();
    expect(other.signalCode).toBeNull();
  });

  it('without a project, leaves a compose up whose parent is alive', async () => {
    const live = await fakeComposeUp(`meshbench-live-${process.pid}-${Date.now()}`);
    await stopOrphanComposeUps();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(live.exitCode).toBeNull();
    expect(live.signalCode).toBeNull();
  });
});
