import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { composeArgs, composeErrorLine, detectCompose } from '../../../../src/testbed/local/compose-cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-compose-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A real executable script on a PATH of its own. */
async function script(path: string, body: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
}

describe('detectCompose', () => {
  it('finds docker-compose v1 on PATH and caches its version by binary', async () => {
    const bin = join(dir, 'bin');
    await script(join(bin, 'docker-compose'), 'echo 1.29.2');
    const env = { PATH: bin, HOME: dir };
    const cli = await detectCompose(env, join(dir, 'cache'));
    expect(cli).toEqual({ command: ['docker-compose'], kind: 'v1', version: '1.29.2' });
    const cache = JSON.parse(await readFile(join(dir, 'cache', 'compose-version.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect(Object.values(cache)).toEqual(['1.29.2']);
  });

  it('prefers the v2 plugin when docker has one', async () => {
    const bin = join(dir, 'bin');
    await script(join(bin, 'docker'), 'echo v2.29.1');
    await script(join(bin, 'docker-compose'), 'echo 1.29.2');
    await script(join(dir, '.docker', 'cli-plugins', 'docker-compose'), 'echo v2.29.1');
    const cli = await detectCompose({ PATH: bin, HOME: dir }, join(dir, 'cache'));
    expect(cli).toEqual({ command: ['docker', 'compose'], kind: 'v2', version: '2.29.1' });
  });

  it('says which were tried when there is none', async () => {
    await expect(detectCompose({ PATH: join(dir, 'empty'), HOME: dir }, join(dir, 'cache'))).rejects.toThrow(
      /no compose CLI found \(tried docker compose: .*; docker-compose: .*\)/,
    );
  });
});

describe('compose arguments and errors', () => {
  it('passes project name, directory and every file', () => {
    expect(
      composeArgs(
        { command: ['docker-compose'], kind: 'v1', version: '1.29.2' },
        { projectName: 'meshbench-r1', projectDirectory: '/p', files: ['/p/a.yml', '/r/o.yml'] },
        ['up', '-d'],
      ),
    ).toEqual([
      'docker-compose',
      '--project-name',
      'meshbench-r1',
      '--project-directory',
      '/p',
      '--file',
      '/p/a.yml',
      '--file',
      '/r/o.yml',
      'up',
      '-d',
    ]);
  });

  it('picks the telling line of compose stderr', () => {
    const stderr =
      'Creating network "x_default" with the default driver\nCreating x_node0_1 ...\nERROR: for node0  Cannot start service node0: driver failed programming external connectivity: Bind for 127.0.0.1:26657 failed: port is already allocated\n';
    expect(composeErrorLine(stderr)).toMatch(/port is already allocated$/);
  });
});
