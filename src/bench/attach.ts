/**
 * Attach mode: run the shared load generator against an already running network
 * (no deploy, no cleanup). Probes the endpoints, runs each load level, writes one
 * result JSON per level into a new run folder and returns the records; the CLI only
 * parses flags and prints.
 */
import { join } from 'node:path';
import { createUniqueDir, writeFileAtomic } from '../common/atomic-write.js';
import { MeshbenchError } from '../common/errors.js';
import { newRunId } from '../common/run-id.js';
import { checkEndpointUrl, checkRate, checkTransactionSize, probeEndpoints, runLoad } from '../load/index.js';
import type { ConfirmMode, LoadOptions, LoadProgress, LoadResult, ProtocolOptions } from '../load/types.js';
import { websocketUrlFor } from '../protocols/cometbft.js';
import { loadRecord } from '../report/result.js';
import type { LoadRecord } from '../report/result.js';
import type { Endpoint } from '../testbed/testbed.js';

export interface AttachOptions {
  readonly endpoints: readonly string[];
  /** Load levels, tx/s, run in order. */
  readonly loads: readonly number[];
  readonly durationSecs: number;
  readonly protocol: ProtocolOptions;
  readonly confirm: ConfirmMode;
  readonly transactionSizeBytes: number;
  readonly outputDir: string;
  readonly warmupSecs?: number;
  readonly workers?: number;
  readonly connectionsPerEndpoint?: number;
  readonly probeTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly runId?: string;
}

export interface AttachDeps {
  /** The generator (tests may pass a wrapper). */
  readonly runLoad?: (options: LoadOptions) => Promise<LoadResult>;
  readonly say?: (line: string) => void;
  readonly onProgress?: (load: number, progress: LoadProgress) => void;
  readonly now?: () => Date;
}

export interface AttachLevel {
  readonly load: number;
  readonly file: string;
  readonly record: LoadRecord;
  readonly result: LoadResult;
}

export interface AttachOutcome {
  readonly runId: string;
  readonly runDir: string;
  readonly levels: readonly AttachLevel[];
  readonly interrupted: boolean;
}

/** Endpoint records for plain URLs: node ids `endpoint0`…, WebSocket at `<url>/websocket`. */
export function endpointsFromUrls(urls: readonly string[]): Endpoint[] {
  return urls.map((raw, index) => {
    const url = checkEndpointUrl(raw.trim());
    const rpcUrl = url.href.replace(/\/+$/, '');
    const endpoint: Endpoint = { nodeId: `endpoint${index}`, rpcUrl, host: url.host };
    return { ...endpoint, wsUrl: websocketUrlFor(endpoint) };
  });
}

export function validateAttachOptions(options: AttachOptions): void {
  if (options.endpoints.length === 0) {
    throw new MeshbenchError('BAD_FLAG', 'no endpoints given', {
      hint: 'pass --endpoints http://127.0.0.1:26657[,URL...]',
    });
  }
  for (const url of options.endpoints) checkEndpointUrl(url.trim());
  if (options.loads.length === 0)
    throw new MeshbenchError('BAD_FLAG', 'no loads given', { hint: 'pass --loads 500,1000' });
  for (const load of options.loads) checkRate(load, 'load');
  if (!Number.isFinite(options.durationSecs) || options.durationSecs <= 0) {
    throw new MeshbenchError('BAD_FLAG', `duration ${String(options.durationSecs)} s is not allowed`, {
      hint: 'use a duration above 0 seconds, e.g. --duration 30',
    });
  }
  checkTransactionSize(options.transactionSizeBytes);
}

export async function runAttach(options: AttachOptions, deps: AttachDeps = {}): Promise<AttachOutcome> {
  validateAttachOptions(options);
  const generate = deps.runLoad ?? runLoad;
  const say = deps.say ?? (() => undefined);
  const now = deps.now ?? (() => new Date());
  const endpoints = endpointsFromUrls(options.endpoints);
  say(
    `probing ${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'} (${options.protocol.kind}) …`,
  );
  await probeEndpoints(endpoints, options.protocol, options.probeTimeoutMs ?? 3_000);

  const runId = options.runId ?? newRunId(now());
  const runDir = await createUniqueDir(options.outputDir, `run-${runId}`).catch((error: unknown) => {
    throw new MeshbenchError('OUTPUT_DIR', `cannot create a run folder under ${options.outputDir}`, {
      hint: 'choose a writable --output-dir',
      cause: error,
    });
  });
  const levels: AttachLevel[] = [];
  let interrupted = false;
  for (const [index, load] of options.loads.entries()) {
    if (options.signal?.aborted) {
      interrupted = true;
      break;
    }
    const number = index + 1;
    say(`#${number}: ${load} tx/s for ${options.durationSecs} s …`);
    const result = await generate({
      runId: `${runId}-${number}`,
      endpoints,
      protocol: options.protocol,
      shape: { kind: 'fixed', rate: load },
      durationMs: options.durationSecs * 1000,
      ...(options.warmupSecs ? { warmupMs: options.warmupSecs * 1000 } : {}),
      transactionSizeBytes: options.transactionSizeBytes,
      confirm: options.confirm,
      ...(options.workers ? { workers: options.workers } : {}),
      ...(options.connectionsPerEndpoint ? { connectionsPerEndpoint: options.connectionsPerEndpoint } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(deps.onProgress ? { onProgress: (p: LoadProgress) => deps.onProgress?.(load, p) } : {}),
    });
    const record = loadRecord(result, {
      runId,
      networkType: 'endpoints',
      benchmarkNumber: number,
      nodes: endpoints.length,
      load,
      durationSecs: options.durationSecs,
      transactionSizeBytes: options.transactionSizeBytes,
      protocol: options.protocol.kind,
      confirm: options.confirm,
      endpoints: endpoints.map((e) => e.rpcUrl),
      timestamp: now().toISOString(),
    });
    const file = join(runDir, `endpoints-benchmark-${number}.json`);
    await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`);
    levels.push({ load, file, record, result });
    if (result.interrupted) {
      interrupted = true;
      break;
    }
  }
  return { runId, runDir, levels, interrupted };
}
