import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isMeshbenchError } from '../../../src/common/errors.js';
import {
  estimateClockOffset,
  measureClockOffset,
  parseEpochSeconds,
  type ClockSample,
} from '../../../src/testbed/remote/clock.js';
import { judgeClocks, type HostClock } from '../../../src/testbed/remote/clock-check.js';
import type { RemoteHost } from '../../../src/testbed/remote/hosts.js';

describe('estimateClockOffset', () => {
  it('takes the sample with the lowest round trip: offset = remote − midpoint', () => {
    // true offset +250 ms; asymmetric delays push the other samples' estimates off
    const samples: ClockSample[] = [
      { t0: 1000, remote: 1000 + 250 + 9, t1: 1012 }, // rtt 12, answer late: estimate +253
      { t0: 2000, remote: 2000 + 250 + 0.4, t1: 2000.8 }, // rtt 0.8: estimate +250
      { t0: 3000, remote: 3000 + 250 + 1, t1: 3007 }, // rtt 7, answer early: estimate +247.5
    ];
    const estimate = estimateClockOffset(samples);
    expect(estimate.rttMs).toBeCloseTo(0.8, 9);
    expect(estimate.offsetMs).toBeCloseTo(250, 9);
    expect(estimate.samples).toBe(3);
  });

  it('a host behind gives a negative offset, bounded by ±rtt/2 around the truth', () => {
    const truth = -42.5;
    const samples: ClockSample[] = [0.1, 0.9, 0.5].map((at, index) => {
      const t0 = 10_000 * (index + 1);
      const rtt = 2 + index;
      return { t0, remote: t0 + at * rtt + truth, t1: t0 + rtt };
    });
    const estimate = estimateClockOffset(samples);
    expect(estimate.rttMs).toBe(2);
    expect(Math.abs(estimate.offsetMs - truth)).toBeLessThanOrEqual(estimate.rttMs / 2);
    expect(estimate.offsetMs).toBeCloseTo(truth - 0.8, 9); // answered at 10% of the trip
  });

  it('skips samples that cannot be right and fails when none is left', () => {
    const estimate = estimateClockOffset([
      { t0: 5, remote: 1, t1: 4 }, // t1 before t0
      { t0: 5, remote: Number.NaN, t1: 5.1 },
      { t0: 10, remote: 20, t1: 12 },
    ]);
    expect(estimate.offsetMs).toBe(9);
    expect(() => estimateClockOffset([])).toThrow(/no valid clock sample/);
  });
});

describe('parseEpochSeconds', () => {
  it('reads date +%s.%N into ms', () => {
    expect(parseEpochSeconds('1795503180.415371822\n')).toBeCloseTo(1795503180415.372, 2);
    expect(parseEpochSeconds('12')).toBe(12_000);
    expect(parseEpochSeconds('12.5')).toBe(12_500);
    expect(parseEpochSeconds('date: invalid date')).toBeNaN();
  });
});

const host: RemoteHost = {
  name: 'hostX',
  address: '127.0.0.1',
  port: 22,
  user: 'u',
  keyPath: '/dev/null',
  keyPathExplicit: false,
  labels: {},
} as unknown as RemoteHost;

/** A stand-in for `stdbuf -oL date -f - +%s.%N` on a host whose clock is `shiftMs` ahead. */
function dateStream(shiftMs: number, answer: (line: string) => string | undefined = () => undefined): Duplex {
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const text =
          answer(line) ?? ((performance.timeOrigin + performance.now() + shiftMs) / 1000).toFixed(9);
        setImmediate(() => stream.push(`${text}\n`));
      }
      done();
    },
    final(done) {
      stream.push(null);
      done();
    },
  });
  return stream;
}

describe('measureClockOffset over a stream', () => {
  it('sends one line per sample plus a warm-up and finds the shift', async () => {
    const lines: string[] = [];
    const session = {
      host,
      openCommandStream: (argv: readonly string[]) => {
        expect(argv).toEqual(['stdbuf', '-oL', 'date', '-f', '-', '+%s.%N']);
        return Promise.resolve(
          dateStream(5000, (line) => {
            lines.push(line);
            return undefined;
          }),
        );
      },
    };
    const estimate = await measureClockOffset(session, { samples: 5 });
    expect(lines).toHaveLength(6);
    expect(estimate.samples).toBe(5);
    expect(Math.abs(estimate.offsetMs - 5000)).toBeLessThanOrEqual(estimate.rttMs / 2 + 0.01);
  });

  it('names the host when the answer is not a time', async () => {
    const session = {
      host,
      openCommandStream: () => Promise.resolve(dateStream(0, () => "date: invalid date 'now'")),
    };
    const error = await measureClockOffset(session).catch((caught: unknown) => caught);
    expect(isMeshbenchError(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /hostX .*cannot measure the clock offset: `date \+%s\.%N` printed/,
    );
  });
});

describe('judgeClocks', () => {
  const measured = (offsetMs: number, rttMs: number): HostClock => ({
    offsetMs,
    rttMs,
    samples: 8,
    method: 'ssh-date-batch',
    errorBoundMs: Math.abs(offsetMs) + rttMs / 2,
  });

  it('warns when |offset| + rtt/2 is above 1 ms, not below', () => {
    const check = judgeClocks(['a', 'b', 'c'], [measured(0.2, 0.4), measured(-0.9, 0.4), measured(0, 3)], {});
    expect(check.warnings).toHaveLength(2);
    expect(check.warnings[0]).toMatch(/^b clock offset -0\.900 ms .* off by up to 1\.100 ms/);
    expect(check.warnings[1]).toMatch(/^c clock offset/);
    expect(check.warnMs).toBe(1);
  });

  it('refuses above --max-clock-offset (exit 2, every host named), or warns with --allow-clock-offset', () => {
    const hosts = [measured(7000, 0.3), measured(2, 0.3), measured(-12, 0.3)];
    let error: unknown;
    try {
      judgeClocks(['a', 'b', 'c'], hosts, { maxOffsetMs: 10 });
    } catch (caught) {
      error = caught;
    }
    expect(isMeshbenchError(error)).toBe(true);
    expect((error as { exitCode: number }).exitCode).toBe(2);
    expect((error as Error).message).toMatch(
      /a clock offset 7000\.000 ms.*; c clock offset -12\.000 ms.*above --max-clock-offset 10 ms/,
    );
    expect((error as Error).message).not.toContain('b clock');
    const allowed = judgeClocks(['a', 'b', 'c'], hosts, { maxOffsetMs: 10, allowOffset: true });
    expect(allowed.warnings.filter((w) => w.includes('(allowed)'))).toHaveLength(2);
    expect(allowed.maxOffsetMs).toBe(10);
  });

  it('a host that could not be measured warns, and refuses when a limit is set', () => {
    const failed: HostClock = { method: 'ssh-date-batch', error: 'stdbuf: not found' };
    expect(judgeClocks(['a'], [failed], {}).warnings[0]).toBe(
      'a: clock offset not measured (stdbuf: not found)',
    );
    expect(() => judgeClocks(['a'], [failed], { maxOffsetMs: 5 })).toThrow(
      /a: not measured \(stdbuf: not found\)/,
    );
  });
});
