/**
 * meshbench's own images are built on first use; where they cannot be, one line names why
 * and the command that builds them. The refusal is judged from a described host (root or
 * not, which commands are on PATH), so each case runs here whatever this machine has.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { formatError, isMeshbenchError } from '../../../../src/common/errors.js';
import {
  APP_LABEL,
  appKey,
  buildBlocker,
  IMAGE_LABEL,
  imageStale,
  cannotBuildError,
  ensureImage,
  shippedImage,
  staleWhy,
  type BuildHost,
} from '../../../../src/testbed/docker/ensure-image.js';

const nethelper = shippedImage('meshbench/nethelper:latest');
const loadclient = shippedImage('meshbench/loadclient:latest');
const crdt = shippedImage('meshbench/crdt-sync:latest');

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

describe('a build that is stopped', () => {
  /** A package whose build script starts a long child (as docker build is) and records its pid. */
  function slowPackage(): string {
    const dir = mkdtempSync(join(tmpdir(), 'meshbench-build-stop-'));
    mkdirSync(join(dir, 'scripts'));
    writeFileSync(
      join(dir, 'scripts/build-images.sh'),
      'echo "meshbench images: building"\nsleep 30 &\necho $! > grandchild.pid\nwait\n',
    );
    return dir;
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('ends the script and what it started on the stop signal, and says it was interrupted', async () => {
    const dir = slowPackage();
    try {
      const controller = new AbortController();
      const lines: string[] = [];
      const built = ensureImage('meshbench/loadclient:latest', {
        log: (line) => lines.push(line),
        host: host({ packageDir: dir }),
        stale: true,
        signal: controller.signal,
      });
      const pidFile = join(dir, 'grandchild.pid');
      await vi.waitFor(() => expect(readFileSync(pidFile, 'utf8')).toMatch(/^\d+/), { timeout: 10_000 });
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      expect(alive(grandchild)).toBe(true);
      controller.abort();
      const error = await built.catch((caught: unknown) => caught);
      expect(isMeshbenchError(error) && error.code).toBe('INTERRUPTED');
      expect(formatError(error)).toContain(
        'interrupted while building meshbench/loadclient:latest: it was not built',
      );
      // the script's own child went with it (a process group of its own), not left building
      await vi.waitFor(() => expect(alive(grandchild)).toBe(false), { timeout: 10_000 });
      expect(lines).toEqual([
        'building meshbench/loadclient:latest again: it was built from an earlier meshbench (about 10 s)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not start when the stop came first', async () => {
    const dir = slowPackage();
    try {
      const error = await ensureImage('meshbench/loadclient:latest', {
        log: () => undefined,
        host: host({ packageDir: dir }),
        stale: true,
        signal: AbortSignal.abort(),
      }).catch((caught: unknown) => caught);
      expect(isMeshbenchError(error) && error.code).toBe('INTERRUPTED');
      expect(existsSync(join(dir, 'grandchild.pid'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('an image built from an earlier meshbench', () => {
  /** A package folder with the load client's two files. */
  function packageWith(client: string, worker: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'meshbench-appkey-'));
    mkdirSync(join(dir, 'dist/loadclient'), { recursive: true });
    writeFileSync(join(dir, 'dist/loadclient/loadclient.js'), client);
    writeFileSync(join(dir, 'dist/loadclient/worker.js'), worker);
    return dir;
  }

  it("hashes the set's files as scripts/build-images.sh labels them (cat FILES | sha256sum)", () => {
    const dir = packageWith('client();\n', 'worker();\n');
    try {
      const shell = execFileSync(
        'sh',
        ['-c', 'cat dist/loadclient/loadclient.js dist/loadclient/worker.js | sha256sum | cut -c1-16'],
        { cwd: dir, encoding: 'utf8' },
      ).trim();
      expect(appKey(loadclient!, dir)).toBe(shell);
      // the images built from no package files of meshbench's have no such hash
      expect(appKey(nethelper!, dir)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("hashes a system under test's sources as the script does (p2p_app_key: src/ in byte order, the lock file)", () => {
    // a package with the script (and what it sources) and a system with nested sources
    const dir = mkdtempSync(join(tmpdir(), 'meshbench-appkey-'));
    try {
      cpSync('scripts', join(dir, 'scripts'), { recursive: true });
      const system = join(dir, 'systems/crdt-sync');
      mkdirSync(join(system, 'src/lib'), { recursive: true });
      writeFileSync(join(system, 'src/node.mjs'), 'node\n');
      writeFileSync(join(system, 'src/lib/a.mjs'), 'a\n');
      writeFileSync(join(system, 'src/lib.mjs'), 'lib\n');
      writeFileSync(join(system, 'src/Z.mjs'), 'Z\n');
      writeFileSync(join(system, 'package-lock.json'), '{}\n');
      const script = () =>
        execFileSync('bash', [join(dir, 'scripts/build-images.sh'), 'app-key', 'crdt-sync'], {
          encoding: 'utf8',
        }).trim();
      const before = appKey(crdt!, dir);
      expect(before).toMatch(/^[0-9a-f]{16}$/);
      expect(before).toBe(script());
      // an edit in a nested source changes it, on both sides
      writeFileSync(join(system, 'src/lib/a.mjs'), 'a, edited\n');
      expect(appKey(crdt!, dir)).not.toBe(before);
      expect(appKey(crdt!, dir)).toBe(script());
      // a system whose sources are not here (not shipped): nothing to compare with
      rmSync(join(system, 'src'), { recursive: true });
      expect(appKey(crdt!, dir)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says why it is built again: the system under test's sources, or an earlier meshbench", () => {
    // a user who edited systems/crdt-sync is told that, not that meshbench changed
    expect(staleWhy(crdt!)).toBe('was built from other sources than systems/crdt-sync/ has now');
    expect(staleWhy(loadclient!)).toBe('was built from an earlier meshbench');
  });

  it("is stale when its files' hash differs; a user's own image under the tag, or files not built, are not judged", () => {
    const dir = packageWith('client v2\n', 'worker\n');
    try {
      const now = appKey(loadclient!, dir) as string;
      const ours = (app?: string) => ({ [IMAGE_LABEL]: 'loadclient', ...(app ? { [APP_LABEL]: app } : {}) });
      expect(imageStale(loadclient!, ours(now), dir)).toBe(false);
      expect(imageStale(loadclient!, ours('0123456789abcdef'), dir)).toBe(true);
      // built by a meshbench from before the label
      expect(imageStale(loadclient!, ours(), dir)).toBe(true);
      // not made by meshbench's script
      expect(imageStale(loadclient!, { maintainer: 'me' }, dir)).toBe(false);
      expect(imageStale(loadclient!, null, dir)).toBe(false);
      // npm run build has not made the files: nothing to compare with
      rmSync(join(dir, 'dist/loadclient/worker.js'));
      expect(imageStale(loadclient!, ours('0123456789abcdef'), dir)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
