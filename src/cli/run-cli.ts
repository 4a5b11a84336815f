/**
 * Shared entry for every command: maps argv through yargs, runs the handler,
 * and turns errors into one line and an exit code. Handlers never call
 * process.exit; the exit code is set once, here. With MESHBENCH_CHECK_HANDLES=1 (tests),
 * a command that returned but whose process does not exit reports what holds it.
 */
import yargs, { type Argv } from 'yargs';
import { formatError, isMeshbenchError } from '../common/errors.js';
import { installShutdown, type Shutdown } from '../common/shutdown.js';
import { trace } from '../common/trace.js';
import { CHECK_HANDLES_ENV, trackTimers, watchForLeftHandles } from '../common/active-handles.js';
import type { Settings } from './config-pipeline.js';
import { numberFlagProblem, parseFailureLine, type DeclaredOption } from './flag-values.js';

export interface CliContext {
  readonly shutdown: Shutdown;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly verbose: boolean;
  /** With `CliDefinition.settings`: the settings from --config and MESHBENCH_* and where each came from. */
  readonly settings?: Settings;
}

export interface CliDefinition<T> {
  readonly name: string;
  readonly usage: string;
  readonly epilogue?: string;
  readonly options: (argv: Argv) => Argv<T>;
  readonly run: (args: T, context: CliContext) => Promise<number | void>;
  /**
   * Read --config FILE and MESHBENCH_<FLAG> for this command's flags (src/cli/config-pipeline.ts,
   * layerSettings): flags given on the command line win, then the environment, then the file,
   * then the defaults. `flagsOnly`: flags that are not settings; `lists`: repeatable flags.
   */
  readonly settings?: { readonly flagsOnly: readonly string[]; readonly lists?: readonly string[] };
  /** The command has `--protocol`, which may name a user's module: load it before the flags are built. */
  readonly protocolModules?: boolean;
  /** The command reads positional arguments itself (`args._`); without, any is refused. */
  readonly positionals?: boolean;
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

  // --protocol ./my-protocol.mjs: loaded before the flags are built, so its settings are flags.
  if (definition.protocolModules) {
    try {
      const { loadGivenProtocolModule } = await import('./protocol-module.js');
      await loadGivenProtocolModule(argv);
    } catch (error) {
      stderr(`${definition.name}: error: ${formatError(error)}`);
      if (verbose && error instanceof Error && error.stack) stderr(error.stack);
      return isMeshbenchError(error) ? error.exitCode : 2;
    }
  }

