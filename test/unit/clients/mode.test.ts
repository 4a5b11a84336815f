import { describe, expect, it } from 'vitest';
import { parseLoadClients } from '../../../src/clients/mode.js';
import { MeshbenchError } from '../../../src/common/errors.js';

describe('--load-clients', () => {
  it('takes local, colocated and dedicated:N', () => {
    expect(parseLoadClients('local')).toEqual({ kind: 'local' });
    expect(parseLoadClients(' colocated ')).toEqual({ kind: 'colocated' });
    expect(parseLoadClients('dedicated:2')).toEqual({ kind: 'dedicated', count: 2 });
  });

  it.each([
    ['dedicated', /dedicated:N takes N, the number of client hosts/],
    ['dedicated:0', /a whole number from 1 to/],
    ['dedicated:x', /a whole number from 1 to/],
    ['dedicated:1.5', /a whole number from 1 to/],
    ['remote', /use one of local\|colocated\|dedicated:N/],
    ['', /use one of/],
  ])('refuses %j in one line naming the flag', (value, rule) => {
    let error: unknown;
    try {
      parseLoadClients(value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(MeshbenchError);
    expect((error as MeshbenchError).code).toBe('BAD_FLAG');
    expect((error as MeshbenchError).message).toMatch(/^--load-clients /);
    expect((error as MeshbenchError).message).toMatch(rule);
    expect((error as MeshbenchError).message).not.toContain('\n');
  });
});
