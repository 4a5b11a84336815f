/**
 * Ctrl-C: local-network runs as a child process; SIGINT mid-load prints the partial
 * result and, with --cleanup, leaves nothing of the run behind. SIGINT during start-up
 * removes the half-started network. Two nodes where the count proves nothing (a node
 * container costs ~2 s of CPU to start and stop on this machine's engine); four where a
 * second SIGINT must land while compose up is still creating them.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_LABEL } from '../../src/common/labels.js';
import { REPEAT_WINDOW_MS } from '../../src/common/shutdown.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { ROOT } from './run-bin.js';

const docker = createDocker();
let dir: string;

/** The command as a user runs it (its bin/ shim: the built bundle). */
const ENTRY = join(ROOT, 'bin', 'local-network.js');

/** Starts local-network; sends SIGINT once stdout matches `when` (plus `delayMs`). */
function runAndInterrupt(
  args: string[],
  when: RegExp,
  delayMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, ...args], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    const check = () => {
      if (!sent && when.test(stdout + stderr)) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), delayMs);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      check();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      check();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function leftovers(runId: string): Promise<string[]> {
  const label = { label: [`${RUN_LABEL}=${runId}`] };
  const project = { label: [`com.docker.compose.project=meshbench-${runId}`] };
  return [
    ...(await docker.listContainers({ all: true, filters: label })).map((c) => `container ${c.Names[0]}`),
    ...(await docker.listContainers({ all: true, filters: project })).map((c) => `container ${c.Names[0]}`),
    ...(await docker.listNetworks({ filters: label })).map((n) => `network ${n.Name}`),
    ...(await docker.listNetworks({ filters: project })).map((n) => `network ${n.Name}`),
    ...((await docker.listVolumes({ filters: label })).Volumes ?? []).map((v) => `volume ${v.Name}`),
  ];
}

/**
 * Starts local-network; once `firstWhen()` holds (polled: a line of output, a container of the
 * run) sends SIGINT, and once the command says it is stopping, a second one. Returns the
 * output and how long the exit took after the last signal.
 */
function runAndInterruptTwice(
  args: string[],
  firstWhen: (output: string) => Promise<boolean>,
): Promise<{ code: number | null; stdout: string; stderr: string; exitAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, ...args], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signals = 0;
    let secondScheduled = false;
    let lastSignalMs = 0;
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const signal = () => {
      signals += 1;
      lastSignalMs = performance.now();
      child.kill('SIGINT');
    };
    let polling = false;
    const poll = setInterval(() => {
      if (signals > 0 || polling) return;
      polling = true;
      void firstWhen(stdout + stderr)
        .then((ready) => {
          if (ready && signals === 0) signal();
        })
        .finally(() => {
          polling = false;
        });
    }, 50);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // a person's second Ctrl-C: after the first is taken, and later than a repeat of it would be
      if (signals === 1 && !secondScheduled && stderr.includes('received SIGINT: stopping')) {
        secondScheduled = true;
        setTimeout(signal, Math.max(0, lastSignalMs + REPEAT_WINDOW_MS + 100 - performance.now()));
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      clearInterval(poll);
      resolve({ code, stdout, stderr, exitAfterMs: performance.now() - lastSignalMs });
    });
  });
}

