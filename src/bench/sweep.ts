/**
 * The benchmark core: for each network, deploy once (or once per level with
 * --fresh-network), drive the shared generator at each load level for the duration, let
 * the network settle, and tell the observers (src/bench/observer.ts) at every step. The
 * sweep measures; observers record, render, write and (next) inject faults or monitor.
 *
 * Everything that touches the world comes in through `deps` (testbed factories, the
 * generator, clock, output), so tests and the CLI pass their own.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createUniqueDir, writeFileAtomic } from '../common/atomic-write.js';
import { formatError, MeshbenchError } from '../common/errors.js';
import { newRunId } from '../common/run-id.js';
import { trace } from '../common/trace.js';
import { checkProtocolNodes, createProtocol } from '../protocols/registry.js';
import type { BacklogProbe } from '../protocols/protocol.js';
import { headline } from '../load/headline.js';
import type { LoadOptions, LoadResult } from '../load/types.js';
import { newDownNodes } from '../load/validate.js';
import { AttachedTestbed } from '../testbed/attached/attached-testbed.js';
import { describeRemoval, type Deployment, type Endpoint, type Testbed } from '../testbed/testbed.js';
import { environmentFor } from './environment.js';
import type { EnvironmentRecord, LevelRun, RecordNetworkType } from './level.js';
import { searchLoad } from './load-search.js';
import type {
  LevelContext,
  LevelStart,
  LevelTimingSummary,
  SweepEnd,
  SweepObserver,
  SweepOutput,
  SweepSearch,
} from './observer.js';
import type { BenchmarkPlan, NetworkKind, NetworkTarget } from './plan.js';
import { createProgress, type SweepProgress } from './progress.js';
import { Settler, skippedSettle } from './settle.js';

export interface SweepDeps {
  /** Makes the testbed for a network kind (the CLI passes the local/remote implementations). */
  readonly createTestbed: (
    kind: NetworkKind,
    plan: BenchmarkPlan,
    context: {
      readonly log: (line: string) => void;
      /** What the observers give each node's environment (nodeEnvironment), for generated networks. */
      readonly nodeEnvironment?: Readonly<Record<string, string>>;
    },
  ) => Testbed | Promise<Testbed>;
  /** The shared generator (`runLoad` from src/load/index.ts). */
  readonly runLoad: (options: LoadOptions) => Promise<LoadResult>;
  /** Health probe of attached endpoints before any load (`probeEndpoints` from src/load/index.ts). */
  readonly probeEndpoints?: (
    endpoints: readonly Endpoint[],
    protocol: BenchmarkPlan['protocol'],
  ) => Promise<void>;
  /** Who records, renders and writes the results (and, next, injects faults or monitors), in order. */
  readonly observers: readonly SweepObserver[];
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** A terminal to draw progress bars on; absent means plain progress lines. */
  readonly tty?: NodeJS.WritableStream | undefined;
  /** Draws the progress instead of the sweep's bars and lines (the network commands' own lines). */
  readonly progress?: SweepProgress;
  /** Removes or leaves each network at the end instead of the sweep's default (destroy or release, with a progress line). */
  readonly removal?: NetworkRemoval;
  /** The command named in error lines (default `benchmark`). */
  readonly command?: string;
  readonly signal?: AbortSignal;
  /**
   * Registers a cleanup for a forced exit (the CLI's shutdown.onForce). The sweep registers one
   * per network from the start of its deploy until its teardown: it removes everything labelled
   * with the run (Testbed.forceRemove), for every command that runs through the sweep.
   */
  readonly onForce?: (cleanup: () => Promise<void>) => () => void;
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

/** What happens to a network when its sweep is done (also on an early stop). */
export interface NetworkRemoval {
  /** `--cleanup`: remove it (thorough: `--cleanup-thorough`). Throws when something is left. */
  remove(deployment: Deployment, options: { readonly thorough: boolean }): Promise<void>;
  /** Leave it running, letting go of this process's connections to it. */
  leave(deployment: Deployment): Promise<void>;
}

