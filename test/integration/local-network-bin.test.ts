/**
 * The installed command, as a user runs it: bin/local-network.js runs the esbuild bundle
 * (dist/bundle/, written by npm run build), with compose v1 started during the checks.
 * A 2-node committee starts, takes a short load (the load generator is a chunk of the
 * bundle) and is removed.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_LABEL } from '../../src/common/labels.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { runBin as runBinProcess, type BinResult } from './run-bin.js';

const root = resolve(import.meta.dirname, '../..');
const docker = createDocker();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-bin-it-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runBin(args: string[]): Promise<BinResult> {
  return runBinProcess('local-network', args);
}

describe('bin/local-network.js', () => {
  it('is built as a bundle and runs from it', async () => {
    expect(existsSync(join(root, 'dist/bundle/local-network.js'))).toBe(true);
    // A bad flag with --verbose shows where the code ran from.
    const bad = await runBin(['--committee', '0', '--verbose']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('local-network: error: --committee 0 is not valid');
    expect(bad.stderr).toContain('dist/bundle/local-network.js');
  });

  it('starts a 2-node committee, sends a load and removes everything', async () => {
    const result = await runBin([
      '--committee',
      '2',
      '--num-transactions',
      '40',
      '--transaction-rate',
      '40',
      '--cleanup-thorough',
      '--output',
      dir,
    ]);
    expect(result.stderr).not.toContain('error');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/all 2 nodes ready after/);
    expect(result.stdout).toMatch(/Successful:\s+40/);
    const runId = /run (\d{8}-\d{6}-[0-9a-f]+)/.exec(result.stdout)?.[1];
    expect(runId).toBeDefined();
    const filters = { label: [`${RUN_LABEL}=${runId}`] };
    expect(await docker.listContainers({ all: true, filters })).toEqual([]);
    expect(await docker.listNetworks({ filters })).toEqual([]);
  });
});
