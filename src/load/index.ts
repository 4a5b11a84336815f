/**
 * The shared load generator: `runLoad(options)` runs an open-loop schedule against
 * the endpoints and returns plain figures (`LoadResult`). `probeEndpoints` checks
 * that every endpoint answers its health check before a run.
 */
import { Worker } from 'node:worker_threads';
import { LOAD_DEFAULTS } from '../common/defaults.js';
import { MeshbenchError } from '../common/errors.js';
import {
  createProtocol,
  DEFAULT_PROTOCOL,
  protocolModulePaths,
  protocolOptionsFrom,
} from '../protocols/registry.js';
import type { ProtocolKind } from '../protocols/protocol.js';
import type { Endpoint } from '../protocols/endpoint.js';
import { Recorder } from '../measure/recorder.js';
import type { RecorderState } from '../measure/recorder.js';
import { summarize } from '../measure/histogram.js';
import { IntervalMerger } from '../measure/interval.js';
import { Shard } from './engine.js';
import type { ShardResult, ShardRun, ShardSettings } from './engine.js';
import { planSchedule } from './schedule.js';
import type { SchedulePlan } from './schedule.js';
import { validateLoadOptions } from './validate.js';
import { defaultTransport } from './transport.js';
import type {
  KindFigures,
  LoadMix,
  LoadOptions,
  LoadProgress,
  LoadResult,
  LoadShare,
  ProtocolOptions,
} from './types.js';

export type * from './types.js';
export {
  validateLoadOptions,
  checkRate,
  checkTransactionSize,
  checkEndpointUrl,
  checkProtocolKind,
  newDownNodes,
} from './validate.js';
export { FAULT_LOAD_MODES } from './types.js';
export { MAX_TRANSACTION_SIZE_BYTES, txHash, parseTransaction } from './payload.js';
export { planSchedule } from './schedule.js';
export { kindAt, loadMix, mixCycle, resolveMix } from './mix.js';

export { LOAD_DEFAULTS };

/** Lead time between preparing the shards and the first scheduled send. */
const START_DELAY_MS = 50;

/**
 * Checks every endpoint with the protocol's health request (`probe`: cometbft GET /health;
 * etcd POST /v3/maintenance/status; http GET base URL). A kind alone means that
 * protocol with its default settings. Throws MeshbenchError('ENDPOINT_UNREACHABLE')
 * naming the first URL that failed.
 */
export async function probeEndpoints(
  endpoints: readonly Endpoint[],
  protocol: ProtocolOptions | ProtocolKind = DEFAULT_PROTOCOL,
  timeoutMs = 3_000,
): Promise<void> {
  const options: ProtocolOptions = typeof protocol === 'string' ? protocolOptionsFrom(protocol) : protocol;
  const adapter = createProtocol(options, 'probe');
  const results = await Promise.allSettled(endpoints.map((endpoint) => adapter.probe(endpoint, timeoutMs)));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}

