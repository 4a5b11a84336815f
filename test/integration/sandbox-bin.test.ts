/**
 * bin/sandbox.js as a user runs it: from the esbuild bundle (dist/bundle/sandbox.js,
 * written by npm run build), like bin/local-network.js. No hosts are started.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBin as runBinProcess, type BinResult } from './run-bin.js';

const root = resolve(import.meta.dirname, '../..');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-sandbox-bin-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runBin(args: string[]): Promise<BinResult> {
  return runBinProcess('sandbox', args);
}

describe('bin/sandbox.js', () => {
  it('is built as a bundle and runs from it', async () => {
    expect(existsSync(join(root, 'dist/bundle/sandbox.js'))).toBe(true);
    // A bad flag with --verbose shows where the code ran from.
    const bad = await runBin(['up', '--hosts', '0', '--verbose']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('sandbox: error: --hosts 0 is not valid');
    expect(bad.stderr).toContain('dist/bundle/sandbox.js');
  });

  it('answers status from the bundle', async () => {
    const status = await runBin(['status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`no sandbox in ${dir}`);
  });
});
