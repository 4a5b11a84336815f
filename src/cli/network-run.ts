/**
 * The flags `local-network` and `remote-network` share: how many transactions,
 * how big, how fast, how they are submitted and confirmed, cleanup and output.
 * One definition and one validation, so the two commands cannot drift apart.
 */
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { writeFileAtomic } from '../common/atomic-write.js';
import {
  BENCHMARK_DEFAULTS,
  LOAD_DEFAULTS,
  MAX_TRANSACTION_SIZE_BYTES,
  NETWORK_RUN_DEFAULTS,
} from '../common/defaults.js';
import type { ConfirmMode, LoadResult, ProtocolOptions } from '../load/types.js';
import { FAULT_LOAD_MODES } from '../load/types.js';
import { loadMix } from '../load/mix.js';
import { protocolDefinition, protocolOptionsFrom } from '../protocols/registry.js';
import type { SweepObserver } from '../bench/observer.js';
import type { BenchmarkPlan } from '../bench/plan.js';
import type { SweepProgress } from '../bench/progress.js';
import type { NetworkRemoval } from '../bench/sweep.js';
import type { buildNetworkRecord, NetworkRecordInput } from '../results/record.js';
import { noneAcceptedMessage, renderSummary } from '../report/summary.js';
import type { Deployment, NodeHandle, Testbed } from '../testbed/testbed.js';
import { formatError, MeshbenchError } from '../common/errors.js';
import {
  DASHBOARD_DEFAULT_HOST,
  DASHBOARD_DEFAULT_PORT,
  DASHBOARD_DESCRIBE,
  DASHBOARD_HOST_DESCRIBE,
  parseDashboardInput,
} from '../bench/dashboard-input.js';
import { configSources, describeSettings } from './config-pipeline.js';
import { badFlag, type CliContext } from './run-cli.js';
import { makeDirs } from '../common/make-dirs.js';

export interface NetworkRunArgs {
  readonly numTransactions: number;
  readonly transactionSize: number;
  readonly transactionRate: number;
  readonly startupWait: number;
  readonly cleanup: boolean;
  readonly cleanupThorough: boolean;
  readonly broadcastMode: string;
  readonly confirm?: string | undefined;
  readonly transport?: string;
  readonly faultLoad?: string;
  /** `--mix FILE`: a weighted mix of transaction kinds (src/load/mix.ts). */
  readonly mix?: string;
  readonly logs?: string;
  /** `--dashboard [PORT]`: the report page served live while the run goes (src/report/dashboard/). */
  readonly dashboard?: string;
  readonly dashboardHost?: string;
  readonly json: boolean;
  readonly output: string;
  readonly verbose: boolean;
}

/** What differs between the two commands: defaults and wording. */
export interface NetworkRunTexts {
  readonly startupWaitSeconds: number;
  readonly startupWait: string;
  readonly cleanup: string;
  readonly cleanupThorough: string;
  readonly output: string;
}

