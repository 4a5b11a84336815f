/**
 * The load client image: this machine's node binary and the bundled client
 * (dist/loadclient/: loadclient.js and the generator's worker.js beside it), built by
 * `scripts/build-images.sh loadclient` and shipped to the hosts like the node image.
 */
import { execFile } from 'node:child_process';
import { MeshbenchError } from '../common/errors.js';

export const LOADCLIENT_IMAGE = 'meshbench/loadclient:latest';
export const LOADCLIENT_COMMAND: readonly string[] = ['/usr/local/bin/node', '/opt/app/loadclient.js'];

/** Refuses, in one line, when the client image is not on this machine's engine (it is shipped from here). */
export async function checkLoadClientImage(image = LOADCLIENT_IMAGE): Promise<void> {
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
