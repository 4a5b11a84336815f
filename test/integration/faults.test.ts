/**
 * Crash faults on real networks: `benchmark` as users run it (bin/benchmark.js), on
 * local 4-node refnode networks on this machine's engine (on sandbox SSH hosts:
 * faults-remote.test.ts).
 * f = 1 of 4 keeps committing; f = 2 of 4 stalls and resumes after the restart, with the
 * recovery figures recorded; a crash-recovery schedule of 3 cycles puts each event on
 * the timeline at its time; Ctrl-C during a fault leaves no node down or paused.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_LABEL } from '../../src/common/labels.js';
import type { FaultsBlock } from '../../src/faults/recovery.js';
import type { BenchmarkRecord } from '../../src/results/record.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { ROOT, runBin } from './run-bin.js';

/**
 * How late an event may fire here: well inside the 3 s between two events, so each is at its own
 * place on the timeline however busy the machine (the tests run beside another file, and CI runs
 * them beside CPU burners). How late events fire on a quiet machine (target p99 50 ms) is
 * measured by npm run bench:faults, not asserted here.
 */
const EVENT_BOUND_MS = 1000;

/** The f = 2 test's level, seconds: a 6 s crash from 4 s, and 22 s after the restart fires. */
const LEVEL_S = 32;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-faults-it-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function record(
  outputDir: string,
): Promise<BenchmarkRecord & { runs: { blocks?: { faults?: FaultsBlock } }[] }> {
  const [runDir] = await readdir(outputDir);
  return JSON.parse(await readFile(join(outputDir, runDir as string, 'local-benchmark-1.json'), 'utf8'));
}

function faultsOf(rec: Awaited<ReturnType<typeof record>>): FaultsBlock {
  const block = rec.runs[0]?.blocks?.faults;
  if (!block) throw new Error('no faults block in the record');
  return block;
}

