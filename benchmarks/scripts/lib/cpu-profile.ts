/**
 * A V8 CPU profile of this thread between start and stop (node:inspector), written as a
 * .cpuprofile file (Chrome DevTools and `node --cpu-prof` read the same format), and beside it
 * a sampling heap profile of what the thread allocated meanwhile (.heapprofile, as
 * `node --heap-prof` writes; garbage collection's cost follows what is allocated).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface CpuProfiler {
  /**
   * Stops sampling and writes the profile to `file` (its folder made if need be), and the heap
   * profile to `file` with `.heapprofile` for its extension.
   */
  stop(file: string): Promise<void>;
}

/** Starts sampling every `intervalUs` microseconds. */
export async function startProfiler(intervalUs: number): Promise<CpuProfiler> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  await session.post('HeapProfiler.enable');
  // every 32 KB allocated on average, and what was collected since: the allocations, not the survivors
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 32_768,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      const { profile: heap } = await session.post('HeapProfiler.stopSampling');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(profile));
      writeFileSync(file.replace(/\.cpuprofile$/, '') + '.heapprofile', JSON.stringify(heap));
      session.disconnect();
    },
  };
}
