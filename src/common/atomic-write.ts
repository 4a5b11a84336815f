import { mkdir, rename, writeFile, open } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeDirs } from './make-dirs.js';

/** Writes a file atomically: a temp file in the same folder, fsync, then rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await makeDirs(dirname(path));
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, data);
  const handle = await open(tmp, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/**
 * Creates a new, never-before-used folder under `parent` named `<prefix><stamp>`,
 * adding `-2`, `-3`… when the name is taken, so no run overwrites an earlier one.
 */
export async function createUniqueDir(parent: string, name: string): Promise<string> {
  await makeDirs(parent);
  for (let attempt = 1; attempt < 1000; attempt++) {
    const candidate = join(parent, attempt === 1 ? name : `${name}-${attempt}`);
    try {
      await mkdir(candidate);
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new Error(`could not create a unique folder under ${parent}`);
}
