/**
 * The lean node image (scripts/build-images.sh, lean_node_image) on the real engine: the
 * default refnode image holds the node binary, exactly the libraries `ldd` lists for it, the
 * loader, the few /etc files, /tmp, /data and the bundle, and nothing else (no shell); the node
 * runs as an unprivileged user that can write its /data volume. The generic recipe
 * (`build-images.sh lean`) builds a bundled app of our own, reuses the image while its inputs
 * stay the same and rebuilds it when one changes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REFNODE_IMAGE } from '../../src/common/defaults.js';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) =>
    execFile(file, [...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

async function ok(file: string, args: readonly string[]): Promise<string> {
  const result = await run(file, args);
  expect(result.code, `${file} ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

const label = async (image: string, key: string) =>
  (await ok('docker', ['image', 'inspect', '-f', `{{index .Config.Labels "${key}"}}`, image])).trim();
const imageId = async (image: string) =>
  (await ok('docker', ['image', 'inspect', '-f', '{{.Id}}', image])).trim();

const lean = (await label(REFNODE_IMAGE, 'meshbench.base')) === 'scratch';
const tag = `meshbench/lean-test:${process.pid}`;
const volume = `meshbench-lean-test-${process.pid}`;

afterAll(async () => {
  await run('docker', ['image', 'rm', '-f', tag]);
  await run('docker', ['volume', 'rm', '-f', volume]);
});

describe.skipIf(!lean)(`${REFNODE_IMAGE} FROM scratch`, () => {
  it('holds node, the libraries ldd lists, the loader, /etc, /tmp, /data and the bundle: no shell', async () => {
    const created = (await ok('docker', ['create', REFNODE_IMAGE])).trim();
    let listing: string;
    try {
      // docker export lists the container's filesystem (with the few files the engine adds)
      listing = await ok('sh', ['-c', `docker export ${created} | tar --numeric-owner -tvf -`]);
    } finally {
      // -v: the image's VOLUME /data gave the container an anonymous volume
      await run('docker', ['rm', '-f', '-v', created]);
    }
    const entries = new Map(
      listing
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const parts = line.trim().split(/\s+/);
          return [parts[5]!.replace(/\/$/, ''), { mode: parts[0]!, owner: parts[1]! }] as const;
        }),
    );
    const files = [...entries.entries()]
      .filter(([, entry]) => !entry.mode.startsWith('d'))
      .map(([path]) => path);
    const node = (await ok('readlink', ['-f', (await ok('sh', ['-c', 'command -v node'])).trim()])).trim();
    const ldd = await ok('ldd', [node]);
    const libraries = [...ldd.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((match) => match[1]!.slice(1));
    expect(libraries.length).toBeGreaterThan(1);
    // what the engine itself puts into every container's filesystem
    const engine = /^(\.dockerenv|etc\/(hosts|hostname|resolv\.conf|mtab)|dev\/.*|proc|sys)$/;
    expect(files.filter((path) => !engine.test(path)).sort()).toEqual(
      [
        'usr/local/bin/node',
        ...libraries,
        'etc/passwd',
        'etc/group',
        'etc/nsswitch.conf',
        'opt/app/refnode.js',
      ].sort(),
    );
    expect(entries.get('data')?.owner).toBe('65532/65532');
    expect(entries.get('tmp')?.mode).toBe('drwxrwxrwt');
    const shell = await run('docker', [
      'run',
      '--rm',
      '--entrypoint',
      '/bin/sh',
      REFNODE_IMAGE,
      '-c',
      'true',
    ]);
    expect(shell.code).not.toBe(0);
  });

  it('runs node as meshbench (65532), which can write its /data volume', async () => {
    const out = await ok('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      '-v',
      `${volume}:/data`,
      '--entrypoint',
      '/usr/local/bin/node',
      REFNODE_IMAGE,
      '-e',
      "require('fs').writeFileSync('/data/probe', 'x'); const u = require('os').userInfo(); console.log(u.uid, u.username, process.version)",
    ]);
    const [uid, user, version] = out.trim().split(' ');
    expect([uid, user]).toEqual(['65532', 'meshbench']);
    expect(version).toBe(process.version);
  });
});

describe('build-images.sh lean IMAGE DOCKERFILE ENTRY_JS', () => {
  it('builds a bundled app FROM scratch, reuses it while the inputs stay, rebuilds when one changes', async () => {
    const dir = await mkdtemp(join('.meshbench', 'lean-test-'));
    try {
      const entry = join(dir, 'hello.js');
      const dockerfile = join(dir, 'Dockerfile');
      await writeFile(
        dockerfile,
        'FROM scratch\nADD rootfs.tar /\nUSER 65532:65532\nENTRYPOINT ["/usr/local/bin/node", "/opt/app/hello.js"]\n',
      );
      const build = () => ok('bash', ['scripts/build-images.sh', 'lean', tag, dockerfile, entry]);
      await writeFile(entry, "console.log('first', require('os').userInfo().username)\n");
      await build();
      expect((await ok('docker', ['run', '--rm', '--network', 'none', tag])).trim()).toBe('first meshbench');
      const first = await imageId(tag);
      expect(await label(tag, 'meshbench.base')).toBe('scratch');
      await build();
      expect(await imageId(tag)).toBe(first);
      await writeFile(entry, "console.log('second')\n");
      await build();
      expect(await imageId(tag)).not.toBe(first);
      expect((await ok('docker', ['run', '--rm', '--network', 'none', tag])).trim()).toBe('second');
      await run('docker', ['image', 'rm', first]);
      const missing = await run('bash', [
        'scripts/build-images.sh',
        'lean',
        tag,
        dockerfile,
        join(dir, 'nope.js'),
      ]);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/nope\.js is missing/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
