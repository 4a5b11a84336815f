/**
 * A missing meshbench image is built on first use, with one progress line. Run on a fresh
 * tag of the load client (MESHBENCH_LOADCLIENT_IMAGE, the quickest of the images to build),
 * so the shared meshbench/*:latest images are left alone; the tag is removed at the end.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const TAG = `meshbench/loadclient:first-use-${process.pid}`;
process.env.MESHBENCH_LOADCLIENT_IMAGE = TAG;

afterAll(async () => {
  await run('docker', ['image', 'rm', '-f', TAG]).catch(() => undefined);
});

describe('ensureImage', () => {
  it('builds a missing meshbench image once, with one progress line, and then finds it', async () => {
    // the tag is read when the modules load: import them after setting it
    const { ensureImage, imagePresent, shippedImage } =
      await import('../../src/testbed/docker/ensure-image.js');
    expect(shippedImage(TAG)?.set).toBe('loadclient');
    expect(await imagePresent(TAG)).toBe(false);
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    // two callers at once: one build
    await Promise.all([ensureImage(TAG, { log }), ensureImage(TAG, { log })]);
    expect(lines).toEqual([`building ${TAG} (once, about 10 s)`]);
    expect(await imagePresent(TAG)).toBe(true);
    const { stdout } = await run('docker', [
      'run',
      '--rm',
      '--entrypoint',
      '/usr/local/bin/node',
      TAG,
      '-e',
      'console.log(1+1)',
    ]);
    expect(stdout.trim()).toBe('2');
    await ensureImage(TAG, { log });
    expect(lines).toHaveLength(1);
  }, 180_000);
});
