/** How many integration files run at once (scripts/test-lanes.mjs): fewer when the machine is in use. */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { lanesFor as lanes } from '../../../scripts/test-lanes.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

describe('integration lanes', () => {
  it('two on a free 2-core machine, one per two cores on a larger one', () => {
    expect(lanes(2, 0)).toBe(2);
    expect(lanes(2, 0.2)).toBe(2);
    expect(lanes(1, 0)).toBe(2);
    expect(lanes(8, 0.05)).toBe(4);
  });

  it('the share the others leave when something else runs, at least one', () => {
    expect(lanes(2, 1)).toBe(1); // two CPU burners on two cores
    expect(lanes(2, 0.5)).toBe(1);
    expect(lanes(8, 0.5)).toBe(2);
    expect(lanes(8, 0.99)).toBe(1);
  });

  it('prints the number on stdout and why on stderr', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [
      join(ROOT, 'scripts/test-lanes.mjs'),
    ]);
    expect(Number(stdout.trim())).toBeGreaterThanOrEqual(1);
    expect(stderr).toMatch(/^integration lanes: \d+ \(\d+ CPUs, \d+ % busy before the tests/);
  });
});
