/** Facts about where a benchmark ran: tool version, node image, this host. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Deployment, TestbedEnvironment } from '../testbed/testbed.js';
import type { EnvironmentRecord } from './level.js';

let cachedVersion: string | undefined;

/** meshbench's own version, from its package.json. */
export function toolVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const url = new URL('../../package.json', import.meta.url);
      cachedVersion = String(
        (JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown }).version ?? 'unknown',
      );
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

export function hostFacts(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    cpus: cpus.length,
    cpu_model: cpus[0]?.model ?? 'unknown',
    memory_bytes: os.totalmem(),
    node_version: process.version,
  };
}

/** Builds the environment block from a deployment's own facts (testbeds fill `environment`). */
export function environmentFor(
  deployment: Pick<Deployment, 'environment' | 'readyAfterMs'> | undefined,
): EnvironmentRecord {
  const testbed = deployment?.environment;
  return {
    tool: 'meshbench',
    tool_version: toolVersion(),
    node_image_id: nodeImageId(testbed),
    host: hostFacts(),
    testbed: { ...testbed },
    deploy_ready_after_ms: deployment ? deployment.readyAfterMs : null,
  };
}

/** The node image: the remote testbed's one image, the local one's distinct images, none attached. */
function nodeImageId(testbed: TestbedEnvironment | undefined): string | null {
  if (testbed?.testbed === 'remote') return testbed.imageId ?? null;
  if (testbed?.testbed !== 'local') return null;
  const ids = [...new Set(Object.values(testbed.images))];
  return ids.length > 0 ? ids.join(',') : null;
}
