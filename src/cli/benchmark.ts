/**
 * `benchmark` — attach mode: drive an already running network at one or more load
 * levels and record the figures.
 *
 *   benchmark --endpoints URL[,URL...] --loads 500,1000 --duration 30
 *             [--protocol cometbft|etcd|http] [--confirm none|commit]
 *             [--transaction-size 512] [--output-dir DIR]
 *
 * This module only maps argv onto AttachOptions and prints; the work is in
 * src/bench/attach.ts.
 */
import Table from 'cli-table3';
import type { Argv } from 'yargs';
import { runAttach } from '../bench/attach.js';
import type { AttachOptions, AttachOutcome } from '../bench/attach.js';
import { MeshbenchError } from '../common/errors.js';
import { checkProtocolKind } from '../load/index.js';
import type { ConfirmMode, ProtocolOptions } from '../load/types.js';
import { runCli } from './run-cli.js';
import type { CliContext } from './run-cli.js';

export interface AttachArgs {
  readonly endpoints?: string | string[];
  readonly loads?: string | string[];
  readonly duration: string;
  readonly warmup: string;
  readonly protocol: string;
  readonly 'broadcast-mode': string;
  readonly confirm: string;
  readonly 'transaction-size': string;
  readonly 'output-dir': string;
  readonly workers: string;
  readonly connections: string;
  readonly 'http-method': string;
  readonly 'http-path': string;
  readonly 'http-body': string;
  readonly 'http-header'?: string | string[];
  readonly 'http-success-field'?: string;
  readonly 'etcd-key-prefix'?: string;
}

function list(value: string | string[] | undefined): string[] {
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return values
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function bad(flag: string, value: string, allowed: string): MeshbenchError {
  return new MeshbenchError('BAD_FLAG', `--${flag} ${JSON.stringify(value)} is not allowed`, {
    hint: allowed,
  });
}

function number(flag: string, value: string, allowed: string, test: (n: number) => boolean): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || !test(parsed)) throw bad(flag, value, allowed);
  return parsed;
}

function one<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw bad(flag, value, `use one of ${allowed.join(', ')}`);
  return value as T;
}

/** Maps parsed flags onto AttachOptions; every bad value is a one-line BAD_FLAG error. */
export function attachOptionsFromArgs(args: AttachArgs, signal?: AbortSignal): AttachOptions {
  const endpoints = list(args.endpoints);
  if (endpoints.length === 0) {
    throw new MeshbenchError('BAD_FLAG', '--endpoints is required', {
      hint: 'pass the RPC URLs of a running network, e.g. --endpoints http://127.0.0.1:26657',
    });
  }
  const loadValues = list(args.loads);
  if (loadValues.length === 0)
    throw new MeshbenchError('BAD_FLAG', '--loads is required', { hint: 'e.g. --loads 500,1000' });
  const loads = loadValues.map((v) =>
    number('loads', v, 'use rates above 0 tx/s, e.g. --loads 500,1000', (n) => n > 0),
  );
  const durationSecs = number('duration', args.duration, 'use a duration above 0 seconds', (n) => n > 0);
  const warmupSecs = number('warmup', args.warmup, 'use 0 or more seconds', (n) => n >= 0);
  const transactionSizeBytes = number(
    'transaction-size',
    args['transaction-size'],
    'use a whole number of bytes from 1 to 16777216 (16 MiB)',
    (n) => Number.isInteger(n) && n >= 1 && n <= 16 * 1024 * 1024,
  );
  const workers = number(
    'workers',
    args.workers,
    'use a whole number >= 1',
    (n) => Number.isInteger(n) && n >= 1,
  );
  const connections = number(
    'connections',
    args.connections,
    'use a whole number >= 1',
    (n) => Number.isInteger(n) && n >= 1,
  );
  try {
    checkProtocolKind(args.protocol);
  } catch {
    throw bad('protocol', args.protocol, 'use one of cometbft, etcd, http');
  }
  const confirm = one<ConfirmMode>('confirm', args.confirm, ['none', 'commit']);
  let protocol: ProtocolOptions;
  if (args.protocol === 'etcd') {
    protocol = { kind: 'etcd', ...(args['etcd-key-prefix'] ? { keyPrefix: args['etcd-key-prefix'] } : {}) };
  } else if (args.protocol === 'http') {
    const headers: Record<string, string> = {};
    for (const header of list(args['http-header'])) {
      const colon = header.indexOf(':');
      if (colon <= 0) throw bad('http-header', header, 'use Name: value');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    }
    protocol = {
      kind: 'http',
      method: one('http-method', args['http-method'].toUpperCase(), [
        'GET',
        'POST',
        'PUT',
        'PATCH',
        'DELETE',
      ]),
      path: args['http-path'],
      headers,
      bodyTemplate: args['http-body'],
      ...(args['http-success-field'] ? { successJsonField: args['http-success-field'] } : {}),
    };
  } else {
    protocol = {
      kind: 'cometbft',
      broadcastMode: one('broadcast-mode', args['broadcast-mode'], ['async', 'sync', 'commit']),
    };
  }
  if (confirm === 'commit' && protocol.kind !== 'cometbft') {
    throw bad(
      'confirm',
      'commit',
      `commit confirmation needs --protocol cometbft; use --confirm none with ${protocol.kind}`,
    );
  }
  return {
    endpoints,
    loads,
    durationSecs,
    warmupSecs,
    protocol,
    confirm,
    transactionSizeBytes,
    outputDir: args['output-dir'],
    workers,
    connectionsPerEndpoint: connections,
    ...(signal ? { signal } : {}),
  };
}

