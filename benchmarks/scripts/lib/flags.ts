/**
 * The bench scripts' one argv parser (on node:util parseArgs, strict): `--help` / `-h` prints
 * the usage and the flags and exits 0 before anything runs; an unknown flag, a stray argument
 * or a value of the wrong kind is a one-line error and exit code 2.
 *
 * `parseFlags` is pure (tests call it); `flagsOrExit` is what a script calls first.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** What it does, for --help. */
  readonly description: string;
  /** For string flags: the value's name in --help (`--seconds N`). */
  readonly valueName?: string;
  readonly default?: string | boolean;
  /** Internal (e.g. a parent-to-child protocol): accepted, left out of --help. */
  readonly hidden?: boolean;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]: S[K]['type'] extends 'boolean'
    ? boolean
    : S[K]['default'] extends string
      ? string
      : string | undefined;
};

export interface ScriptUsage {
  /** `bench:loadgen`: how messages name the script. */
  readonly name: string;
  /** One or two lines on what it measures. */
  readonly summary: string;
  /** Extra lines after the flags (environment variables, output file). */
  readonly notes?: readonly string[];
}

export type ParsedFlags<T> =
  | { readonly kind: 'run'; readonly values: T }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'error'; readonly message: string };

/** Flags every script takes, besides its own. */
export const COMMON_FLAGS = {
  'max-load': {
    type: 'string',
    valueName: 'X',
    description:
      '1-minute load average above which the machine counts as busy before the run starts (default: 0.55 x cores, 1.1 on 2 cores)',
  },
} as const satisfies FlagSpecs;

export function usageText(usage: ScriptUsage, specs: FlagSpecs): string {
  const shown = Object.entries(specs).filter(([, spec]) => !spec.hidden);
  const left = (name: string, spec: FlagSpec) =>
    spec.type === 'boolean' ? `--${name}` : `--${name} ${spec.valueName ?? 'VALUE'}`;
  const width = Math.max(10, ...shown.map(([name, spec]) => left(name, spec).length)) + 2;
  const lines = [
    `usage: npm run ${usage.name} [-- flags]`,
    '',
    usage.summary,
    '',
    'flags:',
    ...shown.map(([name, spec]) => {
      const fallback =
        spec.type === 'string' && typeof spec.default === 'string' ? ` (default: ${spec.default})` : '';
      return `  ${left(name, spec).padEnd(width)}${spec.description}${fallback}`;
    }),
    `  ${'-h, --help'.padEnd(width)}print this and exit`,
    ...(usage.notes && usage.notes.length > 0 ? ['', ...usage.notes] : []),
  ];
  return `${lines.join('\n')}\n`;
}

/** A flag's value that does not fit its rule: parseFlags turns it into a one-line error. */
export class FlagError extends Error {}

export function parseFlags<S extends FlagSpecs, T = FlagValues<S>>(
  argv: readonly string[],
  usage: ScriptUsage,
  specs: S,
  convert: (values: FlagValues<S>) => T = (values) => values as T,
): ParsedFlags<T> {
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help', text: usageText(usage, specs) };
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, spec] of Object.entries(specs))
    options[name] = { type: spec.type, ...(spec.default !== undefined ? { default: spec.default } : {}) };
  let values: FlagValues<S>;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false })
      .values as FlagValues<S>;
  } catch (error) {
    // parseArgs' messages run to several sentences; keep the first, then point at --help.
    const first = ((error as Error).message.split(/\.\s|\n/)[0] ?? '').replace(/\.$/, '');
    return { kind: 'error', message: `${usage.name}: ${first}; see --help` };
  }
  try {
    return { kind: 'run', values: convert(values) };
  } catch (error) {
    if (error instanceof FlagError) return { kind: 'error', message: `${usage.name}: ${error.message}` };
    throw error;
  }
}

/**
 * For a script's first statement: the parsed (and converted) flags; or the usage printed and
 * exit 0 for --help; or a one-line error and exit 2.
 */
export function flagsOrExit<S extends FlagSpecs, T = FlagValues<S>>(
  usage: ScriptUsage,
  specs: S,
  convert?: (values: FlagValues<S>) => T,
  argv: readonly string[] = process.argv.slice(2),
): T {
  const parsed = parseFlags(argv, usage, specs, convert);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    process.exit(0);
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`${parsed.message}\n`);
    process.exit(2);
  }
  return parsed.values;
}

export interface NumberRule {
  readonly integer?: boolean;
  readonly min?: number;
}

/** A number flag within bounds (undefined stays undefined); throws FlagError naming the flag and the rule. */
export function numberFlag(name: string, value: string, rule?: NumberRule): number;
export function numberFlag(name: string, value: string | undefined, rule?: NumberRule): number | undefined;
export function numberFlag(
  name: string,
  value: string | undefined,
  rule: NumberRule = {},
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  const bad =
    value.trim() === '' ||
    !Number.isFinite(number) ||
    (rule.integer === true && !Number.isInteger(number)) ||
    (rule.min !== undefined && number < rule.min);
  if (bad) {
    const what = `${rule.integer ? 'a whole number' : 'a number'}${rule.min !== undefined ? ` >= ${rule.min}` : ''}`;
    throw new FlagError(`--${name} "${value}" is not valid: ${what}`);
  }
  return number;
}

/** A comma-separated list of numbers (`5000,7500`), each checked like numberFlag. */
export function numberListFlag(name: string, value: string, rule: NumberRule = {}): number[] {
  return value.split(',').map((item) => numberFlag(name, item, rule));
}

/** One of a fixed set of words (undefined stays undefined); throws FlagError listing them. */
/** A comma-separated list of choices, each checked as `choiceFlag` checks one. */
export function choiceListFlag<C extends string>(name: string, value: string, choices: readonly C[]): C[] {
  return value.split(',').map((item) => choiceFlag(name, item, choices) as C);
}

export function choiceFlag<C extends string>(
  name: string,
  value: string | undefined,
  choices: readonly C[],
): C | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value))
    throw new FlagError(`--${name} "${value}" is not valid: one of ${choices.join(', ')}`);
  return value as C;
}
