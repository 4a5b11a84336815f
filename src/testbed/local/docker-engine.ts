/**
 * The Docker engine through dockerode, for tests, scripts and `--down`. The testbed's
 * start-up path uses engine-api.ts / engine-checks.ts and loads dockerode lazily
 * (docker-loader.ts).
 */
import Docker from 'dockerode';
import { engineTargetOf } from './engine-api.js';

export { dockerHostOf } from './engine-api.js';
export { checkEngine, checkImages, type EngineFacts, type ImageNeed } from './engine-checks.js';
export { containerLogs, demuxDockerBuffer } from './container-logs.js';

export function createDocker(env: Readonly<Record<string, string | undefined>> = process.env): Docker {
  return new Docker(engineTargetOf(env));
}
