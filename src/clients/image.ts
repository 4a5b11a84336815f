/**
 * The load client image: this machine's node binary and the bundled client
 * (dist/loadclient/: loadclient.js and the generator's worker.js beside it), built by
 * `scripts/build-images.sh loadclient` and shipped to the hosts like the node image.
 */
import { execFile } from 'node:child_process';
import { MeshbenchError } from '../common/errors.js';
import { ensureImage } from '../testbed/docker/ensure-image.js';

export { LOADCLIENT_IMAGE } from '../common/defaults.js';
import { LOADCLIENT_IMAGE } from '../common/defaults.js';
export const LOADCLIENT_COMMAND: readonly string[] = ['/usr/local/bin/node', '/opt/app/loadclient.js'];

/**
 * Builds meshbench's client image here on first use (it is shipped from here); refuses, in
 * one line, when it cannot be built or another image is not on this machine's engine.
 */
export async function checkLoadClientImage(
  image = LOADCLIENT_IMAGE,
  log: (line: string) => void = (line) => console.error(line),
): Promise<void> {
  await ensureImage(image, { log });
  const present = await new Promise<boolean>((resolve) =>
    execFile('docker', ['image', 'inspect', '--format', '{{.Id}}', image], (error) => resolve(!error)),
  );
  if (!present)
    throw new MeshbenchError(
      'IMAGE_MISSING',
      `the load client image ${image} is not on this machine's Docker engine`,
      {
        hint: 'build it with npm run build && npm run images loadclient, or use --load-clients local',
      },
    );
}
