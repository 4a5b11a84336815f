import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  composeArgs,
  composeErrorLine,
  detectCompose,
  PIPED_COMPOSE_FILE,
  startGatedComposeUp,
} from '../../../../src/testbed/local/compose-cli.js';

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

describe('startGatedComposeUp', () => {
  /**
   * A stand-in for compose v1: it notes that it started, then reads every --file in order (as
   * compose does before it talks to the engine), prints them and its arguments, and refuses an
   * empty file.
   */
  async function fakeCompose(): Promise<{ command: string[]; startedFile: string }> {
    const path = join(dir, 'bin', 'docker-compose');
    const startedFile = join(dir, 'started');
    await script(
      path,
      [
        `touch ${startedFile}`,
        'files=""',
        'while [ $# -gt 0 ]; do',
        '  if [ "$1" = --file ]; then files="$files $2"; shift; fi',
        '  echo "arg $1"',
        '  shift',
        'done',
        'for f in $files; do',
        '  text=$(cat "$f")',
        '  if [ -z "$text" ]; then echo "Top level object in $f needs to be an object" >&2; exit 1; fi',
        '  echo "file $f: $text"',
        'done',
      ].join('\n'),
    );
    return { command: [path], startedFile };
  }

  const until = async (check: () => Promise<boolean>) => {
    for (let tries = 0; tries < 200 && !(await check()); tries++) await new Promise((r) => setTimeout(r, 25));
  };

  it('starts at once, waits for the piped file, and reads it after release', async () => {
    const { command, startedFile } = await fakeCompose();
    const base = join(dir, 'base.yml');
    await writeFile(base, 'services: {a: {image: x}}');
    const gate = startGatedComposeUp(
      { command, kind: 'v1', version: '1.29.2' },
      { projectName: 'p1', projectDirectory: dir, files: [base, PIPED_COMPOSE_FILE] },
      { PATH: process.env.PATH },
    );
    // It runs (the slow start-up happens now) but cannot go past the pipe.
    await until(() =>
      readFile(startedFile).then(
        () => true,
        () => false,
      ),
    );
    const result = await gate.release('services: {a: {labels: {run: r1}}}');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`file ${base}: services: {a: {image: x}}`);
    expect(result.stdout).toContain(`file ${PIPED_COMPOSE_FILE}: services: {a: {labels: {run: r1}}}`);
    expect(result.stdout).toContain('arg up');
    expect(result.stdout).toContain('arg --detach');
  });

  it('cancel closes the pipe empty: compose refuses it and exits', async () => {
    const { command } = await fakeCompose();
    const gate = startGatedComposeUp(
      { command, kind: 'v1', version: '1.29.2' },
      { projectName: 'p2', projectDirectory: dir, files: [PIPED_COMPOSE_FILE] },
      { PATH: process.env.PATH },
    );
    await gate.cancel();
    expect(() => gate.release('too late')).toThrow(/already/);
  });

  it('reports a compose that is not there like a failed command', async () => {
    const gate = startGatedComposeUp(
      { command: [join(dir, 'no-such-compose')], kind: 'v1', version: '1.29.2' },
      { projectName: 'p3', projectDirectory: dir, files: [PIPED_COMPOSE_FILE] },
      { PATH: process.env.PATH },
    );
    const result = await gate.release('services: {}');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no-such-compose/);
  });
});
