/**
 * One configuration pipeline for a command's settings, in the spirit of k6's
 * (cmd/config.go): defaults, then a config file (`--config FILE`, YAML or JSON), then
 * the environment (`MESHBENCH_<FLAG_NAME>`), then flags; a later layer wins key by key.
 * The settings are the command's long flags: a file spells them kebab-case (as on the
 * command line) or camelCase, an environment variable upper-case with `_`.
 *
 * This module only gathers and merges; it does not judge values: the command validates
 * the merged settings once (for `benchmark`, the zod plan in src/bench/plan.ts), and
 * `attributeSettingError` turns a rejection of a value from the file or the environment
 * into one line naming that source. Each setting remembers where it came from, so the
 * verbose output and the result can say so.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { booleanWord } from '../common/boolean-word.js';
import { badFlag, isMeshbenchError, MeshbenchError } from '../common/errors.js';
import { loadYaml } from '../common/yaml.js';
import { camelCase, nearestName, numberOf, type DeclaredOption } from './flag-values.js';

/** Where a setting's value came from. Absent from `sources`: the default. */
export type SettingSource =
  | { readonly kind: 'file'; readonly file: string; readonly key: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'flag'; readonly flag: string }
  | { readonly kind: 'interactive' };

/** A raw setting value: what yargs, a YAML/JSON file or the environment hands in. */
export type SettingValue = string | number | boolean | readonly (string | number | boolean)[];

export interface SettingsSpec {
  /** The command, for messages (`benchmark`). */
  readonly command: string;
  /** Every setting, by its long flag name (kebab-case). */
  readonly names: readonly string[];
  /** The settings that take a list (a YAML sequence, or a comma-separated string). */
  readonly lists: readonly string[];
  /** Environment variable prefix, `MESHBENCH_`. */
  readonly envPrefix: string;
  /** Flags that are not settings (`config`, `interactive`): named as such when a file has them. */
  readonly flagsOnly?: readonly string[];
}

export interface Settings {
  /** kebab-case name → value; only the settings some layer gave. */
  readonly values: Readonly<Record<string, SettingValue>>;
  /** kebab-case name → its source; only the settings some layer gave. */
  readonly sources: Readonly<Record<string, SettingSource>>;
}

export interface SettingsLayers {
  /** The parsed flags (yargs argv; only the settings given on the command line are defined). */
  readonly flags: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `--config`'s value, if given; else `<prefix>CONFIG` from the environment is used. */
  readonly configFile?: string | undefined;
  readonly cwd: string;
}

export const CONFIG_FLAG = 'config';

/** `transaction-size` → `MESHBENCH_TRANSACTION_SIZE`. */
export function envVarName(spec: Pick<SettingsSpec, 'envPrefix'>, name: string): string {
  return `${spec.envPrefix}${name.toUpperCase().replaceAll('-', '_')}`;
}

/** `loadSearchMax` → `load-search-max` (kebab-case stays as it is). */
export function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** How messages and results name a source: `bench.yaml:duration`, `MESHBENCH_DURATION`, `--duration`. */
export function describeSource(source: SettingSource | undefined): string {
  if (source === undefined) return 'default';
  switch (source.kind) {
    case 'file':
      return `${source.file}:${source.key}`;
    case 'env':
      return source.name;
    case 'flag':
      return `--${source.flag}`;
    case 'interactive':
      return 'interactive';
  }
}

/** `duration` → `bench.yaml:duration` for every setting that is not the default. */
export function configSources(sources: Readonly<Record<string, SettingSource>>): Record<string, string> {
  return Object.fromEntries(Object.entries(sources).map(([name, source]) => [name, describeSource(source)]));
}

/** The merged settings for --verbose: one line each, with where it came from. */
export function describeSettings(settings: Settings): string[] {
  const names = Object.keys(settings.values);
  if (names.length === 0) return ['all defaults'];
  return names.map((name) => {
    const value = settings.values[name];
    const shown = Array.isArray(value) ? value.join(',') : String(value);
    return `${name} = ${shown}  (${describeSource(settings.sources[name])})`;
  });
}

/** Reads every layer and merges them: defaults < file < environment < flags. */
export async function gatherSettings(spec: SettingsSpec, layers: SettingsLayers): Promise<Settings> {
  const configEnv = envVarName(spec, CONFIG_FLAG);
  const configGiven =
    layers.configFile !== undefined
      ? { path: layers.configFile, source: `--${CONFIG_FLAG}` }
      : nonEmpty(layers.env[configEnv]) !== undefined
        ? { path: String(layers.env[configEnv]), source: configEnv }
        : undefined;
  const file = configGiven ? await settingsFromFile(spec, configGiven, layers.cwd) : emptySettings();
  return mergeSettings(file, settingsFromEnv(spec, layers.env), settingsFromFlags(spec, layers.flags));
}

/** Later layers win, key by key. */
export function mergeSettings(...layers: readonly Settings[]): Settings {
  const values: Record<string, SettingValue> = {};
  const sources: Record<string, SettingSource> = {};
  for (const layer of layers) {
    Object.assign(values, layer.values);
    Object.assign(sources, layer.sources);
  }
  return { values, sources };
}

