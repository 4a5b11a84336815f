/**
 * Worker-thread entry: runs one shard. Protocol with the parent:
 *   worker → {type:'ready'} after preparing (commit subscriptions);
 *   worker → {type:'problem', line} when a node's commit stream goes wrong (one line);
 *   parent → {type:'start', startHrNs, startEpochMs}; parent → {type:'stop'};
 *   worker → {type:'progress', progress} about once a second (progress.latency: the tick's
 *     latency histogram, which the parent adds into the others' exactly);
 *   worker → {type:'done', result} or {type:'error', message}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadProtocolModule } from '../protocols/registry.js';
import { Shard, toShardResult } from './engine.js';
import type { ShardSettings } from './engine.js';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
const settings = workerData as ShardSettings;

let stop = false;
port.on('message', (message: { type: string; startHrNs?: string; startEpochMs?: number }) => {
  if (message.type === 'stop') stop = true;
  if (message.type === 'start') {
    void shard
      ?.run(BigInt(message.startHrNs ?? '0'), message.startEpochMs ?? Date.now(), {
        stopRequested: () => stop,
        onProgress: (progress) => port.postMessage({ type: 'progress', progress }),
      })
      .then((result) => {
        port.postMessage({ type: 'done', result: toShardResult(result) });
        port.close();
      })
      .catch((error: unknown) => port.postMessage({ type: 'error', message: (error as Error).message }));
  }
});

// A user's protocol module is known in the thread that loaded it: load it here too.
const shard = await (async () => {
  for (const path of settings.protocolModules ?? []) await loadProtocolModule(path);
  return Shard.create(settings);
})().catch((error: unknown) => {
  port.postMessage({ type: 'error', message: (error as Error).message });
  return undefined;
});
shard
  ?.prepare((line) => port.postMessage({ type: 'problem', line }))
  .then(() => port.postMessage({ type: 'ready' }))
  .catch((error: unknown) => port.postMessage({ type: 'error', message: (error as Error).message }));
