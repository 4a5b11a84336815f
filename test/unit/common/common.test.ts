import { EventEmitter } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUniqueDir, writeFileAtomic } from '../../../src/common/atomic-write.js';
import { formatError, MeshbenchError } from '../../../src/common/errors.js';
import { newRunId } from '../../../src/common/run-id.js';
import { installShutdown, shutdownSignal } from '../../../src/common/shutdown.js';

describe('run ids', () => {
  it('are time-sortable, unique and safe in Docker names', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newRunId(new Date('2026-11-21T23:45:01Z'))));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^20261121-234501-[0-9a-f]{6}$/);
  });
});

describe('errors', () => {
  it('formats message and hint on one line with the right exit code', () => {
    const error = new MeshbenchError('PORT_IN_USE', 'port 26657 is in use by pid 42', { hint: 'stop it' });
    expect(formatError(error)).toBe('port 26657 is in use by pid 42; stop it');
    expect(error.exitCode).toBe(1);
    expect(new MeshbenchError('BAD_FLAG', 'x').exitCode).toBe(2);
    expect(new MeshbenchError('INTERRUPTED', 'x').exitCode).toBe(130);
  });
});

describe('atomic files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbench-test-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('never reuses a run folder and leaves no temp files', async () => {
    const parent = await mkdtemp(join(dir, 'parent-'));
    const a = await createUniqueDir(parent, 'run');
    const b = await createUniqueDir(parent, 'run');
    expect(a).not.toBe(b);
    await writeFileAtomic(join(a, 'result.json'), '{"a":1}');
    await writeFileAtomic(join(a, 'result.json'), '{"a":2}');
    expect(await readFile(join(a, 'result.json'), 'utf8')).toBe('{"a":2}');
    expect(await readdir(a)).toEqual(['result.json']);
  });
});

/** A shutdown on SIGUSR2 whose log lines and exit codes are recorded instead of acted on. */
function recordingShutdown(repeatWindowMs: number) {
  const lines: string[] = [];
  const exits: number[] = [];
  const shutdown = installShutdown({
    signals: ['SIGUSR2'],
    log: (line) => lines.push(line),
    exit: ((code: number) => {
      exits.push(code);
    }) as (code: number) => never,
    repeatWindowMs,
  });
  return { shutdown, lines, exits };
}

describe('shutdown', () => {
  it('aborts on the first signal and forces on the second', async () => {
    const lines: string[] = [];
    let exitCode: number | undefined;
    const shutdown = installShutdown({
      signals: ['SIGUSR2'],
      log: (line) => lines.push(line),
      exit: ((code: number) => {
        exitCode = code;
      }) as (code: number) => never,
      repeatWindowMs: 0,
    });
    let cleaned = 0;
    shutdown.onForce(() => {
      cleaned += 1;
    });
    // what the process starts outside the command's calls (an image build) stops on it too
    expect(shutdownSignal()).toBe(shutdown.signal);
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(shutdown.signal.aborted).toBe(true);
    expect(cleaned).toBe(0);
    process.emit('SIGUSR2', 'SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cleaned).toBe(1);
    expect(exitCode).toBe(130);
    shutdown.dispose();
    expect(shutdownSignal()).toBeUndefined();
    expect(lines.join('\n')).toMatch(/again to force/);
  });

  it('takes a signal right after the first as the same one delivered twice, and a later one as a second Ctrl-C', async () => {
    const { shutdown, lines, exits } = recordingShutdown(200);
    // GNU timeout signals the command, then its process group: the command gets it twice at once
    process.emit('SIGUSR2', 'SIGUSR2');
    process.emit('SIGUSR2', 'SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(shutdown.signal.aborted).toBe(true);
    expect(exits).toEqual([]);
    expect(lines.join('\n')).not.toMatch(/forcing exit/);
    // a person's second Ctrl-C, later
    await new Promise((resolve) => setTimeout(resolve, 250));
    process.emit('SIGUSR2', 'SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(exits).toEqual([130]);
    expect(lines.at(-1)).toMatch(/received SIGUSR2 again: forcing exit/);
    shutdown.dispose();
  });

  it('exits at once on a signal during the forced exit, while its clean-up still runs', () => {
    const { shutdown, lines, exits } = recordingShutdown(0);
    // a forced clean-up that does not end (an engine that does not answer)
    shutdown.onForce(() => new Promise<void>(() => undefined));
    process.emit('SIGUSR2', 'SIGUSR2');
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(exits).toEqual([]);
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(exits).toEqual([130]);
    expect(lines.at(-1)).toMatch(/during the forced exit: exiting now.*--down/);
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(exits).toEqual([130]);
    shutdown.dispose();
  });

  it('forces a stop that is still going after its grace, and not one that ended in time', async () => {
    const lines: string[] = [];
    let exitCode: number | undefined;
    const exit = ((code: number) => {
      exitCode = code;
    }) as (code: number) => never;
    const hung = installShutdown({
      signals: ['SIGUSR2'],
      log: (line) => lines.push(line),
      exit,
      stopGraceMs: 30,
    });
    let cleaned = 0;
    hung.onForce(() => {
      cleaned += 1;
    });
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(exitCode).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(cleaned).toBe(1);
    expect(exitCode).toBe(130);
    expect(lines.at(-1)).toMatch(/still stopping 0 s after it was asked to: forcing exit/);
    hung.dispose();

    exitCode = undefined;
    const done = installShutdown({ signals: ['SIGUSR2'], log: () => undefined, exit, stopGraceMs: 30 });
    process.emit('SIGUSR2', 'SIGUSR2');
    done.dispose(); // the command finished its stop
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(exitCode).toBeUndefined();
  });

  it('stops as on the first Ctrl-C when its output is closed by the reader, and drops what follows', () => {
    const lines: string[] = [];
    const output = new EventEmitter();
    const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    const shutdown = installShutdown({ signals: [], outputs: [output], log: (line) => lines.push(line) });
    output.emit('error', epipe());
    expect(shutdown.signal.aborted).toBe(true);
    expect(lines.join('\n')).toMatch(/output was closed by its reader: stopping/);
    // later writes' errors: dropped, also after the command is done
    output.emit('error', epipe());
    shutdown.dispose();
    expect(() => output.emit('error', epipe())).not.toThrow();
    // anything else is still an error
    expect(() => output.emit('error', Object.assign(new Error('boom'), { code: 'EIO' }))).toThrow('boom');
    expect(lines).toHaveLength(1);
  });
});
