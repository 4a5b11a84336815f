/**
 * makeDirs: `mkdir -p` on the real file system, and where Node's own recursive mkdir spins for
 * ever (a child of procfs answers ENOENT although /proc exists) it fails at once.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeDirs } from '../../../src/common/make-dirs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-make-dirs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('makeDirs', () => {
  it('makes every missing folder of a path, with the mode given, and takes one that exists', async () => {
    const deep = join(dir, 'a', 'b', 'c');
    await makeDirs(deep, 0o700);
    expect(statSync(deep).isDirectory()).toBe(true);
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o700);
    await makeDirs(deep);
    await makeDirs(dir);
  });

  it('refuses a path where a file is, or under one, as mkdir -p does', async () => {
    await writeFile(join(dir, 'file'), '');
    await expect(makeDirs(join(dir, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirs(join(dir, 'file', 'x'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it("fails at once under a dangling link and under /proc (where Node's recursive mkdir never returns)", async () => {
    await symlink(join(dir, 'nowhere'), join(dir, 'dangling'));
    // the link is there (EEXIST) and is no folder
    await expect(makeDirs(join(dir, 'dangling', 'out'))).rejects.toMatchObject({ code: 'EEXIST' });
    if (existsSync('/proc/self')) {
      await expect(makeDirs('/proc/meshbench-not-here/out')).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });
});
