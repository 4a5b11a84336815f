/**
 * Shared entry for every command: maps argv through yargs, runs the handler,
 * and turns errors into one line and an exit code. Handlers never call
 * process.exit; the exit code is set once, here. With MESHBENCH_CHECK_HANDLES=1 (tests),
 * a command that returned but whose process does not exit reports what holds it.
 */
import yargs, { type Argv } from 'yargs';
import { formatError, isMeshbenchError } from '../common/errors.js';
import { installShutdown, type Shutdown } from '../common/shutdown.js';
import { CHECK_HANDLES_ENV, trackTimers, watchForLeftHandles } from '../common/active-handles.js';

export interface CliContext {
  readonly shutdown: Shutdown;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly verbose: boolean;
}

export interface CliDefinition<T> {
  readonly name: string;
  readonly usage: string;
  readonly epilogue?: string;
  readonly options: (argv: Argv) => Argv<T>;
  readonly run: (args: T, context: CliContext) => Promise<number | void>;
}

/**
 * Runs a CLI definition against argv and returns the exit code.
 * 0 = success, 1 = runtime failure, 2 = bad flags or config, 130 = interrupted.
 */
export async function runCli<T>(definition: CliDefinition<T>, argv: readonly string[]): Promise<number> {
  const checkHandles = process.env[CHECK_HANDLES_ENV] === '1';
  if (!checkHandles) return runCommand(definition, argv);
  trackTimers();
  try {
    return await runCommand(definition, argv);
  } finally {
    // Test runs: a command that returned must also exit; if it does not, say what holds it.
    watchForLeftHandles({ name: definition.name });
  }
}

async function runCommand<T>(definition: CliDefinition<T>, argv: readonly string[]): Promise<number> {
  const stdout = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  const stderr = (text: string) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  let parseFailure: string | undefined;

  const parser = definition
    .options(
      yargs([...argv])
        .scriptName(definition.name)
        .usage(definition.usage)
        .option('verbose', {
          type: 'boolean',
          default: false,
          describe: 'Print debug output and stack traces',
        })
        .strictOptions()
        .help()
        .alias('help', 'h')
        .version(false)
        .wrap(Math.min(110, process.stdout.columns || 110))
        .exitProcess(false)
        .fail((message, error) => {
          if (error) throw error;
          parseFailure = message;
        }),
    )
    .epilogue(definition.epilogue ?? '');

  let args: T;
  try {
    args = (await parser.parseAsync()) as T;
  } catch (error) {
    stderr(`${definition.name}: error: ${formatError(error)}`);
    if (verbose && error instanceof Error && error.stack) stderr(error.stack);
    return isMeshbenchError(error) ? error.exitCode : 2;
  }
  if (parseFailure !== undefined) {
    stderr(`${definition.name}: error: ${parseFailure} (see ${definition.name} --help)`);
    return 2;
  }
  // --help and --version print and stop.
  if (argv.includes('--help') || argv.includes('-h')) return 0;

  const shutdown = installShutdown();
  try {
    const code = await definition.run(args, { shutdown, stdout, stderr, verbose });
    if (shutdown.signal.aborted) return 130;
    return code ?? 0;
  } catch (error) {
    if (shutdown.signal.aborted && !isMeshbenchError(error)) {
      stderr(`${definition.name}: interrupted`);
      return 130;
    }
    stderr(`${definition.name}: error: ${formatError(error)}`);
    if (verbose && error instanceof Error && error.stack) {
      stderr(error.stack);
      if (error.cause instanceof Error && error.cause.stack) stderr(`caused by: ${error.cause.stack}`);
    }
    if (isMeshbenchError(error)) return error.exitCode;
    return 1;
  } finally {
    shutdown.dispose();
  }
}

export { badFlag } from '../common/errors.js';