export function addAttachOptions<T>(argv: Argv<T>): Argv<T & AttachArgs> {
  return argv
    .option('endpoints', {
      type: 'string',
      array: true,
      describe: 'RPC URLs of the running nodes (comma-separated or repeated)',
    })
    .option('loads', {
      type: 'string',
      array: true,
      describe: 'Load levels in tx/s, run in order (e.g. 500,1000)',
    })
    .option('duration', { type: 'string', default: '30', describe: 'Seconds of measured load per level' })
    .option('warmup', {
      type: 'string',
      default: '0',
      describe: 'Seconds of warm-up before each level (excluded, recorded)',
    })
    .option('protocol', { type: 'string', default: 'cometbft', describe: 'cometbft | etcd | http' })
    .option('broadcast-mode', {
      type: 'string',
      default: 'async',
      describe: 'cometbft: async | sync | commit',
    })
    .option('confirm', {
      type: 'string',
      default: 'none',
      describe: 'none | commit (cometbft: match commits from /websocket)',
    })
    .option('transaction-size', {
      type: 'string',
      default: '512',
      describe: 'Bytes per transaction before base64 (1 .. 16 MiB)',
    })
    .option('output-dir', {
      type: 'string',
      default: './benchmarks',
      describe: 'A new run folder is created under it',
    })
    .option('workers', {
      type: 'string',
      default: '1',
      describe: 'Generator worker threads sharing the schedule',
    })
    .option('connections', { type: 'string', default: '64', describe: 'HTTP connections per endpoint' })
    .option('http-method', { type: 'string', default: 'POST', describe: 'http: request method' })
    .option('http-path', { type: 'string', default: '/', describe: 'http: request path' })
    .option('http-body', {
      type: 'string',
      default: '{"tx":"{{tx}}","seq":{{seq}}}',
      describe: 'http: body template ({{tx}}, {{seq}})',
    })
    .option('http-header', {
      type: 'string',
      array: true,
      describe: 'http: extra header "Name: value" (repeatable)',
    })
    .option('http-success-field', {
      type: 'string',
      describe: 'http: JSON field (dot path) that must be truthy',
    })
    .option('etcd-key-prefix', {
      type: 'string',
      describe: 'etcd: key prefix (default meshbench/)',
    }) as unknown as Argv<T & AttachArgs>;
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

/** The console table: one row per level. */
export function renderAttachTable(outcome: AttachOutcome): string {
  const table = new Table({
    head: [
      '#',
      'load tx/s',
      'achieved tx/s',
      'throughput tx/s',
      'ok',
      'failed',
      'avg ms',
      'p50 ms',
      'p99 ms',
      'efficiency',
    ],
    style: { head: [], border: [] },
  });
  for (const level of outcome.levels) {
    const r = level.record.results;
    table.push([
      String(level.record.benchmark_number),
      String(level.load),
      fixed(r.achieved_rate),
      fixed(r.throughput),
      String(r.successful_transactions),
      String(r.failed_transactions),
      fixed(r.avg_latency_ms, 2),
      fixed(r.latency_percentiles_ms.p50, 2),
      fixed(r.latency_percentiles_ms.p99, 2),
      `${(r.efficiency * 100).toFixed(1)}%`,
    ]);
  }
  return table.toString();
}

async function run(args: AttachArgs, context: CliContext): Promise<number> {
  const options = attachOptionsFromArgs(args, context.shutdown.signal);
  const outcome = await runAttach(options, {
    say: (line) => context.stderr(line),
    ...(context.verbose || process.stderr.isTTY
      ? {
          onProgress: (load, p) =>
            context.stderr(
              `  ${load} tx/s: ${(p.elapsedMs / 1000).toFixed(0)} s, sent ${p.sent}, ok ${p.ok}, failed ${p.failed}`,
            ),
        }
      : {}),
  });
  if (outcome.levels.length > 0) context.stdout(renderAttachTable(outcome));
  context.stdout(
    `wrote ${outcome.levels.length} result file${outcome.levels.length === 1 ? '' : 's'} to ${outcome.runDir}`,
  );
  return outcome.interrupted ? 130 : 0;
}

export async function main(argv: readonly string[]): Promise<number> {
  return runCli<AttachArgs>(
    {
      name: 'benchmark',
      usage:
        '$0 --endpoints URL[,URL...] --loads 500,1000 [--duration 30] [--protocol cometbft|etcd|http] [--confirm none|commit]',
      epilogue: 'Attach mode: drives a network that is already running (no deploy, no cleanup).',
      options: (argv) => addAttachOptions(argv),
      run,
    },
    argv,
  );
}
