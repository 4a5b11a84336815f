/**
 * The test budget .ci/run applies after the tests (scripts/test-budget.mjs): every file's
 * duration from vitest's JSON report, slowest first; an integration file over 4 minutes is a
 * breach (the exit code counts them), and so is the whole run over 30 minutes unless
 * --warn-total (then it is said, not counted).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'test-budget.mjs');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-budget-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function report(files: Record<string, number>): Promise<string> {
  const path = join(dir, `report-${Object.keys(files).length}-${Date.now()}.json`);
  const testResults = Object.entries(files).map(([name, secs]) => ({
    name: join(ROOT, name),
    startTime: 1_000_000,
    endTime: 1_000_000 + secs * 1000,
    status: 'passed',
    assertionResults: [],
  }));
  await writeFile(path, JSON.stringify({ numPassedTests: 1, testResults }));
  return path;
}

async function budget(args: readonly string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [SCRIPT, ...args], { cwd: ROOT });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe('the test budget', () => {
  it('lists every file slowest first and passes within budget', async () => {
    const path = await report({
      'test/unit/a.test.ts': 3.2,
      'test/integration/b.test.ts': 200,
      'test/integration/c.test.ts': 12.5,
    });
    const { code, stdout } = await budget([path, '1500']);
    expect(code).toBe(0);
    const rows = stdout.split('\n').filter((line) => /\.test\.ts$/.test(line));
    expect(rows.map((row) => row.trim().split(/\s+/))).toEqual([
      ['200.0', 'integration', 'test/integration/b.test.ts'],
      ['12.5', 'integration', 'test/integration/c.test.ts'],
      ['3.2', 'unit', 'test/unit/a.test.ts'],
    ]);
    expect(stdout).toContain('within budget');
  });

  it('counts an integration file over 4 minutes and the whole run over 30, naming each', async () => {
    const path = await report({
      'test/integration/slow.test.ts': 241,
      'test/integration/slower.test.ts': 300,
      'test/unit/long.test.ts': 400,
    });
    const counted = await budget([path, '1801']);
    expect(counted.code).toBe(3);
    expect(counted.stdout).toMatch(/over budget: test\/integration\/slower\.test\.ts took 300\.0 s/);
    expect(counted.stdout).toMatch(/over budget: test\/integration\/slow\.test\.ts took 241\.0 s/);
    expect(counted.stdout).toMatch(/over budget: the whole run took 1801 s/);
    expect(counted.stdout).not.toMatch(/long\.test\.ts took/);
    const warned = await budget([path, '1801', '--warn-total']);
    expect(warned.code).toBe(2);
    expect(warned.stdout).toMatch(/note: the whole run took 1801 s, over its budget of 1800 s/);
  });

  it('takes whole-file times, hooks included, from --durations (the reporter file)', async () => {
    // the JSON report has the file at 100 s (first test to last); its beforeAll took 150 s more
    const path = await report({ 'test/integration/hooked.test.ts': 100, 'test/unit/u.test.ts': 1 });
    const durations = join(dir, 'durations.json');
    await writeFile(
      durations,
      JSON.stringify({ files: { [join(ROOT, 'test/integration/hooked.test.ts')]: { ms: 250_000 } } }),
    );
    const whole = await budget([path, '1000', '--durations', durations]);
    expect(whole.code).toBe(1);
    expect(whole.stdout).toMatch(/over budget: test\/integration\/hooked\.test\.ts took 250\.0 s/);
    expect(whole.stdout).toMatch(/^ +1\.0 +unit +test\/unit\/u\.test\.ts$/m);
    // an unreadable file is said, and the report's times are used
    const fallback = await budget([path, '1000', '--durations', join(dir, 'none.json')]);
    expect(fallback.code).toBe(0);
    expect(fallback.stdout).toMatch(/note: cannot read .*none\.json/);
    expect(fallback.stdout).toMatch(/^ +100\.0 +integration +test\/integration\/hooked\.test\.ts$/m);
  });

  it("draws each tier's span, and how long 2, 1 or no integration files ran at once, from the reporter's times", async () => {
    const path = await report({
      'test/unit/u.test.ts': 10,
      'test/integration/a.test.ts': 50,
      'test/integration/b.test.ts': 20,
      'test/integration/c.test.ts': 20,
    });
    const durations = join(dir, 'durations-timed.json');
    const at = (name: string, queuedS: number, endS: number) => ({
      [join(ROOT, name)]: { ms: (endS - queuedS) * 1000, queuedS, endS },
    });
    // integration 10-70 s: a 10-60, b 10-30, c 40-70 -> two at once 10-30 and 40-60, one 30-40 and 60-70
    await writeFile(
      durations,
      JSON.stringify({
        files: {
          ...at('test/unit/u.test.ts', 0, 10),
          ...at('test/integration/a.test.ts', 10, 60),
          ...at('test/integration/b.test.ts', 10, 30),
          ...at('test/integration/c.test.ts', 40, 70),
        },
      }),
    );
    const { code, stdout } = await budget([path, '100', '--durations', durations]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^unit tier: 0-10 s of the tests$/m);
    expect(stdout).toMatch(
      /^integration tier: 10-70 s of the tests; files at once: 2 for 40 s, 1 for 20 s$/m,
    );
  });

  it('refuses a report it cannot read, in one line, with exit 2', async () => {
    const { code } = await budget([join(dir, 'missing.json'), '10']);
    expect(code).toBe(2);
  });
});

describe('scripts/test-order.mjs (the start order in test/file-durations.json)', () => {
  it('lists each file relative to the root, longest first, in seconds', async () => {
    const input = join(dir, 'durations.json');
    await writeFile(
      input,
      JSON.stringify({
        files: {
          [join(ROOT, 'test/unit/a.test.ts')]: { ms: 1234, project: 'unit' },
          [join(ROOT, 'test/integration/b.test.ts')]: { ms: 98_765, project: 'integration' },
          [join(ROOT, 'systems/refnode/test/c.test.ts')]: { ms: 5_000, project: 'unit' },
        },
      }),
    );
    const { stdout } = await run(process.execPath, [join(ROOT, 'scripts', 'test-order.mjs'), input], {
      cwd: ROOT,
    });
    const order = JSON.parse(stdout) as { files: Record<string, number> };
    expect(Object.entries(order.files)).toEqual([
      ['test/integration/b.test.ts', 98.8],
      ['systems/refnode/test/c.test.ts', 5],
      ['test/unit/a.test.ts', 1.2],
    ]);
  });

  it('says what it cannot read, exit 2', async () => {
    const failed = await run(
      process.execPath,
      [join(ROOT, 'scripts', 'test-order.mjs'), join(dir, 'none.json')],
      {
        cwd: ROOT,
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toMatch(/^test-order: cannot read .*none\.json/);
  });

  it('the committed order names test files, each with its seconds', async () => {
    const order = JSON.parse(await readFile(join(ROOT, 'test/file-durations.json'), 'utf8')) as {
      files: Record<string, number>;
    };
    expect(Object.keys(order.files).length).toBeGreaterThan(100);
    for (const [path, secs] of Object.entries(order.files)) {
      expect(path).toMatch(/\.test\.ts$/);
      expect(secs).toBeGreaterThanOrEqual(0);
    }
  });
});