function shardSettings(options: LoadOptions, shardIndex: number, shardCount: number): ShardSettings {
  const maxInFlight = options.maxInFlight ?? LOAD_DEFAULTS.maxInFlight;
  const commits = createProtocol(options.protocol, options.runId).commits;
  const commitEndpoints =
    options.commitWebsocketUrls === undefined && commits
      ? options.endpoints
          // a protocol whose commit is judged over every node (mesh) follows every node's stream
          .filter((e) => commits.everyNode || (options.commitNodes?.includes(e.nodeId) ?? true))
          .slice(0, commits.everyNode ? undefined : LOAD_DEFAULTS.commitSubscriptions)
      : [];
  const commitWebsocketUrls =
    options.commitWebsocketUrls ?? (commits ? commitEndpoints.map((e) => commits.websocketUrl(e)) : []);
  // each node's clock against this one, where known: a node's own event times are used then
  const commitClockOffsetsMs = commitEndpoints.map((e) => e.clockOffsetMs ?? null);
  const commitNodeIds =
    options.commitWebsocketUrls === undefined ? commitEndpoints.map((e) => e.nodeId) : undefined;
  const protocolModules = protocolModulePaths();
  return {
    runId: options.runId,
    ...(protocolModules.length > 0 ? { protocolModules } : {}),
    endpoints: options.endpoints.map((e) => ({ ...e })),
    protocol: options.protocol,
    plan: {
      shape: options.shape,
      ...(options.durationMs === undefined ? {} : { durationMs: options.durationMs }),
      ...(options.transactions === undefined ? {} : { transactions: options.transactions }),
      warmupMs: options.warmupMs ?? 0,
      cooldownMs: options.cooldownMs ?? 0,
    },
    transactionSizeBytes: options.transactionSizeBytes,
    confirm: options.confirm,
    commitTimeoutMs: options.commitTimeoutMs ?? LOAD_DEFAULTS.commitTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? LOAD_DEFAULTS.requestTimeoutMs,
    connectionsPerEndpoint: options.connectionsPerEndpoint ?? LOAD_DEFAULTS.connectionsPerEndpoint,
    pipelining: options.pipelining ?? LOAD_DEFAULTS.pipelining,
    transport: options.transport ?? defaultTransport(options.endpoints),
    ...(options.pacing ? { pacing: options.pacing } : {}),
    maxInFlight: Math.max(1, Math.ceil(maxInFlight / shardCount)),
    target: options.target ?? { kind: 'round-robin' },
    lateThresholdMs: options.lateThresholdMs ?? LOAD_DEFAULTS.lateThresholdMs,
    maxScheduleLagMs: options.maxScheduleLagMs ?? LOAD_DEFAULTS.maxScheduleLagMs,
    commitWebsocketUrls,
    ...(commitClockOffsetsMs.some((offset) => offset !== null) ? { commitClockOffsetsMs } : {}),
    ...(commitNodeIds ? { commitNodeIds } : {}),
    // A load client's share (seq ≡ index mod count) split again across its workers.
    shardIndex: (options.share?.index ?? 0) + (options.share?.count ?? 1) * shardIndex,
    shardCount: (options.share?.count ?? 1) * shardCount,
    ...(options.mix ? { mix: options.mix } : {}),
    faultLoad: options.faultLoad ?? LOAD_DEFAULTS.faultLoad,
    ...(options.downNodes ? { downNodes: options.downNodes } : {}),
  };
}

/** Where the schedule starts: just after preparing, or at the agreed wall-clock instant (load clients). */
function startInstant(options: LoadOptions): { startHrNs: bigint; startEpochMs: number } {
  const nowMs = Date.now();
  const startEpochMs = options.startAtEpochMs ?? nowMs + START_DELAY_MS;
  return {
    startHrNs: process.hrtime.bigint() + BigInt(Math.round((startEpochMs - nowMs) * 1e6)),
    startEpochMs,
  };
}

/**
 * The worker entry: the compiled worker.js next to this file or, when running from
 * TypeScript sources (tsx, vitest), a small bootstrap that registers tsx first.
 */
function createWorker(workerData: ShardSettings): Worker {
  const self = import.meta.url;
  const options = { workerData, resourceLimits: WORKER_RESOURCE_LIMITS };
  if (!self.endsWith('.ts')) return new Worker(new URL('./worker.js', self), options);
  const entry = new URL('./worker.ts', self).href;
  const bootstrap = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/**
 * A worker's young generation (V8's new space: two semi-spaces and a third for large objects)
 * is bounded to 12 MB. V8 grows it with the allocation rate, up to 32 MB of new space per
 * isolate by default, and a sending worker allocates for every tx: with 2 workers the process's
 * RSS grew 44-48 MB over a 30 s level at 2,000 tx/s, 25 MB with them bounded, memory taken from
 * the nodes under test on the same machine (issue 31: bench:footprint). Their CPU per tx did not
 * measurably change (2 workers at 10,000 tx/s, alternating rounds: the spreads overlap).
 */
const WORKER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 12 } as const;

interface RunControl {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: LoadProgress) => void;
  readonly onProblem?: (line: string) => void;
}

async function runInThisThread(options: LoadOptions, control: RunControl): Promise<ShardRun> {
  const shard = await Shard.create(shardSettings(options, 0, 1));
  await shard.prepare(control.onProblem);
  const { startHrNs, startEpochMs } = startInstant(options);
  const result = await shard.run(startHrNs, startEpochMs, {
    ...(control.signal ? { signal: control.signal } : {}),
    ...(control.onProgress ? { onProgress: control.onProgress } : {}),
  });
  return result;
}

