import { describe, expect, it } from 'vitest';
import { parseLoadClients } from '../../../src/clients/mode.js';
import { MeshbenchError } from '../../../src/common/errors.js';

describe('--load-clients', () => {
  it('takes local and colocated', () => {
    expect(parseLoadClients('local')).toEqual({ kind: 'local' });
    expect(parseLoadClients(' colocated ')).toEqual({ kind: 'colocated' });
  });

  it.each([
    ['dedicated:2', /dedicated client hosts are not supported yet/],
    ['remote', /use one of local\|colocated/],
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
