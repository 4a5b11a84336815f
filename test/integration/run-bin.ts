/** Runs one of bin/*.js as a user would: a child process, its output captured, its exit code. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export type BinName = 'benchmark' | 'local-network' | 'remote-network' | 'sandbox';

export interface BinResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SpawnBinOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** Ctrl-C as a user would press it, once, when stderr first matches. */
  readonly interruptWhen?: RegExp;
  /** How long the command may run before it is stopped and the result says so (default DEADLINE_MS). */
  readonly deadlineMs?: number;
}

/**
 * How long one command may run in a test: under a test's own timeout (600 s for most), so a
 * command that does not end fails its test with its output and the step it was waiting on,
 * instead of a bare timeout that leaves the command running (and its nodes on a shared sandbox,
 * failing every later file there: CI of stop 61).
 */
export const DEADLINE_MS = 240_000;
/**
 * A command that takes longer than this to end after the Ctrl-C a test pressed (`interruptWhen`)
 * has its last trace lines printed in the test's output: what its interruption waited on (CI #143:
 * one took 124 s, ended by the forced exit, and said nothing of why). Printed, not added to its
 * stderr, which the tests judge.
 */
const SLOW_INTERRUPT_MS = 60_000;
/** After the deadline's Ctrl-C, the time the command gets to clean up before it is killed. */
const AFTER_INTERRUPT_MS = 30_000;

let traces = 0;
/** Commands still running: Ctrl-C'd when this test file's process exits (a test that timed out). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGINT');
});

/**
 * Spawns bin/<name>.js with its trace going to a file of its own (MESHBENCH_TRACE_FILE): a
 * command still running at the deadline is interrupted (SIGINT, then SIGKILL), and its stderr
 * ends with a line saying so and the last trace lines (its steps, every engine request and SSH
 * command with its end), which name what it was waiting on.
 */
export function spawnBin(
  name: BinName,
  args: readonly string[],
  options: SpawnBinOptions = {},
): Promise<BinResult> {
  const traceFile = join(tmpdir(), `meshbench-test-trace-${process.pid}-${++traces}.log`);
  const deadlineMs = options.deadlineMs ?? DEADLINE_MS;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(ROOT, `bin/${name}.js`), ...args], {
      cwd: ROOT,
      env: { ...process.env, MESHBENCH_TRACE_FILE: traceFile, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    let interruptedAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (options.interruptWhen && interruptedAt === undefined && options.interruptWhen.test(stderr)) {
        interruptedAt = performance.now();
        child.kill('SIGINT');
      }
    });
    let late = '';
    let kill: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      late = `\n[test] ${name} was still running after ${deadlineMs / 1000} s: interrupted (SIGINT, SIGKILL ${AFTER_INTERRUPT_MS / 1000} s later). Its last trace lines:\n${lastLines(traceFile, 40)}\n`;
      child.kill('SIGINT');
      kill = setTimeout(() => child.kill('SIGKILL'), AFTER_INTERRUPT_MS);
    }, deadlineMs);
    child.on('error', (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    child.on('close', (code) => {
      running.delete(child);
      clearTimeout(deadline);
      clearTimeout(kill);
      const afterInterruptMs = interruptedAt === undefined ? 0 : performance.now() - interruptedAt;
      if (!late && afterInterruptMs > SLOW_INTERRUPT_MS)
        console.warn(
          `[test] ${name} ${args.join(' ')} took ${Math.round(afterInterruptMs / 1000)} s to end after its Ctrl-C. Its last trace lines:\n${lastLines(traceFile, 40)}`,
        );
      rmSync(traceFile, { force: true });
      resolvePromise({ code, stdout, stderr: stderr + late });
    });
  });
}

function lastLines(path: string, count: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '(no trace written)';
  }
}

export function runBin(
  name: BinName,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<BinResult> {
  return spawnBin(name, args, { env });
}
