import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildBenchmarkPlan } from '../../../src/bench/plan.js';
import { buildBenchmarkRecord, type BenchmarkRecord, type LevelRun } from '../../../src/results/record.js';
import { compareRecords, formatRatio, renderComparisonText } from '../../../src/report/compare.js';
import { renderResultBlock, renderResultsTable, TABLE_HEAD } from '../../../src/report/console.js';
import { resultJsonSchema } from '../../../src/results/schema.js';
import { resultValidator } from '../../../src/results/validate.js';
import { describePlan, renderRunSummary } from '../../../src/report/text.js';
import { fakeLevelRun } from '../bench/fixtures.js';

const plan = await buildBenchmarkPlan({ duration: 10, loads: '100,200' }, { skipFileChecks: true, env: {} });

function run(rate: number, efficiency = 1, commitP50Ms = 40): LevelRun {
  return fakeLevelRun({ rate, efficiency, commitP50Ms });
}

function record(
  network: 'local' | 'remote',
  number: number,
  load: number,
  runs: LevelRun[],
): BenchmarkRecord {
  return buildBenchmarkRecord({
    plan,
    runId: 'r1',
    network,
    benchmarkNumber: number,
    load,
    nodes: 4,
    runs,
    environment: {
      tool: 'meshbench',
      tool_version: '0.1.0',
      node_image_id: 'sha256:abc',
      host: { hostname: 'h', cpus: 2, memory_bytes: 2 ** 34, node_version: 'v20' },
      testbed: {},
      deploy_ready_after_ms: 1000,
    },
    timestamp: '2026-11-21T23:30:00.000Z',
  });
}

const validate = resultValidator();

describe('the result record', () => {
  it('has the original fields and validates against the schema', () => {
    const r = record('local', 1, 100, [run(100, 0.98)]);
    expect(Object.keys(r)).toEqual(
      expect.arrayContaining(['network_type', 'benchmark_number', 'parameters', 'results', 'timestamp']),
    );
    expect(r.parameters).toMatchObject({
      nodes: 4,
      load: 100,
      duration: 10,
      transaction_size: 512,
      faults: 0,
      crash_recovery: false,
      crash_interval: 60,
    });
    expect(r.results).toMatchObject({
      throughput: 98,
      avg_latency_ms: 44,
      latency_std_dev_ms: 10,
      duration_secs: 10,
      successful_transactions: 980,
      failed_transactions: 20,
      efficiency: 0.98,
      input_rate: 100,
      achieved_rate: 100,
      latency_stage: 'commit',
    });
    expect(r.results.latency_percentiles_ms.p50).toBe(40);
    expect(r.results.per_node).toHaveLength(4);
    expect(r.results.time_series).toHaveLength(10);
    expect(validate(JSON.parse(JSON.stringify(r))), JSON.stringify(validate.errors)).toBe(true);
  });

  it('reports ack latency and accepted throughput without commit confirmation', async () => {
    const ackPlan = await buildBenchmarkPlan(
      { duration: 10, confirm: 'none' },
      { skipFileChecks: true, env: {} },
    );
    const r = buildBenchmarkRecord({ ...baseInput(), plan: ackPlan });
    expect(r.results.latency_stage).toBe('ack');
    expect(r.results.throughput).toBe(100);
    expect(r.results.successful_transactions).toBe(1000);
    expect(r.results.failed_transactions).toBe(0);
  });

  it("keeps the plug-ins' plan fields where records had them before the registry, and states the fault load", async () => {
    const withPlugins = await buildBenchmarkPlan(
      { duration: 10, ingest: true, ingestPort: 7000, propagation: true, faultLoad: 'drop' },
      { skipFileChecks: true, env: {} },
    );
    const r = buildBenchmarkRecord({ ...baseInput(), plan: withPlugins });
    const recorded = r.plan as unknown as Record<string, unknown>;
    expect(recorded['ingest']).toEqual({ port: 7000 });
    expect(recorded['propagation']).toBe(true);
    expect(recorded['monitorIntervalMs']).toBe(1000);
    expect(recorded['plugins']).toEqual(withPlugins.plugins);
    expect(r.parameters.fault_load).toBe('drop');
    const plain = buildBenchmarkRecord({ ...baseInput(), plan });
    expect((plain.plan as unknown as Record<string, unknown>)['propagation']).toBe(false);
    expect((plain.plan as unknown as Record<string, unknown>)['ingest']).toBeUndefined();
  });

  it('the schema rejects a record missing an original field', () => {
    const r = JSON.parse(JSON.stringify(record('local', 1, 100, [run(100)])));
    delete r.results.failed_transactions;
    expect(validate(r)).toBe(false);
  });

  it('docs/result.schema.json is what the zod schema in src/results/schema.ts generates (npm run schema writes it)', async () => {
    const docs = JSON.parse(await readFile('docs/result.schema.json', 'utf8'));
    expect(docs, 'docs/result.schema.json is stale: run npm run schema').toEqual(resultJsonSchema());
  });

  function baseInput() {
    return {
      plan,
      runId: 'r',
      network: 'local' as const,
      benchmarkNumber: 1,
      load: 100,
      nodes: 4,
      runs: [run(100)],
      environment: record('local', 1, 100, [run(100)]).environment,
      timestamp: '2026-11-21T23:30:00.000Z',
    };
  }
});

