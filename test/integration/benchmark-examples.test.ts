/**
 * The example scripts' real run path (no MESHBENCH_DRY_RUN): the interactive
 * local_network.sh driven through a pseudo-terminal starts a real network and
 * exits with the command's status, and run_benchmark_auto.sh runs a real short
 * benchmark sweep (needs `npm run build` with the benchmark command wired in).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const driver = join(import.meta.dirname, '../unit/examples/pty-driver.py');
let dir: string;
/** Where the local_network.sh wizard's run writes its folder (apart from `dir`, whose run folders are counted). */
let wizardOutput: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-examples-it-'));
  wizardOutput = await mkdtemp(join(tmpdir(), 'meshbench-examples-wizard-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(wizardOutput, { recursive: true, force: true });
});

describe('examples, real runs', () => {
  it('local_network.sh starts the network, sends the transactions and cleans up', async () => {
    const answers = ['4', '100', '50', '', '60', 'yes', 'yes'];
    const { stdout } = await run(
      'python3',
      [driver, JSON.stringify(answers), '--', 'bash', 'examples/local_network.sh'],
      {
        // its run folder into a temp folder, not benchmarks/ of the checkout
        env: { ...process.env, MESHBENCH_DRY_RUN: '0', MESHBENCH_OUTPUT: wizardOutput },
        timeout: 300_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    expect(stdout).toContain('Command: npx --no-install local-network --committee 4 --num-transactions 100');
    expect(stdout).toMatch(/\nEXIT 0\n$/);
  });

  it('run_benchmark_auto.sh runs a short local sweep and writes its run folder', async () => {
    const { stderr } = await run(
      'bash',
      [
        'examples/run_benchmark_auto.sh',
        '--local-committee',
        '4',
        '--duration',
        '5',
        '--local-loads',
        '20,40',
        '--output-dir',
        dir,
      ],
      { env: { ...process.env, MESHBENCH_DRY_RUN: '0' }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stderr).toContain('run_benchmark_auto.sh: npx --no-install benchmark --network-type local');
    const runs = await readdir(dir);
    expect(runs).toHaveLength(1);
    expect((await readdir(join(dir, runs[0] as string))).sort()).toEqual([
      'local-benchmark-1.json',
      'local-benchmark-2.json',
      'report.html',
      'run.json',
      'summary.txt',
    ]);
  });

  it('run_benchmark_auto.sh exits non-zero when the benchmark fails', async () => {
    const failure = await run(
      'bash',
      [
        'examples/run_benchmark_auto.sh',
        '--duration',
        '5',
        '--local-loads',
        '20',
        '--output-dir',
        '/proc/meshbench',
      ],
      {
        env: { ...process.env, MESHBENCH_DRY_RUN: '0' },
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure.code).toBe(2);
    expect(failure.stderr).toMatch(/--output-dir "\/proc\/meshbench" is not valid/);
  });
});
