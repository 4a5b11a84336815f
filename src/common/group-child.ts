/**
 * A child process that stops with the command: a build script and the `docker build` (or
 * mmdebstrap) under it run in a process group of their own, ended together on the command's
 * stop signal (SIGTERM, then SIGKILL 5 s later) and at once if the process exits first.
 * In the command's own group, the terminal's Ctrl-C reached the script directly, which then
 * failed as if the build had (exit 1, not 130); a signal to meshbench alone left it building
 * after meshbench had exited.
 */
import { spawn, type StdioOptions } from 'node:child_process';

export interface GroupChildOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Default: output piped to `onOutput`. */
  readonly stdio?: 'pipe' | 'inherit';
  readonly onOutput?: (chunk: Buffer) => void;
  /** The first Ctrl-C (shutdownSignal) ends the group. */
  readonly signal?: AbortSignal;
}

export interface GroupChildResult {
  /** The exit status (127 when it could not start, 1 when killed). */
  readonly code: number;
  /** Stopped by `signal`, or killed by SIGINT/SIGTERM from outside. */
  readonly interrupted: boolean;
}

/** Groups still running: killed if the process exits first (a forced exit). */
const running = new Set<number>();
let exitHook = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // gone already
  }
}

export function runInOwnGroup(
  command: string,
  args: readonly string[],
  options: GroupChildOptions = {},
): Promise<GroupChildResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.resolve({ code: 1, interrupted: true });
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const pid of running) killGroup(pid, 'SIGKILL');
    });
  }
  const stdio: StdioOptions =
    options.stdio === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'];
  return new Promise((resolve) => {
    const child = spawn(command, [...args], {
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
      stdio,
      detached: true,
    });
    const pid = child.pid;
    let interrupted = false;
    let killer: NodeJS.Timeout | undefined;
    const stop = () => {
      interrupted = true;
      if (pid === undefined) return;
      killGroup(pid, 'SIGTERM');
      killer = setTimeout(() => killGroup(pid, 'SIGKILL'), 5_000);
    };
    if (pid !== undefined) running.add(pid);
    signal?.addEventListener('abort', stop, { once: true });
    if (options.onOutput) {
      child.stdout?.on('data', options.onOutput);
      child.stderr?.on('data', options.onOutput);
    }
    let settled = false;
    const settle = (code: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(killer);
      signal?.removeEventListener('abort', stop);
      if (pid !== undefined) running.delete(pid);
      resolve({ code, interrupted });
    };
    child.on('error', () => settle(127));
    child.on('close', (status, killedBy) => {
      if (killedBy === 'SIGINT' || killedBy === 'SIGTERM') interrupted = true;
      settle(status ?? 1);
    });
  });
}
