import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../../src/common/package-root.js';
import {
  DEFAULT_COMPOSE_PATH,
  SEED_COMPOSE_PATH,
  defaultComposePath,
  movedComposeFile,
} from '../../../../src/testbed/local/local-testbed.js';

const made: string[] = [];
afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

describe('the compose file when none is named', () => {
  it("is meshbench's own seed network outside a folder that has one", async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'meshbench-cwd-'));
    made.push(elsewhere);
    const path = defaultComposePath(elsewhere);
    expect(path).toBe(join(resolve(import.meta.dirname, '../../../..'), SEED_COMPOSE_PATH));
    expect(packageRoot()).toBe(resolve(import.meta.dirname, '../../../..'));
  });

  it("is the working directory's compose/docker-compose.yml when there is one", async () => {
    const project = await mkdtemp(join(tmpdir(), 'meshbench-cwd-'));
    made.push(project);
    await mkdir(join(project, 'compose'));
    await writeFile(join(project, DEFAULT_COMPOSE_PATH), 'services: {}\n');
    expect(defaultComposePath(project)).toBe(DEFAULT_COMPOSE_PATH);
  });
});

describe('a meshbench compose file named by its old path', () => {
  it('is found in its system folder, relative or absolute', () => {
    const root = resolve(import.meta.dirname, '../../../..');
    expect(movedComposeFile('compose/docker-compose.yml')).toBe(SEED_COMPOSE_PATH);
    expect(movedComposeFile(join(root, 'compose/examples/etcd-3-members.yml'))).toBe(
      join(root, 'systems/etcd/docker-compose.yml'),
    );
  });

  it('is not guessed for a folder that has no meshbench files', async () => {
    const project = await mkdtemp(join(tmpdir(), 'meshbench-cwd-'));
    made.push(project);
    expect(movedComposeFile(join(project, 'compose/docker-compose.yml'))).toBeUndefined();
    expect(movedComposeFile(join(project, 'other.yml'))).toBeUndefined();
  });
});
