/**
 * `benchmark --config examples/bench.yaml` on the real Docker engine, as a user runs it
 * (bin/benchmark.js from dist/): the example file through the config pipeline, shortened
 * by the environment (MESHBENCH_DURATION) and flags (--loads, --output-dir), one level on
 * a local 4-node refnode network, removed at the end (cleanup: true in the file).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_LABEL } from '../../src/common/labels.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { runBin as runBinProcess, type BinResult } from './run-bin.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-config-it-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runBin(args: string[], env: Record<string, string> = {}): Promise<BinResult> {
  return runBinProcess('benchmark', args, env);
}

describe('benchmark --config examples/bench.yaml', () => {
  it('runs the file, overridden by the environment and flags, and records where each setting came from', async () => {
    const result = await runBin(
      ['--config', 'examples/bench.yaml', '--loads', '50', '--output-dir', dir, '--verbose'],
      { MESHBENCH_DURATION: '4' },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('  duration = 4  (MESHBENCH_DURATION)');
    expect(result.stderr).toContain('  committee = 4  (examples/bench.yaml:committee)');
    expect(result.stderr).toContain('  loads = 50  (--loads)');
    const [runDir] = await readdir(dir);
    const runJson = JSON.parse(await readFile(join(dir, runDir ?? '', 'run.json'), 'utf8'));
    expect(runJson.plan.durationSecs).toBe(4);
    expect(runJson.plan.networks).toEqual([{ kind: 'local', loads: [50] }]);
    expect(runJson.plan.configSources).toMatchObject({
      duration: 'MESHBENCH_DURATION',
      loads: '--loads',
      'output-dir': '--output-dir',
      committee: 'examples/bench.yaml:committee',
      cleanup: 'examples/bench.yaml:cleanup',
    });
    const record = JSON.parse(await readFile(join(dir, runDir ?? '', 'local-benchmark-1.json'), 'utf8'));
    expect(record.results.successful_transactions).toBeGreaterThan(0);
    // cleanup: true came from the file: the network was removed, none of its containers is left.
    const output = `${result.stdout}\n${result.stderr}`;
    expect(output).toContain('[local] removing the network');
    expect(output).not.toContain('left running');
    const testbed = record.environment.testbed as { runId?: string; composeProject?: string };
    const runId = testbed.runId ?? /network (\S+)/.exec(output)?.[1];
    if (runId) {
      const left = await createDocker().listContainers({
        all: true,
        filters: { label: [`${RUN_LABEL}=${runId}`] },
      });
      expect(left).toEqual([]);
    }
  });
});
