/**
 * The clock check of a remote deploy: every host's offset measured in parallel right after
 * connecting (clock.ts), before anything is started there; a warning when an offset could
 * distort a latency that crosses hosts; a refusal above `--max-clock-offset` unless
 * `--allow-clock-offset`.
 *
 * The rule: a timestamp taken on a host and compared with one taken here can be wrong by up to
 * |offset| + rtt/2 (the offset itself, plus the uncertainty of its measurement). Above
 * `warnMs` (1 ms unless set) that host gets a warning, on the console and in the record.
 * Latencies measured with one clock at both ends (the generator's submit → ack and
 * submit → commit, a colocated client's own commit latency) are not affected.
 */
import { MeshbenchError } from '../../common/errors.js';
import { mapSettled } from './concurrency.js';
import { measureClockOffset, type ClockOffset } from './clock.js';
import type { SshSession } from './ssh-session.js';
import type { Endpoint } from '../testbed.js';

export const DEFAULT_CLOCK_WARN_MS = 1;

export interface ClockPolicy {
  /** Refuse the deploy when a host's |offset| is above this (ms). */
  readonly maxOffsetMs?: number;
  /** Warn instead of refusing. */
  readonly allowOffset?: boolean;
  /** Warn when |offset| + rtt/2 is above this (ms). */
  readonly warnMs?: number;
  readonly samples?: number;
}

/** One host's clock as the record keeps it (times in ms, rounded to µs). */
export type HostClock =
  (ClockOffset & { readonly errorBoundMs: number }) | { readonly method: string; readonly error: string };

export interface ClockCheck {
  /** By host, in the hosts' order. */
  readonly hosts: readonly HostClock[];
  /** What the check warned about (also in the record). */
  readonly warnings: readonly string[];
  readonly warnMs: number;
  readonly maxOffsetMs?: number;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** An endpoint of a node on a host with this clock: its offset when measured (Endpoint.clockOffsetMs). */
export function withClockOffset(endpoint: Endpoint, clock: HostClock | undefined): Endpoint {
  return clock !== undefined && 'offsetMs' in clock && Number.isFinite(clock.offsetMs)
    ? { ...endpoint, clockOffsetMs: clock.offsetMs }
    : endpoint;
}

/** Judges measured offsets against the policy: warnings, or the refusal (a MeshbenchError, exit 2). */
export function judgeClocks(
  names: readonly string[],
  hosts: readonly HostClock[],
  policy: ClockPolicy,
): ClockCheck {
  const warnMs = policy.warnMs ?? DEFAULT_CLOCK_WARN_MS;
  const warnings: string[] = [];
  const refusals: string[] = [];
  hosts.forEach((clock, index) => {
    const name = names[index] ?? `host ${index}`;
    if ('error' in clock) {
      if (policy.maxOffsetMs !== undefined) refusals.push(`${name}: not measured (${clock.error})`);
      else warnings.push(`${name}: clock offset not measured (${clock.error})`);
      return;
    }
    const offset = `${name} clock offset ${clock.offsetMs.toFixed(3)} ms (±${(clock.rttMs / 2).toFixed(3)} ms)`;
    if (policy.maxOffsetMs !== undefined && Math.abs(clock.offsetMs) > policy.maxOffsetMs) {
      if (policy.allowOffset)
        warnings.push(`${offset} is above --max-clock-offset ${policy.maxOffsetMs} ms (allowed)`);
      else refusals.push(offset);
      return;
    }
    if (clock.errorBoundMs > warnMs)
      warnings.push(
        `${offset}: a latency timed across this host and this machine may be off by up to ${clock.errorBoundMs.toFixed(3)} ms`,
      );
  });
  if (refusals.length > 0)
    throw new MeshbenchError(
      'BAD_CONFIG',
      `clock check refused the deploy: ${refusals.join('; ')}, above --max-clock-offset ${policy.maxOffsetMs} ms`,
      {
        hint: 'synchronise the hosts (chrony/NTP), raise --max-clock-offset, or pass --allow-clock-offset',
        exitCode: 2,
      },
    );
  return {
    hosts,
    warnings,
    warnMs,
    ...(policy.maxOffsetMs !== undefined ? { maxOffsetMs: policy.maxOffsetMs } : {}),
  };
}

/** Measures every host's clock in parallel and judges the offsets (see the file comment). */
export async function checkClocks(
  sessions: readonly Pick<SshSession, 'openCommandStream' | 'host'>[],
  policy: ClockPolicy,
  concurrency: number,
): Promise<ClockCheck> {
  const settled = await mapSettled(sessions, concurrency, (session) =>
    measureClockOffset(session, policy.samples !== undefined ? { samples: policy.samples } : {}),
  );
  const hosts = settled.map((result): HostClock => {
    if (result.status === 'rejected') {
      const reason: unknown = result.reason;
      const message = reason instanceof Error ? reason.message : String(reason);
      return {
        method: 'ssh-date-batch',
        error: message.replace(/^.*?cannot measure the clock offset: /, ''),
      };
    }
    const clock = result.value;
    return {
      offsetMs: round(clock.offsetMs),
      rttMs: round(clock.rttMs),
      samples: clock.samples,
      method: clock.method,
      errorBoundMs: round(Math.abs(clock.offsetMs) + clock.rttMs / 2),
    };
  });
  return judgeClocks(
    sessions.map((session) => session.host.name),
    hosts,
    policy,
  );
}
