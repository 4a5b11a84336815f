/**
 * A host's clock offset from the orchestrator's, measured NTP-style over the SSH connection the
 * testbed already holds. One long-lived `date` on the host reads a line per sample on its stdin
 * (`date -f -`, line-buffered by `stdbuf -oL`) and prints its wall clock for each: no process
 * starts per sample, so the round trip holds the network and SSH, not a fork and exec.
 *
 * For each sample: t0 (local, before sending), the host's time, t1 (local, on the answer).
 * offset = remote − (t0 + t1) / 2, taken from the sample with the lowest round trip t1 − t0:
 * the true offset lies within ±rtt/2 of it (the answer was read somewhere inside the round trip).
 * The clock source on the host is its `date` command (found through the host's PATH).
 */
import type { Duplex } from 'node:stream';
import { MeshbenchError } from '../../common/errors.js';
import { describeHost, type SshSession } from './ssh-session.js';

export const CLOCK_METHOD = 'ssh-date-batch';
export const DEFAULT_CLOCK_SAMPLES = 16;
const DEFAULT_TIMEOUT_MS = 10_000;

/** One exchange: local send time, the host's answer, local receive time (all epoch ms). */
export interface ClockSample {
  readonly t0: number;
  readonly remote: number;
  readonly t1: number;
}

export interface ClockOffset {
  /** Host clock minus orchestrator clock, in ms (positive: the host is ahead). */
  readonly offsetMs: number;
  /** Round trip of the sample the offset comes from; the offset is exact within ±rttMs/2. */
  readonly rttMs: number;
  /** Samples taken (the warm-up exchange is not counted). */
  readonly samples: number;
  readonly method: string;
}

/** The orchestrator's wall clock in ms with sub-ms resolution (Date.now() is whole ms). */
export function localNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The NTP estimate from samples: the one with the lowest round trip wins. */
export function estimateClockOffset(samples: readonly ClockSample[], method = CLOCK_METHOD): ClockOffset {
  let best: ClockSample | undefined;
  for (const sample of samples) {
    if (!(sample.t1 >= sample.t0) || !Number.isFinite(sample.remote)) continue;
    if (!best || sample.t1 - sample.t0 < best.t1 - best.t0) best = sample;
  }
  if (!best) throw new Error('no valid clock sample');
  return {
    offsetMs: best.remote - (best.t0 + best.t1) / 2,
    rttMs: best.t1 - best.t0,
    samples: samples.length,
    method,
  };
}

/** `1795503180.415371822` (date +%s.%N) as epoch ms; NaN when it is not that. */
export function parseEpochSeconds(text: string): number {
  const match = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!match) return Number.NaN;
  const fraction = (match[2] ?? '').padEnd(9, '0');
  return Number(match[1]) * 1000 + Number(fraction) / 1e6;
}

/** Reads lines from a stream, one awaited line at a time. */
class LineReader {
  #pending = '';
  #lines: string[] = [];
  #waiter: ((line: string | undefined) => void) | undefined;
  #ended = false;

  constructor(stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      this.#pending += chunk.toString('utf8');
      for (let at = this.#pending.indexOf('\n'); at >= 0; at = this.#pending.indexOf('\n')) {
        this.#push(this.#pending.slice(0, at));
        this.#pending = this.#pending.slice(at + 1);
      }
    });
    const end = () => {
      this.#ended = true;
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter?.(undefined);
    };
    stream.on('close', end);
    stream.on('end', end);
    stream.on('error', end);
  }

  #push(line: string): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(line);
    } else {
      this.#lines.push(line);
    }
  }

  next(): Promise<string | undefined> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.#waiter = resolve));
  }
}

/**
 * Measures a host's clock offset (see the file comment). Throws a MeshbenchError naming the host
 * when the host has no usable `date`/`stdbuf` or does not answer within `timeoutMs`.
 */
export async function measureClockOffset(
  session: Pick<SshSession, 'openCommandStream' | 'host'>,
  options: { samples?: number; timeoutMs?: number } = {},
): Promise<ClockOffset> {
  const count = Math.max(1, Math.floor(options.samples ?? DEFAULT_CLOCK_SAMPLES));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const failure = (detail: string) =>
    new MeshbenchError(
      'REMOTE_COMMAND',
      `${describeHost(session.host)}: cannot measure the clock offset: ${detail}`,
      {
        hint: 'the host needs GNU date and stdbuf (coreutils) on its PATH; or leave out --max-clock-offset',
      },
    );
  const channel = await session.openCommandStream(['stdbuf', '-oL', 'date', '-f', '-', '+%s.%N']);
  const reader = new LineReader(channel);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(failure(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  const exchange = async (): Promise<ClockSample> => {
    const t0 = localNowMs();
    channel.write('now\n');
    const line = await reader.next();
    const t1 = localNowMs();
    if (line === undefined) throw failure('`stdbuf -oL date -f -` ended without an answer');
    const remote = parseEpochSeconds(line);
    if (Number.isNaN(remote)) throw failure(`\`date +%s.%N\` printed ${JSON.stringify(line.slice(0, 60))}`);
    return { t0, remote, t1 };
  };
  try {
    return await Promise.race([
      (async () => {
        await exchange(); // warm-up: the first answer pays for date's start-up
        const samples: ClockSample[] = [];
        for (let index = 0; index < count; index += 1) samples.push(await exchange());
        return estimateClockOffset(samples);
      })(),
      timeout,
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    channel.end();
    channel.destroy();
  }
}
