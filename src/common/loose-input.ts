/**
 * Loose setting values (strings from yargs, a config file or the environment; numbers or
 * booleans from the wizard or scripts) as zod schemas, each rejecting with the words a
 * one-line error puts after the flag and its value. Shared by the core plan and the plug-ins.
 */
import { z } from 'zod';
import { booleanWord } from './boolean-word.js';

export const looseNumber = z.union([z.number(), z.string()]);

/** A whole number from `min` to `max`. */
export function wholeNumber(min: number, max: number, unit: string) {
  return looseNumber.transform((value, ctx) => {
    const number = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
    if (!Number.isInteger(number) || number < min || number > max) {
      const range = max === Infinity ? `, ${min} or more` : ` from ${min} to ${max}`;
      ctx.addIssue({ code: 'custom', message: `a whole number of ${unit}${range}` });
      return z.NEVER;
    }
    return number;
  });
}

/** true/false, also as the words yes/no, on/off, 1/0. */
export const looseBoolean = z.union([z.boolean(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'boolean') return value;
  const read = booleanWord(value);
  if (read !== undefined) return read;
  ctx.addIssue({ code: 'custom', message: 'true or false' });
  return z.NEVER;
});
