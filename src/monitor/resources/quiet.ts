/**
 * "Is this machine quiet?": before each level, the load average, the free memory, and the
 * processes (and containers) not of this run that were busy in a window just before the
 * level (after the deploy, or during the previous level's settle). Two snapshots of
 * /proc/<pid>/stat give each process's CPU over the window; this process, its children and
 * the run's own containers are left out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseMeminfo } from './figures.js';
import type { QuietCheck } from './schema.js';

/** Jiffies per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux this runs on). */
const CLOCK_TICKS = 100;
/** A process at this share of a core or more is named. */
const BUSY_PERCENT = 10;
/** Others together above this share of a core: not quiet. */
const OTHERS_LIMIT_PERCENT = 50;

export interface ProcessSnapshot {
  readonly atMs: number;
  /** pid → CPU jiffies (user + system), parent and name. */
  readonly processes: ReadonlyMap<
    number,
    { readonly ticks: number; readonly ppid: number; readonly name: string }
  >;
}

/** One /proc/<pid>/stat line: the name in parentheses may itself hold spaces and parentheses. */
export function parseProcessStat(text: string): { ticks: number; ppid: number; name: string } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = text.slice(close + 2).split(' ');
  // after the name: state(0) ppid(1) … utime(11) stime(12)
  const ppid = Number(fields[1]);
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) return undefined;
  return { ticks, ppid, name: text.slice(open + 1, close) };
}

/**
 * Every process's CPU so far. /proc is read synchronously (no disk behind it: about 10 µs a
 * file, where a promise per file costs ten times the CPU), in slices of 64 with a yield
 * between, so the event loop (and a generator sharing it) never waits more than a moment.
 */
export async function processSnapshot(now: () => number = Date.now): Promise<ProcessSnapshot> {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    pids = [];
  }
  const processes = new Map<number, { ticks: number; ppid: number; name: string }>();
  for (let at = 0; at < pids.length; at += 64) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const pid of pids.slice(at, at + 64)) {
      let text = '';
      try {
        text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // gone since the listing
      }
      const parsed = parseProcessStat(text);
      if (parsed) processes.set(Number(pid), parsed);
    }
  }
  return { atMs: now(), processes };
}

/** The container a process runs in, from its cgroup path (the 64-hex ID docker gives it). */
export async function containerOf(pid: number): Promise<string | undefined> {
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  return /(?:docker[-/]|containers\/)([0-9a-f]{64})/.exec(text)?.[1];
}

export interface QuietInput {
  readonly before: ProcessSnapshot;
  readonly after: ProcessSnapshot;
  /** This process (its descendants are ours too). */
  readonly selfPid: number;
  /** The run's containers (full IDs); a prefix matches. */
  readonly ownContainers: ReadonlySet<string>;
  /** The container each busy pid runs in. */
  readonly containerOf: (pid: number) => Promise<string | undefined>;
  readonly loadavg: string;
  readonly meminfo: string;
  readonly cpus: number;
  /** Whether a high load average counts (not after a level of ours: the 1-minute average still holds it). */
  readonly judgeLoad: boolean;
}

export async function quietCheck(input: QuietInput): Promise<QuietCheck> {
  const windowMs = Math.max(1, input.after.atMs - input.before.atMs);
  const ours = (pid: number): boolean => {
    for (let at = pid, hops = 0; at > 1 && hops < 64; hops++) {
      if (at === input.selfPid) return true;
      at = input.after.processes.get(at)?.ppid ?? 0;
    }
    return false;
  };
  const busy: { pid: number; name: string; cpu_percent: number; container?: string }[] = [];
  let others = 0;
  for (const [pid, now] of input.after.processes) {
    const then = input.before.processes.get(pid);
    const ticks = now.ticks - (then?.ticks ?? now.ticks);
    if (ticks <= 0 || ours(pid)) continue;
    const percent = (ticks / CLOCK_TICKS / (windowMs / 1000)) * 100;
    if (percent < 1) {
      others += percent;
      continue;
    }
    const container = await input.containerOf(pid);
    if (
      container &&
      [...input.ownContainers].some((own) => own.startsWith(container) || container.startsWith(own))
    )
      continue;
    others += percent;
    busy.push({
      pid,
      name: now.name,
      cpu_percent: Math.round(percent * 10) / 10,
      ...(container ? { container: container.slice(0, 12) } : {}),
    });
  }
  busy.sort((a, b) => b.cpu_percent - a.cpu_percent);
  const byContainer = new Map<string, number>();
  for (const process of busy)
    if (process.container)
      byContainer.set(process.container, (byContainer.get(process.container) ?? 0) + process.cpu_percent);
  const loads = input.loadavg.trim().split(/\s+/).map(Number);
  const memory = parseMeminfo(input.meminfo);
  const load1 = Number.isFinite(loads[0]) ? (loads[0] as number) : 0;
  const reasons: string[] = [];
  if (others >= OTHERS_LIMIT_PERCENT) {
    const top = busy
      .slice(0, 3)
      .map((process) => `${process.name} ${process.cpu_percent.toFixed(0)}%`)
      .join(', ');
    reasons.push(`other processes used ${others.toFixed(0)}% of a core${top ? ` (${top})` : ''}`);
  }
  if (input.judgeLoad && load1 > input.cpus)
    reasons.push(`load average ${load1.toFixed(2)} on ${input.cpus} CPUs`);
  if (memory.totalBytes > 0 && memory.availableBytes < Math.min(memory.totalBytes * 0.1, 1024 ** 3))
    reasons.push(`only ${(memory.availableBytes / 1024 ** 2).toFixed(0)} MiB of memory available`);
  return {
    quiet: reasons.length === 0,
    reasons,
    window_ms: Math.round(windowMs),
    cpus: input.cpus,
    load1,
    load5: Number.isFinite(loads[1]) ? (loads[1] as number) : 0,
    memory_total_bytes: memory.totalBytes,
    memory_available_bytes: memory.availableBytes,
    others_cpu_percent: Math.round(others * 10) / 10,
    busy_processes: busy.filter((process) => process.cpu_percent >= BUSY_PERCENT).slice(0, 10),
    busy_containers: [...byContainer]
      .map(([container, cpu]) => ({ container, cpu_percent: Math.round(cpu * 10) / 10 }))
      .sort((a, b) => b.cpu_percent - a.cpu_percent),
  };
}
