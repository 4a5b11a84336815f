/**
 * A protocol's settings as plain data: a key, a line of help, a default, and a function
 * that turns a loose value (a string from a flag, a number or boolean from a script or
 * the wizard) into a typed one or says what is allowed. The commands make flags of them
 * (src/cli/), the plan parses them (src/bench/plan.ts); neither knows which protocol
 * they belong to.
 */

/** A parsed value, or the rule the value broke (the `allowed` part of a BAD_FLAG line). */
export type SettingValue = { readonly value: unknown } | { readonly rule: string };

export interface ProtocolSetting {
  /** camelCase key, starting with the protocol's kind; the flag is its kebab-case form (`httpMethod` → `--http-method`). */
  readonly key: string;
  /** One line of --help, e.g. `http: request path`. */
  readonly describe: string;
  /** The default as --help shows it (may be prose); leave out when there is none. */
  readonly defaultDescription?: string;
  /** The value the plan uses when the setting is not given; leave out to let the protocol decide. */
  readonly default?: unknown;
  /** May be given more than once; the values arrive as a list. */
  readonly repeatable?: boolean;
  /** A loose value → its typed value, or the rule it broke. */
  parse(value: unknown): SettingValue;
}

/** `--http-method` → `httpMethod`'s flag name, and back. */
export function settingFlag(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

function numberOf(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return value.trim() === '' ? Number.NaN : Number(value);
  return Number.NaN;
}

/** One of `values` (exact). */
export function oneOf(values: readonly string[]): ProtocolSetting['parse'] {
  const rule = `one of ${values.join(', ')}`;
  return (value) => (typeof value === 'string' && values.includes(value) ? { value } : { rule });
}

/** A whole number from `min` to `max`. */
export function wholeNumber(min: number, max: number, unit: string): ProtocolSetting['parse'] {
  return (value) => {
    const number = numberOf(value);
    return Number.isInteger(number) && number >= min && number <= max
      ? { value: number }
      : { rule: `a whole number of ${unit} from ${min} to ${max}` };
  };
}

/** A number above 0 and at most `max`. */
export function positiveNumber(max: number, unit: string): ProtocolSetting['parse'] {
  return (value) => {
    const number = numberOf(value);
    return Number.isFinite(number) && number > 0 && number <= max
      ? { value: number }
      : { rule: `a number of ${unit} > 0 and at most ${max}` };
  };
}

/** A string that passes `test` (after `normalize`), else `rule`. */
export function text(
  rule: string,
  test: (value: string) => boolean,
  normalize: (value: string) => string = (value) => value,
): ProtocolSetting['parse'] {
  return (value) => {
    if (typeof value !== 'string') return { rule };
    const normalized = normalize(value);
    return test(normalized) ? { value: normalized } : { rule };
  };
}
