/**
 * `local-network`: start a node network on this machine's Docker engine (the seed
 * compose file, your own compose file, or a generated committee), wait until every
 * node is ready, send transactions through the shared generator, print the summary
 * and write the result JSON. `--down` removes a network an earlier call left.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { writeFileAtomic } from '../common/atomic-write.js';
import { MeshbenchError, formatError } from '../common/errors.js';
import { newRunId } from '../common/run-id.js';
import type { ConfirmMode, LatencySummary, LoadResult } from '../load/types.js';
import { EngineApi } from '../testbed/local/engine-api.js';
import { checkEngine } from '../testbed/local/engine-checks.js';
import { loadDocker } from '../testbed/local/docker-loader.js';
import {
  DEFAULT_COMPOSE_PATH,
  DEFAULT_RUNS_DIR,
  LocalTestbed,
  runDirOf,
  type LocalDeployment,
} from '../testbed/local/local-testbed.js';
import { listLocalRuns, removeRun } from '../testbed/local/teardown.js';
import {
  addNetworkRunOptions,
  protocolOptions,
  transportOption,
  validateNetworkRunArgs,
  type NetworkRunArgs,
} from './network-run-options.js';
import { runCli, type CliContext, type CliDefinition } from './run-cli.js';

export interface LocalNetworkArgs extends NetworkRunArgs {
  readonly dockerComposePath?: string;
  readonly committee?: number;
  readonly protocol: string;
  readonly down?: string;
}

const PROTOCOLS = ['cometbft', 'etcd', 'http'] as const;

function options(argv: Argv): Argv<LocalNetworkArgs> {
  return addNetworkRunOptions(
    argv
      .option('docker-compose-path', {
        type: 'string',
        describe: `Compose file of the network (default ${DEFAULT_COMPOSE_PATH}); nodes are its services labelled meshbench.role=node, else those publishing port 26657`,
      })
      .option('committee', {
        type: 'number',
        describe:
          'Generate a network of N reference nodes (free ports from 26657 up) instead of reading a compose file',
      })
      .option('protocol', {
        type: 'string',
        default: 'cometbft',
        choices: PROTOCOLS,
        describe: 'Protocol of nodes without a meshbench.protocol label',
      })
      .option('down', {
        type: 'string',
        describe:
          'Tear down the network of run ID left by an earlier call (all local-network runs when no ID)',
      }),
    {
      startupWaitSeconds: 30,
      startupWait:
        'Longest wait for readiness after the containers started, seconds (goes on as soon as every node is ready)',
      cleanup: "Remove the run's containers, their anonymous volumes and its networks at the end",
      cleanupThorough: 'Like --cleanup, and also named volumes and the run folder (.meshbench/runs/<id>)',
      output: 'Folder for the result JSON (written to OUTPUT/run-<id>/local-benchmark-1.json)',
    },
  ) as unknown as Argv<LocalNetworkArgs>;
}

const EPILOGUE = `Examples:
  local-network --cleanup                                  the 4-node seed network, 1000 tx at 100 tx/s
  local-network --committee 7 --num-transactions 300 --cleanup
  local-network --docker-compose-path my-compose.yml --protocol http --confirm none
  local-network --down                                     remove networks earlier runs left
See docs/local-network.md.`;

/** Validates flag values (yargs checks the types and choices). */
export function validateArgs(args: LocalNetworkArgs): void {
  validateNetworkRunArgs(args);
  if (args.committee !== undefined) {
    if (!Number.isInteger(args.committee) || args.committee < 1) {
      throw new MeshbenchError(
        'BAD_FLAG',
        `--committee ${args.committee} is not valid: a committee needs at least 1 node`,
        {
          hint: 'use --committee 4 for the seed layout',
        },
      );
    }
    if (args.dockerComposePath !== undefined) {
      throw new MeshbenchError('BAD_FLAG', '--committee and --docker-compose-path were both given', {
        hint: 'use one: --committee generates the compose project, --docker-compose-path runs yours',
      });
    }
  }
  if (args.confirm === 'commit' && args.protocol !== 'cometbft') {
    throw new MeshbenchError(
      'BAD_FLAG',
      `--confirm commit is not available for --protocol ${args.protocol}`,
      {
        hint: 'add --confirm none',
      },
    );
  }
}

const ms = (value: number) => `${value.toFixed(2)} ms`;