export interface SweepOutcome {
  readonly runId: string;
  readonly runDir: string | undefined;
  readonly searches: readonly SweepSearch[];
  /** What the observers found (the local-vs-remote comparison's findings). */
  readonly findings: readonly string[];
  readonly files: readonly string[];
  readonly levels: readonly LevelTimingSummary[];
  readonly interrupted: boolean;
}

export type { LevelTimingSummary } from './observer.js';

/** How to remove a network that was left running, by testbed kind (attached: nothing to remove). */
const DOWN_COMMAND: Readonly<Partial<Record<Deployment['kind'], (runId: string) => string>>> = {
  local: (runId) => `local-network --down ${runId}`,
  remote: (runId) => `remote-network --down ${runId}`,
};

export async function runSweep(plan: BenchmarkPlan, deps: SweepDeps): Promise<SweepOutcome> {
  const sweep = new Sweep(plan, deps);
  return sweep.run();
}

/** One network being swept: its testbed, its deployment and its levels so far. */
interface NetworkState {
  readonly target: NetworkTarget;
  readonly kind: RecordNetworkType;
  /** With --committees / --host-counts: this network's committee size or number of hosts. */
  readonly size?: NetworkSize;
  deployment?: Deployment;
  environment?: EnvironmentRecord;
  settler?: Settler;
  benchmarkNumber: number;
  /** Unregisters the forced-exit removal of this network. */
  unregisterForce?: () => void;
}

class Sweep {
  readonly #plan: BenchmarkPlan;
  readonly #deps: SweepDeps;
  readonly #now: () => number;
  readonly #wallClock: () => Date;
  readonly #runId: string;
  readonly #progress: SweepProgress;
  readonly #attached = new Map<NetworkTarget, Testbed>();
  readonly #searches: SweepSearch[] = [];
  readonly #files: string[] = [];
  readonly #levels: LevelTimingSummary[] = [];
  readonly #notes: string[] = [];
  readonly #output: SweepOutput;
  #runDir: string | undefined;
  #levelsEnded = 0;
  /** The protocol's backlog probe (cometbft: num_unconfirmed_txs); none: nothing to poll between levels. */
  readonly #backlog: BacklogProbe | undefined;
  /** When the current level's bookkeeping started (the previous level's end). */
  #levelMark = 0;
  /** The level under way, for the interrupt lines (`interrupted during level 2 (200 tx/s)`). */
  #currentLevel: string | undefined;

  constructor(plan: BenchmarkPlan, deps: SweepDeps) {
    this.#plan = plan;
    this.#deps = deps;
    this.#now = deps.now ?? (() => performance.now());
    this.#wallClock = deps.wallClock ?? (() => new Date());
    this.#runId = (deps.newRunId ?? (() => newRunId(this.#wallClock())))();
    this.#progress =
      deps.progress ??
      createProgress({
        tty: plan.consoleOutput ? deps.tty : undefined,
        line: this.#say,
        confirm: plan.confirm,
      });
    this.#output = { say: this.#say, write: this.#write };
    this.#backlog = createProtocol(plan.protocol, this.#runId).backlog;
  }

  #say = (text: string) => {
    if (this.#plan.consoleOutput) this.#deps.stdout(text);
  };

