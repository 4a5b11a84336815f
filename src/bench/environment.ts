/** Facts about where a benchmark ran: tool version, node image, this host. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Deployment } from '../testbed/testbed.js';
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

const IMAGE_ID_KEYS = ['nodeImageId', 'imageId', 'image_id', 'node_image_id'];

/** Builds the environment block from a deployment's own facts (testbeds fill `environment`). */
export function environmentFor(
  deployment: Pick<Deployment, 'environment' | 'readyAfterMs'> | undefined,
): EnvironmentRecord {
  const testbed = deployment?.environment ?? {};
  const imageKey = IMAGE_ID_KEYS.find((key) => typeof testbed[key] === 'string');
  // The local testbed reports `images`: image (or service) → id.
  const images = testbed.images;
  const imageIds =
    images && typeof images === 'object'
      ? [...new Set(Object.values(images as Record<string, unknown>).filter((id) => typeof id === 'string'))]
      : [];
  return {
    tool: 'meshbench',
    tool_version: toolVersion(),
    node_image_id: imageKey ? String(testbed[imageKey]) : imageIds.length > 0 ? imageIds.join(',') : null,
    host: hostFacts(),
    testbed: { ...testbed },
    deploy_ready_after_ms: deployment ? deployment.readyAfterMs : null,
  };
}
