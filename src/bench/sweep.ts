/**
 * The benchmark core: for each network type, deploy once (or once per load with
 * --fresh-network), drive the shared generator at each load level for the
 * duration, let the mempools drain, record everything, and write one run folder
 * per invocation (a JSON per benchmark, a text summary, a comparison for `both`).
 *
 * Everything that touches the world comes in through `deps` (testbed factories,
 * the generator, clock, output), so tests and the CLI pass their own.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createUniqueDir, writeFileAtomic } from '../common/atomic-write.js';
import { formatError, MeshbenchError } from '../common/errors.js';
import { newRunId } from '../common/run-id.js';
import { checkEndpointUrl } from '../load/validate.js';
import type { LoadOptions, LoadResult } from '../load/types.js';
import type { Protocol } from '../protocols/protocol.js';
import { createProtocol } from '../protocols/registry.js';
import type { Deployment, Endpoint, Testbed } from '../testbed/testbed.js';
import { environmentFor } from './environment.js';
import { searchLoad } from './load-search.js';
import { pendingFaultSettings, type BenchmarkPlan, type NetworkKind, type NetworkTarget } from './plan.js';
import { createProgress, type SweepProgress } from './progress.js';
import type { RunEnd, SweepOutput, SweepReporter, SweepSearch } from './reporter.js';
import {
  buildBenchmarkRecord,
  resultsFromLoad,
  type BenchmarkRecord,
  type EnvironmentRecord,
  type LevelRun,
  type RecordNetworkType,
} from './record.js';
import { Settler, skippedSettle } from './settle.js';

export interface BenchmarkDeps {
  /** Makes the testbed for a network kind (the CLI passes the local/remote implementations). */
  readonly createTestbed: (
    kind: NetworkKind,
    plan: BenchmarkPlan,
    context: { readonly log: (line: string) => void },
  ) => Testbed | Promise<Testbed>;
  /** The shared generator (`runLoad` from src/load/index.ts). */
  readonly runLoad: (options: LoadOptions) => Promise<LoadResult>;
  /** Health probe of attached endpoints before any load (`probeEndpoints` from src/load/index.ts). */
  readonly probeEndpoints?: (
    endpoints: readonly Endpoint[],
    protocol: BenchmarkPlan['protocol'],
  ) => Promise<void>;
  /** What renders and writes the results (src/report/reporters.ts: defaultReporters()), in order. */
  readonly reporters: readonly SweepReporter[];
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** A terminal to draw progress bars on; absent means plain progress lines. */
  readonly tty?: NodeJS.WritableStream | undefined;
  readonly signal?: AbortSignal;
  /** Monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
  /** Wall clock for timestamps (default new Date()). */
  readonly wallClock?: () => Date;
  readonly newRunId?: () => string;
  /** Used to poll the mempools between levels (default global fetch). */
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Environment block for a deployment (default: tool version, host facts, testbed facts). */
  readonly environment?: (deployment: Deployment | undefined) => EnvironmentRecord;
}

/** Timing of one level as the orchestrator saw it, including writing its files. */
export interface LevelTimingSummary {
  readonly network: RecordNetworkType;
  readonly benchmarkNumber: number;
  readonly load: number;
  readonly run: number;
  readonly levelMs: number;
  readonly loadMs: number;
  readonly settleMs: number;
  readonly deployMs: number;
  /** loadMs − configured duration: the generator's start and its wait for the last commits. */
  readonly generatorTailMs: number;
  /** levelMs − configured duration − settle wait − deploy: everything added to the load itself. */
  readonly overheadMs: number;
  /** overheadMs − generatorTailMs: the orchestrator's own share (records, files, polling, printing). */
  readonly orchestratorMs: number;
}

export interface BenchmarkOutcome {
  readonly runId: string;
  readonly runDir: string | undefined;
  readonly records: readonly BenchmarkRecord[];
  readonly searches: readonly SweepSearch[];
  /** What the reporters found (the local-vs-remote comparison's findings). */
  readonly findings: readonly string[];
  readonly files: readonly string[];
  readonly levels: readonly LevelTimingSummary[];
  readonly interrupted: boolean;
}

