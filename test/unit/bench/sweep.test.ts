import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshbenchError } from '../../../src/common/errors.js';
import { buildBenchmarkPlan, type BenchmarkInput } from '../../../src/bench/plan.js';
import { runBenchmark, type BenchmarkDeps } from '../../../src/results/run.js';
import type { BenchmarkRecord } from '../../../src/results/record.js';
import type { LoadOptions } from '../../../src/load/types.js';
import { resultValidator } from '../../../src/results/validate.js';
import type { Deployment, Testbed } from '../../../src/testbed/testbed.js';
import { fakeLoadResult } from './fixtures.js';
import { defaultReporters } from '../../../src/report/reporters.js';
import type { LevelContext, SweepObserver } from '../../../src/bench/observer.js';
import type { Reporter } from '../../../src/results/reporter.js';
import { remoteEnvironment } from '../../support/environments.js';

/** Nodes that answer num_unconfirmed_txs; each poll drains `drainPerPoll` txs. */
interface FakeNodes {
  server: Server;
  url: string;
  unconfirmed: number;
  polls: number;
}

async function startNodes(): Promise<FakeNodes> {
  const state = { unconfirmed: 0, polls: 0 } as FakeNodes;
  state.server = createServer((req, res) => {
    if (req.url?.startsWith('/num_unconfirmed_txs')) {
      state.polls += 1;
      const n = state.unconfirmed;
      state.unconfirmed = Math.max(0, state.unconfirmed - 5);
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: -1,
          result: { n_txs: String(n), total: String(n), total_bytes: '0' },
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

function fakeTestbed(kind: 'local' | 'remote', nodes: FakeNodes, log: string[]): Testbed {
  return {
    kind,
    async deploy() {
      log.push(`deploy ${kind}`);
      const endpoints = [0, 1].map((i) => ({ nodeId: `node${i}`, rpcUrl: nodes.url }));
      const deployment: Deployment = {
        runId: `net-${kind}`,
        kind,
        endpoints,
        nodes: [],
        environment: remoteEnvironment({ imageId: 'sha256:abc' }),
        readyAfterMs: 1234,
        async destroy(options) {
          log.push(`destroy ${kind}${options?.thorough ? ' thorough' : ''}`);
        },
        async release() {
          log.push(`release ${kind}`);
        },
        async [Symbol.asyncDispose]() {},
      };
      return deployment;
    },
  };
}

let nodes: FakeNodes;
let dir: string;
beforeAll(async () => {
  nodes = await startNodes();
  dir = await mkdtemp(join(tmpdir(), 'meshbench-sweep-'));
});
afterAll(async () => {
  nodes.server.close();
  await rm(dir, { recursive: true, force: true });
});

/** The deps with Ctrl-C pressed as the first level's load ends (that load says interrupted). */
function abortAfterFirstLevel(deps: BenchmarkDeps): BenchmarkDeps {
  const controller = new AbortController();
  return {
    ...deps,
    signal: controller.signal,
    runLoad: async (options) => {
      const result = await deps.runLoad(options);
      controller.abort();
      return { ...result, interrupted: true };
    },
  };
}

function harness(
  options: { efficiencyFor?: (load: number, kind: string) => number; p50For?: (kind: string) => number } = {},
) {
  const log: string[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const loads: LoadOptions[] = [];
  let clock = 0;
  const deps: BenchmarkDeps = {
    createTestbed: (kind) => fakeTestbed(kind, nodes, log),
    runLoad: async (options) => {
      loads.push(options);
      const rate = options.shape.kind === 'fixed' ? options.shape.rate : 0;
      const kind = options.runId.includes('-remote-') ? 'remote' : 'local';
      clock += options.durationMs ?? 0; // the level takes its configured duration
      nodes.unconfirmed = 12; // leave something in the mempools to settle
      options.onProgress?.({
        elapsedMs: 1000,
        scheduled: 1,
        sent: 1,
        ok: 1,
        failed: 0,
        committed: 1,
        inFlight: 0,
      });
      return fakeLoadResult({
        rate,
        durationSecs: (options.durationMs ?? 0) / 1000,
        efficiency: options_efficiency(rate, kind),
        commitP50Ms: options_p50(kind),
        runId: options.runId,
      });
    },
    reporters: defaultReporters(),
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    now: () => (clock += 1),
    wallClock: () => new Date('2026-11-21T23:30:00.000Z'),
    newRunId: () => `test-${Math.random().toString(16).slice(2, 8)}`,
    sleep: async () => {},
  };
  function options_efficiency(load: number, kind: string) {
    return options.efficiencyFor?.(load, kind) ?? 1;
  }
  function options_p50(kind: string) {
    return options.p50For?.(kind) ?? 40;
  }
  return { deps, log, out, err, loads };
}

async function plan(input: BenchmarkInput) {
  return buildBenchmarkPlan(
    { outputDir: dir, duration: 3, ...input },
    { env: { MYSTICETI_NODE0_HOST: 'h' } },
  );
}

const validate = resultValidator();

describe('runBenchmark', () => {
  it('deploys once, runs each load, settles, writes seed-format files that validate', async () => {
    const h = harness();
    const outcome = await runBenchmark(await plan({ loads: '10,20', cleanup: true }), h.deps);
    expect(h.log).toEqual(['deploy local', 'destroy local']);
    expect(h.loads.map((l) => l.shape)).toEqual([
      { kind: 'fixed', rate: 10 },
      { kind: 'fixed', rate: 20 },
    ]);
    expect(new Set(h.loads.map((l) => l.runId)).size).toBe(2);
    expect(h.loads[0]).toMatchObject({
      durationMs: 3000,
      warmupMs: 0,
      transactionSizeBytes: 512,
      confirm: 'commit',
    });
    expect(outcome.records).toHaveLength(2);

    const files = (await readdir(outcome.runDir as string)).sort();
    expect(files).toEqual([
      'local-benchmark-1.json',
      'local-benchmark-2.json',
      'report.html',
      'run.json',
      'summary.txt',
    ]);
    for (const name of ['local-benchmark-1.json', 'local-benchmark-2.json']) {
      const json = JSON.parse(
        await readFile(join(outcome.runDir as string, name), 'utf8'),
      ) as BenchmarkRecord;
      expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
      expect(json.network_type).toBe('local');
      expect(json.parameters).toMatchObject({
        nodes: 2,
        duration: 3,
        transaction_size: 512,
        faults: 0,
        crash_recovery: false,
      });
      expect(json.environment.node_image_id).toBe('sha256:abc');
      expect(json.plan.networkType).toBe('local');
      // settle polled until the fake mempools (12 txs, 5 drained per poll) were empty
      const settle = json.runs[0]?.settle;
      expect(settle?.polled).toBe(true);
      expect(settle?.drained).toBe(true);
      expect(settle?.polls).toBeGreaterThanOrEqual(2);
    }
    const first = JSON.parse(
      await readFile(join(outcome.runDir as string, 'local-benchmark-1.json'), 'utf8'),
    );
    expect(first.benchmark_number).toBe(1);
    expect(first.parameters.load).toBe(10);
    expect(first.results.successful_transactions).toBe(30);
    expect(first.results.throughput).toBe(10);

    const stdout = h.out.join('\n');
    expect(stdout).toContain('BENCHMARK RESULT #1');
    expect(stdout).toContain('BENCHMARK RESULT #2');
    expect(stdout).toMatch(/throughput tx\/s/);
    expect(outcome.levels).toHaveLength(2);
    for (const level of outcome.levels) {
      // the parts add up: level = duration + settle + generator tail + orchestrator
      expect(level.levelMs).toBeCloseTo(
        3000 + level.settleMs + level.generatorTailMs + level.orchestratorMs,
        6,
      );
      expect(level.overheadMs).toBeCloseTo(level.generatorTailMs + level.orchestratorMs, 6);
    }
    const summary = await readFile(join(outcome.runDir as string, 'summary.txt'), 'utf8');
    expect(summary).toContain('meshbench benchmark');
    expect(summary).toContain('BENCHMARK RESULT #2');
  });

  it('keeps the warm-up inside --duration', async () => {
    const h = harness();
    await runBenchmark(await plan({ loads: '5', duration: 40, warmup: 10, consoleOutput: false }), h.deps);
    expect(h.loads[0]).toMatchObject({ durationMs: 30_000, warmupMs: 10_000 });
  });

  it('never reuses a run folder', async () => {
    const h = harness();
    h.deps = { ...h.deps, newRunId: () => 'same-id' } as BenchmarkDeps;
    const p = await plan({ loads: '5', consoleOutput: false });
    const a = await runBenchmark(p, { ...h.deps, newRunId: () => 'same-id' });
    const b = await runBenchmark(p, { ...h.deps, newRunId: () => 'same-id' });
    expect(a.runDir).not.toBe(b.runDir);
    expect(b.runDir).toMatch(/run-same-id-2$/);
  });

  it('leaves the network running without --cleanup, releases it and says how to remove it', async () => {
    const h = harness();
    await runBenchmark(await plan({ loads: '5' }), h.deps);
    expect(h.log).toEqual(['deploy local', 'release local']);
    expect(h.out.join('\n')).toMatch(/left running; remove it with local-network --down net-local/);
  });

  it('releases a network left running even when a level fails', async () => {
    const h = harness();
    const failing: BenchmarkDeps = {
      ...h.deps,
      runLoad: async () => {
        throw new Error('generator broke');
      },
    };
    await expect(runBenchmark(await plan({ networkType: 'remote', loads: '5' }), failing)).rejects.toThrow(
      'generator broke',
    );
    expect(h.log).toEqual(['deploy remote', 'release remote']);
  });

  it('redeploys for every load with --fresh-network', async () => {
    const h = harness();
    const outcome = await runBenchmark(
      await plan({ loads: '5,6', freshNetwork: true, cleanupThorough: true }),
      h.deps,
    );
    expect(h.log).toEqual([
      'deploy local',
      'destroy local thorough',
      'deploy local',
      'destroy local thorough',
    ]);
    expect(outcome.records[0]?.runs[0]?.settle.polled).toBe(false);
    expect(outcome.records[0]?.runs[0]?.timing.deployMs).toBeGreaterThan(0);
  });

  it('repeats levels with --runs and reports mean ± stddev', async () => {
    let call = 0;
    const h = harness({ efficiencyFor: () => [1, 0.9, 0.8][call++ % 3] as number });
    const outcome = await runBenchmark(await plan({ loads: '100', runs: 3, cleanup: true }), h.deps);
    const record = outcome.records[0] as BenchmarkRecord;
    expect(h.loads).toHaveLength(3);
    expect(record.runs).toHaveLength(3);
    expect(record.across_runs.runs).toBe(3);
    expect(record.across_runs.efficiency.mean).toBeCloseTo(0.9, 6);
    expect(record.across_runs.efficiency.stddev).toBeCloseTo(0.1, 6);
    expect(record.results.successful_transactions).toBe(300 + 270 + 240);
    expect(validate(JSON.parse(JSON.stringify(record))), JSON.stringify(validate.errors)).toBe(true);
    expect(h.out.join('\n')).toMatch(/Throughput: +90\.00 ± 10\.00 tx\/s/);
  });

  it('runs local and remote with --network-type both and writes the comparison', async () => {
    const h = harness({ p50For: (kind) => (kind === 'remote' ? 136 : 40) });
    const outcome = await runBenchmark(
      await plan({ networkType: 'both', localLoads: '100,200', remoteLoads: '50,100', cleanup: true }),
      h.deps,
    );
    expect(h.log).toEqual(['deploy local', 'destroy local', 'deploy remote', 'destroy remote']);
    const files = (await readdir(outcome.runDir as string)).sort();
    expect(files).toContain('comparison.json');
    expect(files).toContain('comparison.txt');
    expect(files).toContain('remote-benchmark-2.json');
    const comparison = JSON.parse(await readFile(join(outcome.runDir as string, 'comparison.json'), 'utf8'));
    expect(comparison.loads.map((l: { load: number }) => l.load)).toEqual([100]);
    expect(comparison.loads[0].ratios.p50_latency).toBeCloseTo(3.4, 6);
    expect(comparison.findings).toContain(
      'at 100 tx/s remote p50 latency is 3.4× local (136.00 ms vs 40.00 ms)',
    );
    expect(comparison.only_in_baseline).toEqual([200]);
    expect(comparison.only_in_candidate).toEqual([50]);
    expect(h.out.join('\n')).toContain('at 100 tx/s remote p50 latency is 3.4× local');
  });

  it('searches for the saturation load', async () => {
    const h = harness({ efficiencyFor: (load) => (load <= 300 ? 0.99 : 300 / load) });
    const outcome = await runBenchmark(
      await plan({ loadSearch: true, loadSearchStart: 100, cleanup: true }),
      h.deps,
    );
    expect(outcome.searches).toHaveLength(1);
    const best = outcome.searches[0]?.outcome.bestLoad as number;
    // efficiency 300/load stays >= 95% up to 315 tx/s
    expect(best).toBeLessThanOrEqual(315);
    expect(best).toBeGreaterThanOrEqual(300);
    expect(outcome.records.length).toBe(outcome.searches[0]?.outcome.probes.length);
    expect(h.log).toEqual(['deploy local', 'destroy local']);
    expect(await readdir(outcome.runDir as string)).toContain('local-load-search.json');
    // each level's verdict as it comes, with why it failed
    const verdicts = h.out.filter((line) => /load search: \d+ tx\/s (passes|fails)/.test(line));
    expect(verdicts).toHaveLength(outcome.searches[0]?.outcome.probes.length ?? -1);
    expect(verdicts[0]).toBe('[local] load search: 100 tx/s passes');
    expect(verdicts).toContain('[local] load search: 400 tx/s fails (efficiency 75.0% < 95.0%)');
  });

  it('records the fault settings; without the injector registered nothing is applied, and says so', async () => {
    const h = harness();
    const outcome = await runBenchmark(
      await plan({
        loads: '5',
        committee: 4,
        faults: 1,
        crashRecovery: true,
        crashInterval: 20,
        consoleOutput: false,
      }),
      h.deps,
    );
    expect(h.err.join('\n')).not.toMatch(/later release/);
    expect(outcome.records[0]?.parameters).toMatchObject({
      faults: 1,
      crash_recovery: true,
      crash_interval: 20,
      faults_applied: false,
    });
    expect(h.out).toEqual([]);
  });

  it('stops after the level in progress on abort and still cleans up and writes what ran', async () => {
    const h = harness();
    const outcome = await runBenchmark(
      await plan({ loads: '5,6,7', cleanup: true }),
      abortAfterFirstLevel(h.deps),
    );
    expect(outcome.interrupted).toBe(true);
    expect(outcome.records).toHaveLength(1);
    expect(outcome.records[0]?.interrupted).toBe(true);
    // as --cleanup says: every removal takes the volumes; an interrupt does not make it thorough
    expect(h.log).toEqual(['deploy local', 'destroy local']);
    expect(await readdir(outcome.runDir as string)).toContain('local-benchmark-1.json');
  });

  it('on abort names the network it removes, and leaves attached endpoints alone without naming one', async () => {
    const interrupted = async (options: Record<string, unknown>) => {
      const h = harness();
      await runBenchmark(
        await plan({ loads: '5,6', consoleOutput: false, ...options }),
        abortAfterFirstLevel(h.deps),
      );
      return h.err.filter((line) => line.includes('interrupted during'));
    };
    expect(await interrupted({ cleanup: true })).toEqual([
      expect.stringMatching(/interrupted during .*; removing network \S+$/),
    ]);
    expect(await interrupted({ endpoints: nodes.url })).toEqual([
      expect.stringMatching(/interrupted during .*; the attached endpoints are left as they were$/),
    ]);
  });

  it('says a deploy stopped by Ctrl-C was interrupted, and one that broke failed', async () => {
    const deployEnds = async (interrupt: boolean) => {
      const h = harness();
      const controller = new AbortController();
      await runBenchmark(await plan({ loads: '5' }), {
        ...h.deps,
        signal: controller.signal,
        createTestbed: (kind) => ({
          kind,
          async deploy() {
            if (interrupt) controller.abort();
            throw new MeshbenchError(interrupt ? 'INTERRUPTED' : 'NOT_READY', 'stopped');
          },
        }),
      }).catch(() => undefined);
      return h.out.filter((line) => /\bdeploy (failed|interrupted)/.test(line));
    };
    expect(await deployEnds(true)).toEqual([expect.stringMatching(/deploy interrupted$/)]);
    expect(await deployEnds(false)).toEqual([expect.stringMatching(/deploy failed$/)]);
  });

  it('writes the summary of what ran when a later network fails, then reports the failure', async () => {
    const h = harness();
    const failing: BenchmarkDeps = {
      ...h.deps,
      newRunId: () => 'remote-fails',
      createTestbed: (kind, p, context) => {
        // the hosts answer at the preflight; the deploy after the local part fails
        if (kind === 'remote')
          return {
            kind: 'remote',
            preflight: async () => h.log.push('preflight remote'),
            deploy: async () => {
              throw new Error('ssh: host unreachable');
            },
          } as unknown as Testbed;
        return h.deps.createTestbed(kind, p, context);
      },
    };
    await expect(
      runBenchmark(await plan({ networkType: 'both', loads: '5', cleanup: true }), failing),
    ).rejects.toThrow('ssh: host unreachable');
    const runDir = join(dir, 'run-remote-fails');
    expect((await readdir(runDir)).sort()).toEqual([
      'local-benchmark-1.json',
      'report.html',
      'run.json',
      'summary.txt',
    ]);
    expect(await readFile(join(runDir, 'summary.txt'), 'utf8')).toContain(
      'Note: stopped early: ssh: host unreachable',
    );
    expect(h.log).toEqual(['preflight remote', 'deploy local', 'destroy local']);
  });

  it('cleans up when the generator fails', async () => {
    const h = harness();
    await expect(
      runBenchmark(await plan({ loads: '5', cleanup: true }), {
        ...h.deps,
        runLoad: async () => {
          throw new Error('generator broke');
        },
      }),
    ).rejects.toThrow('generator broke');
    expect(h.log).toEqual(['deploy local', 'destroy local']);
  });

  it("refuses a network smaller than the protocol's rule needs once it is up, before any load", async () => {
    const h = harness();
    // 3 of 4 nodes at the plan; the network that comes up has 2 (a compose file's size is known only then)
    const meshPlan = await plan({
      loads: '5',
      cleanup: true,
      protocol: 'mesh',
      system: 'crdt-sync',
      committee: '4',
      meshDelivery: '3',
    });
    await expect(runBenchmark(meshPlan, h.deps)).rejects.toThrow(
      'mesh delivery to 3 nodes: this local network has 2, so no message would ever count as committed',
    );
    expect(h.loads).toEqual([]);
    expect(h.log).toEqual(['deploy local', 'destroy local']);
  });

  it('attaches to endpoints without deploying', async () => {
    const h = harness();
    const outcome = await runBenchmark(await plan({ endpoints: nodes.url, loads: '5' }), h.deps);
    expect(h.log).toEqual([]);
    expect(h.loads[0]?.endpoints[0]?.rpcUrl).toBe(nodes.url);
    expect(outcome.records[0]?.network_type).toBe('endpoints');
  });

  it('probes attached endpoints first and stops before any load when one does not answer', async () => {
    const h = harness();
    await expect(
      runBenchmark(await plan({ endpoints: 'http://127.0.0.1:9', loads: '5', consoleOutput: false }), {
        ...h.deps,
        newRunId: () => 'probe-fails',
        probeEndpoints: async (endpoints) => {
          throw new Error(`endpoint ${endpoints[0]?.rpcUrl} does not answer`);
        },
      }),
    ).rejects.toThrow('endpoint http://127.0.0.1:9 does not answer');
    expect(h.loads).toEqual([]);
    // no empty run folder is left behind
    expect((await readdir(dir)).filter((name) => name.startsWith('run-probe-'))).toEqual([]);
  });

  it('records a mempool that does not drain, bounded by the settle timeout', async () => {
    const h = harness();
    let t = 0;
    const outcome = await runBenchmark(await plan({ loads: '5', settleTimeout: 2, consoleOutput: false }), {
      ...h.deps,
      now: () => (t += 100),
      fetch: async () =>
        new Response(JSON.stringify({ result: { n_txs: '7', total: '7' } }), {
          headers: { 'content-type': 'application/json' },
        }),
    });
    const settle = outcome.records[0]?.runs[0]?.settle;
    expect(settle?.drained).toBe(false);
    expect(settle?.residualUnconfirmed).toEqual({ node0: 7, node1: 7 });
    expect(settle?.settleMs).toBeGreaterThanOrEqual(2000);
  });

  it('calls observers at each step; one works during each run and adds a named block to it', async () => {
    const h = harness();
    const seen: string[] = [];
    const abortedAtStart: boolean[] = [];
    const observer: SweepObserver = {
      name: 'watch',
      onDeploy: (deployment, network) => {
        seen.push(`deploy ${network} ${deployment.endpoints.length} nodes`);
      },
      onLevelStart: (level, context) => {
        seen.push(`start #${level.benchmarkNumber} ${level.load} tx/s run ${level.run}`);
        abortedAtStart.push(context.signal.aborted);
        const startedAt = context.elapsedMs();
        // work that lasts as long as the level's load: stopped by the level's signal
        context.signal.addEventListener('abort', () => {
          context.block('watch', { run: level.run, stoppedAfterMs: context.elapsedMs() - startedAt });
          seen.push(`stop #${level.benchmarkNumber} run ${level.run}`);
        });
      },
      onLevelEnd: (level) => {
        seen.push(`end #${level.benchmarkNumber}: ${level.runs.length} runs`);
      },
      onTeardown: (_deployment, network) => {
        seen.push(`teardown ${network}`);
      },
      onRunEnd: (run) => {
        seen.push(`run end: ${run.levels.length} runs`);
        return { findings: ['watched'], index: { watch: 'watch.json' } };
      },
    };
    const outcome = await runBenchmark(await plan({ loads: '5,10', runs: 2, cleanup: true }), {
      ...h.deps,
      observers: [observer],
    });
    expect(seen).toEqual([
      'deploy local 2 nodes',
      'start #1 5 tx/s run 1',
      'stop #1 run 1',
      'start #1 5 tx/s run 2',
      'stop #1 run 2',
      'end #1: 2 runs',
      'start #2 10 tx/s run 1',
      'stop #2 run 1',
      'start #2 10 tx/s run 2',
      'stop #2 run 2',
      'end #2: 2 runs',
      'teardown local',
      'run end: 4 runs',
    ]);
    expect(abortedAtStart).toEqual([false, false, false, false]);
    const [first, second] = outcome.records;
    expect(first?.runs.map((run) => run.blocks?.watch)).toEqual([
      { run: 1, stoppedAfterMs: expect.any(Number) },
      { run: 2, stoppedAfterMs: expect.any(Number) },
    ]);
    expect(second?.runs[1]?.blocks?.watch).toMatchObject({ run: 2 });
    for (const record of outcome.records) {
      expect(validate(JSON.parse(JSON.stringify(record))), JSON.stringify(validate.errors)).toBe(true);
    }
    expect(outcome.findings).toEqual(['watched']);
    const index = JSON.parse(await readFile(join(outcome.runDir as string, 'run.json'), 'utf8'));
    expect(index.watch).toBe('watch.json');
    expect(index.benchmarks.map((b: { file: string }) => b.file)).toEqual([
      'local-benchmark-1.json',
      'local-benchmark-2.json',
    ]);
  });

  it('a plug-in publishes live events through its level context; every observer gets them until its load end is done', async () => {
    const h = harness();
    const got: string[] = [];
    let late: LevelContext | undefined;
    // A publisher (like the fault injector or the resource monitor): one event as the level
    // starts, one at its load's end, and one after it (dropped: the record has it).
    const publisher: SweepObserver = {
      name: 'publisher',
      onLevelStart: (level, context) => {
        context.publish({
          kind: 'window-start',
          id: `fault-${level.run}`,
          category: 'fault',
          label: 'kill node1',
          nodes: ['node1'],
          links: [],
          atMs: context.elapsedMs(),
        });
      },
      onLoadEnd: (level, _load, context) => {
        context.publish({ kind: 'window-end', id: `fault-${level.run}`, category: 'fault', atMs: 5 });
        late = context;
      },
    };
    const throws: SweepObserver = {
      name: 'broken',
      onLiveEvent: () => {
        throw new Error('cannot take it');
      },
    };
    const watcher: SweepObserver = {
      name: 'watcher',
      onLiveEvent: (level, event) => {
        got.push(
          `#${level.benchmarkNumber} run ${level.run}: ${event.kind}${'id' in event ? ` ${event.id}` : ''}`,
        );
      },
    };
    await runBenchmark(await plan({ loads: '5', runs: 2, cleanup: true }), {
      ...h.deps,
      observers: [publisher, throws, watcher],
    });
    late?.publish({ kind: 'window-end', id: 'after', category: 'fault', atMs: 9 });
    expect(got).toEqual([
      '#1 run 1: window-start fault-1',
      '#1 run 1: window-end fault-1',
      '#1 run 2: window-start fault-2',
      '#1 run 2: window-end fault-2',
    ]);
    // The observer that threw is one line; the publisher and the observers after it went on.
    expect([...h.out, ...h.err].join('')).toMatch(
      /broken: a live window-start was not taken \(cannot take it\)/,
    );
  });

  it('a reporter is one object in the list: it sees every record and the run end', async () => {
    const h = harness();
    const seen: string[] = [];
    const reporter: Reporter = {
      name: 'count',
      onRecord: (record) => {
        seen.push(`record ${record.network_type} #${record.benchmark_number}`);
      },
      async onRunEnd(run, out) {
        await out.write('count.txt', `${run.records.length} records\n`);
        return { index: { count: 'count.txt' } };
      },
    };
    const outcome = await runBenchmark(await plan({ loads: '5,10', cleanup: true }), {
      ...h.deps,
      reporters: [...defaultReporters(), reporter],
    });
    expect(seen).toEqual(['record local #1', 'record local #2']);
    expect(await readFile(join(outcome.runDir as string, 'count.txt'), 'utf8')).toBe('2 records\n');
    const index = JSON.parse(await readFile(join(outcome.runDir as string, 'run.json'), 'utf8'));
    expect(index.count).toBe('count.txt');
  });

  it('a network that cannot be removed is one error line naming it, after the results are written', async () => {
    const h = harness();
    const outcome = await runBenchmark(await plan({ loads: '5', cleanup: true }), {
      ...h.deps,
      newRunId: () => 'stuck-run',
      createTestbed: (kind) => {
        const testbed = fakeTestbed(kind, nodes, h.log);
        return {
          kind: testbed.kind,
          async deploy(options) {
            const deployment = await testbed.deploy(options);
            return {
              ...deployment,
              async destroy() {
                throw new Error('engine went away');
              },
            };
          },
        };
      },
    });
    expect(outcome.records).toHaveLength(1);
    expect(h.err.join('\n')).toContain(
      'benchmark: error: could not remove the local network net-local: engine went away',
    );
  });
});