async function runInWorkers(
  options: LoadOptions,
  count: number,
  control: RunControl,
): Promise<ShardResult[]> {
  const progress: (LoadProgress | undefined)[] = new Array<LoadProgress | undefined>(count).fill(undefined);
  // Each shard's interval latencies, added as they arrive and taken at each tick: exact, none twice.
  const latency = new IntervalMerger();
  const finished = new Array<boolean>(count).fill(false);
  /** The tick follows the first shard still running (shard 0, until it is done). */
  const leader = () => Math.max(0, finished.indexOf(false));
  const workers: Worker[] = [];
  const readies: Promise<void>[] = [];
  const dones: Promise<ShardResult>[] = [];
  for (let k = 0; k < count; k++) {
    const worker = createWorker(shardSettings(options, k, count));
    workers.push(worker);
    let resolveReady!: () => void;
    let rejectReady!: (error: Error) => void;
    readies.push(
      new Promise<void>((resolve, reject) => {
        resolveReady = resolve;
        rejectReady = reject;
      }),
    );
    dones.push(
      new Promise<ShardResult>((resolve, reject) => {
        worker.on(
          'message',
          (message: {
            type: string;
            result?: ShardResult;
            progress?: LoadProgress;
            message?: string;
            line?: string;
          }) => {
            if (message.type === 'ready') resolveReady();
            else if (message.type === 'problem' && message.line !== undefined)
              control.onProblem?.(message.line);
            else if (message.type === 'done' && message.result) {
              finished[k] = true;
              // The last shard done: what came after the leader's last tick goes out in one more.
              const rest = finished.every(Boolean) && control.onProgress ? latency.take() : undefined;
              if (rest && rest.count > 0) control.onProgress?.({ ...sumProgress(progress), latency: rest });
              resolve(message.result);
            } else if (message.type === 'progress' && message.progress) {
              progress[k] = message.progress;
              if (!control.onProgress) return;
              latency.add(message.progress.latency);
              if (k !== leader()) return;
              const interval = latency.take();
              control.onProgress({ ...sumProgress(progress), ...(interval ? { latency: interval } : {}) });
            } else if (message.type === 'error') {
              const error = new MeshbenchError(
                'INTERNAL',
                `load worker ${k} failed: ${message.message ?? 'unknown error'}`,
              );
              rejectReady(error);
              reject(error);
            }
          },
        );
        worker.on('error', (error) => {
          rejectReady(error);
          reject(error);
        });
        worker.on('exit', (code) => {
          const error = new MeshbenchError(
            'INTERNAL',
            `load worker ${k} exited with code ${code} before reporting`,
          );
          rejectReady(error);
          reject(error);
        });
      }),
    );
  }
  const stopAll = () => {
    for (const worker of workers) worker.postMessage({ type: 'stop' });
  };
  try {
    await Promise.all(readies);
    const { startHrNs, startEpochMs } = startInstant(options);
    for (const worker of workers)
      worker.postMessage({ type: 'start', startHrNs: startHrNs.toString(), startEpochMs });
    control.signal?.addEventListener('abort', stopAll, { once: true });
    if (control.signal?.aborted) stopAll();
    return await Promise.all(dones);
  } finally {
    control.signal?.removeEventListener('abort', stopAll);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/**
 * The generator's counts summed over its parts (worker threads, or load clients beside the
 * nodes). Counts are running totals, so the parts' last reports sum; their `latency` covers
 * only each part's last interval and is left out (runInWorkers merges every interval as it
 * arrives instead).
 */
export function sumProgress(parts: readonly (LoadProgress | undefined)[]): LoadProgress {
  const total = { elapsedMs: 0, scheduled: 0, sent: 0, ok: 0, failed: 0, committed: 0, inFlight: 0 };
  for (const p of parts) {
    if (!p) continue;
    total.elapsedMs = Math.max(total.elapsedMs, p.elapsedMs);
    total.scheduled += p.scheduled;
    total.sent += p.sent;
    total.ok += p.ok;
    total.failed += p.failed;
    total.committed += p.committed;
    total.inFlight += p.inFlight;
  }
  return total;
}

/** Runs the load and returns its figures. Throws MeshbenchError('BAD_FLAG') for invalid options. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  return (await runLoadMerged(options)).result;
}

/**
 * Runs the load and returns its figures with the merged recorder's state (encoded HDR
 * histograms and counters), which a load client sends back so the coordinator merges exactly.
 */
export async function runLoadRecorded(options: LoadOptions): Promise<{
  readonly result: LoadResult;
  readonly state: RecorderState;
  /** With a mix: each kind's recorder state, in the mix's order. */
  readonly kindStates?: readonly RecorderState[];
}> {
  const { result, recorder, kindRecorders } = await runLoadMerged(options);
  return {
    result,
    state: recorder.toState(),
    // a mix: each kind's state too, so a load client's coordinator merges the kinds as exactly
    ...(kindRecorders ? { kindStates: kindRecorders.map((r) => r.toState()) } : {}),
  };
}

/**
 * Runs the load: its figures and the merged recorders (encoding them again is left to who
 * sends them on: a load client; the benchmark itself only needs the figures).
 */
async function runLoadMerged(options: LoadOptions): Promise<{
  readonly result: LoadResult;
  readonly recorder: Recorder;
  readonly kindRecorders: readonly Recorder[] | undefined;
}> {
  validateLoadOptions(options);
  const plan = planSchedule(shardSettings(options, 0, 1).plan);
  const workers = options.workers ?? LOAD_DEFAULTS.workers;
  const startedAt = new Date();
  // each worker reads every stream: a problem is said once however many heard it
  const said = new Set<string>();
  const onProblem = options.onProblem;
  const control: RunControl = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(onProblem
      ? {
          onProblem: (line: string) => {
            if (said.has(line)) return;
            said.add(line);
            onProblem(line);
          },
        }
      : {}),
  };
  let results: readonly (ShardRun | ShardResult)[];
  let recorder: Recorder;
  let kindRecorders: readonly Recorder[] | undefined;
  if (workers <= 1) {
    // One shard: its recorder is the run's (no encoding and decoding of every histogram).
    const run = await runInThisThread(options, control);
    results = [run];
    recorder = run.recorder;
    kindRecorders = run.kindRecorders;
  } else {
    const shards = await runInWorkers(options, workers, control);
    results = shards;
    const nodeIds = options.endpoints.map((e) => e.nodeId);
    recorder = Recorder.fromStates(
      nodeIds,
      shards.map((r) => r.recorder),
    );
    // a mix: each kind's recorders merged across the workers, as exactly as the total
    kindRecorders = options.mix?.kinds.map((_, kind) =>
      Recorder.fromStates(
        nodeIds,
        shards.map((r) => r.kindRecorders?.[kind]).filter((state) => state !== undefined),
      ),
    );
  }
  const interrupted = results.some((r) => r.interrupted);
  const result = buildLoadResult(options, plan, recorder, {
    startedAt,
    endedAt: new Date(),
    interrupted,
    ...(interrupted ? { stoppedAtMs: Math.max(...results.map((r) => r.stoppedAtMs ?? 0)) } : {}),
    workers,
    ...(kindRecorders ? { kindRecorders } : {}),
  });
  return { result, recorder, kindRecorders };
}

/** The key pattern the protocol's writes followed (etcd), as the result records it. */
function keysOf(options: LoadOptions): Pick<LoadResult, 'keys'> {
  const keys = createProtocol(options.protocol, options.runId).keys;
  return keys ? { keys } : {};
}

/** The settings the protocol records in the generator block (cometbft: broadcastMode). */
function recordedSettingsOf(options: LoadOptions): Partial<LoadResult['generator']> {
  return createProtocol(options.protocol, options.runId).recordedSettings ?? {};
}

/** A share's input rate: its sequence numbers in the measured window (seq ≡ index mod count), per second. */
export function shareInputRate(plan: SchedulePlan, share: LoadShare): number {
  const secs = (plan.measuredEndMs - plan.measuredStartMs) / 1000;
  return secs > 0 ? sequencesOfShare(plan.firstMeasuredSeq, plan.firstCooldownSeq, share) / secs : 0;
}

/** How many of the sequence numbers [from, to) are ≡ index (mod count). */
export function sequencesOfShare(from: number, to: number, share: LoadShare): number {
  const below = (n: number) => (n <= share.index ? 0 : Math.ceil((n - share.index) / share.count));
  return Math.max(0, below(to) - below(from));
}

/** Each kind of a mix, measured like the totals (its own recorder, merged across workers). */
function kindFigures(
  mix: LoadMix,
  recorders: readonly Recorder[],
  durationSecs: number,
  confirming: boolean,
): KindFigures[] {
  const totalWeight = mix.kinds.reduce((sum, kind) => sum + kind.weight, 0);
  const perSecond = (count: number) => (durationSecs > 0 ? count / durationSecs : 0);
  return mix.kinds.map((kind, index) => {
    const recorder = recorders[index] as Recorder;
    const outcomes = recorder.outcomes();
    return {
      name: kind.name,
      weight: kind.weight,
      share: kind.weight / totalWeight,
      transactionSizeBytes: kind.transactionSizeBytes,
      fields: kind.fields,
      scheduled: recorder.scheduled,
      sent: recorder.sent,
      inputRate: perSecond(recorder.scheduled),
      acceptedThroughput: perSecond(outcomes.ok),
      committedThroughput: confirming ? perSecond(outcomes.committed) : 0,
      efficiency: efficiencyOf(recorder, confirming),
      outcomes,
      latency: {
        ack: { corrected: summarize(recorder.ackCorrected), uncorrected: summarize(recorder.ackUncorrected) },
        ...(confirming
          ? {
              commit: {
                corrected: summarize(recorder.commitCorrected),
                uncorrected: summarize(recorder.commitUncorrected),
              },
            }
          : {}),
      },
    };
  });
}

/**
 * Committed (or ok) over the sends that were due: every scheduled one, less those
 * `--fault-load drop` did not make because their node was down.
 */
function efficiencyOf(recorder: Recorder, confirming: boolean): number {
  const due = recorder.scheduled - recorder.faultDropped;
  return due > 0 ? (confirming ? recorder.counts.committed : recorder.counts.ok) / due : 0;
}

/** Turns merged recorder state into the plain LoadResult. */
export function buildLoadResult(
  options: LoadOptions,
  plan: SchedulePlan,
  recorder: Recorder,
  run: {
    startedAt: Date;
    endedAt: Date;
    interrupted: boolean;
    stoppedAtMs?: number;
    workers: number;
    /** With a mix: one recorder per kind, in the mix's order. */
    kindRecorders?: readonly Recorder[];
  },
): LoadResult {
  const windowMs = plan.measuredEndMs - plan.measuredStartMs;
  const ranMs =
    run.stoppedAtMs === undefined
      ? windowMs
      : Math.max(0, Math.min(windowMs, run.stoppedAtMs - plan.measuredStartMs));
  const durationSecs = ranMs / 1000;
  const confirming = options.confirm === 'commit';
  const outcomes = recorder.outcomes();
  const spanMs = recorder.lastSendMs - recorder.firstSendMs;
  const fitted = recorder.sendRate();
  const achievedRate = Number.isFinite(fitted)
    ? fitted
    : recorder.sent > 1 && spanMs > 0
      ? (recorder.sent - 1) / (spanMs / 1000)
      : durationSecs > 0
        ? recorder.sent / durationSecs
        : 0;
  const perSecond = (count: number) => (durationSecs > 0 ? count / durationSecs : 0);
  const settings = shardSettings(options, 0, 1);
  return {
    runId: options.runId,
    protocol: options.protocol.kind,
    startedAt: run.startedAt.toISOString(),
    endedAt: run.endedAt.toISOString(),
    durationSecs,
    warmupSecs: plan.warmupMs / 1000,
    cooldownSecs: plan.cooldownMs / 1000,
    transactionSizeBytes: options.transactionSizeBytes,
    inputRate:
      run.stoppedAtMs !== undefined
        ? perSecond(recorder.scheduled)
        : options.share === undefined
          ? plan.inputRate
          : shareInputRate(plan, options.share),
    achievedRate,
    acceptedThroughput: perSecond(outcomes.ok),
    committedThroughput: confirming ? perSecond(outcomes.committed) : 0,
    efficiency: efficiencyOf(recorder, confirming),
    scheduled: recorder.scheduled,
    sent: recorder.sent,
    outcomes,
    latency: {
      ack: { corrected: summarize(recorder.ackCorrected), uncorrected: summarize(recorder.ackUncorrected) },
      ...(confirming
        ? {
            commit: {
              corrected: summarize(recorder.commitCorrected),
              uncorrected: summarize(recorder.commitUncorrected),
            },
          }
        : {}),
    },
    scheduleLag: summarize(recorder.lag),
    perNode: recorder.perNode(confirming, settings.faultLoad !== 'keep'),
    timeSeries: recorder.timeSeries(confirming, Math.ceil(durationSecs)),
    interrupted: run.interrupted,
    ...(options.mix && run.kindRecorders
      ? { kinds: kindFigures(options.mix, run.kindRecorders, durationSecs, confirming) }
      : {}),
    ...keysOf(options),
    excluded: { warmup: { ...recorder.excluded.warmup }, cooldown: { ...recorder.excluded.cooldown } },
    faultLoad: {
      mode: settings.faultLoad,
      redirected: recorder.redirected,
      dropped: recorder.faultDropped,
    },
    generator: {
      workers: run.workers,
      connectionsPerEndpoint: settings.connectionsPerEndpoint,
      pipelining: settings.pipelining,
      transport: settings.transport,
      maxInFlight: options.maxInFlight ?? LOAD_DEFAULTS.maxInFlight,
      requestTimeoutMs: settings.requestTimeoutMs,
      commitTimeoutMs: settings.commitTimeoutMs,
      endpoints: options.endpoints.map((e) => e.rpcUrl),
      shape: options.shape,
      confirm: options.confirm,
      ...recordedSettingsOf(options),
    },
  };
}