describe('console rendering', () => {
  it('prints the original per-load block', () => {
    const block = renderResultBlock(record('local', 3, 100, [run(100, 0.98)]));
    expect(block.split('\n')).toEqual([
      'BENCHMARK RESULT #3',
      '  Network type:        local (4 nodes)',
      '  Load:                100 tx/s for 10 s',
      '  Throughput:          98.00 tx/s',
      '  Average latency:     44.00 ms (commit)',
      '  Latency std dev:     10.00 ms',
      '  Latency p50/p99:     40.00 / 80.00 ms',
      '  Successful:          980',
      '  Failed:              20',
      '  Failed by kind:      20 commit timeouts',
      '  Efficiency:          98.0%',
    ]);
  });

  it("says when most of the median latency is the generator's send lag, and what the replies took", () => {
    const base = record('local', 1, 500, [run(500)]);
    const summary = (p50: number) => ({ ...base.results.schedule_lag_ms, p50 });
    const withLag = (lagP50: number, latencyP50: number, uncorrectedP50: number): BenchmarkRecord => ({
      ...base,
      results: {
        ...base.results,
        latency_stage: 'ack',
        latency_percentiles_ms: { ...base.results.latency_percentiles_ms, p50: latencyP50 },
        schedule_lag_ms: summary(lagP50),
        ack_latency_uncorrected_ms: { ...base.results.ack_latency_uncorrected_ms, p50: uncorrectedP50 },
      },
    });
    // nginx on loopback at 500 tx/s: 0.54 of the 0.60 ms is the lag; the replies took 0.02
    const lines = renderResultBlock(withLag(0.54, 0.6, 0.02)).split('\n');
    expect(lines[7]).toBe(
      '  Send lag:            p50 0.54 ms of the 0.60 ms is the generator\'s own send lag, not the system\'s; from the actual send, p50 0.02 ms (docs/benchmark.md, "the precision of its send times")',
    );
    // a small share of a slower system's latency, or a lag too small to matter: no line
    expect(renderResultBlock(withLag(0.5, 40, 39.5))).not.toMatch(/Send lag/);
    expect(renderResultBlock(withLag(0.05, 0.08, 0.03))).not.toMatch(/Send lag/);
  });

  it('prints a line per kind of a --mix, at the stage the record measures', () => {
    const base = record('local', 1, 100, [run(100)]);
    const latency = (p50: number, p99: number) => ({ ...base.results.latency_percentiles_ms, p50, p99 });
    const kind = (name: string, share: number, throughput: number, p50: number) => ({
      name,
      weight: share * 4,
      share,
      transaction_size: 64,
      fields: {},
      scheduled_transactions: 0,
      sent_transactions: 0,
      input_rate: throughput,
      accepted_throughput: throughput + 1,
      committed_throughput: throughput,
      efficiency: 1,
      outcomes: {},
      ack_latency_ms: latency(1, 2),
      ack_latency_uncorrected_ms: latency(1, 2),
      commit_latency_ms: latency(p50, p50 * 2),
      commit_latency_uncorrected_ms: latency(p50, p50 * 2),
    });
    const mixed = {
      ...base,
      results: { ...base.results, kinds: [kind('small', 0.75, 75, 40), kind('big', 0.25, 25, 60)] },
    } as unknown as BenchmarkRecord;
    const lines = renderResultBlock(mixed).split('\n');
    expect(lines).toContain('  Kind small (75.0%): 75.00 tx/s, p50/p99 40.00 / 80.00 ms, efficiency 100.0%');
    expect(lines).toContain('  Kind big (25.0%): 25.00 tx/s, p50/p99 60.00 / 120.00 ms, efficiency 100.0%');
  });

  it('prints mean ± stddev over runs', () => {
    const block = renderResultBlock(record('local', 1, 100, [run(100, 1), run(100, 0.9), run(100, 0.8)]));
    expect(block).toContain('Load:                100 tx/s for 10 s × 3 runs');
    expect(block).toContain('Throughput:          90.00 ± 10.00 tx/s');
    expect(block).toContain('Efficiency:          90.0% ± 10.0%');
  });

  it('prints a table with a row per benchmark', () => {
    const table = renderResultsTable([
      record('local', 1, 100, [run(100)]),
      record('remote', 1, 200, [run(200, 0.5)]),
    ]);
    for (const head of TABLE_HEAD) expect(table).toContain(head);
    const rows = table.split('\n').filter((line) => /│ (local|remote) /.test(line));
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(/remote .* 200 .* 100\.00 .* 50\.0%/);
    // no colour codes: the table goes to logs as well as terminals
    expect(table).not.toContain('\u001b[');
  });
});

