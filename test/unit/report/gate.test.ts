/**
 * The regression gate: noise is not flagged, a real regression is (with its p-value when
 * there are runs enough for a test, by ratio otherwise), different settings are refused
 * naming the field, thresholds check one run, and the CLI's outputs and exit codes.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBenchmarkPlan } from '../../../src/bench/plan.js';
import { runCompareCommand } from '../../../src/cli/compare-command.js';
import { GATE_EXIT, parseThreshold, runGate } from '../../../src/report/gate.js';
import { renderGateJunit, renderGateMarkdown, renderGateText } from '../../../src/report/gate-render.js';
import { buildBenchmarkRecord, type BenchmarkRecord, type LevelRun } from '../../../src/results/record.js';
import { fakeLevelRun } from '../bench/fixtures.js';

const plan10 = await buildBenchmarkPlan({ duration: 10, loads: '100' }, { skipFileChecks: true, env: {} });
const plan20 = await buildBenchmarkPlan({ duration: 20, loads: '100' }, { skipFileChecks: true, env: {} });

function run(efficiency: number, commitP50Ms: number): LevelRun {
  return fakeLevelRun({ rate: 100, efficiency, commitP50Ms });
}

/** A level of 100 tx/s with one run per (efficiency, p50) pair. */
function level(
  runs: readonly (readonly [number, number])[],
  plan = plan10,
  network: 'local' | 'remote' = 'local',
): BenchmarkRecord {
  return buildBenchmarkRecord({
    plan,
    runId: 'r1',
    network,
    benchmarkNumber: 1,
    load: 100,
    nodes: 4,
    runs: runs.map(([efficiency, p50]) => run(efficiency, p50)),
    environment: {
      tool: 'meshbench',
      tool_version: '0.1.0',
      node_image_id: 'sha256:abc',
      host: { hostname: 'h', cpus: 2, memory_bytes: 2 ** 34, node_version: 'v20' },
      testbed: {},
      deploy_ready_after_ms: 1000,
    },
    timestamp: '2026-11-24T04:00:00.000Z',
  });
}

const side = (record: BenchmarkRecord, source = 'x') => ({ source, records: [record] });

