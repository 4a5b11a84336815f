/**
 * benchmark --network-type both on the real engine (local) and the sandbox of SSH
 * hosts (remote): both sweeps run, and the comparison files agree with the
 * per-benchmark files they were built from.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBenchmarkPlan } from '../../src/bench/plan.js';
import type { BenchmarkRecord } from '../../src/results/record.js';
import { runBenchmark, type BenchmarkOutcome } from '../../src/results/run.js';
import { testbedFactory } from '../../src/bench/testbeds.js';
import { runLoad } from '../../src/load/index.js';
import { formatRatio, type Comparison } from '../../src/report/compare.js';
import { resultValidator } from '../../src/results/validate.js';
import { DOCKER_HOSTS, hostsFile, leftovers, useSandbox } from './sandbox-fixture.js';
import type { SandboxState } from '../../src/testbed/sandbox/sandbox.js';
import { defaultReporters } from '../../src/report/reporters.js';

let dir: string;
let state: SandboxState;
let outcome: BenchmarkOutcome;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-both-it-'));
  state = await useSandbox();
  const hosts = await hostsFile(state, 'benchmark-both', state.hosts.slice(0, DOCKER_HOSTS));
  const plan = await buildBenchmarkPlan(
    {
      networkType: 'both',
      hostsFile: hosts,
      localLoads: '20,40',
      remoteLoads: '20',
      duration: 5,
      cleanup: true,
      startupWait: 120,
      outputDir: dir,
    },
    { env: {} },
  );
  outcome = await runBenchmark(plan, {
    reporters: defaultReporters(),
    createTestbed: testbedFactory(),
    runLoad,
    stdout: () => {},
    stderr: (text) => process.stderr.write(`${text}\n`),
  });
}, 900_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('benchmark --network-type both', () => {
  it('writes both sweeps and the comparison', async () => {
    const files = (await readdir(outcome.runDir as string)).sort();
    expect(files).toEqual([
      'comparison.json',
      'comparison.txt',
      'local-benchmark-1.json',
      'local-benchmark-2.json',
      'remote-benchmark-1.json',
      'report.html',
      'run.json',
      'summary.txt',
    ]);
    const validate = resultValidator();
    for (const name of files.filter((file) => file.includes('-benchmark-'))) {
      const record = JSON.parse(await readFile(join(outcome.runDir as string, name), 'utf8'));
      expect(validate(record), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('compares the common load with ratios and sentences that match the files', async () => {
    const read = async <T>(name: string) =>
      JSON.parse(await readFile(join(outcome.runDir as string, name), 'utf8')) as T;
    const comparison = await read<Comparison>('comparison.json');
    const local = await read<BenchmarkRecord>('local-benchmark-1.json');
    const remote = await read<BenchmarkRecord>('remote-benchmark-1.json');
    expect(remote.network_type).toBe('remote');
    expect(remote.parameters.nodes).toBe(DOCKER_HOSTS);
    expect(remote.results.successful_transactions).toBeGreaterThan(0);

    expect(comparison.baseline_label).toBe('local');
    expect(comparison.candidate_label).toBe('remote');
    expect(comparison.loads).toHaveLength(1);
    expect(comparison.only_in_baseline).toEqual([40]);
    const entry = comparison.loads[0];
    expect(entry?.load).toBe(20);
    expect(entry?.baseline.throughput).toBe(local.results.throughput);
    expect(entry?.candidate.throughput).toBe(remote.results.throughput);
    expect(entry?.baseline.p50_latency_ms).toBe(local.results.latency_percentiles_ms.p50);
    expect(entry?.candidate.p50_latency_ms).toBe(remote.results.latency_percentiles_ms.p50);
    const p50Ratio = remote.results.latency_percentiles_ms.p50 / local.results.latency_percentiles_ms.p50;
    expect(entry?.ratios.p50_latency).toBeCloseTo(p50Ratio, 9);
    expect(entry?.ratios.throughput).toBeCloseTo(remote.results.throughput / local.results.throughput, 9);
    expect(comparison.findings).toContain(
      `at 20 tx/s remote p50 latency is ${formatRatio(p50Ratio)}× local (${remote.results.latency_percentiles_ms.p50.toFixed(2)} ms vs ${local.results.latency_percentiles_ms.p50.toFixed(2)} ms)`,
    );
    const text = await readFile(join(outcome.runDir as string, 'comparison.txt'), 'utf8');
    for (const finding of comparison.findings) expect(text).toContain(finding);
    const summary = await readFile(join(outcome.runDir as string, 'summary.txt'), 'utf8');
    expect(summary).toContain('Comparison');
  });

  it('leaves the sandbox hosts clean (--cleanup)', async () => {
    for (const host of state.hosts.slice(0, DOCKER_HOSTS)) {
      expect((await leftovers(host)).containers).toEqual([]);
    }
  });
});