const runIdOf = (output: string) => /^run (\S+): starting/m.exec(output)?.[1];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-sigint-it-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('local-network and Ctrl-C', () => {
  it('SIGINT mid-run with --cleanup prints the partial result and leaves nothing behind', async () => {
    const run = await runAndInterrupt(
      [
        '--committee',
        '2',
        '--num-transactions',
        '100000',
        '--transaction-rate',
        '50',
        '--cleanup',
        '--output',
        dir,
      ],
      /all 2 nodes ready/,
      1_500,
    );
    const runId = /^run (\S+): starting/m.exec(run.stdout)?.[1] ?? '';
    expect(runId).not.toBe('');
    expect(run.stderr).toContain('received SIGINT: stopping');
    expect(run.stdout).toMatch(/PARTIAL RESULT \(interrupted\): run \S+, 2 nodes/);
    expect(run.stdout).toMatch(/Successful: +\d+/);
    expect(run.stdout).toMatch(/cleanup: removed 2 containers, 1 network,/);
    expect(run.code).toBe(130);
    expect(await leftovers(runId)).toEqual([]);
  });

  it('output closed by its reader (`| head`) stops as on Ctrl-C and, with --cleanup, leaves nothing', async () => {
    const run = await new Promise<{ code: number | null; first: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(
          process.execPath,
          [ENTRY, '--committee', '2', '--num-transactions', '100000', '--cleanup', '--output', dir],
          { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
        );
        const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        let first = '';
        let stderr = '';
        // the reader takes the first line and goes, as `head -1` does: the next write gets EPIPE
        child.stdout.on('data', (chunk: Buffer) => {
          first += chunk.toString();
          if (first.includes('\n')) child.stdout.destroy();
        });
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(killer);
          resolve({ code, first, stderr });
        });
      },
    );
    const runId = runIdOf(run.first) ?? '';
    expect(runId, run.stderr).not.toBe('');
    // it ended with exit 1 at the next write, past the cleanup: the network kept running
    expect(run.stderr).toContain('stdout was closed by its reader: stopping');
    expect(run.stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(run.code, run.stderr).toBe(130);
    expect(await leftovers(runId)).toEqual([]);
  });

  it('SIGINT during start-up removes the half-started network', async () => {
    const run = await runAndInterrupt(
      ['--committee', '2', '--num-transactions', '100', '--output', dir],
      /starting 2 nodes/,
      300,
    );
    const runId = /^run (\S+): starting/m.exec(run.stdout)?.[1] ?? '';
    expect(runId).not.toBe('');
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/interrupted/);
    expect(await leftovers(runId)).toEqual([]);
  });

  it('a second SIGINT while compose up runs forces, removes the run by label and exits within 10 s', async () => {
    const run = await runAndInterruptTwice(
      [
        '--committee',
        '4',
        '--num-transactions',
        '1000',
        '--transaction-rate',
        '200',
        '--cleanup',
        '--output',
        dir,
      ],
      async (output) => {
        const runId = runIdOf(output);
        if (!runId || !output.includes('starting 4 nodes')) return false;
        // compose up has created a container of the run
        const filters = { label: [`com.docker.compose.project=meshbench-${runId}`] };
        return (await docker.listContainers({ all: true, filters })).length > 0;
      },
    );
    const runId = runIdOf(run.stdout) ?? '';
    expect(runId).not.toBe('');
    expect(run.stderr).toContain('received SIGINT again: forcing exit');
    expect(run.stderr).toMatch(
      /(interrupted during start-up|forced exit(?: during start-up)?); removed \d+ containers?, \d+ networks?, \d+ volumes?/,
    );
    expect(run.stderr).not.toMatch(/fix the compose file|up failed/);
    // The graceful removal and the forced one each say what they removed themselves, each id once:
    // never more than the 4 nodes' containers and the one network per line (a container still
    // being removed, listed again by the next pass, was counted again: "removed 7 containers").
    // Both lines may name the same container: the engine can accept two removals of it at once.
    for (const match of run.stderr.matchAll(/removed (\d+) containers?, (\d+) networks?/g)) {
      expect(Number(match[1])).toBeLessThanOrEqual(4);
      expect(Number(match[2])).toBeLessThanOrEqual(1);
    }
    expect(run.code).toBe(130);
    expect(run.exitAfterMs).toBeLessThan(10_000);
    expect(await leftovers(runId)).toEqual([]);
  });

  it('a second SIGINT during a level forces, removes the run by label and exits within 10 s', async () => {
    const run = await runAndInterruptTwice(
      [
        '--committee',
        '2',
        '--num-transactions',
        '100000',
        '--transaction-rate',
        '50',
        '--cleanup',
        '--output',
        dir,
      ],
      async (output) => output.includes('all 2 nodes ready'),
    );
    const runId = runIdOf(run.stdout) ?? '';
    expect(runId).not.toBe('');
    expect(run.stderr).toContain('received SIGINT again: forcing exit');
    expect(run.stderr + run.stdout).toMatch(/removed \d+ containers?, \d+ networks?/);
    expect(run.code).toBe(130);
    expect(run.exitAfterMs).toBeLessThan(10_000);
    expect(await leftovers(runId)).toEqual([]);
  });
});
