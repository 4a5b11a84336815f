/**
 * The installed command, as a user runs it: bin/local-network.js runs the esbuild bundle
 * (dist/bundle/, written by npm run build), with compose v1 started during the checks.
 * A 2-node committee starts, takes a short load (the load generator is a chunk of the
 * bundle) and is removed.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
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

  it('starts a 2-node committee, sends a load (a two-kind --mix) and removes everything', async () => {
    const mix = join(dir, 'mix.yaml');
    await writeFile(
      mix,
      'kinds:\n  - { name: small, weight: 3, size: 64 }\n  - { name: big, weight: 1, size: 2048 }\n',
    );
    const result = await runBin([
      '--mix',
      mix,
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
    // the mix: 3 of every 4 are small, a line per kind, and the record's kinds add up to the totals
    expect(result.stdout).toMatch(/Kind small \(75 %\):\s+30 sent/);
    expect(result.stdout).toMatch(/Kind big \(25 %\):\s+10 sent/);
    const runId = /run (\d{8}-\d{6}-[0-9a-f]+)/.exec(result.stdout)?.[1];
    expect(runId).toBeDefined();
    const runDir = (await readdir(dir)).find((name) => name.includes(runId!));
    const record = JSON.parse(await readFile(join(dir, runDir!, 'local-benchmark-1.json'), 'utf8')) as {
      results: {
        successful_transactions: number;
        kinds: { name: string; sent_transactions: number; transaction_size: number }[];
      };
    };
    expect(
      record.results.kinds.map((kind) => [kind.name, kind.sent_transactions, kind.transaction_size]),
    ).toEqual([
      ['small', 30, 64],
      ['big', 10, 2048],
    ]);
    const filters = { label: [`${RUN_LABEL}=${runId}`] };
    expect(await docker.listContainers({ all: true, filters })).toEqual([]);
    expect(await docker.listNetworks({ filters })).toEqual([]);
  });
});
