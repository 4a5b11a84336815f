import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../../src/bench/progress.js';
import type { LoadProgress } from '../../../src/load/types.js';

function tick(elapsedMs: number, sent: number, committed: number, failed = 0): LoadProgress {
  return { elapsedMs, scheduled: sent, sent, ok: sent - failed, failed, committed, inFlight: 0 };
}

describe('sweep progress', () => {
  it('prints plain lines when not on a terminal', () => {
    const lines: string[] = [];
    const progress = createProgress({ line: (text) => lines.push(text) });
    progress.deployStart('[local] deploying', 30);
    progress.phase('[local] starting 4 nodes');
    progress.deployStop('[local] 4 nodes ready after 2.0 s');
    progress.levelStart('[local] #1 100 tx/s', 60);
    for (let second = 1; second <= 60; second++)
      progress.levelTick(tick(second * 1000, second * 100, second * 99));
    progress.levelStop('[local] #1 100 tx/s: 99.0 tx/s');
    expect(lines[0]).toBe('[local] deploying (at most 30 s) …');
    expect(lines).toContain('[local] starting 4 nodes');
    expect(lines).toContain('[local] #1 100 tx/s: running for 60 s');
    expect(lines).toContain('[local] #1 100 tx/s: 10 s, sent 1000, committed 990');
    expect(lines.filter((line) => /: \d+ s, sent/.test(line))).toHaveLength(6);
    expect(lines.at(-1)).toBe('[local] #1 100 tx/s: 99.0 tx/s');
  });

  it('counts accepted replies where the reply is all a level awaits (--confirm none), and failures once there are any', () => {
    const lines: string[] = [];
    const progress = createProgress({ line: (text) => lines.push(text), confirm: 'none' });
    progress.levelStart('[local] #1 200 tx/s', 30);
    progress.levelTick(tick(5000, 1000, 0));
    progress.levelTick(tick(10_000, 2000, 0, 67));
    expect(lines).toEqual([
      '[local] #1 200 tx/s: running for 30 s',
      '[local] #1 200 tx/s: 5 s, sent 1000, accepted 1000',
      '[local] #1 200 tx/s: 10 s, sent 2000, accepted 1933, failed 67',
    ]);
  });

  it('draws bars on a terminal', async () => {
    const tty = new PassThrough();
    let screen = '';
    tty.on('data', (chunk) => (screen += String(chunk)));
    Object.assign(tty, {
      isTTY: true,
      columns: 120,
      cursorTo: () => true,
      clearLine: () => true,
      moveCursor: () => true,
    });
    const progress = createProgress({ tty, line: () => {} });
    progress.deployStart('[local] deploying', 30);
    progress.phase('[local] starting 4 nodes');
    progress.deployStop('[local] 4 nodes ready after 2.0 s');
    progress.levelStart('[local] #1 100 tx/s', 10);
    progress.levelTick(tick(5000, 500, 490, 3));
    progress.levelStop('[local] #1 100 tx/s: done');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(screen).toContain('[local] 4 nodes ready after 2.0 s');
    expect(screen).toMatch(
      /\[local\] #1 100 tx\/s \[.*\] \d+\/10 s \| sent \d+ \| committed \d+ \| failed 3/,
    );
    expect(screen).toContain('[local] #1 100 tx/s: done');
  });
});