export function addNetworkRunOptions(argv: Argv, texts: NetworkRunTexts): Argv {
  return argv
    .option('num-transactions', {
      type: 'number',
      default: NETWORK_RUN_DEFAULTS.numTransactions,
      describe: 'Transactions to send',
    })
    .option('transaction-size', {
      type: 'number',
      default: NETWORK_RUN_DEFAULTS.transactionSizeBytes,
      describe: 'Bytes per transaction',
    })
    .option('transaction-rate', {
      type: 'number',
      default: NETWORK_RUN_DEFAULTS.transactionRate,
      describe: 'Transactions per second (open loop)',
    })
    .option('startup-wait', {
      type: 'number',
      default: texts.startupWaitSeconds,
      describe: texts.startupWait,
    })
    .option('cleanup', { type: 'boolean', default: false, describe: texts.cleanup })
    .option('cleanup-thorough', { type: 'boolean', default: false, describe: texts.cleanupThorough })
    .option('broadcast-mode', {
      type: 'string',
      default: NETWORK_RUN_DEFAULTS.broadcastMode,
      choices: ['async', 'sync', 'commit'],
      describe: 'cometbft broadcast_tx_* method',
    })
    .option('confirm', {
      type: 'string',
      choices: ['none', 'commit'],
      describe: 'Wait for each tx to commit (latency submit→commit) or not',
      defaultDescription: 'commit, or none where the protocol cannot confirm',
    })
    .option('transport', {
      type: 'string',
      choices: ['undici', 'raw'],
      describe: 'HTTP client of the load generator (raw: least CPU, http:// only)',
      defaultDescription: 'raw for http://, undici for https://',
    })
    .option('fault-load', {
      type: 'string',
      choices: [...FAULT_LOAD_MODES],
      default: LOAD_DEFAULTS.faultLoad,
      describe:
        'A send due to a node that stopped answering (3 straight connection failures, until its health probe answers): redirect to the next live node | drop it | keep sending to it',
    })
    .option('mix', {
      type: 'string',
      requiresArg: true,
      describe:
        'Workload mix: a YAML/JSON file of transaction kinds (name, weight, size, method/route or mode); per-kind figures in the record (docs/benchmark.md)',
    })
    .option('logs', { type: 'string', describe: 'Save each node log to DIR/<node>.log at the end' })
    .option('dashboard', {
      type: 'string',
      requiresArg: false,
      describe: DASHBOARD_DESCRIBE,
      defaultDescription: `off; alone: ${DASHBOARD_DEFAULT_PORT}`,
    })
    .option('dashboard-host', {
      type: 'string',
      requiresArg: true,
      describe: DASHBOARD_HOST_DESCRIBE,
      defaultDescription: DASHBOARD_DEFAULT_HOST,
    })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'Print the result JSON to stdout instead of the summary',
    })
    .option('output', { type: 'string', default: NETWORK_RUN_DEFAULTS.outputDir, describe: texts.output })
    .option('config', {
      type: 'string',
      requiresArg: true,
      describe:
        'YAML or JSON file of settings named like these flags, e.g. "num-transactions: 500" (or MESHBENCH_CONFIG=FILE); MESHBENCH_<FLAG_NAME> variables override it, flags override both',
    });
}

/** Checks the shared flags' values (yargs checks types and choices), before anything starts. */
export function validateNetworkRunArgs(args: NetworkRunArgs): void {
  if (!Number.isInteger(args.numTransactions) || args.numTransactions < 1) {
    throw badFlag('num-transactions', args.numTransactions, 'a whole number >= 1');
  }
  const size = args.transactionSize;
  if (!Number.isInteger(size) || size < 1 || size > MAX_TRANSACTION_SIZE_BYTES) {
    throw badFlag(
      'transaction-size',
      size,
      `a whole number of bytes from 1 to ${MAX_TRANSACTION_SIZE_BYTES} (16 MiB)`,
    );
  }
  if (!(args.transactionRate > 0) || !Number.isFinite(args.transactionRate)) {
    throw badFlag('transaction-rate', args.transactionRate, 'a number of tx/s above 0');
  }
  if (!(args.startupWait > 0) || !Number.isFinite(args.startupWait)) {
    throw badFlag('startup-wait', args.startupWait, 'a number of seconds above 0');
  }
  parseDashboardInput(args.dashboard, args.dashboardHost);
}

/** `--show-logs N` of local-network and remote-network: a whole number of lines from 1. */
export function checkShowLogs(showLogs: number | undefined): void {
  if (showLogs !== undefined && !(Number.isSafeInteger(showLogs) && showLogs >= 1))
    throw badFlag('show-logs', showLogs, 'a whole number of lines from 1 up');
}

/**
 * The confirmation of a network command's level, as benchmark picks it: `--confirm` when
 * given, else commit when the protocol can confirm commits and none otherwise. An explicit
 * `--confirm commit` the protocol cannot honour is refused (one line, exit 2).
 */
export function networkConfirm(confirm: string | undefined, protocol: string): ConfirmMode {
  const confirmsCommits = protocolDefinition(protocol).confirmsCommits;
  if (confirm === undefined) return confirmsCommits ? 'commit' : 'none';
  if (confirm === 'commit' && !confirmsCommits) {
    throw new MeshbenchError('BAD_FLAG', `--confirm commit is not available for --protocol ${protocol}`, {
      hint: `drop --confirm (the default follows the protocol) or give --confirm none`,
      setting: {
        flag: 'confirm',
        value: confirm,
        rule: `not available for --protocol ${protocol}; drop it (the default follows the protocol) or give none`,
      },
    });
  }
  return confirm as ConfirmMode;
}

