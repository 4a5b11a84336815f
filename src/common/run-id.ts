import { randomBytes } from 'node:crypto';

/** Spelled in ./labels.ts; re-exported for code written before that module. */
export { ROLE_LABEL, RUN_LABEL } from './labels.js';

/**
 * A run id: sortable by time, unique, and safe in Docker names, labels and file
 * names, e.g. `20261121-234501-a1b2c3`.
 */
export function newRunId(now: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp =
    `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}` +
    `-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}
