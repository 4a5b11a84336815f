/**
 * This machine's Docker engine through the one Docker client (dockerode), imported eagerly:
 * for tests, scripts and `--down`. The testbed's start-up path uses ../docker/engine-reads.ts
 * and loads dockerode lazily (../docker/connection.ts).
 */
import Docker from 'dockerode';
import { engineTargetOf } from '../docker/connection.js';

export { dockerHostOf } from '../docker/connection.js';
export { checkEngine, checkImages, type EngineFacts, type ImageNeed } from './engine-checks.js';
export { containerLogs, demuxDockerBuffer } from '../docker/logs.js';

export function createDocker(env: Readonly<Record<string, string | undefined>> = process.env): Docker {
  return new Docker(engineTargetOf(env));
}