  // What each option is, as declared, so --config and MESHBENCH_* values are read as the flags are.
  const declared = new Map<string, DeclaredOption>();
  const base = yargs([...argv]);
  const declare = base.option.bind(base);
  const recording = ((key: string | Record<string, DeclaredOption>, spec?: DeclaredOption) => {
    if (typeof key === 'string') {
      declared.set(key, spec ?? {});
      return declare(key as never, withValueRequired(spec) as never);
    }
    for (const [name, value] of Object.entries(key)) declared.set(name, value);
    const specs = Object.fromEntries(
      Object.entries(key).map(([name, value]) => [name, withValueRequired(value)]),
    );
    return declare(specs as never);
  }) as typeof base.option;
  Object.assign(base, { option: recording, options: recording });
  const parser = definition
    .options(
      base
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

  // yargs's failure as one line naming the flag, and where to read about it.
  const failureLine = (message: string): string =>
    `${parseFailureLine(message, [...declared.keys(), 'help'], argv)} (see ${definition.name} --help)`;
  let args: T;
  try {
    args = (await parser.parseAsync()) as T;
  } catch (error) {
    // yargs-parser's own errors ("Not enough arguments following: logs") come thrown.
    const line = isMeshbenchError(error) ? formatError(error) : failureLine(formatError(error));
    stderr(`${definition.name}: error: ${line}`);
    if (verbose && error instanceof Error && error.stack) stderr(error.stack);
    return isMeshbenchError(error) ? error.exitCode : 2;
  }
  if (parseFailure !== undefined) {
    stderr(`${definition.name}: error: ${failureLine(parseFailure)}`);
    return 2;
  }
  // --help and --version print and stop.
  if (argv.includes('--help') || argv.includes('-h')) return 0;
  const stray = definition.positionals ? undefined : strayArgumentLine(args, argv, declared);
  if (stray !== undefined) {
    stderr(`${definition.name}: error: ${stray} (see ${definition.name} --help)`);
    return 2;
  }
  const numberProblem = numberFlagProblem(argv, declared);
  if (numberProblem) {
    stderr(`${definition.name}: error: ${formatError(numberProblem)}`);
    return numberProblem.exitCode;
  }

  let settings: Settings | undefined;
  // Loaded when used (not for --help): the pipeline brings the YAML parser.
  const pipeline = definition.settings ? await import('./config-pipeline.js') : undefined;
  if (definition.settings && pipeline) {
    try {
      const layered = await pipeline.layerSettings(args as object, {
        command: definition.name,
        declared,
        argv,
        env: process.env,
        cwd: process.cwd(),
        ...definition.settings,
      });
      args = layered.args as T;
      settings = layered.settings;
    } catch (error) {
      stderr(`${definition.name}: error: ${formatError(error)}`);
      return isMeshbenchError(error) ? error.exitCode : 2;
    }
  }

  const shutdown = installShutdown();
  trace(`${definition.name}: the command runs`);
  try {
    const code = await definition.run(args, {
      shutdown,
      stdout,
      stderr,
      verbose,
      ...(settings ? { settings } : {}),
    });
    if (shutdown.signal.aborted) return 130;
    return code ?? 0;
  } catch (thrown) {
    if (shutdown.signal.aborted && !isMeshbenchError(thrown)) {
      stderr(`${definition.name}: interrupted`);
      return 130;
    }
    // The user pressed Ctrl-C: say what was stopped and removed, not an error.
    if (isMeshbenchError(thrown) && thrown.code === 'INTERRUPTED') {
      stderr(`${definition.name}: ${thrown.message}`);
      return thrown.exitCode;
    }
    // A flag's value that came from --config or MESHBENCH_* is named as such.
    const error = settings && pipeline ? pipeline.attributeSettingError(thrown, settings.sources) : thrown;
    stderr(`${definition.name}: error: ${formatError(error)}`);
    if (verbose && error instanceof Error && error.stack) {
      stderr(error.stack);
      if (error.cause instanceof Error && error.cause.stack) stderr(`caused by: ${error.cause.stack}`);
    }
    if (isMeshbenchError(error)) return error.exitCode;
    return 1;
  } finally {
    trace(`${definition.name}: the command returned`);
    shutdown.dispose();
  }
}

/**
 * A command that takes flags only, given a word that is none (yargs keeps it in `_`): said, not
 * ignored (`remote-network --down RUN_ID` once removed every run's containers, its `--down` a
 * switch and the id unread); a word after a flag that takes no value is named with that flag.
 */
function strayArgumentLine(
  args: unknown,
  argv: readonly string[],
  declared: ReadonlyMap<string, DeclaredOption>,
): string | undefined {
  const positionals = (args as { _?: readonly (string | number)[] })._ ?? [];
  if (positionals.length === 0) return undefined;
  const word = String(positionals[0]);
  const before = argv[argv.indexOf(word) - 1];
  const flag = before?.startsWith('--') ? before.slice(2).split('=')[0] : undefined;
  const spec = flag === undefined ? undefined : declared.get(flag);
  if (flag !== undefined && !before?.includes('=') && spec?.type === 'boolean')
    return `unexpected argument ${JSON.stringify(word)}: --${flag} takes no value, and this command takes flags only`;
  return `unexpected argument ${JSON.stringify(word)}: this command takes flags only`;
}

/**
 * A string flag needs its value unless it says otherwise (`requiresArg: false`, for flags that mean
 * something alone, like `--dashboard`): yargs reads `--logs` alone as "", which a command takes
 * for "not given" or for the current folder.
 */
function withValueRequired(spec: DeclaredOption | undefined): DeclaredOption | undefined {
  return spec?.type === 'string' && spec.requiresArg === undefined ? { ...spec, requiresArg: true } : spec;
}

export { badFlag } from '../common/errors.js';
