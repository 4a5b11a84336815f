/**
 * What the bench scripts read from Linux's /proc: a process's or a thread's CPU time
 * (`/proc/<pid>/stat`, `/proc/<pid>/task/<tid>/stat`: user + system, fields 14 and 15) and
 * a folder's entries, each of which may be gone by the time it is read.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Milliseconds per kernel clock tick (USER_HZ is 100 on Linux). */
export const TICK_MS = 10;

/** User + system CPU in clock ticks from a stat file; undefined when the process or thread is gone. */
export function cpuTicks(statFile: string): number | undefined {
  try {
    const text = readFileSync(statFile, 'utf8');
    // after the command name, which may hold spaces and parentheses
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** A folder's entries, or none when it is gone. */
export function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
