/**
 * `--protocol ./my-protocol.mjs`: the module is loaded before a command builds its flags,
 * so its settings become flags (`--<kind>-<setting>`) and the plan knows its kind. The
 * value is read where the command's settings come from, with the same precedence: the
 * command line, then MESHBENCH_PROTOCOL, then `protocol:` in the --config file.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { isModuleSpecifier, loadProtocolModule } from '../protocols/index.js';

/** The last value of `--name VALUE` / `--name=VALUE` in argv. */
function flagValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === `--${name}` && index + 1 < argv.length) value = argv[++index];
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
  }
  return value;
}

async function configValue(path: string, cwd: string): Promise<string | undefined> {
  try {
    const content = parse(await readFile(resolve(cwd, path), 'utf8')) as unknown;
    const value = (content as { protocol?: unknown } | null)?.protocol;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined; // the config pipeline reports an unreadable file in its own words
  }
}

/**
 * Loads the protocol module `--protocol` names (when it names one rather than a built-in
 * kind). A bad module throws one BAD_FLAG line naming the file and what is wrong.
 */
export async function loadGivenProtocolModule(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Promise<void> {
  const config = flagValue(argv, 'config') ?? env.MESHBENCH_CONFIG;
  const value =
    flagValue(argv, 'protocol') ??
    (env.MESHBENCH_PROTOCOL || undefined) ??
    (config ? await configValue(config, cwd) : undefined);
  if (value !== undefined && isModuleSpecifier(value)) await loadProtocolModule(value, cwd);
}