/**
 * The generator's protocol options for the network commands' flags: their one protocol
 * setting (--broadcast-mode), and the bare base64 tx as an http body; every other
 * setting is the protocol's default (a protocol ignores the settings of others).
 */
export function protocolOptions(args: {
  readonly protocol: string;
  readonly broadcastMode: string;
}): ProtocolOptions {
  return protocolOptionsFrom(args.protocol, { broadcastMode: args.broadcastMode, httpBody: '{{tx}}' });
}

/** How one command's network is made, described, removed and recorded: all that differs between the two. */
export interface NetworkCommandSpec<D extends Deployment = Deployment> {
  readonly command: 'local-network' | 'remote-network';
  readonly networkType: 'local' | 'remote';
  readonly runId: string;
  readonly protocol: string;
  /** Made with the run ID; the sweep deploys it. */
  readonly testbed: Testbed;
  /** The plan's testbed settings (compose files, committee, hosts file, node access). */
  readonly plan: Partial<
    Pick<BenchmarkPlan, 'committee' | 'dockerComposePaths' | 'hostsFile' | 'nodeAccess'>
  >;
  /** Printed before the deploy starts. */
  readonly startLine: string;
  /** Printed once every node is ready. */
  readyLine(deployment: D): string;
  /** The command's own block in the record. */
  extension(deployment: D): NetworkRecordInput['extension'];
  /** --cleanup: removes the network and says what went; throws when something is left. */
  remove(deployment: D, thorough: boolean): Promise<string>;
  /** The command that removes a network this run left (or could not remove). */
  readonly downCommand: string;
  /** How the user names the protocol the nodes speak (said when the nodes refused every transaction). */
  readonly protocolFix: string;
}

/** The plan of a network command's one level: `--num-transactions` at `--transaction-rate`, no settle wait. */
export function networkPlan(
  args: NetworkRunArgs,
  spec: Pick<NetworkCommandSpec, 'networkType' | 'protocol' | 'plan'>,
): BenchmarkPlan {
  const dashboard = parseDashboardInput(args.dashboard, args.dashboardHost);
  return {
    planVersion: 1,
    networkType: spec.networkType,
    networks: [{ kind: spec.networkType, loads: [args.transactionRate] }],
    outputDir: args.output,
    consoleOutput: false,
    fileOutput: true,
    committee: spec.plan.committee ?? BENCHMARK_DEFAULTS.committee,
    durationSecs: args.numTransactions / args.transactionRate,
    warmupSecs: 0,
    transactionSizeBytes: args.transactionSize,
    runs: 1,
    protocol: protocolOptions({ protocol: spec.protocol, broadcastMode: args.broadcastMode }),
    confirm: networkConfirm(args.confirm, spec.protocol),
    hostsFile: spec.plan.hostsFile,
    dockerComposePaths: spec.plan.dockerComposePaths,
    nodeAccess: spec.plan.nodeAccess ?? BENCHMARK_DEFAULTS.nodeAccess,
    startupWaitSecs: args.startupWait,
    cleanup: args.cleanup || args.cleanupThorough,
    cleanupThorough: args.cleanupThorough,
    freshNetwork: false,
    loadSearch: undefined,
    workers: BENCHMARK_DEFAULTS.workers,
    connectionsPerEndpoint: BENCHMARK_DEFAULTS.connectionsPerEndpoint,
    ...(args.transport ? { transport: args.transport as NonNullable<BenchmarkPlan['transport']> } : {}),
    faultLoad: (args.faultLoad ?? LOAD_DEFAULTS.faultLoad) as BenchmarkPlan['faultLoad'],
    settleTimeoutSecs: 0,
    settlePollMs: BENCHMARK_DEFAULTS.settlePollMs,
    settleSecs: 0,
    transactionsPerLevel: args.numTransactions,
    ...(dashboard ? { dashboard } : {}),
  };
}