/** The flags given on the command line (yargs leaves the others undefined: their defaults live in the plan). */
export function settingsFromFlags(spec: SettingsSpec, flags: Readonly<Record<string, unknown>>): Settings {
  const values: Record<string, SettingValue> = {};
  const sources: Record<string, SettingSource> = {};
  for (const name of spec.names) {
    const value = flags[name];
    if (value === undefined) continue;
    values[name] = value as SettingValue;
    sources[name] = { kind: 'flag', flag: name };
  }
  return { values, sources };
}

/** `MESHBENCH_<FLAG_NAME>` for every setting; an empty variable counts as unset. */
export function settingsFromEnv(
  spec: SettingsSpec,
  env: Readonly<Record<string, string | undefined>>,
): Settings {
  const values: Record<string, SettingValue> = {};
  const sources: Record<string, SettingSource> = {};
  for (const name of spec.names) {
    const variable = envVarName(spec, name);
    const value = nonEmpty(env[variable]);
    if (value === undefined) continue;
    values[name] = value;
    sources[name] = { kind: 'env', name: variable };
  }
  return { values, sources };
}

/**
 * A YAML or JSON file of settings (JSON is YAML, so one parser reads both). Keys are
 * the long flag names, kebab-case or camelCase; an unknown key is an error that
 * suggests the nearest name. Relative paths in values stay relative to the current
 * folder, as they would on the command line.
 */
