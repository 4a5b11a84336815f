/**
 * The image-archive cache is shared by every run from one folder: pruning keeps the newest
 * archives nobody leases and every archive a live process leases, so two runs at once never
 * remove each other's archive mid-shipment; leases and half-written archives of processes
 * that are gone are removed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBoundMs, pruneArchives } from '../../../src/testbed/remote/image-transfer.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A pid no process has now (a child that ran and exited). */
function deadPid(): number {
  const pid = spawnSync('true').pid;
  if (pid === undefined) throw new Error('could not run true');
  return pid;
}

describe('pruning the image-archive cache', () => {
  it('keeps the two newest unleased archives and every archive a live process leases', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshbench-image-cache-'));
    dirs.push(dir);
    const archive = (n: number) => `image-${String(n).padStart(32, '0')}-0000000${n}.tar.gz`;
    // archive 1 is the oldest; 5 the newest
    for (let n = 1; n <= 5; n += 1) {
      const path = join(dir, archive(n));
      await writeFile(path, 'x');
      const at = new Date(Date.UTC(2026, 0, 1, 0, n));
      await utimes(path, at, at);
    }
    const dead = deadPid();
    await writeFile(join(dir, `${archive(1)}.lease-${process.pid}-abcd1234`), ''); // this process: alive
    await writeFile(join(dir, `${archive(2)}.lease-${dead}-abcd1234`), ''); // gone: counts for nothing
    await writeFile(join(dir, `${archive(6)}.${dead}.tmp`), 'half'); // a killed docker save
    await writeFile(join(dir, `${archive(7)}.${process.pid}.tmp`), 'half'); // under way here
    await writeFile(join(dir, 'unrelated.txt'), '');

    await pruneArchives(dir, 2);

    expect((await readdir(dir)).sort()).toEqual(
      [
        archive(1),
        `${archive(1)}.lease-${process.pid}-abcd1234`,
        archive(4),
        archive(5),
        `${archive(7)}.${process.pid}.tmp`,
        'unrelated.txt',
      ].sort(),
    );
  });
});

describe("docker load's bound once it has read the archive", () => {
  it("is the engine's silence bound, or the unpacked size at 5 MB/s when longer", () => {
    expect(loadBoundMs(0)).toBe(120_000);
    expect(loadBoundMs(300e6)).toBe(120_000);
    expect(loadBoundMs(2e9)).toBe(400_000);
  });
});
