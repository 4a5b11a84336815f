/**
 * benchmark on the real Docker engine: a sweep of 2 loads on a local 4-node
 * refnode network with short levels. The files exist and validate against the
 * schema, and the figures agree with what the nodes report as committed.
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
import { resultValidator } from '../../src/results/validate.js';
import type { Deployment, Endpoint, Testbed } from '../../src/testbed/testbed.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { RUN_LABEL } from '../../src/common/labels.js';
import { defaultReporters } from '../../src/report/reporters.js';

async function committedOnNode(endpoint: Endpoint): Promise<number> {
  const url = endpoint.metricsUrl ?? `${endpoint.rpcUrl}/metrics`;
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith('refnode_committed_txs_total'));
  if (!line) throw new Error(`no refnode_committed_txs_total at ${url}`);
  return Number(line.split(/\s+/)[1]);
}

let dir: string;
let outcome: BenchmarkOutcome;
const committedByNode: Record<string, number> = {};
const deployedRunIds: string[] = [];
const out: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-benchmark-it-'));
  const plan = await buildBenchmarkPlan(
    { outputDir: dir, loads: '20,40', duration: 6, cleanup: true, settleTimeout: 30 },
    { env: {} },
  );
  const real = testbedFactory();
  outcome = await runBenchmark(plan, {
    reporters: defaultReporters(),
    runLoad,
    stdout: (text) => out.push(text),
    stderr: (text) => out.push(text),
    // The real local testbed, with a look at the nodes' own counters before it is removed.
    createTestbed: async (kind, p): Promise<Testbed> => {
      const testbed = await real(kind, p);
      return {
        kind: testbed.kind,
        async deploy(options) {
          const deployment = await testbed.deploy(options);
          deployedRunIds.push(deployment.runId);
          const wrapped: Deployment = Object.create(deployment) as Deployment;
          return Object.assign(wrapped, {
            destroy: async (destroyOptions?: { thorough?: boolean }) => {
              try {
                for (const endpoint of deployment.endpoints) {
                  committedByNode[endpoint.nodeId] = await committedOnNode(endpoint);
                }
              } finally {
                await deployment.destroy(destroyOptions);
              }
            },
          });
        },
      };
    },
  });
}, 600_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('benchmark: a local sweep of 2 loads', () => {
  it('writes the run folder with a JSON per load that validates against the schema', async () => {
    const files = (await readdir(outcome.runDir as string)).sort();
    expect(files).toEqual([
      'local-benchmark-1.json',
      'local-benchmark-2.json',
      'report.html',
      'run.json',
      'summary.txt',
    ]);
    const validate = resultValidator();
    for (const [index, name] of ['local-benchmark-1.json', 'local-benchmark-2.json'].entries()) {
      const record = JSON.parse(
        await readFile(join(outcome.runDir as string, name), 'utf8'),
      ) as BenchmarkRecord;
      expect(validate(record), JSON.stringify(validate.errors)).toBe(true);
      expect(record.benchmark_number).toBe(index + 1);
      expect(record.parameters.load).toBe([20, 40][index]);
      expect(record.parameters.nodes).toBe(4);
      expect(record.results.latency_stage).toBe('commit');
      expect(record.results.failed_transactions).toBe(0);
      expect(record.results.efficiency).toBeGreaterThan(0.9);
      expect(record.runs[0]?.settle.drained).toBe(true);
      expect(record.environment.host).toHaveProperty('cpus');
      expect(record.environment.node_image_id).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    const summary = await readFile(join(outcome.runDir as string, 'summary.txt'), 'utf8');
    expect(summary).toContain('BENCHMARK RESULT #2');
    expect(out.join('\n')).toContain('BENCHMARK RESULT #1');
  });

  it('agrees with what the nodes report as committed', () => {
    const reported = outcome.records.reduce(
      (total, record) => total + record.results.successful_transactions,
      0,
    );
    const sent = outcome.records.reduce((total, record) => total + record.results.sent_transactions, 0);
    expect(Object.keys(committedByNode)).toHaveLength(4);
    for (const committed of Object.values(committedByNode)) {
      // every node committed every tx the generator saw commit: no more, no fewer
      expect(committed).toBe(reported);
    }
    expect(reported).toBe(sent);
    expect(sent).toBeGreaterThanOrEqual(Math.floor(0.95 * (20 + 40) * 6));
  });

  it('leaves nothing behind (--cleanup)', async () => {
    const docker = createDocker();
    for (const runId of deployedRunIds) {
      const containers = await docker.listContainers({
        all: true,
        filters: { label: [`${RUN_LABEL}=${runId}`] },
      });
      expect(containers).toEqual([]);
    }
  });
});

describe('benchmark: interrupted mid-level', () => {
  it('keeps what ran, marks it interrupted, and removes the network with --cleanup', async () => {
    const plan = await buildBenchmarkPlan(
      { outputDir: dir, loads: '20,40', duration: 30, warmup: 0, cleanup: true },
      { env: {} },
    );
    const controller = new AbortController();
    const runIds: string[] = [];
    const real = testbedFactory();
    const interrupted = await runBenchmark(plan, {
      reporters: defaultReporters(),
      runLoad: (options) => {
        setTimeout(() => controller.abort(new Error('test interrupt')), 4000);
        return runLoad(options);
      },
      signal: controller.signal,
      stdout: () => {},
      stderr: () => {},
      createTestbed: async (kind, p, context) => {
        const testbed = await real(kind, p, context);
        return {
          kind: testbed.kind,
          async deploy(options) {
            const deployment = await testbed.deploy(options);
            runIds.push(deployment.runId);
            return deployment;
          },
        };
      },
    });
    expect(interrupted.interrupted).toBe(true);
    expect(interrupted.records).toHaveLength(1);
    expect(interrupted.records[0]?.interrupted).toBe(true);
    expect(interrupted.records[0]?.results.duration_secs).toBeLessThan(30);
    expect((await readdir(interrupted.runDir as string)).sort()).toEqual([
      'local-benchmark-1.json',
      'report.html',
      'run.json',
      'summary.txt',
    ]);
    const docker = createDocker();
    expect(runIds).toHaveLength(1);
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`${RUN_LABEL}=${runIds[0]}`] },
    });
    expect(containers).toEqual([]);
  });
});
