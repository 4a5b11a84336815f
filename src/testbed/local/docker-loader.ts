/** dockerode, imported when first needed (its import is heavy; see engine-api.ts). */
import type Docker from 'dockerode';
import { engineTargetOf } from './engine-api.js';

export async function loadDocker(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Docker> {
  const { default: Dockerode } = await import('dockerode');
  return new Dockerode(engineTargetOf(env));
}