export async function settingsFromFile(
  spec: SettingsSpec,
  given: { readonly path: string; readonly source: string },
  cwd: string,
): Promise<Settings> {
  const shown = given.path;
  let text: string;
  try {
    text = await readFile(resolve(cwd, given.path), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw configError(
      `${given.source} ${JSON.stringify(shown)}: cannot read ${resolve(cwd, given.path)} (${code})`,
      'give an existing YAML or JSON file',
    );
  }
  // yaml loads here: a run without a settings file does not pay its start-up
  const { parseDocument } = await loadYaml();
  const document = parseDocument(text);
  const problem = document.errors[0];
  if (problem) {
    // yaml's message: "<what> at line L, column C:" and then the line itself.
    const what = (problem.message.split('\n')[0] ?? '').replace(/:$/, '');
    throw configError(`${shown}: not valid YAML or JSON: ${what}`, 'fix the file');
  }
  const content: unknown = document.toJS();
  if (content === null || content === undefined) return emptySettings();
  if (typeof content !== 'object' || Array.isArray(content)) {
    throw configError(
      `${shown}: the file holds ${Array.isArray(content) ? 'a list' : `${JSON.stringify(content)}`}, not settings`,
      `give a mapping of ${spec.command} flag names to values, e.g. "duration: 30"`,
    );
  }

  const known = new Set(spec.names);
  const values: Record<string, SettingValue> = {};
  const sources: Record<string, SettingSource> = {};
  for (const [key, value] of Object.entries(content as Record<string, unknown>)) {
    const name = kebabCase(key);
    if (spec.flagsOnly?.includes(name)) {
      throw configError(
        `${shown}: ${JSON.stringify(key)} is not a setting`,
        `give --${name} on the command line, or remove ${key}`,
      );
    }
    if (!known.has(name)) {
      const nearest = nearestName(name, spec.names);
      throw configError(
        `${shown}: unknown key ${JSON.stringify(key)}` +
          (nearest ? ` (did you mean ${JSON.stringify(nearest)}?)` : ''),
        `the keys are ${spec.command}'s long flag names (see ${spec.command} --help)`,
      );
    }
    const earlier = sources[name];
    if (earlier?.kind === 'file') {
      throw configError(
        `${shown}: ${JSON.stringify(earlier.key)} and ${JSON.stringify(key)} are the same setting`,
        'keep one of them',
      );
    }
    values[name] = fileValue(spec, shown, key, name, value);
    sources[name] = { kind: 'file', file: shown, key };
  }
  return { values, sources };
}

function fileValue(
  spec: SettingsSpec,
  file: string,
  key: string,
  name: string,
  value: unknown,
): SettingValue {
  const scalar = (item: unknown) =>
    typeof item === 'string' ||
    typeof item === 'boolean' ||
    (typeof item === 'number' && Number.isFinite(item));
  if (scalar(value)) return value as SettingValue;
  const where = `${file}: ${key}`;
  if (value === null || value === undefined) {
    throw configError(`${where}: has no value`, `give one, or remove ${key}`);
  }
  if (Array.isArray(value)) {
    if (!spec.lists.includes(name)) {
      throw configError(
        `${where}: ${JSON.stringify(value)} is a list; --${name} takes one value`,
        `give a single value to ${key}`,
      );
    }
    if (value.length > 0 && value.every(scalar)) return value as SettingValue;
  }
  throw configError(
    `${where}: ${JSON.stringify(value)} is not a value --${name} takes`,
    spec.lists.includes(name)
      ? 'give a value or a list of values (strings or numbers)'
      : 'give a string, a number or true/false',
  );
}

/**
 * A BAD_FLAG error about a setting that came from the file or the environment, said
 * about that source (exit 2, like a bad flag); any other error unchanged.
 */
export function attributeSettingError(
  error: unknown,
  sources: Readonly<Record<string, SettingSource>>,
): unknown {
  if (!isMeshbenchError(error) || error.code !== 'BAD_FLAG' || error.setting === undefined) return error;
  const { flag, value, rule } = error.setting;
  const source = sources[flag];
  if (source?.kind === 'file') {
    return new MeshbenchError(
      'BAD_CONFIG',
      `${source.file}: ${source.key}: ${JSON.stringify(value)} is not valid (--${flag}): ${rule}`,
      {
        hint: `fix ${source.key} in ${source.file}, or override it with --${flag}`,
        exitCode: 2,
        cause: error,
      },
    );
  }
  if (source?.kind === 'env') {
    return new MeshbenchError(
      'BAD_ENV',
      `${source.name}=${JSON.stringify(value)} is not valid (--${flag}): ${rule}`,
      { hint: `fix or unset ${source.name}, or override it with --${flag}`, exitCode: 2, cause: error },
    );
  }
  return error;
}

function configError(message: string, hint: string): MeshbenchError {
  return new MeshbenchError('BAD_CONFIG', message, { hint, exitCode: 2 });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function emptySettings(): Settings {
  return { values: {}, sources: {} };
}

/**
 * The pipeline for a command whose flags yargs parsed with their defaults (local-network,
 * remote-network): the flags given on the command line win; for the others, a value from
 * the environment, else the config file, replaces the default, read as the flag would be
 * (numbers, true/false, the flag's choices). Returns the merged args and where each
 * non-default came from. A bad file or environment value is one line naming it (exit 2).
 */
export async function layerSettings<T extends object>(
  args: T,
  options: {
    readonly command: string;
    readonly declared: ReadonlyMap<string, DeclaredOption>;
    readonly argv: readonly string[];
    readonly env: Readonly<Record<string, string | undefined>>;
    readonly cwd: string;
    readonly flagsOnly: readonly string[];
    /** Flags that may be repeated (a list in the file, comma-separated in the environment). */
    readonly lists?: readonly string[];
  },
): Promise<{ args: T; settings: Settings }> {
  const flagsOnly = [...options.flagsOnly, CONFIG_FLAG, 'help', 'verbose'];
  const names = [...options.declared.keys()].filter((name) => !flagsOnly.includes(name));
  const lists = names.filter((name) => {
    const declared = options.declared.get(name);
    return declared?.type === 'array' || declared?.array === true || options.lists?.includes(name);
  });
  const spec: SettingsSpec = { command: options.command, names, lists, envPrefix: 'MESHBENCH_', flagsOnly };
  const given = (name: string) =>
    [name, camelCase(name)].some((spelled) =>
      options.argv.some(
        (arg) => arg === `--${spelled}` || arg.startsWith(`--${spelled}=`) || arg === `--no-${spelled}`,
      ),
    );
  const parsed = args as Record<string, unknown>;
  const flags = Object.fromEntries(
    names.filter(given).map((name) => [name, parsed[camelCase(name)] ?? parsed[name]]),
  );
  const configFile = parsed[CONFIG_FLAG];
  const settings = await gatherSettings(spec, {
    flags,
    env: options.env,
    configFile: typeof configFile === 'string' ? configFile : undefined,
    cwd: options.cwd,
  });
  const merged: Record<string, unknown> = { ...parsed };
  for (const [name, value] of Object.entries(settings.values)) {
    if (settings.sources[name]?.kind === 'flag') continue;
    let read: unknown;
    try {
      read = readAsFlag(name, value, options.declared.get(name) ?? {}, lists.includes(name));
    } catch (error) {
      throw attributeSettingError(error, settings.sources);
    }
    merged[name] = read;
    merged[camelCase(name)] = read;
  }
  return { args: merged as T, settings };
}

/** A file or environment value as yargs would have read the flag; a BAD_FLAG error otherwise. */
function readAsFlag(name: string, value: SettingValue, declared: DeclaredOption, list: boolean): unknown {
  const items: readonly (string | number | boolean)[] =
    typeof value === 'object' ? value : list && typeof value === 'string' ? value.split(',') : [value];
  const one = (item: string | number | boolean): unknown => {
    if (declared.type === 'number' || declared.type === 'count') {
      const number = typeof item === 'number' && Number.isFinite(item) ? item : numberOf(String(item));
      if (number === undefined) throw badFlag(name, item, 'a number');
      return number;
    }
    if (declared.type === 'boolean') {
      const read = typeof item === 'boolean' ? item : booleanWord(String(item));
      if (read === undefined) throw badFlag(name, item, 'true or false');
      return read;
    }
    const text = String(item);
    if (declared.choices && !declared.choices.includes(text)) {
      throw badFlag(name, item, `one of ${declared.choices.join(', ')}`);
    }
    return text;
  };
  const read = items.map(one);
  if (list) return read;
  if (read.length > 1) throw badFlag(name, items.join(','), 'one value');
  // A list setting given as "a,b" in the environment stays one string for a single-value flag.
  return read[0];
}
