/** The failed tests' messages at the end of CI's output (scripts/failed-tests.mjs). */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function run(report: unknown, ...args: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshbench-failed-tests-'));
  dirs.push(dir);
  const path = join(dir, 'report.json');
  await writeFile(path, typeof report === 'string' ? report : JSON.stringify(report));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'scripts/failed-tests.mjs'), path, ...args],
    {
      cwd: ROOT,
    },
  );
  return stdout;
}

describe('failed-tests.mjs', () => {
  it('prints each failed test with the start of its message, colours removed, and a file that failed outside its tests', async () => {
    const long = `AssertionError: {"p50":386.047,"x":"${'y'.repeat(200)}"}: expected 386.047 to be less than 375.272`;
    const out = await run(
      {
        testResults: [
          {
            name: join(ROOT, 'test/integration/a.test.ts'),
            status: 'failed',
            assertionResults: [
              { fullName: 'a passes', status: 'passed', failureMessages: [] },
              {
                fullName: 'a fails',
                status: 'failed',
                failureMessages: [`\x1b[31m${long}\x1b[39m\n    at a.test.ts:167:23`],
              },
            ],
          },
          {
            name: join(ROOT, 'test/integration/b.test.ts'),
            status: 'failed',
            message: 'Hook timed out',
            assertionResults: [],
          },
          { name: join(ROOT, 'test/unit/c.test.ts'), status: 'passed', assertionResults: [] },
        ],
      },
      '100',
    );
    expect(out.split('\n')).toEqual([
      "failed tests (2), each message's first 100 characters:",
      '- test/integration/a.test.ts > a fails',
      `    ${long.slice(0, 100)} …`,
      '- test/integration/b.test.ts > (the file itself)',
      '    Hook timed out',
      '',
    ]);
  });

  it('prints nothing when nothing failed, and one line when the report cannot be read', async () => {
    expect(await run({ testResults: [{ name: 'x', status: 'passed', assertionResults: [] }] })).toBe('');
    expect(await run('{not json')).toMatch(/^failed tests: the report .* could not be read \(.+\)\n$/);
  });
});
