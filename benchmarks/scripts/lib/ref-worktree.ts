/**
 * A git revision checked out beside this tree, for scripts that measure this tree against it
 * side by side (`--ref REV`): a detached worktree in a temporary folder, with its own npm
 * dependencies, removed again by `remove()`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../../..');

export interface RefWorktree {
  readonly rev: string;
  readonly commit: string;
  /** The worktree's root. */
  readonly dir: string;
  /** This tree's HEAD (the other side is the working tree, uncommitted changes included). */
  readonly thisCommit: string;
  remove(): void;
}

export function git(args: readonly string[], cwd = ROOT): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

function npm(args: readonly string[], cwd: string): void {
  execFileSync('npm', args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Checks out `rev` in a temporary worktree (prefix names the folder). Its dependencies: this
 * tree's node_modules, linked, when both lock files are the same (seconds), else `npm ci`
 * (about a minute); with `build`, then `npm run build` there.
 */
export function makeRefWorktree(
  rev: string,
  options: { prefix: string; build: boolean; log: (line: string) => void },
): RefWorktree {
  let commit: string;
  try {
    commit = git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  } catch {
    throw new Error(`--ref ${rev}: no such commit in this repository (a branch, tag or commit id)`);
  }
  const dir = mkdtempSync(join(tmpdir(), `meshbench-${options.prefix}-ref-`));
  const remove = () => git(['worktree', 'remove', '--force', dir]);
  git(['worktree', 'add', '--quiet', '--detach', '--force', dir, commit]);
  try {
    const lock = (root: string) => readFileSync(join(root, 'package-lock.json'), 'utf8');
    const sameDependencies = lock(dir) === lock(ROOT);
    options.log(
      `reference ${rev} (${commit.slice(0, 12)}): worktree ${dir}, ${sameDependencies ? "this tree's dependencies (the same lock file)" : 'npm ci (about a minute)'}${options.build ? ', build' : ''}`,
    );
    if (sameDependencies) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    else npm(['ci', '--no-audit', '--no-fund'], dir);
    if (options.build) npm(['run', 'build'], dir);
  } catch (error) {
    remove();
    throw error;
  }
  return { rev, commit, dir, thisCommit: git(['rev-parse', 'HEAD']), remove };
}
