/**
 * The flags `local-network` and `remote-network` share: how many transactions,
 * how big, how fast, how they are submitted and confirmed, cleanup and output.
 * One definition and one validation, so the two commands cannot drift apart.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { writeFileAtomic } from '../common/atomic-write.js';
import { MAX_TRANSACTION_SIZE_BYTES, NETWORK_RUN_DEFAULTS } from '../common/defaults.js';
import type { ConfirmMode, LoadOptions, LoadResult, ProtocolOptions } from '../load/types.js';
import { protocolOptionsFrom } from '../protocols/registry.js';
import { buildNetworkRecord, type NetworkRecordInput } from '../results/record.js';
import { renderSummary } from '../report/summary.js';
import type { Deployment, Endpoint, NodeHandle } from '../testbed/testbed.js';
import { formatError } from '../common/errors.js';
import { badFlag, type CliContext } from './run-cli.js';

export interface NetworkRunArgs {
  readonly numTransactions: number;
  readonly transactionSize: number;
  readonly transactionRate: number;
  readonly startupWait: number;
  readonly cleanup: boolean;
  readonly cleanupThorough: boolean;
  readonly broadcastMode: string;
  readonly confirm: string;
  readonly transport?: string;
  readonly logs?: string;
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
      default: NETWORK_RUN_DEFAULTS.confirm,
      choices: ['none', 'commit'],
      describe: 'Wait for each tx to commit (latency submit→commit) or not',
    })
    .option('transport', {
      type: 'string',
      choices: ['undici', 'raw'],
      describe: 'HTTP client of the load generator (raw: least CPU, http:// only)',
      defaultDescription: 'raw for http://, undici for https://',
    })
    .option('logs', { type: 'string', describe: 'Save each node log to DIR/<node>.log at the end' })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'Print the result JSON to stdout instead of the summary',
    })
    .option('output', { type: 'string', default: NETWORK_RUN_DEFAULTS.outputDir, describe: texts.output });
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

export function transportOption(args: { readonly transport?: string }): Pick<LoadOptions, 'transport'> {
  return args.transport ? { transport: args.transport as NonNullable<LoadOptions['transport']> } : {};
}

/** Runs the shared generator at the fixed --transaction-rate for --num-transactions, with progress on a terminal. */
export async function runNetworkLoad(
  args: NetworkRunArgs,
  context: CliContext,
  target: {
    readonly runId: string;
    readonly endpoints: readonly Endpoint[];
    readonly protocol: ProtocolOptions;
  },
): Promise<LoadResult> {
  const { runLoad } = await import('../load/index.js');
  let lastProgressMs = 0;
  return runLoad({
    runId: target.runId,
    endpoints: target.endpoints,
    protocol: target.protocol,
    shape: { kind: 'fixed', rate: args.transactionRate },
    transactions: args.numTransactions,
    transactionSizeBytes: args.transactionSize,
    confirm: args.confirm as ConfirmMode,
    ...transportOption(args),
    target: { kind: 'round-robin' },
    signal: context.shutdown.signal,
    onProgress: (progress) => {
      if (!context.verbose && !process.stderr.isTTY) return;
      if (progress.elapsedMs - lastProgressMs < 1000) return;
      lastProgressMs = progress.elapsedMs;
      context.stderr(
        `  ${(progress.elapsedMs / 1000).toFixed(0)} s: sent ${progress.sent}, ok ${progress.ok}, failed ${progress.failed}, committed ${progress.committed}`,
      );
    },
  });
}

/**
 * Writes the run's record (the per-benchmark format the benchmark command writes, plus
 * the command's own block) atomically to OUTPUT/run-<id>/<type>-benchmark-1.json, prints
 * the summary (or the JSON with --json), and returns the exit code the result calls for.
 */
export async function reportNetworkRun(
  args: NetworkRunArgs,
  context: CliContext,
  run: {
    readonly runId: string;
    readonly networkType: 'local' | 'remote';
    readonly result: LoadResult;
    readonly deployment: Pick<Deployment, 'nodes' | 'endpoints' | 'readyAfterMs'>;
    readonly protocol: string;
    /** The command's own block: `{ local_network: … }` or `{ remote_network: … }`. */
    readonly extension: NetworkRecordInput['extension'];
  },
): Promise<number> {
  const { result, deployment } = run;
  const document = buildNetworkRecord(result, {
    runId: run.runId,
    networkType: run.networkType,
    nodes: deployment.nodes.length,
    load: args.transactionRate,
    durationSecs: args.numTransactions / args.transactionRate,
    transactionSizeBytes: args.transactionSize,
    protocol: run.protocol,
    confirm: args.confirm as ConfirmMode,
    endpoints: deployment.endpoints.map((endpoint) => endpoint.rpcUrl),
    timestamp: new Date().toISOString(),
    extension: run.extension,
  });
  const resultPath = join(args.output, `run-${run.runId}`, `${run.networkType}-benchmark-1.json`);
  await writeFileAtomic(resultPath, `${JSON.stringify(document, null, 2)}\n`);
  if (args.json) context.stdout(JSON.stringify(document, null, 2));
  else
    context.stdout(
      renderSummary(result, { nodes: deployment.nodes.length, readyAfterMs: deployment.readyAfterMs }),
    );
  (args.json ? context.stderr : context.stdout)(`result: ${resultPath}`);
  if (result.interrupted) return 130;
  return result.outcomes.ok === 0 ? 1 : 0;
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
    await mkdir(dir, { recursive: true });
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
