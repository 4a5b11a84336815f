import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main as conditions } from '../../../src/cli/conditions.js';
import {
  ControlServer,
  controlDir,
  controlRequest,
  liveControls,
  type ControlAnnouncement,
} from '../../../src/conditions/control.js';

// controlDir() is under os.tmpdir(), which reads TMPDIR: each test gets a folder of its own.
let saved: string | undefined;
let dir: string;
beforeEach(async () => {
  saved = process.env.TMPDIR;
  dir = await mkdtemp(join(tmpdir(), 'meshbench-control-test-'));
  process.env.TMPDIR = dir;
});
afterEach(async () => {
  if (saved === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = saved;
  await rm(dir, { recursive: true, force: true });
});

/** The announcement and socket a run killed with SIGKILL leaves: its process is gone. */
async function staleRun(runId: string): Promise<ControlAnnouncement> {
  const gone = spawnSync(process.execPath, ['-e', '0']).pid as number;
  await mkdir(controlDir(), { recursive: true, mode: 0o700 });
  const socket = join(controlDir(), `${runId}.sock`);
  await writeFile(socket, '');
  const entry: ControlAnnouncement = { runId, pid: gone, socket, nodes: ['node0'], startedAt: 'x' };
  await writeFile(join(controlDir(), `${runId}.json`), JSON.stringify(entry));
  return entry;
}

const handlers = { set: async () => 'set', clear: async () => 'cleared', state: () => ({ ok: true }) };

describe('the control endpoint', () => {
  it('`conditions set` names a refused event as the event (a positional), not as a --event flag', async () => {
    const server = await ControlServer.start('live-run', ['node0'], handlers);
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      expect(await conditions(['set', '{ action: delay, delay: 40 }'])).toBe(2);
      expect(await conditions(['set', '{ action: delay'])).toBe(2);
    } finally {
      spy.mockRestore();
      await server.close();
    }
    const text = written.join('');
    expect(text).toMatch(
      /^conditions: error: event "\{ action: delay, delay: 40 \}" is not valid: delay: 40 has no unit/m,
    );
    expect(text).toMatch(
      /^conditions: error: event "\{ action: delay" is not valid: not a YAML mapping \(Flow map must end with a \} at line 1, column 16\); e\.g\./m,
    );
    expect(text).not.toMatch(/--event/);
  });

  it("`--run` takes the benchmark's run id as well as its network's, and `show` names both", async () => {
    const server = await ControlServer.start('net-1', ['node0'], handlers, {
      benchmarkRunId: 'bench-1',
      network: 'local',
    });
    const out: string[] = [];
    const err: string[] = [];
    const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      err.push(String(chunk));
      return true;
    });
    try {
      expect(await conditions(['clear', '--run', 'bench-1'])).toBe(0);
      expect(await conditions(['clear', '--run', 'net-1'])).toBe(0);
      expect(await conditions(['clear', '--run', 'other'])).toBe(2);
      expect(await conditions(['show'])).toBe(0);
    } finally {
      outSpy.mockRestore();
      errSpy.mockRestore();
      await server.close();
    }
    expect(out.join('')).toContain('net-1: cleared\nnet-1: cleared\n');
    expect(out.join('')).toMatch(/^net-1 \(benchmark bench-1's local network, pid \d+, nodes node0\): /m);
    expect(err.join('')).toMatch(
      /--run "other" is not valid: no such run going; going: net-1 \(benchmark bench-1\)/,
    );
  });

  it('lists the runs whose process is alive and removes what a dead run left', async () => {
    const stale = await staleRun('dead-run');
    const server = await ControlServer.start('live-run', ['node0'], handlers);
    try {
      expect((await liveControls()).map((entry) => entry.runId)).toEqual(['live-run']);
      expect(existsSync(stale.socket)).toBe(false);
      const live = join(controlDir(), 'live-run.sock');
      expect(await controlRequest(live, 'GET', '/state')).toEqual({ status: 200, body: { ok: true } });
    } finally {
      await server.close();
    }
    expect(await readdir(controlDir())).toEqual([]);
  });

  it("a run's control server removes what a run killed earlier left, before it announces itself", async () => {
    await staleRun('killed-earlier');
    const server = await ControlServer.start('next-run', ['node0'], handlers);
    try {
      expect((await readdir(controlDir())).sort()).toEqual(['next-run.json', 'next-run.sock']);
    } finally {
      await server.close();
    }
  });
});
