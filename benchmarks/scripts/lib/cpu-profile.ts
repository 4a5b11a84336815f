/**
 * A V8 CPU profile of this thread between start and stop (node:inspector), written as a
 * .cpuprofile file (Chrome DevTools and `node --cpu-prof` read the same format).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface CpuProfiler {
  /** Stops sampling and writes the profile to `file` (its folder made if need be). */
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
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}
