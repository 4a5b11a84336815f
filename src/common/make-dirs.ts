/**
 * `mkdir -p` that cannot loop: Node's `mkdir(path, { recursive: true })` spins for ever
 * (the promise never settles; the sync call holds the thread at 100 % CPU) where mkdir of
 * a child answers ENOENT although its parent exists, as procfs does (`--output /proc/x`):
 * it takes ENOENT for a missing parent, makes the parent (EEXIST), and tries again.
 * Here a child is tried at most twice: before and after its parents are made.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function makeDirs(path: string, mode?: number): Promise<void> {
  const options = mode === undefined ? {} : { mode };
  try {
    await mkdir(path, options);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return existingDir(path, error);
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw error;
  }
  await makeDirs(dirname(path), mode);
  try {
    await mkdir(path, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return existingDir(path, error);
    throw error;
  }
}

/** What is at `path` must be a folder (a file there: the EEXIST stands, as mkdir -p says). */
async function existingDir(path: string, error: unknown): Promise<void> {
  const found = await stat(path).catch(() => undefined);
  if (!found?.isDirectory()) throw error;
}
