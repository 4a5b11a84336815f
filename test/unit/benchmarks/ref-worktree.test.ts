/**
 * The reference revision's worktree of bench:loadgen and bench:startup (`--ref`): a real git
 * worktree of this repository, with this tree's node_modules linked (the lock files match), and
 * its removal, which must take the link and never what it points to.
 */
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, makeRefWorktree } from '../../../benchmarks/scripts/lib/ref-worktree.js';

const ROOT = resolve(import.meta.dirname, '../../..');

describe('the --ref worktree', () => {
  it("checks out the revision with this tree's dependencies linked, and its removal leaves them", () => {
    const lines: string[] = [];
    const worktree = makeRefWorktree('HEAD', {
      prefix: 'test',
      build: false,
      log: (line) => lines.push(line),
    });
    try {
      expect(worktree.commit).toBe(git(['rev-parse', 'HEAD']));
      expect(existsSync(join(worktree.dir, 'benchmarks/scripts/bench-loadgen.ts'))).toBe(true);
      expect(lstatSync(join(worktree.dir, 'node_modules')).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(worktree.dir, 'node_modules'))).toBe(join(ROOT, 'node_modules'));
      expect(lines.join('\n')).toMatch(
        /reference HEAD \([0-9a-f]{12}\): worktree .*this tree's dependencies/,
      );
    } finally {
      worktree.remove();
    }
    expect(existsSync(worktree.dir)).toBe(false);
    expect(existsSync(join(ROOT, 'node_modules', 'vitest', 'package.json'))).toBe(true);
    expect(git(['worktree', 'list'])).not.toContain(worktree.dir);
  });

  it('refuses a revision the repository does not have in one line', () => {
    expect(() =>
      makeRefWorktree('no-such-revision-here', { prefix: 'test', build: false, log: () => undefined }),
    ).toThrow('--ref no-such-revision-here: no such commit in this repository (a branch, tag or commit id)');
  });
});
