import { describe, expect, it } from 'vitest';
import { runInOwnGroup } from '../../../src/common/group-child.js';

describe('a child in a process group of its own', () => {
  it('gives its exit status and output', async () => {
    const chunks: Buffer[] = [];
    const result = await runInOwnGroup('sh', ['-c', 'echo built; exit 3'], {
      onOutput: (chunk) => chunks.push(chunk),
    });
    expect(result).toEqual({ code: 3, interrupted: false });
    expect(Buffer.concat(chunks).toString()).toBe('built\n');
  });

  it('counts a kill by SIGINT or SIGTERM from outside as an interrupt', async () => {
    for (const signal of ['INT', 'TERM'])
      expect(await runInOwnGroup('sh', ['-c', `kill -${signal} $$; sleep 5`])).toEqual({
        code: 1,
        interrupted: true,
      });
  });

  it('says 127 when the command cannot start', async () => {
    expect(await runInOwnGroup('/nonexistent/meshbench-build', [])).toEqual({
      code: 127,
      interrupted: false,
    });
  });
});