describe('comparison', () => {
  const local = [record('local', 1, 100, [run(100, 1, 40)]), record('local', 2, 200, [run(200, 1, 50)])];
  const remote = [record('remote', 1, 50, [run(50, 1, 100)]), record('remote', 2, 100, [run(100, 0.9, 136)])];
  const comparison = compareRecords(
    { label: 'local', source: 'a', records: local },
    { label: 'remote', source: 'b', records: remote },
    '2026-11-21T23:30:00.000Z',
  );

  it('compares common loads with ratios', () => {
    expect(comparison.loads.map((l) => l.load)).toEqual([100]);
    const entry = comparison.loads[0];
    expect(entry?.ratios.p50_latency).toBeCloseTo(3.4, 9);
    expect(entry?.ratios.throughput).toBeCloseTo(0.9, 9);
    expect(entry?.ratios.efficiency).toBeCloseTo(0.9, 9);
    expect(comparison.only_in_baseline).toEqual([200]);
    expect(comparison.only_in_candidate).toEqual([50]);
  });

  it('says one plain sentence per finding', () => {
    expect(comparison.findings).toEqual([
      'at 100 tx/s remote p50 latency is 3.4× local (136.00 ms vs 40.00 ms)',
      'at 100 tx/s remote p99 latency is 3.4× local (272.00 ms vs 80.00 ms)',
      'at 100 tx/s remote throughput is 0.90× local (90.00 vs 100.00 tx/s)',
      'at 100 tx/s remote efficiency is 90.0% against 100.0% local',
      'only local ran 200 tx/s (not compared)',
      'only remote ran 50 tx/s (not compared)',
    ]);
  });

  it('renders the comparison as text', () => {
    const text = renderComparisonText(comparison);
    expect(text).toContain('meshbench comparison: remote vs local');
    expect(text).toContain('load 100 tx/s');
    expect(text).toMatch(/p50 latency +local 40\.00 ms +remote 136\.00 ms +ratio 3\.4×/);
    expect(text).toContain('  - at 100 tx/s remote p50 latency is 3.4× local (136.00 ms vs 40.00 ms)');
  });

  it('says first when the sides are unlike: networks of different sizes, latencies of different stages', () => {
    const sized = (r: BenchmarkRecord, nodes: number): BenchmarkRecord => ({
      ...r,
      parameters: { ...r.parameters, nodes },
    });
    const acked = (r: BenchmarkRecord): BenchmarkRecord => ({
      ...r,
      results: { ...r.results, latency_stage: 'ack' },
    });
    // a both run: 4 local nodes against one node on each of 3 hosts, at two common loads
    const unlike = compareRecords(
      { label: 'local', source: 'a', records: local.map((r) => sized(r, 4)) },
      {
        label: 'remote',
        source: 'b',
        records: [
          sized(remote[1] as BenchmarkRecord, 3),
          acked(sized(record('remote', 3, 200, [run(200)]), 4)),
        ],
      },
      't',
    );
    expect(unlike.findings.slice(0, 2)).toEqual([
      'at 100 tx/s local ran 4 nodes and remote 3: the figures compare networks of different sizes',
      'at 200 tx/s local latency is to commit, remote latency to ack: the latencies measure different stages',
    ]);
    expect(unlike.loads[0]?.candidate.nodes).toBe(3);
    // alike sides say nothing of it (the comparison above: 4 nodes and commit latency on both)
    expect(comparison.findings.some((finding) => /different/.test(finding))).toBe(false);
  });

  it('says when nothing can be compared, and handles a zero baseline', () => {
    const none = compareRecords(
      { label: 'local', source: 'a', records: [record('local', 1, 100, [run(100, 0)])] },
      { label: 'remote', source: 'b', records: [record('remote', 1, 300, [run(300)])] },
      't',
    );
    expect(none.findings[0]).toBe(
      'local and remote share no load level, so nothing is compared; run both with the same --loads',
    );
    const zero = compareRecords(
      { label: 'local', source: 'a', records: [record('local', 1, 100, [run(100, 0)])] },
      { label: 'remote', source: 'b', records: [record('remote', 1, 100, [run(100)])] },
      't',
    );
    expect(zero.loads[0]?.ratios.throughput).toBeNull();
    expect(zero.findings).toContain('at 100 tx/s local committed nothing, remote reached 100.00 tx/s');
    // a candidate that completed nothing has no latency: its 0 ms is not 0.00× the baseline's
    const failed = compareRecords(
      { label: 'local', source: 'a', records: [record('local', 1, 100, [run(100)])] },
      { label: 'remote', source: 'b', records: [record('remote', 1, 100, [run(100, 0)])] },
      't',
    );
    expect(failed.loads[0]?.ratios.p50_latency).toBeNull();
    expect(failed.findings).toEqual([
      'at 100 tx/s remote committed nothing, local reached 100.00 tx/s',
      'at 100 tx/s remote efficiency is 0.0% against 100.0% local',
    ]);
    const neither = compareRecords(
      { label: 'local', source: 'a', records: [record('local', 1, 100, [run(100, 0)])] },
      { label: 'remote', source: 'b', records: [record('remote', 1, 100, [run(100, 0)])] },
      't',
    );
    expect(neither.findings).toEqual([
      'at 100 tx/s neither local nor remote committed anything, so nothing is compared',
    ]);
  });

  it('formats ratios readably', () => {
    expect(formatRatio(3.4123)).toBe('3.4');
    expect(formatRatio(0.912)).toBe('0.91');
    expect(formatRatio(12.6)).toBe('13');
  });
});

