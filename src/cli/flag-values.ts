/**
 * What yargs lets through or words badly, said as one line naming the flag and the fix
 * (every command, through src/cli/run-cli.ts):
 * - a number flag given without a number (`--show-logs`, `--committee=`): yargs reads it as
 *   absent or 0, so the command did something else (started a network instead of showing logs);
 * - a number flag given text (`--committee abc`): yargs reads NaN, and the error named `NaN` or `null`;
 * - a single-value number flag given twice: yargs makes a list of it;
 * - yargs's own failures: "Unknown arguments: compose-file, composeFile" (the camel-case
 *   twin, no suggestion) and "Invalid values:" over two lines.
 */
import { badFlag, MeshbenchError } from '../common/errors.js';

/** How yargs declared an option (recorded by run-cli as the command builds its flags). */
export interface DeclaredOption {
  readonly type?: 'string' | 'number' | 'boolean' | 'array' | 'count';
  readonly choices?: readonly unknown[];
  readonly array?: boolean;
  readonly alias?: string | readonly string[];
  readonly requiresArg?: boolean;
}

/** The first number flag given without a number, with text, or twice; undefined when all are sound. */
export function numberFlagProblem(
  argv: readonly string[],
  declared: ReadonlyMap<string, DeclaredOption>,
): MeshbenchError | undefined {
  for (const [name, option] of declared) {
    if (option.type !== 'number') continue;
    const given = occurrences(argv, [...new Set([name, camelCase(name), ...aliasesOf(option)])]);
    if (given.length === 0) continue;
    for (const text of given) {
      if (text === undefined || text.trim() === '')
        return new MeshbenchError('BAD_FLAG', `--${name} needs a number after it (--${name} N)`, {
          hint: 'see --help',
          setting: { flag: name, value: text ?? null, rule: 'a number' },
        });
      if (numberOf(text) === undefined) return badFlag(name, text, 'a number');
    }
    if (given.length > 1 && option.array !== true)
      return new MeshbenchError(
        'BAD_FLAG',
        `--${name} was given ${given.length} times (${given.join(', ')})`,
        {
          hint: `give it once; see --help`,
          setting: { flag: name, value: given, rule: 'one value' },
        },
      );
  }
  return undefined;
}

/** A number flag's text as a number (what yargs makes of it), or undefined when it is blank or not a finite number. */
export function numberOf(text: string): number | undefined {
  const number = Number(text.trim());
  return text.trim() === '' || !Number.isFinite(number) ? undefined : number;
}

/**
 * The text after each occurrence of the flag (`--name value`, `--name=value`), undefined for an
 * occurrence with nothing after it (the end, `--`, or another flag that is not a negative number).
 */
function occurrences(argv: readonly string[], spellings: readonly string[]): (string | undefined)[] {
  const found: (string | undefined)[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? '';
    if (arg === '--') break;
    for (const spelled of spellings) {
      const flag = spelled.length === 1 ? `-${spelled}` : `--${spelled}`;
      if (arg.startsWith(`${flag}=`)) found.push(arg.slice(flag.length + 1));
      else if (arg === flag) {
        const next = argv[index + 1];
        const isValue = next !== undefined && next !== '--' && (!next.startsWith('-') || /^-\d/.test(next));
        found.push(isValue ? next : undefined);
      }
    }
  }
  return found;
}

/** yargs's failure message as one line in the form of the command's other flag errors. */
export function parseFailureLine(
  message: string,
  known: readonly string[],
  argv: readonly string[] = [],
): string {
  const unknown = /^Unknown arguments?: (.+)$/s.exec(message);
  if (unknown?.[1] !== undefined) {
    const names = unknown[1].split(', ').map((name) => name.trim());
    // yargs names a dashed flag twice: compose-file and composeFile.
    const distinct = names.filter(
      (name) => !names.some((other) => other !== name && camelCase(other) === name),
    );
    // yargs reads --no-such-flag as the negation of such-flag: name what was typed.
    const typed = (name: string) =>
      argv.some((arg) => arg === `--no-${name}` || arg.startsWith(`--no-${name}=`)) &&
      !argv.some((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
    const flags = distinct.map((name) =>
      name.length === 1 ? `-${name}` : typed(name) ? `--no-${name}` : `--${name}`,
    );
    const first = distinct[0];
    const nearest = first === undefined ? undefined : nearestName(first, known);
    const guess = nearest === undefined ? '' : `; did you mean --${nearest}?`;
    return `unknown flag${flags.length > 1 ? 's' : ''} ${flags.join(', ')}${guess}`;
  }
  const missing = /^Not enough arguments following: (\S+)$/.exec(message);
  if (missing?.[1] !== undefined) return `--${missing[1]} needs a value after it`;
  const invalid = [...message.matchAll(/Argument: (\S+), Given: (.+?), Choices: (.+)$/gm)];
  if (invalid.length > 0) {
    return invalid
      .map(([, name, given, choices]) => {
        const allowed = (choices ?? '').split(', ').map((choice) => choice.replace(/^"(.*)"$/, '$1'));
        return `--${name} ${given} is not valid: one of ${allowed.join(', ')}`;
      })
      .join('; ');
  }
  return message.replace(/\s*\n\s*/g, ' ');
}

/** The known name closest to `name` (edit distance), if it is close enough to be a typo. */
export function nearestName(name: string, names: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of names) {
    const distance = editDistance(name, candidate);
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  if (best === undefined) return undefined;
  // A typo, a missing or extra word part: within a third of the length, or a prefix.
  const close = best.distance <= Math.max(2, Math.floor(name.length / 3));
  const prefix = names.find((candidate) => candidate.startsWith(name) || name.startsWith(candidate));
  return close ? best.name : prefix;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function aliasesOf(option: DeclaredOption): string[] {
  return option.alias === undefined
    ? []
    : typeof option.alias === 'string'
      ? [option.alias]
      : [...option.alias];
}

export function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