  #write = async (name: string, data: unknown) => {
    if (!this.#runDir) return undefined;
    const path = join(this.#runDir, name);
    await writeFileAtomic(
      path,
      typeof data === 'string' || data instanceof Uint8Array ? data : `${JSON.stringify(data, null, 2)}\n`,
    );
    this.#files.push(path);
    return path;
  };

  #aborted = () => this.#deps.signal?.aborted === true;

  async run(): Promise<SweepOutcome> {
    const plan = this.#plan;
    const startedAt = this.#wallClock().toISOString();
    await this.#preflight();
    for (const observer of this.#deps.observers)
      await observer.preflight?.(this.#deps.signal ? { signal: this.#deps.signal } : {});
    await this.#createRunDir();
    let failure: unknown;
    try {
      for (const target of plan.networks) {
        // One network per committee size (or host count), in turn; the records of one kind number on.
        let benchmarkNumber = 0;
        for (const size of networkSizes(plan, target)) {
          if (this.#aborted()) break;
          const network: NetworkState = {
            target,
            kind: target.kind,
            benchmarkNumber,
            ...(size ? { size } : {}),
          };
          await this.#runNetwork(network);
          benchmarkNumber = network.benchmarkNumber;
        }
      }
    } catch (error) {
      // Nothing ran (deploy or probe failed): leave no empty run folder behind.
      if (this.#levelsEnded === 0) {
        if (this.#runDir) await rm(this.#runDir, { recursive: true, force: true }).catch(() => undefined);
        throw error;
      }
      // Something ran: write the summary of what did, then report the failure.
      failure = error;
      this.#notes.push(`stopped early: ${formatError(error)}`);
    }
    const findings = await this.#endRun(startedAt);
    if (this.#runDir)
      this.#say(`benchmark ${this.#runId}: wrote ${this.#files.length} files to ${this.#runDir}`);
    if (failure !== undefined) throw failure;
    return {
      runId: this.#runId,
      runDir: this.#runDir,
      searches: this.#searches,
      findings,
      files: this.#files,
      levels: this.#levels,
      interrupted: this.#aborted(),
    };
  }

  /**
   * Before anything is written: attach mode's endpoints answer their health probe, and the
   * hosts of a remote network that runs after another answer over SSH.
   */
  async #preflight(): Promise<void> {
    const { probeEndpoints, signal } = this.#deps;
    for (const target of this.#plan.networks) {
      if (target.kind !== 'endpoints') continue;
      const testbed = new AttachedTestbed({
        runId: this.#runId,
        urls: target.urls,
        ...(target.names ? { names: target.names } : {}),
        ...(target.metricsUrls ? { metricsUrls: target.metricsUrls } : {}),
        protocol: createProtocol(this.#plan.protocol, this.#runId),
        ...(probeEndpoints ? { probe: (endpoints) => probeEndpoints(endpoints, this.#plan.protocol) } : {}),
      });
      if (probeEndpoints) {
        const count = testbed.endpoints.length;
        this.#progress.phase(
          `[endpoints] probing ${count} endpoint${count === 1 ? '' : 's'} (${this.#plan.protocol.kind}) …`,
        );
      }
      await testbed.preflight(signal ? { signal } : {});
      this.#attached.set(target, testbed);
    }
    // A remote network that does not run first (a `both` run's, or a later one of several host
    // counts): its hosts must answer over SSH before the networks ahead of it take their minutes.
    for (const [index, target] of this.#plan.networks.entries()) {
      if (target.kind !== 'remote') continue;
      const sizes = networkSizes(this.#plan, target);
      if (index === 0 && sizes.length <= 1) continue;
      // the most hosts of any of its networks: every smaller one's are among them
      const largest = sizes.reduce((most, size) => ((size?.value ?? 0) > (most?.value ?? 0) ? size : most));
      this.#progress.phase('[remote] checking that the hosts answer over SSH before anything runs …');
      const testbed = await this.#deps.createTestbed('remote', planForSize(this.#plan, largest), {
        log: (line) => this.#progress.phase(line),
      });
      await testbed.preflight?.(signal ? { signal } : {});
    }
  }

  async #createRunDir(): Promise<void> {
    if (!this.#plan.fileOutput) return;
    try {
      this.#runDir = await createUniqueDir(this.#plan.outputDir, `run-${this.#runId}`);
    } catch (error) {
      throw new MeshbenchError('OUTPUT_DIR', `cannot create a run folder under ${this.#plan.outputDir}`, {
        // local-network and remote-network call it --output
        hint: `give a writable ${this.#deps.command === undefined || this.#deps.command === 'benchmark' ? '--output-dir' : '--output'}`,
        cause: error,
      });
    }
    this.#say(`benchmark ${this.#runId}: results go to ${this.#runDir}`);
  }

  /** The observers' run end, in order (each sees what the ones before found), then run.json. */
  async #endRun(startedAt: string): Promise<string[]> {
    const endedAt = this.#wallClock().toISOString();
    const findings: string[] = [];
    const index: Record<string, unknown> = {};
    for (const observer of this.#deps.observers) {
      const run: SweepEnd = {
        runId: this.#runId,
        plan: this.#plan,
        searches: this.#searches,
        levels: this.#levels,
        notes: this.#notes,
        startedAt,
        endedAt,
        runDir: this.#runDir,
        interrupted: this.#aborted(),
        findings: [...findings],
      };
      const added = await observer.onRunEnd?.(run, this.#output);
      if (added) {
        findings.push(...(added.findings ?? []));
        Object.assign(index, added.index);
      }
    }
    await this.#write('run.json', {
      run_id: this.#runId,
      started_at: startedAt,
      ended_at: endedAt,
      interrupted: this.#aborted(),
      plan: this.#plan,
      benchmarks: [],
      levels: this.#levels,
      searches: this.#searches,
      comparison: null,
      ...index,
      notes: this.#notes,
    });
    return findings;
  }

  // ---- the loop: one network, its levels ----

  async #runNetwork(network: NetworkState): Promise<void> {
    const plan = this.#plan;
    this.#levelMark = this.#now();
    this.#currentLevel = undefined;
    try {
      if (!plan.freshNetwork) await this.#deploy(network);
      if (plan.loadSearch) {
        const outcome = await searchLoad(
          {
            ...plan.loadSearch,
            ...(this.#deps.signal ? { signal: this.#deps.signal } : {}),
            onProbe: (probe) =>
              this.#say(
                `[${network.kind}] load search: ${probe.load} tx/s ${probe.pass ? 'passes' : `fails (${probe.reason})`}`,
              ),
          },
          async (load) => searchFigures(await this.#runLevel(network, load), plan.confirm),
        );
        this.#searches.push({ network: network.kind, outcome });
        await this.#write(`${network.kind}${network.size ? `-${network.size.value}` : ''}-load-search.json`, {
          network_type: network.kind,
          ...(network.size ? { [network.size.key]: network.size.value } : {}),
          ...outcome,
        });
        this.#say(
          outcome.bestLoad === undefined
            ? `[${network.kind}] load search: no load passed (efficiency ≥ ${plan.loadSearch.minEfficiency * 100}% and p99 < ${plan.loadSearch.p99BoundMs} ms)`
            : `[${network.kind}] load search: highest passing load ${outcome.bestLoad} tx/s (${outcome.probes.length} levels, stopped: ${outcome.stoppedBecause})`,
        );
      } else {
        for (const load of network.target.loads) {
          if (this.#aborted()) break;
          await this.#runLevel(network, load);
        }
      }
    } finally {
      const left = network.deployment;
      if (left && this.#aborted()) {
        // An attached network is not ours: there is nothing to remove or to leave running.
        const what =
          left.kind === 'attached'
            ? 'the attached endpoints are left as they were'
            : `${plan.cleanup ? 'removing' : 'leaving'} network ${left.runId}`;
        this.#deps.stderr(
          `${this.#deps.command ?? 'benchmark'}: interrupted during ${this.#currentLevel ?? 'start-up'}; ${what}`,
        );
      }
      if (left) {
        try {
          await this.#teardown(network, true);
        } catch (error) {
          this.#deps.stderr(
            `${this.#deps.command ?? 'benchmark'}: error: could not remove the ${network.kind} network ${left.runId}: ${formatError(error)}`,
          );
        }
      }
    }
  }

  /** Runs one load level (all its runs), tells the observers, and returns what it measured. */
  async #runLevel(network: NetworkState, load: number): Promise<readonly LevelRun[]> {
    network.benchmarkNumber += 1;
    this.#currentLevel = `level ${network.benchmarkNumber} (${load} tx/s)`;
    const runs: LevelRun[] = [];
    const summaries: LevelTimingSummary[] = [];
    for (let run = 1; run <= this.#plan.runs; run++) {
      if (run > 1 && this.#aborted()) break;
      const runStart = this.#levelMark;
      let deployMs = 0;
      if (this.#plan.freshNetwork || !network.deployment) {
        // With --fresh-network, removing the previous network counts as deploy time.
        const started = this.#now();
        if (network.deployment) await this.#teardown(network, false);
        await this.#deploy(network);
        deployMs = this.#now() - started;
      }
      const levelRun = await this.#runOnce(network, load, run, runStart, deployMs);
      runs.push(levelRun.run);
      summaries.push(levelRun.summary);
      this.#levelMark = this.#now();
      if (levelRun.run.load.interrupted || this.#aborted()) break;
    }
    const deployment = network.deployment;
    for (const observer of this.#deps.observers) {
      await observer.onLevelEnd?.(
        {
          runId: this.#runId,
          network: network.kind,
          benchmarkNumber: network.benchmarkNumber,
          load,
          nodes: Math.max(
            1,
            deployment?.nodes.length ||
              deployment?.endpoints.length ||
              (network.size?.key === 'committee' ? network.size.value : this.#plan.committee),
          ),
          runs,
          environment: network.environment ?? (this.#deps.environment ?? environmentFor)(undefined),
          timestamp: this.#wallClock().toISOString(),
          ...(deployment?.kind === 'attached'
            ? { endpoints: deployment.endpoints.map((endpoint) => endpoint.rpcUrl) }
            : {}),
        },
        this.#output,
      );
    }
    this.#levelsEnded += 1;
    // The last run of the level also pays for recording, writing and printing it.
    const extra = this.#now() - this.#levelMark;
    const last = summaries.pop();
    if (last) {
      summaries.push({
        ...last,
        levelMs: last.levelMs + extra,
        overheadMs: last.overheadMs + extra,
        orchestratorMs: last.orchestratorMs + extra,
      });
    }
    this.#levels.push(...summaries);
    this.#levelMark = this.#now();
    return runs;
  }

  /** One run of a level: the load, with the observers watching, then the settle. */
  async #runOnce(
    network: NetworkState,
    load: number,
    run: number,
    runStart: number,
    deployMs: number,
  ): Promise<{ run: LevelRun; summary: LevelTimingSummary }> {
    const plan = this.#plan;
    const deployment = network.deployment as Deployment;
    const number = network.benchmarkNumber;
    const label = `${networkLabel(network)} #${number} ${load} tx/s${plan.runs > 1 ? ` run ${run}/${plan.runs}` : ''}`;
    const level: LevelStart = {
      runId: this.#runId,
      network: network.kind,
      benchmarkNumber: number,
      load,
      run,
      // --duration includes the warm-up; the generator measures durationMs after warmupMs.
      durationMs: (plan.durationSecs - plan.warmupSecs) * 1000,
      warmupMs: plan.warmupSecs * 1000,
    };
    const levelEnded = new AbortController();
    const signal = this.#deps.signal
      ? AbortSignal.any([this.#deps.signal, levelEnded.signal])
      : levelEnded.signal;
    const blocks: Record<string, unknown> = {};
    const loadStart = this.#now();
    // Nodes a plug-in took down (its node-state events), read by the generator's shards at once.
    const downNodes = plan.faultLoad === 'keep' ? undefined : newDownNodes(deployment.endpoints.length);
    const endpointIndex = new Map(deployment.endpoints.map((endpoint, index) => [endpoint.nodeId, index]));
    // Live points go to every observer from the level's start until its load end is done.
    let live = true;
    const context: LevelContext = {
      deployment,
      signal,
      elapsedMs: () => this.#now() - loadStart,
      block: (name, data) => {
        blocks[name] = data;
      },
      log: (line) => this.#progress.phase(line),
      publish: (event) => {
        if (!live) return;
        if (event.kind === 'node-state' && downNodes) {
          const index = endpointIndex.get(event.node);
          if (index !== undefined) Atomics.store(downNodes, index, event.state === 'down' ? 1 : 0);
        }
        for (const observer of this.#deps.observers) {
          try {
            observer.onLiveEvent?.(level, event);
          } catch (error) {
            this.#progress.phase(
              `${observer.name}: a live ${event.kind} was not taken (${formatError(error)})`,
            );
          }
        }
      },
    };
    this.#progress.levelStart(label, plan.durationSecs);
    for (const observer of this.#deps.observers) await observer.onLevelStart?.(level, context);
    trace(`sweep: ${label}: the load starts`);
    let result: LoadResult;
    // The one seam for load clients: an observer may run the load in the generator's place.
    const runner = this.#deps.observers.find((observer) => observer.runLoad);
    const generator = this.#deps.runLoad;
    const runLoad = (options: LoadOptions): Promise<LoadResult> =>
      runner?.runLoad ? runner.runLoad(options, context, generator) : generator(options);
    try {
      result = await runLoad({
        runId: `${this.#runId}-${network.kind}-${number}-${run}`,
        endpoints: deployment.endpoints,
        protocol: plan.protocol,
        shape: { kind: 'fixed', rate: load },
        ...(plan.transactionsPerLevel === undefined
          ? { durationMs: level.durationMs, warmupMs: level.warmupMs }
          : { transactions: plan.transactionsPerLevel }),
        transactionSizeBytes: plan.transactionSizeBytes,
        ...(plan.mix ? { mix: plan.mix } : {}),
        confirm: plan.confirm,
        workers: plan.workers,
        connectionsPerEndpoint: plan.connectionsPerEndpoint,
        ...(plan.transport ? { transport: plan.transport } : {}),
        faultLoad: plan.faultLoad,
        ...(downNodes ? { downNodes } : {}),
        ...(this.#deps.signal ? { signal: this.#deps.signal } : {}),
        onProgress: (p) => {
          this.#progress.levelTick(p);
          for (const observer of this.#deps.observers) observer.onLoadProgress?.(level, p, context);
        },
      });
    } finally {
      levelEnded.abort();
    }
    const loadMs = this.#now() - loadStart;
    trace(`sweep: ${label}: the load ended`);
    try {
      for (const observer of this.#deps.observers) await observer.onLoadEnd?.(level, result, context);
    } finally {
      live = false;
    }
    const head = headline(result, plan.confirm);
    this.#progress.levelStop(
      `${label}: ${head.throughput.toFixed(1)} tx/s, efficiency ${(result.efficiency * 100).toFixed(1)}%` +
        (this.#aborted() ? ' (interrupted)' : ', settling …'),
    );
    const settle = await this.#settle(network);
    trace(`sweep: ${label}: settled`);
    const levelMs = this.#now() - runStart;
    const overheadMs = levelMs - deployMs - plan.durationSecs * 1000 - settle.settleMs;
    const generatorTailMs = loadMs - plan.durationSecs * 1000;
    return {
      run: {
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
        ...(Object.keys(blocks).length > 0 ? { blocks } : {}),
      },
      summary: {
        network: network.kind,
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
      },
    };
  }

  async #settle(network: NetworkState): Promise<LevelRun['settle']> {
    const plan = this.#plan;
    if (this.#aborted()) return skippedSettle('interrupted');
    if (!this.#backlog) return skippedSettle(`protocol ${plan.protocol.kind} has no mempool to poll`);
    if (plan.freshNetwork) return skippedSettle('the network is redeployed before the next level');
    if (plan.settleTimeoutSecs === 0 && plan.settleSecs === 0)
      return skippedSettle('no settle wait asked for (settle timeout and pause are 0)');
    const settle = await (network.settler as Settler).settle();
    if (settle.polled && !settle.drained && settle.rule !== 'pause') {
      const left = Object.entries(settle.residualUnconfirmed)
        .map(([node, count]) => `${node}=${count}`)
        .join(' ');
      const errs = Object.entries(settle.errors)
        .map(([node, message]) => `${node}: ${message}`)
        .join('; ');
      this.#progress.phase(
        `[${network.kind}] mempools did not drain within ${plan.settleTimeoutSecs} s (${left}${errs ? `; ${errs}` : ''}); going on`,
      );
    }
    return settle;
  }

  // ---- deploy and teardown ----

  async #deploy(network: NetworkState): Promise<void> {
    const plan = this.#plan;
    const attached = this.#attached.get(network.target);
    if (!attached) this.#progress.deployStart(`${networkLabel(network)} deploying`, plan.startupWaitSecs);
    let deployment: Deployment;
    try {
      const nodeEnvironment: Record<string, string> = {};
      if (!attached)
        for (const observer of this.#deps.observers)
          Object.assign(nodeEnvironment, await observer.nodeEnvironment?.(network.kind));
      const testbed =
        attached ??
        (await this.#deps.createTestbed(network.kind as NetworkKind, planForSize(plan, network.size), {
          log: (line) => this.#progress.phase(line),
          ...(Object.keys(nodeEnvironment).length > 0 ? { nodeEnvironment } : {}),
        }));
      // A forced exit from here on removes everything labelled with the run, even mid-deploy.
      if (!attached) this.#registerForce(network, testbed);
      trace(`sweep: deploying the ${network.kind} network`);
      deployment = await testbed.deploy(this.#deps.signal ? { signal: this.#deps.signal } : {});
    } catch (error) {
      network.unregisterForce?.();
      if (!attached)
        this.#progress.deployStop(
          `${networkLabel(network)} deploy ${this.#aborted() ? 'interrupted' : 'failed'}`,
        );
      throw error;
    }
    if (!attached) {
      this.#progress.deployStop(
        `${networkLabel(network)} ${deployment.endpoints.length} node${deployment.endpoints.length === 1 ? '' : 's'} ready after ${(deployment.readyAfterMs / 1000).toFixed(1)} s`,
      );
    }
    network.deployment = deployment;
    // A network the run leaves running (no --cleanup) is not removed by a forced exit either.
    if (!plan.cleanup) {
      network.unregisterForce?.();
      network.unregisterForce = undefined;
    }
    network.environment = (this.#deps.environment ?? environmentFor)(deployment);
    // One settler per deployment: it remembers which nodes cannot report a backlog, so each is named once.
    network.settler = this.#settlerFor(network.kind, deployment);
    // a compose file's network is sized only now (the plan judged the generated ones), as an
    // observer's refusal of the network is
    checkProtocolNodes(plan.protocol, deployment.endpoints.length, `this ${network.kind} network`);
    for (const observer of this.#deps.observers) await observer.onDeploy?.(deployment, network.kind);
    trace(`sweep: the ${network.kind} network is deployed`);
    if (!plan.freshNetwork) this.#levelMark = this.#now();
  }

  #registerForce(network: NetworkState, testbed: Testbed): void {
    network.unregisterForce?.();
    const onForce = this.#deps.onForce;
    if (!onForce) return;
    network.unregisterForce = onForce(async () => {
      const deployment = network.deployment;
      if (testbed.forceRemove) {
        const removed = await testbed.forceRemove();
        this.#deps.stderr(
          `${this.#deps.command ?? 'benchmark'}: forced exit during ${this.#currentLevel ?? 'start-up'}; ${describeRemoval(removed)}${removed.errors.length > 0 ? ` (left: ${removed.errors[0]})` : ''}`,
        );
      } else if (deployment) await deployment.destroy({ thorough: true });
    });
  }

  #settlerFor(kind: RecordNetworkType, deployment: Deployment): Settler {
    const plan = this.#plan;
    return new Settler({
      endpoints: deployment.endpoints,
      ...(this.#backlog ? { backlog: this.#backlog } : {}),
      timeoutMs: plan.settleTimeoutSecs * 1000,
      pollIntervalMs: plan.settlePollMs,
      pauseMs: plan.settleSecs * 1000,
      ...(this.#deps.signal ? { signal: this.#deps.signal } : {}),
      ...(this.#deps.fetch ? { fetch: this.#deps.fetch } : {}),
      ...(this.#deps.sleep ? { sleep: this.#deps.sleep } : {}),
      now: this.#now,
      onUnreportable: (endpoint, reason) =>
        this.#progress.phase(
          `[${kind}] ${endpoint.nodeId} cannot report its backlog (${reason}); after each level it gets a fixed ${plan.settleSecs} s pause (--settle-secs) instead of the drain wait`,
        ),
    });
  }

  async #teardown(network: NetworkState, final: boolean): Promise<void> {
    trace(`sweep: the ${network.kind} network's teardown`);
    try {
      await this.#teardownOnce(network, final);
      trace(`sweep: the ${network.kind} network's teardown ended`);
    } finally {
      network.unregisterForce?.();
      network.unregisterForce = undefined;
    }
  }

  async #teardownOnce(network: NetworkState, final: boolean): Promise<void> {
    const deployment = network.deployment as Deployment;
    const plan = this.#plan;
    for (const observer of this.#deps.observers) await observer.onTeardown?.(deployment, network.kind);
    network.deployment = undefined;
    const down = DOWN_COMMAND[deployment.kind];
    const removal = this.#deps.removal;
    // Every removal takes the run's volumes (nothing labelled with the run is left, interrupted
    // or not); thorough adds the run folder and the shipped image, which an interrupt keeps, so
    // the next run need not ship the image again.
    const thorough = plan.cleanupThorough;
    if (down && (!final || plan.cleanup)) {
      if (removal) return removal.remove(deployment, { thorough });
      this.#progress.phase(`[${network.kind}] removing the network${thorough ? ' (thorough)' : ''} …`);
      await deployment.destroy({ thorough });
      return;
    }
    if (removal) return removal.leave(deployment);
    // Left running (or not ours): let go of its connections (SSH sessions for remote), or the process never exits.
    await deployment.release();
    if (down) {
      this.#progress.phase(
        `[${network.kind}] network ${deployment.runId} left running; remove it with ${down(deployment.runId)}, or pass --cleanup next time`,
      );
    }
  }
}

/** One network's size in a sweep over sizes: its committee (local) or number of hosts (remote). */
interface NetworkSize {
  readonly key: 'committee' | 'hosts';
  readonly value: number;
}

/** The sizes a network kind is swept over (--committees, --host-counts); [undefined]: just the one network. */
function networkSizes(plan: BenchmarkPlan, target: NetworkTarget): readonly (NetworkSize | undefined)[] {
  if (target.kind === 'local' && plan.committees)
    return plan.committees.map((value) => ({ key: 'committee', value }));
  if (target.kind === 'remote' && plan.hostCounts)
    return plan.hostCounts.map((value) => ({ key: 'hosts', value }));
  return [undefined];
}

/** The plan one network of a sweep over sizes is deployed from. */
function planForSize(plan: BenchmarkPlan, size: NetworkSize | undefined): BenchmarkPlan {
  if (!size) return plan;
  return size.key === 'committee' ? { ...plan, committee: size.value } : { ...plan, hostCount: size.value };
}

/** `[local]`, or `[local n=8]` / `[remote 4 hosts]` in a sweep over sizes. */
function networkLabel(network: NetworkState): string {
  if (!network.size) return `[${network.kind}]`;
  return network.size.key === 'committee'
    ? `[${network.kind} n=${network.size.value}]`
    : `[${network.kind} ${network.size.value} hosts]`;
}

/** What the load search judges a level by: its efficiency and headline p99, averaged over its runs. */
function searchFigures(runs: readonly LevelRun[], confirm: BenchmarkPlan['confirm']) {
  const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  return {
    efficiency: mean(runs.map((run) => run.load.efficiency)),
    p99Ms: mean(runs.map((run) => headline(run.load, confirm).latency.p99)),
  };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