function latencyLine(label: string, summary: LatencySummary): string {
  return `  ${label.padEnd(26)}mean ${ms(summary.mean)}, stddev ${ms(summary.stddev)}, p50 ${ms(summary.p50)}, p99 ${ms(summary.p99)} (${summary.count} tx)`;
}

/** Failed = every outcome that is not an accepted tx (rejected, HTTP error, bad reply, timeout, connection error, dropped). */
export function failedCount(result: LoadResult): number {
  const o = result.outcomes;
  const sum = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return sum(o.rejected) + sum(o.httpError) + o.badResponse + o.timeout + o.connectionError + o.dropped;
}

/** The original summary (successful, failed, actual rate) plus latency. Pure. */
export function renderSummary(result: LoadResult, context: { nodes: number; readyAfterMs: number }): string {
  const lines = [
    `${result.interrupted ? 'PARTIAL RESULT (interrupted)' : 'RESULT'}: run ${result.runId}, ${context.nodes} nodes, ready after ${(context.readyAfterMs / 1000).toFixed(2)} s`,
    `  Transactions sent:        ${result.sent} of ${result.scheduled} scheduled, ${result.transactionSizeBytes} bytes each, input rate ${result.inputRate.toFixed(1)} tx/s`,
    `  Successful:               ${result.outcomes.ok}`,
    `  Failed:                   ${failedCount(result)}`,
    `  Actual rate:              ${result.achievedRate.toFixed(1)} tx/s`,
  ];
  if (result.latency.commit) {
    lines.push(
      `  Committed:                ${result.outcomes.committed} (${result.committedThroughput.toFixed(1)} tx/s, ${result.outcomes.commitTimeout} commit timeouts)`,
    );
    lines.push(latencyLine('Latency submit→commit:', result.latency.commit.corrected));
  }
  lines.push(latencyLine('Latency submit→ack:', result.latency.ack.corrected));
  return lines.join('\n');
}

async function runDown(args: LocalNetworkArgs, context: CliContext): Promise<number> {
  await checkEngine(EngineApi.fromEnv());
  const docker = await loadDocker();
  const runIds = args.down ? [args.down] : await listLocalRuns(docker);
  if (runIds.length === 0) {
    context.stdout('no local-network runs left to remove');
    return 0;
  }
  let failed = false;
  for (const runId of runIds) {
    const report = await removeRun(docker, runId, { volumes: true });
    // The run folder (generated compose files) goes too, when it is under this folder.
    await rm(runDirOf(DEFAULT_RUNS_DIR, runId), { recursive: true, force: true });
    context.stdout(
      `run ${runId}: removed ${report.containers} containers, ${report.networks} networks, ${report.volumes} volumes`,
    );
    for (const error of report.errors) {
      failed = true;
      context.stderr(`local-network: error: ${error}`);
    }
  }
  return failed ? 1 : 0;
}