describe('the regression gate', () => {
  it('does not flag noise: five runs a side that differ by a few percent either way', () => {
    const baseline = level([
      [0.99, 40],
      [1, 43],
      [0.98, 38],
      [1, 41],
      [0.99, 40],
    ]);
    const current = level([
      [1, 42],
      [0.98, 39],
      [0.99, 44],
      [1, 40],
      [0.99, 41],
    ]);
    const result = runGate({ baseline: side(baseline), current: side(current) });
    expect(result.verdict).toBe('ok');
    const p50 = result.checks.find((c) => c.metric === 'p50_ms');
    expect(p50?.test.method).toBe('welch-t');
    expect(p50?.verdict).toBe('same');
    expect(renderGateText(result)).toMatch(/p50_ms .* p=0\.\d{3} +same/);
  });

  it('flags a real regression with its p-value, and a significant change smaller than the tolerance is still the same', () => {
    const baseline = level([
      [1, 40],
      [1, 41],
      [1, 39],
    ]);
    const slower = level([
      [1, 60],
      [1, 61],
      [1, 59],
    ]);
    const result = runGate({ baseline: side(baseline), current: side(slower) });
    const p50 = result.checks.find((c) => c.metric === 'p50_ms');
    expect(p50?.verdict).toBe('worse');
    expect(p50?.test.method === 'welch-t' && p50.test.p_value).toBeLessThan(0.01);
    expect(result.verdict).toBe('regression');
    expect(renderGateText(result)).toMatch(
      /verdict: REGRESSION — \d regression\(s\): p50_ms at local n=4 100 tx\/s \+50\.0%/,
    );
    const barely = level([
      [1, 42],
      [1, 43],
      [1, 41],
    ]);
    expect(runGate({ baseline: side(baseline), current: side(barely) }).verdict).toBe('ok');
  });

  it('with one run a side: the plain ratio against --max-regression, and says no test was possible', () => {
    const baseline = level([[1, 40]]);
    const result = runGate({ baseline: side(baseline), current: side(level([[1, 48]])) });
    const p50 = result.checks.find((c) => c.metric === 'p50_ms');
    expect(p50?.verdict).toBe('worse');
    expect(p50?.test).toEqual({
      method: 'ratio',
      note: expect.stringMatching(/no statistical test possible/),
    });
    expect(
      runGate({ baseline: side(baseline), current: side(level([[1, 48]])), maxRegression: 0.25 }).verdict,
    ).toBe('ok');
    // better is not a regression
    expect(
      runGate({ baseline: side(baseline), current: side(level([[1, 20]])) }).checks.find(
        (c) => c.metric === 'p50_ms',
      )?.verdict,
    ).toBe('better');
  });

  it("compares the nodes' mean CPU and memory when both sides have a resources block", () => {
    const withResources = (cpu: number): BenchmarkRecord => {
      const record = level([[1, 40]]);
      return {
        ...record,
        runs: record.runs.map((r) => ({
          ...r,
          blocks: {
            resources: {
              nodes: [
                { node_id: 'node0', cpu_percent: { mean: cpu }, memory_bytes: { mean: 1e8 } },
                { node_id: 'node1', cpu_percent: { mean: cpu + 10 }, memory_bytes: { mean: 1e8 } },
              ],
            },
          },
        })),
      };
    };
    const result = runGate({ baseline: side(withResources(40)), current: side(withResources(80)) });
    const cpu = result.checks.find((c) => c.metric === 'node_cpu_percent');
    expect(cpu?.baseline.mean).toBe(45);
    expect(cpu?.verdict).toBe('worse');
    expect(result.checks.find((c) => c.metric === 'node_memory_bytes')?.verdict).toBe('same');
    // one side without: not compared
    expect(
      runGate({ baseline: side(level([[1, 40]])), current: side(withResources(80)) }).checks.some((c) =>
        c.metric.startsWith('node_'),
      ),
    ).toBe(false);
  });

  it('refuses runs made with different settings, naming the field', () => {
    expect(() =>
      runGate({ baseline: side(level([[1, 40]])), current: side(level([[1, 40]], plan20)) }),
    ).toThrow(/parameters\.duration differs at local n=4 100 tx\/s: 10 in the baseline, 20 now/);
  });

  it('thresholds check one run, and name the known metrics when one is unknown or does not parse', () => {
    const current = side(level([[0.95, 300]]));
    const result = runGate({
      current,
      thresholds: [parseThreshold('p99_ms<500'), parseThreshold('efficiency>=0.99')],
    });
    expect(result.thresholds.map((t) => t.passed)).toEqual([false, false]);
    const ok = runGate({ current, thresholds: [parseThreshold('p50_ms < 400')] });
    expect(ok.verdict).toBe('ok');
    expect(() => parseThreshold('latency<5')).toThrow(/no metric latency/);
    expect(() => parseThreshold('latency<5')).toThrow(
      expect.objectContaining({ hint: expect.stringMatching(/throughput, efficiency/) }),
    );
    expect(() => parseThreshold('p99 under 5')).toThrow(/does not parse/);
  });

  it('writes JUnit (a failure per regression) and a Markdown table', () => {
    const result = runGate({
      baseline: side(level([[1, 40]])),
      current: side(level([[1, 80]])),
      thresholds: [parseThreshold('efficiency>=0.99')],
    });
    const junit = renderGateJunit(result);
    expect(junit).toMatch(/<testsuites name="meshbench" tests="\d+" failures="\d+">/);
    expect(junit).toMatch(
      /<testcase classname="meshbench.regression" name="p50_ms at local n=4 100 tx\/s"><failure/,
    );
    expect(junit).toContain(
      '<testcase classname="meshbench.threshold" name="efficiency&gt;=0.99 at local n=4 100 tx/s"/>',
    );
    const markdown = renderGateMarkdown(result);
    expect(markdown).toContain('### meshbench: ❌ regression');
    expect(markdown).toMatch(
      /\| local n=4 100 tx\/s \| p50_ms \| 40\.00 ms \| 80\.00 ms \| \+100\.0% \| ratio \(no test\) \| 🔴 worse \|/,
    );
  });
});

