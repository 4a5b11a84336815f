/**
 * What the bench scripts read from Linux's /proc: a process's or a thread's CPU time
 * (`/proc/<pid>/stat`, `/proc/<pid>/task/<tid>/stat`: user and system, fields 14 and 15), its
 * resident memory, the processes of a name, and a folder's entries, each of which may be gone
 * by the time it is read.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Milliseconds per kernel clock tick (USER_HZ is 100 on Linux). */
export const TICK_MS = 10;

/** User and system CPU in clock ticks from a stat file; undefined when the process or thread is gone. */
export function cpuTimes(statFile: string): { userTicks: number; systemTicks: number } | undefined {
  try {
    const text = readFileSync(statFile, 'utf8');
    // after the command name, which may hold spaces and parentheses
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { userTicks: Number(fields[11]), systemTicks: Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** User + system CPU in clock ticks from a stat file; undefined when the process or thread is gone. */
export function cpuTicks(statFile: string): number | undefined {
  const times = cpuTimes(statFile);
  return times && times.userTicks + times.systemTicks;
}

/** A process's resident memory in bytes (VmRSS of /proc/<pid>/status; `self` for this one). */
export function rssBytes(pid: number | 'self'): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? NaN) * 1024;
}

/** The pids of the processes whose command name (/proc/<pid>/comm) is one of `names`. */
export function pidsByName(names: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** A folder's entries, or none when it is gone. */
export function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
