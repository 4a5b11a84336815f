/**
 * Every command sent to a remote host is built here, from argv arrays, never by
 * pasting values into shell strings. The result is a POSIX `sh` command line.
 */

/** A word is safe unquoted when it holds only these characters. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes one argument for a POSIX shell: single quotes, with each embedded
 * single quote written as `'\''`. NUL cannot be passed in an argv and is refused.
 */
export function quoteArg(value: string): string {
  if (value.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  if (value !== '' && SAFE_WORD.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** One simple command: each element is one argument, exactly as given. */
export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('a shell command needs at least one word');
  return argv.map(quoteArg).join(' ');
}

/** `a | b | c`, each stage an argv array; the exit status is the first failure (pipefail by hand). */
export function shellPipeline(stages: readonly (readonly string[])[]): string {
  if (stages.length === 0) throw new Error('a pipeline needs at least one stage');
  if (stages.length === 1) return shellCommand(stages[0]!);
  // POSIX sh has no pipefail; bash does, and every target host we support has bash.
  const inner = stages.map(shellCommand).join(' | ');
  return shellCommand(['bash', '-o', 'pipefail', '-c', inner]);
}

/** `a && b && c`. */
export function shellAnd(commands: readonly (readonly string[])[]): string {
  return commands.map(shellCommand).join(' && ');
}

/** Runs `argv` under `sh -c` so the remote login shell's quirks never apply to it. */
export function shellScript(script: string, args: readonly string[] = []): string {
  return shellCommand(['sh', '-c', script, 'meshbench', ...args]);
}