describe('crash faults on a local network', () => {
  it('f = 1 of 4: the network keeps committing', async () => {
    const output = join(dir, 'f1');
    const run = await runBin('benchmark', [
      '--committee',
      '4',
      '--loads',
      '100',
      '--duration',
      '14',
      '--warmup',
      '2',
      '--faults',
      '1',
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, run.stderr).toBe(0);
    // scheduled at 2.0 s; fired within EVENT_BOUND_MS (beside another lane it fired at 2.2 s)
    expect(run.stdout).toMatch(/Faults:\n\s+node3 crashed at 2\.\d s; down until the load ended/);
    const rec = await record(output);
    expect(rec.parameters.faults_applied).toBe(true);
    const block = faultsOf(rec);
    expect(block.scenario.source).toBe('--faults 1');
    expect(block.tolerance).toEqual({
      max_down: 1,
      tolerated: 1,
      fault_model: 'byzantine',
      expect_stall: false,
    });
    expect(block.events.map((e) => `${e.cause} ${e.action} ${e.nodes.join(',')}`)).toEqual([
      'scenario kill node3',
      'restore restart node3',
    ]);
    // Three nodes of four are a quorum: commits go on. The dead node's turns as proposer
    // each cost a round timeout, so about one second in four may see no commit (CI saw 0.75).
    // The longest gap is its round 0 (1 s propose timeout) and, on a loaded machine, rounds
    // that also fail (1.5 s more, then 2 s, 2.5 s): CI beside another lane saw 4 s, and 8 s
    // once (#153). What tells it from a stall (f = 2 below: no commit for the rest of the
    // window) is that commits come back: some in the window's last seconds.
    const window = rec.results.time_series ?? [];
    expect(
      window.slice(-3).some((second) => (second.committed ?? 0) > 0),
      JSON.stringify(window),
    ).toBe(true);
    expect(block.availability).toBeGreaterThan(0);
    expect(block.faults[0]?.during.throughput).toBeGreaterThan(50);
    expect(rec.results.committed_throughput).toBeGreaterThan(60);
    // --fault-load redirect (the default): node3's sends go to the next live node from the
    // moment its crash fires, so the load the network was offered is the whole schedule, and
    // only what was in flight to node3 at that moment is lost (efficiency was 0.75 before).
    expect(rec.parameters.fault_load).toBe('redirect');
    const perNode = Object.fromEntries((rec.results.per_node ?? []).map((n) => [n.node_id, n]));
    const redirected = perNode.node3?.redirected_out ?? 0;
    expect(redirected).toBeGreaterThan(0);
    expect(perNode.node0?.redirected_in).toBe(redirected);
    expect(rec.results.fault_load).toEqual({ mode: 'redirect', redirected, dropped: 0 });
    expect(perNode.node3?.failed ?? 0).toBeLessThanOrEqual(5);
    expect(rec.results.efficiency).toBeGreaterThanOrEqual(0.95);
    expect(run.stdout).toContain(`${redirected.toLocaleString('en-US')} sends redirected to live nodes`);
  }, 180_000);

  it('f = 2 of 4: a stall that ends with the restart, with resync and recovery measured', async () => {
    const output = join(dir, 'f2');
    const scenario = join(dir, 'f2.yaml');
    await writeFile(scenario, 'events:\n  - { from: 4s, to: 10s, action: crash, nodes: [node2, node3] }\n');
    const run = await runBin('benchmark', [
      '--committee',
      '4',
      '--loads',
      '100',
      '--duration',
      String(LEVEL_S),
      '--warmup',
      '1',
      '--scenario',
      scenario,
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /warning: faults: up to 2 of 4 nodes down at once, more than the f = 1 .* expect it to stall/,
    );
    const block = faultsOf(await record(output));
    // When each action fired and returned, for every message below: the restart's `docker start`
    // of two containers returned 1.7-1.9 s after it fired with nothing else running here, 2.3-4.3 s
    // beside three CPU burners, and later still while the other lane also drives the engine (with
    // a 26 s level and the restart at 12 s, one CI run had no commit in what was left after it).
    const timeline = JSON.stringify(block.events);
    expect(block.tolerance.expect_stall).toBe(true);
    const [fault] = block.faults;
    expect(fault?.brought_back_by).toBe('scenario');
    // Down 6 s: no commit for most of it, and commits again after, within the level. The level
    // leaves 22 s after the restart fired, so the engine's start, the nodes' own start-up and a
    // round or two before the first commit fit however busy the machine (a quiet CI saw 12 s
    // without a commit for a 7 s crash; the bounds come from the scenario, not the machine).
    expect(fault?.longest_no_commit_ms, timeline).toBeGreaterThanOrEqual(5000);
    expect(fault?.longest_no_commit_ms, timeline).toBeLessThanOrEqual((LEVEL_S - 5) * 1000);
    expect(fault?.after.throughput, timeline).toBeGreaterThan(50);
    expect(fault?.max_latency_ms, timeline).toBeGreaterThan(3000);
    expect(fault?.time_to_recover_ms, timeline).not.toBeNull();
    expect(fault?.time_to_recover_ms, timeline).toBeLessThan(14_000);
    expect(fault?.resync.map((r) => r.node).sort()).toEqual(['node2', 'node3']);
    for (const r of fault?.resync ?? []) {
      expect(r.resynced_ms, `${r.reason} ${timeline}`).not.toBeNull();
      expect(r.resynced_ms, timeline).toBeLessThan(14_000);
    }
    expect(run.stdout).toMatch(
      /node2, node3 crashed at 4\.\d s; node2 resynced [\d.]+ s after restart; node3 resynced [\d.]+ s after restart; throughput back to 90% after [\d.]+ s; no commit for \d+ s/,
    );
  }, 180_000);

  it('crash-recovery over 3 cycles: each event on the timeline at its time', async () => {
    const output = join(dir, 'cr');
    const run = await runBin('benchmark', [
      '--committee',
      '4',
      '--loads',
      '50',
      '--duration',
      '20',
      '--warmup',
      '1',
      '--faults',
      '1',
      '--crash-recovery',
      '--crash-interval',
      '3',
      '--fault-nodes',
      '1',
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const block = faultsOf(await record(output));
    const scheduled = block.events.filter((e) => e.cause === 'scenario');
    expect(scheduled.map((e) => `${e.scheduled_ms} ${e.action} ${e.nodes.join(',')}`)).toEqual([
      '3000 kill node1',
      '6000 restart node1',
      '9000 kill node1',
      '12000 restart node1',
      '15000 kill node1',
      '18000 restart node1',
    ]);
    for (const event of scheduled) {
      expect(event.fired_ms).toBeGreaterThanOrEqual(event.scheduled_ms as number);
      expect(event.fired_ms - (event.scheduled_ms as number)).toBeLessThan(EVENT_BOUND_MS);
      expect(event.errors).toBeUndefined();
    }
    expect(block.faults).toHaveLength(3);
  }, 180_000);

  it('Ctrl-C during a pause: the run stops, no node stays paused or down, and the network is left as --cleanup says', async () => {
    const output = join(dir, 'sigint');
    const scenario = join(dir, 'pause.yaml');
    await writeFile(
      scenario,
      'events:\n  - { at: 2s, action: pause, nodes: [node1] }\n  - { at: 3s, action: crash, nodes: [node2] }\n',
    );
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin/benchmark.js'),
        '--committee',
        '4',
        '--loads',
        '50',
        '--duration',
        '30',
        '--scenario',
        scenario,
        '--output-dir',
        output,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output_ = '';
    let interrupted = false;
    const watch = (chunk: Buffer) => {
      output_ += chunk.toString();
      if (/faults: kill node2/.test(output_) && !interrupted) {
        interrupted = true;
        setTimeout(() => child.kill('SIGINT'), 500);
      }
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, output_).toBe(130);
    expect(output_).toMatch(/faults: unpause node1 at [\d.]+ s \(restoring\)/);
    expect(output_).toMatch(/faults: restart node2 at [\d.]+ s \(restoring\)/);
    const runId = /remove it with local-network --down ([\w-]+)/.exec(output_)?.[1];
    expect(runId, output_).toBeDefined();
    const docker = createDocker();
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`${RUN_LABEL}=${runId}`] },
    });
    try {
      expect(containers.map((c) => c.State).sort()).toEqual(['running', 'running', 'running', 'running']);
    } finally {
      const down = await runBin('local-network', ['--down', runId as string]);
      expect(down.code, down.stderr).toBe(0);
    }
  }, 180_000);
});