describe('text summary', () => {
  it('holds the plan, environment, each result and the findings', () => {
    const text = renderRunSummary({
      runId: 'r1',
      plan,
      records: [record('local', 1, 100, [run(100)])],
      findings: ['at 100 tx/s remote p50 latency is 3.4× local'],
      notes: ['a note'],
      searches: [
        {
          network: 'local',
          outcome: {
            bestLoad: 400,
            firstFailingLoad: 800,
            stoppedBecause: 'resolution',
            probes: [
              { load: 400, pass: true, phase: 'doubling', reason: '', efficiency: 1, p99Ms: 10 },
              {
                load: 800,
                pass: false,
                phase: 'doubling',
                reason: 'efficiency 50.0% < 95.0%',
                efficiency: 0.5,
                p99Ms: 10,
              },
            ],
          },
        },
      ],
      startedAt: '2026-11-21T23:30:00.000Z',
      endedAt: '2026-11-21T23:31:00.000Z',
    });
    expect(text).toContain('meshbench benchmark r1');
    expect(text).toContain('network type:      local');
    expect(text).toContain('local loads:       100, 200 tx/s');
    expect(text).toContain('node image sha256:abc');
    expect(text).toContain('BENCHMARK RESULT #1');
    expect(text).toContain('Settle:              0.25 s');
    expect(text).toContain('Orchestrator cost:   0.10 s (+ 0.05 s generator tail)');
    expect(text).toContain('highest passing load: 400 tx/s');
    expect(text).toContain('fail: efficiency 50.0% < 95.0%');
    expect(text).toContain('  - at 100 tx/s remote p50 latency is 3.4× local');
    expect(text).toContain('Note: a note');
    expect(text).toContain('nodes (committee): 4');
  });

  it('says what the plug-ins add to the plan: the zones and where they apply', async () => {
    const zoned = await buildBenchmarkPlan(
      {
        duration: 10,
        loads: '100',
        networkType: 'both',
        hostsFile: 'hosts.yaml',
        zones: 'examples/zones/aws-4-regions.csv',
        zonesOn: 'remote',
      },
      { skipFileChecks: true, env: {} },
    );
    const text = renderRunSummary({ runId: 'r1', plan: zoned, records: [], startedAt: 'a', endedAt: 'b' });
    expect(text).toContain(
      '  zones:             aws-4-regions.csv (4 zones, nodes round robin, on the remote network only)',
    );
    expect(renderRunSummary({ runId: 'r1', plan, records: [], startedAt: 'a', endedAt: 'b' })).not.toContain(
      'zones:',
    );
  });

  it('gives the node counts that ran where the plan cannot know them: a compose file, the hosts', async () => {
    const composePlan = await buildBenchmarkPlan(
      { duration: 10, loads: '100', dockerComposePath: 'systems/etcd/docker-compose.yml', protocol: 'etcd' },
      { skipFileChecks: true, env: {} },
    );
    const summary = (records: BenchmarkRecord[]) =>
      renderRunSummary({ runId: 'r1', plan: composePlan, records, startedAt: 'a', endedAt: 'b' });
    const three = {
      ...record('local', 1, 100, [run(100)]),
      parameters: { ...record('local', 1, 100, [run(100)]).parameters, nodes: 3 },
    };
    expect(summary([three])).toContain('nodes (committee): 3 (as the compose file gives)');
    expect(summary([])).toContain('nodes (committee): as the compose file gives');
    const both = await buildBenchmarkPlan(
      { duration: 10, loads: '100', networkType: 'both', hostsFile: 'hosts.yaml', committee: 5 },
      { skipFileChecks: true, env: {} },
    );
    const remote = record('remote', 1, 100, [run(100)]);
    expect(
      renderRunSummary({
        runId: 'r1',
        plan: both,
        records: [{ ...remote, parameters: { ...remote.parameters, nodes: 2 } }],
        startedAt: 'a',
        endedAt: 'b',
      }),
    ).toContain('nodes (committee): local 5; remote 2 (as the hosts give)');
    // --nodes-per-host: the count per host, before and after the deploy
    const packed = await buildBenchmarkPlan(
      { duration: 10, loads: '100', networkType: 'remote', hostsFile: 'hosts.yaml', nodesPerHost: 2 },
      { skipFileChecks: true, env: {} },
    );
    expect(describePlan(packed)).toContain('nodes (committee): 2 per host');
    expect(
      renderRunSummary({
        runId: 'r2',
        plan: packed,
        records: [{ ...remote, parameters: { ...remote.parameters, nodes: 4 } }],
        startedAt: 'a',
        endedAt: 'b',
      }),
    ).toContain('nodes (committee): 4 (2 per host)');
  });
});