/**
 * The one run path of `local-network` and `remote-network`: the sweep (src/bench/sweep.ts)
 * with one level, so every observer of the sweep's lifecycle works here too. This adds
 * the commands' own look: the ready line, progress lines, the summary (or --json), the
 * record as OUTPUT/run-<id>/<type>-benchmark-1.json with the command's block, --logs,
 * and the cleanup line. Returns the exit code the result calls for.
 */
export async function runNetworkCommand<D extends Deployment>(
  args: NetworkRunArgs,
  context: CliContext,
  spec: NetworkCommandSpec<D>,
  observers: readonly SweepObserver[] = [],
): Promise<number> {
  const info = args.json ? context.stderr : context.stdout;
  const sources = context.settings ? configSources(context.settings.sources) : undefined;
  const base = networkPlan(args, spec);
  // read and checked before anything is deployed, against the command's protocol
  const mix =
    args.mix === undefined
      ? undefined
      : await loadMix(resolve(args.mix), {
          protocol: base.protocol,
          transactionSizeBytes: args.transactionSize,
        });
  const plan = {
    ...base,
    ...(mix ? { mix } : {}),
    ...(sources ? { configSources: sources } : {}),
  };
  if (context.verbose) {
    if (context.settings) {
      context.stderr(`${spec.command}: settings (defaults < --config file < MESHBENCH_* < flags):`);
      for (const line of describeSettings(context.settings)) context.stderr(`  ${line}`);
    }
    context.stderr(`configuration: ${JSON.stringify(args)}`);
  }
  info(spec.startLine);
  // --dashboard: an observer (binds in preflight, follows the level) and the run's end below.
  const dashboard = plan.dashboard
    ? (await import('../report/dashboard/dashboard.js')).dashboardFor(plan, {
        say: (line) => context.stderr(`${spec.command}: ${line}`),
        onForce: (cleanup) => context.shutdown.onForce(cleanup),
      })
    : undefined;
  // A forced exit (second Ctrl-C) is the sweep's (onForce below): it removes the run by label.
  let cleanupFailed = false;
  let result: LoadResult | undefined;
  const removal: NetworkRemoval = {
    async remove(deployment, { thorough }) {
      try {
        info(await spec.remove(deployment as D, thorough));
      } catch (error) {
        cleanupFailed = true;
        context.stderr(
          `${spec.command}: error: cleanup failed: ${formatError(error)}; retry with: ${spec.downCommand}`,
        );
      }
    },
    async leave(deployment) {
      await deployment.release();
      info(`the network is still running; remove it with: ${spec.downCommand}`);
    },
  };
  let deployed: D | undefined;
  let written: { file: string; record: ReturnType<typeof buildNetworkRecord> } | undefined;
  const reporter: SweepObserver = {
    name: spec.command,
    onDeploy(deployment) {
      deployed = deployment as D;
      info(spec.readyLine(deployed));
    },
    async onLevelEnd(level, out) {
      const deployment = deployed as D;
      result = level.runs[0]?.load;
      if (!result) return;
      // loaded on use: the record (and the plug-ins' record fields) only at the level's end
      const { buildNetworkRecord } = await import('../results/record.js');
      const record = buildNetworkRecord({
        ...level,
        network: spec.networkType,
        plan,
        endpointUrls: deployment.endpoints.map((endpoint) => endpoint.rpcUrl),
        extension: spec.extension(deployment),
      });
      const file = `${spec.networkType}-benchmark-1.json`;
      const path = await out.write(file, record);
      if (path) written = { file, record };
      await dashboard?.reporter.onRecord?.(record, out);
      if (args.json) context.stdout(JSON.stringify(record, null, 2));
      else
        context.stdout(
          renderSummary(
            { ...result, runId: level.runId },
            { nodes: level.nodes, readyAfterMs: deployment.readyAfterMs },
          ),
        );
      (args.json ? context.stderr : context.stdout)(`result: ${path}`);
    },
    async onTeardown(deployment) {
      if (args.logs)
        await saveNodeLogs(spec.command, deployment.nodes, args.logs, { info, stderr: context.stderr });
    },
    // report.html beside the record, as benchmark writes it (src/report/html-report.ts)
    // and the dashboard's last page is the same report.
    async onRunEnd(_run, out) {
      if (!written) return;
      const { renderHtmlReport, REPORT_FILE } = await import('../report/html-report.js');
      const input = { records: [written], generatedAt: new Date().toISOString() };
      const path = await out.write(REPORT_FILE, await renderHtmlReport(input));
      if (path) (args.json ? context.stderr : context.stdout)(`report: ${path}`);
      await dashboard?.finish(input);
    },
  };
  // Loaded on use: the commands' --help and --down start without them. The generator (its
  // histograms, its transports) is needed only once the nodes are ready, so it loads while they
  // start: after the pre-start checks (~70 ms), which compiling it would otherwise delay.
  let generator: Promise<typeof import('../load/index.js')> | undefined;
  const loadGenerator = () => (generator ??= import('../load/index.js'));
  const prefetch = setTimeout(() => loadGenerator().catch(() => undefined), 300);
  const { runSweep } = await import('../bench/sweep.js');
  try {
    await runSweep(plan, {
      createTestbed: () => spec.testbed,
      // what goes wrong with a node's commit stream is said here (benchmark's mesh monitor says it there)
      runLoad: async (options) =>
        (await loadGenerator()).runLoad({
          ...options,
          onProblem: (line) => context.stderr(`${spec.command}: warning: ${line}`),
        }),
      observers: [...observers, ...(dashboard ? [dashboard.observer] : []), reporter],
      stdout: context.stdout,
      stderr: context.stderr,
      signal: context.shutdown.signal,
      onForce: (cleanup) => context.shutdown.onForce(cleanup),
      newRunId: () => spec.runId,
      progress: networkProgress(args, context),
      removal,
      command: spec.command,
    });
  } finally {
    clearTimeout(prefetch);
    // After an error the run's end may not have come: nothing stays listening.
    await dashboard?.close();
  }
  if (!result || result.interrupted) return context.shutdown.signal.aborted ? 130 : 1;
  if (result.outcomes.ok === 0) {
    context.stderr(
      `${spec.command}: error: ${noneAcceptedMessage(result.outcomes, spec.protocol, spec.protocolFix)}`,
    );
    return 1;
  }
  return cleanupFailed ? 1 : 0;
}