async function run(args: LocalNetworkArgs, context: CliContext): Promise<number> {
  const startedAtMs = performance.now();
  if (args.down !== undefined) return runDown(args, context);
  validateArgs(args);
  const info = args.json ? context.stderr : context.stdout;
  const { shutdown } = context;
  const runId = newRunId();
  if (context.verbose) context.stderr(`configuration: ${JSON.stringify(args)}`);
  const testbed = new LocalTestbed({
    runId,
    ...(args.committee !== undefined
      ? { committee: args.committee }
      : { composePath: args.dockerComposePath ?? DEFAULT_COMPOSE_PATH }),
    protocol: args.protocol,
    startupTimeoutMs: args.startupWait * 1000,
    startedAtMs,
    log: (line) => context.stderr(line),
  });
  info(`run ${runId}: starting the local network`);
  // A forced exit (second Ctrl-C) during start-up still removes what was created.
  let unregister = shutdown.onForce(async () => {
    await removeRun(await testbed.getDocker(), runId, { volumes: true });
  });
  let deployment: LocalDeployment;
  try {
    deployment = await testbed.deploy({ signal: shutdown.signal });
  } finally {
    unregister();
  }
  const cleanup = args.cleanup || args.cleanupThorough;
  if (cleanup) {
    unregister = shutdown.onForce(async () => {
      await removeRun(await testbed.getDocker(), runId, { volumes: args.cleanupThorough });
    });
  }
  let exitCode = 0;
  try {
    info(
      `all ${deployment.nodes.length} nodes ready after ${(deployment.readyAfterMs / 1000).toFixed(2)} s (${deployment.endpoints.map((e) => `${e.nodeId} ${e.rpcUrl}`).join(', ')})`,
    );
    const { runLoad } = await import('../load/index.js');
    let lastProgressMs = 0;
    const result = await runLoad({
      runId,
      endpoints: deployment.endpoints,
      protocol: protocolOptions(args),
      shape: { kind: 'fixed', rate: args.transactionRate },
      transactions: args.numTransactions,
      transactionSizeBytes: args.transactionSize,
      confirm: args.confirm as ConfirmMode,
      ...transportOption(args),
      signal: shutdown.signal,
      onProgress: (progress) => {
        if (!context.verbose && !process.stderr.isTTY) return;
        if (progress.elapsedMs - lastProgressMs < 1000) return;
        lastProgressMs = progress.elapsedMs;
        context.stderr(
          `  ${(progress.elapsedMs / 1000).toFixed(0)} s: sent ${progress.sent}, ok ${progress.ok}, failed ${progress.failed}, committed ${progress.committed}`,
        );
      },
    });
    // The same per-benchmark record the benchmark command writes (src/report/result.ts),
    // plus what only local-network knows: the network it started.
    const { loadRecord } = await import('../report/result.js');
    const record = loadRecord(result, {
      runId,
      networkType: 'local',
      benchmarkNumber: 1,
      nodes: deployment.nodes.length,
      load: args.transactionRate,
      durationSecs: args.numTransactions / args.transactionRate,
      transactionSizeBytes: args.transactionSize,
      protocol: args.protocol,
      confirm: args.confirm as ConfirmMode,
      endpoints: deployment.endpoints.map((endpoint) => endpoint.rpcUrl),
      timestamp: new Date().toISOString(),
    });
    const document = {
      ...record,
      // local-network injects no faults (the benchmark command's defaults, for the shared schema).
      parameters: {
        ...record.parameters,
        faults: 0,
        crash_recovery: false,
        crash_interval: 60,
        faults_applied: false,
      },
      local_network: {
        compose_file: args.committee !== undefined ? null : (args.dockerComposePath ?? DEFAULT_COMPOSE_PATH),
        committee: args.committee ?? null,
        num_transactions: args.numTransactions,
        broadcast_mode: args.broadcastMode,
        ready_after_ms: deployment.readyAfterMs,
        phases_ms: deployment.phasesMs,
        endpoints: deployment.endpoints,
        environment: deployment.environment,
      },
    };
    const resultPath = join(args.output, `run-${runId}`, 'local-benchmark-1.json');
    await writeFileAtomic(resultPath, `${JSON.stringify(document, null, 2)}\n`);
    if (args.json) context.stdout(JSON.stringify(document, null, 2));
    else
      context.stdout(
        renderSummary(result, { nodes: deployment.nodes.length, readyAfterMs: deployment.readyAfterMs }),
      );
    info(`result: ${resultPath}`);
    if (result.interrupted) exitCode = 130;
    else if (result.outcomes.ok === 0) exitCode = 1;
  } finally {
    if (args.logs) {
      try {
        const files = await deployment.saveLogs(args.logs);
        info(`node logs: ${files.join(', ')}`);
      } catch (error) {
        context.stderr(`local-network: could not save logs to ${args.logs}: ${formatError(error)}`);
      }
    }
    if (cleanup) {
      const report = await deployment.destroyWithReport({ thorough: args.cleanupThorough });
      unregister();
      info(
        `cleanup: removed ${report.containers} containers, ${report.networks} networks${args.cleanupThorough ? `, ${report.volumes} volumes and ${deployment.project.runDir}` : ''}`,
      );
      if (report.errors.length > 0) {
        context.stderr(
          `local-network: error: cleanup left: ${report.errors.join('; ')}; retry with: local-network --down ${runId}`,
        );
        exitCode = 1;
      }
    } else {
      info(`the network is still running; remove it with: local-network --down ${runId}`);
    }
  }
  return exitCode;
}

export const localNetworkCommand: CliDefinition<LocalNetworkArgs> = {
  name: 'local-network',
  usage:
    '$0 [options]\n\nStart a node network on this Docker engine, send transactions, print and save the result.',
  epilogue: EPILOGUE,
  options,
  run,
};

export function main(argv: string[]): Promise<number> {
  return runCli(localNetworkCommand, argv);
}
