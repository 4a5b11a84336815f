/** The sandbox command's own errors: a subcommand it does not have names what was typed. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/sandbox.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('sandbox command', () => {
  it('names a subcommand it does not have, not a --command flag nobody typed (exit 2)', async () => {
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
    expect(await main(['bogus'])).toBe(2);
    expect(err.join('')).toBe(
      'sandbox: error: sandbox "bogus": no such command; say up, down or status (see sandbox --help)\n',
    );
    err.length = 0;
    expect(await main([])).toBe(2);
    expect(err.join('')).toBe('sandbox: error: say up, down or status (see sandbox --help)\n');
  });
});
