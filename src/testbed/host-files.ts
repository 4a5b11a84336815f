/**
 * This machine as a `HostHandle` (testbed.ts): its files (/proc/stat, /proc/meminfo…) read
 * in this process every interval. The local testbed's nodes run here; a remote testbed's
 * hosts read theirs over SSH (remote/host-files.ts), with the same output.
 */
import { readFile } from 'node:fs/promises';
import type { HostHandle, ReadingStream } from './testbed.js';

export class LocalHost implements HostHandle {
  readonly name = 'local';

  async watchFiles(
    paths: readonly string[],
    intervalMs: number,
    onRead: (files: Readonly<Record<string, string>>) => void,
  ): Promise<ReadingStream> {
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const read = async () => {
      const texts = await Promise.all(paths.map((path) => readFile(path, 'utf8').catch(() => '')));
      if (!closed) onRead(Object.fromEntries(paths.map((path, index) => [path, texts[index] ?? ''])));
    };
    // Reads on a fixed cadence from the first one; a slow read delays the next, never piles up.
    const started = Date.now();
    let due = 0;
    const tick = async () => {
      await read();
      due += intervalMs;
      if (!closed) timer = setTimeout(() => void tick(), Math.max(0, started + due - Date.now()));
    };
    await tick();
    return {
      close: () => {
        closed = true;
        if (timer) clearTimeout(timer);
      },
    };
  }
}