export async function runBenchmark(plan: BenchmarkPlan, deps: BenchmarkDeps): Promise<BenchmarkOutcome> {
  const now = deps.now ?? (() => performance.now());
  const wallClock = deps.wallClock ?? (() => new Date());
  const runId = (deps.newRunId ?? (() => newRunId(wallClock())))();
  const environmentOf = deps.environment ?? environmentFor;
  const say = (text: string) => {
    if (plan.consoleOutput) deps.stdout(text);
  };
  const progress: SweepProgress = createProgress({
    tty: plan.consoleOutput ? deps.tty : undefined,
    line: say,
  });
  const startedAt = wallClock().toISOString();
  const records: BenchmarkRecord[] = [];
  const searches: SweepSearch[] = [];
  const files: string[] = [];
  const levels: LevelTimingSummary[] = [];
  const notes: string[] = [];
  const aborted = () => deps.signal?.aborted === true;

  const faultNote = pendingFaultSettings(plan);
  if (faultNote) {
    deps.stderr(`benchmark: note: ${faultNote}`);
    notes.push(faultNote);
  }

  // Attach mode: every endpoint must answer its health probe before anything is
  // written or any load is sent (an unreachable node is a one-line error, no run folder).
  const attached = new Map<NetworkTarget, Deployment>();
  for (const network of plan.networks) {
    if (network.kind !== 'endpoints') continue;
    const deployment = attachedDeployment(runId, network.urls, createProtocol(plan.protocol, runId));
    if (deps.probeEndpoints) {
      progress.phase(
        `[endpoints] probing ${deployment.endpoints.length} endpoint${deployment.endpoints.length === 1 ? '' : 's'} (${plan.protocol.kind}) …`,
      );
      await deps.probeEndpoints(deployment.endpoints, plan.protocol);
    }
    attached.set(network, deployment);
  }

  let runDir: string | undefined;
  if (plan.fileOutput) {
    try {
      runDir = await createUniqueDir(plan.outputDir, `run-${runId}`);
    } catch (error) {
      throw new MeshbenchError('OUTPUT_DIR', `cannot create a run folder under ${plan.outputDir}`, {
        hint: 'give a writable --output-dir',
        cause: error,
      });
    }
    say(`benchmark ${runId}: results go to ${runDir}`);
  }

  const write = async (name: string, data: unknown) => {
    if (!runDir) return;
    const path = join(runDir, name);
    await writeFileAtomic(path, typeof data === 'string' ? data : `${JSON.stringify(data, null, 2)}\n`);
    files.push(path);
  };

  let failure: unknown;
  try {
    for (const network of plan.networks) {
      if (aborted()) break;
      await runNetwork(network);
    }
  } catch (error) {
    // Nothing ran (deploy or probe failed): leave no empty run folder behind.
    if (records.length === 0) {
      if (runDir) await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
    // Something ran: write the summary of what did, then report the failure.
    failure = error;
    notes.push(`stopped early: ${formatError(error)}`);
  }

  const output: SweepOutput = { say, write };
  const endedAt = wallClock().toISOString();
  const findings: string[] = [];
  const index: Record<string, unknown> = {};
  for (const reporter of deps.reporters) {
    const run: RunEnd = {
      runId,
      plan,
      records,
      searches,
      notes,
      startedAt,
      endedAt,
      runDir,
      findings: [...findings],
    };
    const added = await reporter.onRunEnd?.(run, output);
    if (added) {
      findings.push(...(added.findings ?? []));
      Object.assign(index, added.index);
    }
  }
  await write('run.json', {
    run_id: runId,
    started_at: startedAt,
    ended_at: endedAt,
    interrupted: aborted(),
    plan,
    benchmarks: records.map((record) => ({
      network_type: record.network_type,
      benchmark_number: record.benchmark_number,
      load: record.parameters.load,
      file: `${record.network_type}-benchmark-${record.benchmark_number}.json`,
    })),
    levels,
    searches,
    comparison: null,
    ...index,
    notes,
  });
  if (runDir) say(`benchmark ${runId}: wrote ${files.length} files to ${runDir}`);
  if (failure !== undefined) throw failure;

  return { runId, runDir, records, searches, findings, files, levels, interrupted: aborted() };

  // ---- one network type ----
  async function runNetwork(network: NetworkTarget): Promise<void> {
    const kind: RecordNetworkType = network.kind;
    let deployment: Deployment | undefined;
    let benchmarkNumber = 0;
    let environment: EnvironmentRecord | undefined;
    let levelMark = now();
    // One per deployment: it remembers which nodes cannot report a backlog, so each is named once.
    let settler: { readonly deployment: Deployment; readonly settler: Settler } | undefined;
    // The protocol's backlog probe (cometbft: num_unconfirmed_txs); none: nothing to poll.
    const backlog = createProtocol(plan.protocol, runId).backlog;
    const settlerFor = (target: Deployment): Settler => {
      if (settler?.deployment !== target) {
        const created = new Settler({
          endpoints: target.endpoints,
          ...(backlog ? { backlog } : {}),
          timeoutMs: plan.settleTimeoutSecs * 1000,
          pollIntervalMs: plan.settlePollMs,
          pauseMs: plan.settleSecs * 1000,
          ...(deps.signal ? { signal: deps.signal } : {}),
          ...(deps.fetch ? { fetch: deps.fetch } : {}),
          ...(deps.sleep ? { sleep: deps.sleep } : {}),
          now,
          onUnreportable: (endpoint, reason) =>
            progress.phase(
              `[${kind}] ${endpoint.nodeId} cannot report its backlog (${reason}); after each level it gets a fixed ${plan.settleSecs} s pause (--settle-secs) instead of the drain wait`,
            ),
        });
        settler = { deployment: target, settler: created };
      }
      return settler.settler;
    };

    const deploy = async (): Promise<{ deployment: Deployment; deployMs: number }> => {
      if (network.kind === 'endpoints') {
        // Probed before the run folder was made; nothing to deploy.
        const deployment =
          attached.get(network) ??
          attachedDeployment(runId, network.urls, createProtocol(plan.protocol, runId));
        return { deployment, deployMs: 0 };
      }
      const started = now();
      progress.deployStart(`[${kind}] deploying`, plan.startupWaitSecs);
      let deployed: Deployment;
      try {
        const testbed = await deps.createTestbed(network.kind, plan, { log: (line) => progress.phase(line) });
        deployed = await testbed.deploy(deps.signal ? { signal: deps.signal } : {});
      } catch (error) {
        progress.deployStop(`[${kind}] deploy failed`);
        throw error;
      }
      const deployMs = now() - started;
      progress.deployStop(
        `[${kind}] ${deployed.endpoints.length} nodes ready after ${(deployed.readyAfterMs / 1000).toFixed(1)} s`,
      );
      return { deployment: deployed, deployMs };
    };
    const teardown = async (target: Deployment, final: boolean) => {
      if (network.kind === 'endpoints') {
        await target.release();
        return;
      }
      if (!final || plan.cleanup) {
        progress.phase(`[${kind}] removing the network${plan.cleanupThorough ? ' (thorough)' : ''} …`);
        await target.destroy({ thorough: plan.cleanupThorough });
      } else {
        // Left running: let go of its connections (SSH sessions for remote), or the process never exits.
        await target.release();
        progress.phase(
          `[${kind}] network ${target.runId} left running; remove it with ${kind}-network --down${kind === 'local' ? ` ${target.runId}` : ''}, or pass --cleanup next time`,
        );
      }
    };

    /** Runs one load level (all its runs) and returns its record. */
    const runLevel = async (load: number): Promise<BenchmarkRecord> => {
      benchmarkNumber += 1;
      const number = benchmarkNumber;
      const levelRuns: LevelRun[] = [];
      const summaries: LevelTimingSummary[] = [];
      for (let run = 1; run <= plan.runs; run++) {
        if (run > 1 && aborted()) break;
        const runStart = levelMark;
        let deployMs = 0;
        if (plan.freshNetwork || !deployment) {
          // With --fresh-network, removing the previous network counts as deploy time.
          const teardownStart = now();
          if (deployment && plan.freshNetwork) {
            await teardown(deployment, false);
            deployment = undefined;
          }
          const teardownMs = now() - teardownStart;
          const deployed = await deploy();
          deployment = deployed.deployment;
          deployMs = teardownMs + deployed.deployMs;
          environment = environmentOf(deployment);
        }
        const active = deployment;
        const label = `[${kind}] #${number} ${load} tx/s${plan.runs > 1 ? ` run ${run}/${plan.runs}` : ''}`;
        progress.levelStart(label, plan.durationSecs);
        const loadStart = now();
        const result = await deps.runLoad({
          runId: `${runId}-${kind}-${number}-${run}`,
          endpoints: active.endpoints,
          protocol: plan.protocol,
          shape: { kind: 'fixed', rate: load },
          // --duration includes the warm-up; the generator measures durationMs after warmupMs.
          durationMs: (plan.durationSecs - plan.warmupSecs) * 1000,
          warmupMs: plan.warmupSecs * 1000,
          transactionSizeBytes: plan.transactionSizeBytes,
          confirm: plan.confirm,
          workers: plan.workers,
          connectionsPerEndpoint: plan.connectionsPerEndpoint,
          ...(plan.transport ? { transport: plan.transport } : {}),
          ...(deps.signal ? { signal: deps.signal } : {}),
          onProgress: (p) => progress.levelTick(p.elapsedMs, p.sent, p.committed),
        });
        const loadMs = now() - loadStart;
        const figures = resultsFromLoad(result, plan.confirm);
        progress.levelStop(
          `${label}: ${figures.throughput.toFixed(1)} tx/s, efficiency ${(figures.efficiency * 100).toFixed(1)}%` +
            (aborted() ? ' (interrupted)' : ', settling …'),
        );
        const settle = aborted()
          ? skippedSettle('interrupted')
          : !backlog
            ? skippedSettle(`protocol ${plan.protocol.kind} has no mempool to poll`)
            : plan.freshNetwork
              ? skippedSettle('the network is redeployed before the next level')
              : await settlerFor(active).settle();
        if (settle.polled && !settle.drained && settle.rule !== 'pause') {
          const left = Object.entries(settle.residualUnconfirmed)
            .map(([node, count]) => `${node}=${count}`)
            .join(' ');
          const errs = Object.entries(settle.errors)
            .map(([node, message]) => `${node}: ${message}`)
            .join('; ');
          progress.phase(
            `[${kind}] mempools did not drain within ${plan.settleTimeoutSecs} s (${left}${errs ? `; ${errs}` : ''}); going on`,
          );
        }
        const levelMs = now() - runStart;
        const overheadMs = levelMs - deployMs - plan.durationSecs * 1000 - settle.settleMs;
        const generatorTailMs = loadMs - plan.durationSecs * 1000;
        levelRuns.push({
          load: result,
          settle,
          timing: {
            levelMs: round3(levelMs),
            loadMs: round3(loadMs),
            settleMs: round3(settle.settleMs),
            generatorTailMs: round3(generatorTailMs),
            overheadMs: round3(overheadMs),
            orchestratorMs: round3(overheadMs - generatorTailMs),
            ...(deployMs > 0 ? { deployMs: round3(deployMs) } : {}),
          },
        });
        summaries.push({
          network: kind,
          benchmarkNumber: number,
          load,
          run,
          levelMs,
          loadMs,
          settleMs: settle.settleMs,
          deployMs,
          generatorTailMs,
          overheadMs,
          orchestratorMs: overheadMs - generatorTailMs,
        });
        levelMark = now();
        if (result.interrupted || aborted()) break;
      }
      const record = buildBenchmarkRecord({
        plan,
        runId,
        networkType: kind,
        benchmarkNumber: number,
        load,
        nodes: Math.max(1, deployment?.nodes.length || deployment?.endpoints.length || plan.committee),
        runs: levelRuns,
        environment: environment ?? environmentOf(undefined),
        timestamp: wallClock().toISOString(),
        ...(network.kind === 'endpoints' && deployment
          ? { endpoints: deployment.endpoints.map((endpoint) => endpoint.rpcUrl) }
          : {}),
      });
      records.push(record);
      await write(`${kind}-benchmark-${number}.json`, record);
      for (const reporter of deps.reporters) await reporter.onRecord?.(record, { say, write });
      // The last run of the level also pays for writing and printing its record.
      const finished = now();
      const last = summaries.at(-1);
      if (last) {
        const extra = finished - levelMark;
        summaries[summaries.length - 1] = {
          ...last,
          levelMs: last.levelMs + extra,
          overheadMs: last.overheadMs + extra,
          orchestratorMs: last.orchestratorMs + extra,
        };
      }
      levels.push(...summaries);
      levelMark = finished;
      return record;
    };

    try {
      if (!plan.freshNetwork) {
        const deployed = await deploy();
        deployment = deployed.deployment;
        environment = environmentOf(deployment);
        levelMark = now();
      }
      if (plan.loadSearch) {
        const outcome = await searchLoad(
          { ...plan.loadSearch, ...(deps.signal ? { signal: deps.signal } : {}) },
          async (load) => {
            const record = await runLevel(load);
            return {
              efficiency: record.results.efficiency,
              p99Ms: record.results.latency_percentiles_ms.p99,
            };
          },
        );
        searches.push({ network: kind, outcome });
        await write(`${kind}-load-search.json`, { network_type: kind, ...outcome });
        say(
          outcome.bestLoad === undefined
            ? `[${kind}] load search: no load passed (efficiency ≥ ${plan.loadSearch.minEfficiency * 100}% and p99 < ${plan.loadSearch.p99BoundMs} ms)`
            : `[${kind}] load search: highest passing load ${outcome.bestLoad} tx/s (${outcome.probes.length} levels, stopped: ${outcome.stoppedBecause})`,
        );
      } else {
        for (const load of network.loads) {
          if (aborted()) break;
          await runLevel(load);
        }
      }
    } finally {
      if (deployment) {
        try {
          await teardown(deployment, true);
        } catch (error) {
          deps.stderr(
            `benchmark: error: could not remove the ${kind} network ${deployment.runId}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    }
  }
}

/**
 * Attach mode (`--endpoints`): a deployment over the endpoints of a network someone
 * else runs — no deploy, nothing to destroy. Node ids are `endpoint0`…; the event
 * stream for commit confirmation is the protocol's (cometbft: `<url>/websocket`).
 */
export function attachedDeployment(runId: string, urls: readonly string[], protocol?: Protocol): Deployment {
  const endpoints: Endpoint[] = urls.map((raw, index) => {
    const url = checkEndpointUrl(raw.trim());
    const endpoint: Endpoint = {
      nodeId: `endpoint${index}`,
      rpcUrl: url.href.replace(/\/+$/, ''),
      host: url.host,
    };
    const commits = protocol?.commits;
    return commits ? { ...endpoint, wsUrl: commits.websocketUrl(endpoint) } : endpoint;
  });
  return {
    runId,
    kind: 'remote',
    endpoints,
    nodes: [],
    environment: { attached: true, endpoints: urls },
    readyAfterMs: 0,
    async destroy() {},
    // Nothing of its own is open: the generator and the settle polls close what they open.
    async release() {},
    async [Symbol.asyncDispose]() {},
  };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** File name of a record in its run folder. */
export function recordFileName(record: Pick<BenchmarkRecord, 'network_type' | 'benchmark_number'>): string {
  return `${record.network_type}-benchmark-${record.benchmark_number}.json`;
}