describe('benchmark compare as a gate (the command)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbench-gate-'));
    for (const [name, p50] of [
      ['base', 40],
      ['same', 41],
      ['slow', 70],
    ] as const) {
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'local-benchmark-1.json'), JSON.stringify(level([[1, p50]])));
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const compare = async (options: Partial<Parameters<typeof runCompareCommand>[0]> & { a: string }) => {
    const out: string[] = [];
    const result = await runCompareCommand(
      { outputDir: join(dir, 'out'), ...options },
      { stdout: (text) => out.push(text), cwd: dir },
    );
    return { ...result, out: out.join('\n') };
  };

  it('exits 0 without a regression, 3 with one, and writes gate.json, --junit and --markdown', async () => {
    const same = await compare({ a: 'base', b: 'same' });
    expect(same.exitCode).toBe(GATE_EXIT.ok);
    expect(same.out).toMatch(/verdict: ok/);
    const slow = await compare({ a: 'base', b: 'slow', junit: 'junit.xml', markdown: 'summary.md' });
    expect(slow.exitCode).toBe(GATE_EXIT.regression);
    expect(await readFile(join(dir, 'junit.xml'), 'utf8')).toContain('<failure');
    expect(await readFile(join(dir, 'summary.md'), 'utf8')).toContain('❌ regression');
    const gate = JSON.parse(await readFile(join(slow.runDir as string, 'gate.json'), 'utf8'));
    expect(gate.verdict).toBe('regression');
    const json = await compare({ a: 'base', b: 'slow', json: true, fileOutput: false });
    expect(JSON.parse(json.out).gate.regressions).toBeGreaterThan(0);
  });

  it('two folders with both network types: local is gated against local, remote against remote', async () => {
    for (const [name, remoteP50] of [
      ['both-a', 40],
      ['both-b', 90],
    ] as const) {
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'local-benchmark-1.json'), JSON.stringify(level([[1, 40]])));
      await writeFile(
        join(dir, name, 'remote-benchmark-2.json'),
        JSON.stringify(level([[1, remoteP50]], plan10, 'remote')),
      );
    }
    const result = await compare({ a: 'both-a', b: 'both-b', fileOutput: false });
    expect(result.exitCode).toBe(GATE_EXIT.regression);
    const p50 = result.gate?.checks.filter((c) => c.metric === 'p50_ms');
    expect(p50?.map((c) => [c.level, c.verdict])).toEqual([
      ['local n=4 100 tx/s', 'same'],
      ['remote n=4 100 tx/s', 'worse'],
    ]);
  });

  it('refuses runs made with different settings before printing a comparison of them', async () => {
    await mkdir(join(dir, 'longer'));
    await writeFile(join(dir, 'longer', 'local-benchmark-1.json'), JSON.stringify(level([[1, 40]], plan20)));
    const out: string[] = [];
    await expect(
      runCompareCommand(
        { a: 'base', b: 'longer', outputDir: join(dir, 'out'), fileOutput: false },
        { stdout: (text) => out.push(text), cwd: dir },
      ),
    ).rejects.toThrow(/parameters\.duration differs/);
    // it printed the whole comparison table, then refused it
    expect(out).toEqual([]);
  });

  it('a --junit, --markdown or --output-dir that cannot be written is one line naming the flag (exit 1)', async () => {
    await writeFile(join(dir, 'a-file'), '');
    for (const [options, flag] of [
      [{ junit: 'a-file/junit.xml' }, '--junit'],
      [{ markdown: 'a-file/summary.md' }, '--markdown'],
      [{ outputDir: join(dir, 'a-file', 'out') }, '--output-dir'],
    ] as const) {
      const refused = compare({ a: 'base', b: 'same', ...options });
      await expect(refused).rejects.toThrow(new RegExp(`^cannot write ${flag} .*a-file`));
      await expect(refused).rejects.toMatchObject({
        hint: `give a writable ${flag}`,
        exitCode: GATE_EXIT.input,
      });
    }
  });

  it('checks one run against thresholds alone', async () => {
    expect((await compare({ a: 'slow', thresholds: ['p50_ms<100'], fileOutput: false })).exitCode).toBe(0);
    expect((await compare({ a: 'slow', thresholds: ['p50_ms<50'], fileOutput: false })).exitCode).toBe(3);
    await expect(compare({ a: 'slow' })).rejects.toThrow(/one run given .* and no --threshold/);
  });

  it('bad input: a record from a newer schema, a truncated record, a folder with none, a bad tolerance', async () => {
    const record = JSON.parse(await readFile(join(dir, 'base', 'local-benchmark-1.json'), 'utf8'));
    await writeFile(join(dir, 'newer.json'), JSON.stringify({ ...record, schema_version: 99 }));
    await expect(compare({ a: 'base', b: 'newer.json' })).rejects.toThrow(
      /\/schema_version is 99, newer than this meshbench reads/,
    );
    await writeFile(join(dir, 'cut.json'), JSON.stringify(record).slice(0, 200));
    await expect(compare({ a: 'base', b: 'cut.json' })).rejects.toThrow(/cut\.json.*cannot read it as JSON/);
    const broken = { ...record, results: { ...record.results, throughput: 'fast' } };
    await writeFile(join(dir, 'broken.json'), JSON.stringify(broken));
    await expect(compare({ a: 'base', b: 'broken.json' })).rejects.toThrow(/\/results\/throughput/);
    await mkdir(join(dir, 'empty'));
    await expect(compare({ a: 'base', b: 'empty' })).rejects.toThrow(
      /holds no <network>-benchmark-<n>\.json files/,
    );
    await expect(compare({ a: 'base', b: 'same', maxRegression: 'lots' })).rejects.toThrow(
      /--max-regression "lots" is not valid/,
    );
    await expect(compare({ a: 'base', b: 'same', maxRegression: 'lots' })).rejects.toHaveProperty(
      'exitCode',
      1,
    );
  });
});
