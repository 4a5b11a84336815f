/**
 * Runs a command's `main(argv)` in this process with its stdout and stderr captured
 * (so a test reads exactly what a user would see), and the run id it printed.
 */
import { vi } from 'vitest';

export interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** From the `run <id>: starting` line ('' when none was printed). */
  readonly runId: string;
}

export async function captureCli(
  main: (argv: string[]) => Promise<number>,
  args: readonly string[],
): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  });
  let code: number;
  try {
    code = await main([...args]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const text = out.join('');
  return { code, stdout: text, stderr: err.join(''), runId: /^run (\S+): starting/m.exec(text)?.[1] ?? '' };
}