/**
 * The network commands' progress: a line about every second on a terminal or with
 * --verbose, and the observers' lines (faults…) on stderr; the testbed prints its own deploy phases.
 */
function networkProgress(args: NetworkRunArgs, context: CliContext): SweepProgress {
  let lastMs = 0;
  return {
    phase: (text) => context.stderr(text),
    deployStart: () => undefined,
    deployStop: () => undefined,
    levelStart: () => {
      lastMs = 0;
    },
    levelTick(progress) {
      if (!context.verbose && !process.stderr.isTTY) return;
      if (progress.elapsedMs - lastMs < 1000) return;
      lastMs = progress.elapsedMs;
      context.stderr(
        `  ${(progress.elapsedMs / 1000).toFixed(0)} s: sent ${progress.sent}, ok ${progress.ok}, failed ${progress.failed}, committed ${progress.committed}`,
      );
    },
    levelStop: () => undefined,
  };
}

/**
 * --logs DIR: each node's log to DIR/<node>.log (a node whose log cannot be read says why
 * in its file). Reports the files, or one line on failure; never throws, so cleanup still runs.
 */
export async function saveNodeLogs(
  command: string,
  nodes: readonly NodeHandle[],
  dir: string,
  out: { readonly info: (line: string) => void; readonly stderr: (line: string) => void },
): Promise<void> {
  try {
    await makeDirs(dir);
    const files = await Promise.all(
      nodes.map(async (node) => {
        const file = join(dir, `${node.nodeId}.log`);
        const text = await node.logs().catch((error: Error) => `(logs unavailable: ${error.message})\n`);
        await writeFileAtomic(file, text);
        return file;
      }),
    );
    out.info(`node logs: ${files.join(', ')}`);
  } catch (error) {
    out.stderr(`${command}: could not save logs to ${dir}: ${formatError(error)}`);
  }
}
