/**
 * meshbench's own images are built on first use; where they cannot be, one line names why
 * and the command that builds them. The refusal is judged from a described host (root or
 * not, which commands are on PATH), so each case runs here whatever this machine has.
 */
import { describe, expect, it } from 'vitest';
import { formatError } from '../../../../src/common/errors.js';
import {
  buildBlocker,
  cannotBuildError,
  ensureImage,
  shippedImage,
  type BuildHost,
} from '../../../../src/testbed/docker/ensure-image.js';

const nethelper = shippedImage('meshbench/nethelper:latest');
const loadclient = shippedImage('meshbench/loadclient:latest');

function host(overrides: Partial<BuildHost> & { commands?: string[] } = {}): BuildHost {
  const commands = new Set(overrides.commands ?? ['docker', 'mmdebstrap', 'gcc', 'apt-get']);
  return {
    root: overrides.root ?? true,
    has: (command) => commands.has(command),
    packageDir: 'packageDir' in overrides ? overrides.packageDir : '/opt/meshbench',
    fileExists: overrides.fileExists ?? (() => true),
  };
}

describe('building a missing meshbench image on first use', () => {
  it('knows the images meshbench ships by their tags in use, and no other', () => {
    expect(nethelper?.set).toBe('nethelper');
    expect(loadclient?.set).toBe('loadclient');
    expect(shippedImage('meshbench/refnode:latest')?.set).toBe('refnode');
    expect(shippedImage('nginx:latest')).toBeUndefined();
    // the etcd examples' image too: a user need not know `npm run images etcd`
    expect(shippedImage('meshbench/etcd:3.4')?.set).toBe('etcd');
    expect(shippedImage('quay.io/coreos/etcd:v3.5.0')).toBeUndefined();
  });

  it("says what the etcd image needs where it cannot be built: this machine's etcd packages", () => {
    const entry = shippedImage('meshbench/etcd:3.4') as NonNullable<ReturnType<typeof shippedImage>>;
    expect(buildBlocker(entry, host({ root: false, commands: ['docker', 'mmdebstrap'] }))).toBe(
      'etcd and etcdctl are missing and this is not root to install them',
    );
    expect(buildBlocker(entry, host({ root: true, commands: ['docker', 'apt-get'] }))).toBeUndefined();
  });

  it('builds where the tools are, or where root can install them with apt-get', () => {
    const entry = nethelper as NonNullable<typeof nethelper>;
    expect(buildBlocker(entry, host())).toBeUndefined();
    expect(buildBlocker(entry, host({ commands: ['docker', 'apt-get'] }))).toBeUndefined();
    expect(buildBlocker(entry, host({ root: false }))).toBeUndefined();
  });

  it.each([
    [
      { root: false, commands: ['docker', 'apt-get'] },
      'mmdebstrap and gcc are missing and this is not root to install them',
    ],
    [
      { root: false, commands: ['docker', 'gcc'] },
      'mmdebstrap is missing and this is not root to install it',
    ],
    [
      { root: true, commands: ['docker', 'gcc'] },
      'mmdebstrap is missing and apt-get is not here to install it',
    ],
    [{ commands: ['mmdebstrap', 'gcc'] }, 'the docker CLI is missing'],
    [{ packageDir: undefined }, "meshbench's scripts/build-images.sh is not here"],
  ])('refuses on %o in one line naming why and the command', (described, why) => {
    const entry = nethelper as NonNullable<typeof nethelper>;
    const reason = buildBlocker(entry, host(described));
    expect(reason).toBe(why);
    const line = formatError(cannotBuildError('meshbench/nethelper:latest', entry, reason as string));
    expect(line).toContain(
      `meshbench/nethelper:latest is not on this machine's Docker engine and cannot be built here: ${why}`,
    );
    expect(line).toContain('npm run images nethelper');
    expect(line.split('\n')).toHaveLength(1);
  });

  it('names the bundle the load client needs when npm run build has not made it', () => {
    const entry = loadclient as NonNullable<typeof loadclient>;
    const reason = buildBlocker(entry, host({ fileExists: (path) => !path.includes('dist/loadclient') }));
    expect(reason).toBe(
      'dist/loadclient/loadclient.js, dist/loadclient/worker.js is missing (npm run build makes it)',
    );
  });

  it("leaves an image that is not meshbench's to the engine, and refuses a missing one it cannot build", async () => {
    await expect(ensureImage('nginx:never-here', { log: () => undefined })).resolves.toBeUndefined();
    const lines: string[] = [];
    // the refnode image is on this engine (npm run setup): nothing to build, whatever the host
    await expect(
      ensureImage('meshbench/refnode:latest', {
        log: (line) => lines.push(line),
        host: host({ root: false, commands: [] }),
      }),
    ).resolves.toBeUndefined();
    expect(lines).toEqual([]);
  });
});
