/**
 * Every bench script answers --help with its flags and runs nothing; an unknown flag is one
 * line and a non-zero exit. Each is started as `npm run bench:…` starts it (node --import tsx).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const scriptsDir = join(root, 'benchmarks/scripts');

/** The flags each script's --help must list (its own, and the shared --max-load). */
const expected: Record<string, string[]> = {
  'bench-access.ts': ['--rates', '--rounds', '--seconds'],
  'bench-delay-helper.ts': [
    '--rate',
    '--delay-ms',
    '--rounds',
    '--seconds',
    '--hooks',
    '--ceiling-rates',
    '--step-seconds',
    '--no-ceiling',
    '--nice',
  ],
  'bench-faults.ts': ['--events', '--gap-ms', '--rounds', '--seconds', '--rate', '--no-remote'],
  'bench-conditions.ts': ['--nodes', '--changes', '--gap-ms', '--seconds', '--refnodes'],
  'bench-loadgen.ts': [
    '--only',
    '--repeat',
    '--seconds',
    '--warmups',
    '--transport',
    '--long',
    '--tools',
    '--ref',
  ],
  'bench-local.ts': ['--repeats', '--committees'],
  'bench-overhead.ts': ['--duration', '--loads', '--no-reference'],
  'bench-refnode.ts': [
    '--peak-rates',
    '--latency-rate',
    '--seconds',
    '--repeat',
    '--no-docker',
    '--no-local',
  ],
  'bench-remote.ts': ['--reps', '--no-ship', '--inner-storage'],
  'bench-monitor.ts': ['--nodes', '--pairs', '--seconds', '--interval-ms', '--refnodes'],
  'bench-mesh.ts': ['--nodes', '--rate', '--seconds', '--pairs', '--max-load'],
  'bench-systems.ts': ['--systems', '--nodes', '--pairs', '--max-load'],
  'bench-report.ts': ['--repeats'],
  'bench-startup.ts': ['--ref', '--pairs'],
  'bench-wakeups.ts': ['--seconds', '--pairs', '--max-load'],
  'bench-histogram.ts': ['--values', '--pairs', '--max-load'],
  'bench-image.ts': ['--rounds', '--hosts', '--dir', '--ready-rounds'],
  'bench-dashboard.ts': ['--pairs', '--seconds', '--rate', '--committee', '--max-load'],
  'bench-footprint.ts': ['--nodes', '--rate', '--seconds', '--workers', '--long', '--pairs', '--max-load'],
  'bench-clients.ts': ['--rounds', '--duration', '--search-start', '--search-max', '--hosts', '--max-load'],
  'bench-fanout.ts': ['--sizes', '--rounds', '--fanout-rounds', '--concurrency', '--concurrencies', '--dir'],
};

function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(scriptsDir, script), ...args],
      // a bound only against a hang: tsx compiles the script's imports, seconds on a busy machine
      { cwd: root, timeout: 120_000 },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('bench scripts', () => {
  it('are all covered here, and each has an npm script', () => {
    const scripts = readdirSync(scriptsDir).filter((name) => /^bench-.*\.ts$/.test(name));
    expect(scripts.sort()).toEqual(Object.keys(expected).sort());
    const npmScripts = (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    for (const script of scripts)
      expect(npmScripts[script.replace(/^bench-(.*)\.ts$/, 'bench:$1')]).toBe(
        `node --import tsx benchmarks/scripts/${script}`,
      );
  });

  // Every script parses its flags with the harness's one parser (lib/flags.ts), so -h and an
  // unknown flag are proved once, on one script; each script's own --help is checked below.
  it('-h is --help, and an unknown flag exits 2 with one line (the harness, on bench-report.ts)', async () => {
    const [help, short, unknown] = await Promise.all([
      run('bench-report.ts', ['--help']),
      run('bench-report.ts', ['-h']),
      run('bench-report.ts', ['--no-such-flag']),
    ]);
    expect(help.code, help.stderr).toBe(0);
    expect(short).toEqual(help);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^bench:[\w-]+: Unknown option '--no-such-flag'; see --help\n$/);
  }, 150_000);

  for (const [script, flags] of Object.entries(expected)) {
    it(`${script} --help lists its flags and exits 0`, async () => {
      const help = await run(script, ['--help']);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^usage: npm run bench:/);
      for (const flag of [...flags, '--max-load', '--help'])
        expect(help.stdout).toMatch(new RegExp(`^ +(-h, )?${flag}\\b`, 'm'));
    }, 150_000);
  }
});
