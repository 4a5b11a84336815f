/**
 * The quantities a network condition is written in, each with its unit: delays (`50ms`,
 * `200us`, `1.5s`), rates in bits per second as tc writes them (`10mbit`, `512kbit`,
 * `1gbit`), and loss in percent (`2%`, or a plain number of percent). A ramp is two of
 * them joined by `->` (`0%->20%`): the value moves linearly from one to the other over
 * the event's window. Each parser returns the value or a reason, so the caller can name
 * the field and its line.
 */

export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const DELAY = /^(\d+(?:\.\d+)?)\s*(us|µs|ms|s)$/i;
const RATE = /^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)(?:\/s)?$/i;
const LOSS = /^(\d+(?:\.\d+)?)\s*%?$/;

/** `50ms` → 50 (milliseconds). A bare number has no unit and is refused. */
export function parseDelay(value: unknown): Parsed<number> {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  const match = DELAY.exec(text);
  if (!match) {
    return {
      ok: false,
      reason: /^\d+(\.\d+)?$/.test(text)
        ? `${text} has no unit (write ${text}ms)`
        : `${JSON.stringify(value)} is not a delay (e.g. 50ms, 200us, 1s)`,
    };
  }
  const amount = Number(match[1]);
  const unit = (match[2] as string).toLowerCase();
  return { ok: true, value: unit === 's' ? amount * 1000 : unit === 'ms' ? amount : amount / 1000 };
}

/** `10mbit` → 10_000_000 (bits per second, tc's decimal units). */
export function parseRate(value: unknown): Parsed<number> {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  const match = RATE.exec(text);
  if (!match) {
    return {
      ok: false,
      reason: /^\d+(\.\d+)?$/.test(text)
        ? `${text} has no unit (write ${text}mbit, or kbit, gbit)`
        : `${JSON.stringify(value)} is not a bandwidth (e.g. 10mbit, 512kbit, 1gbit)`,
    };
  }
  const factor = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[(match[2] as string).toLowerCase()] as number;
  const bits = Number(match[1]) * factor;
  if (bits < 8000) return { ok: false, reason: `${text} is below 8kbit, the least tc shapes` };
  return { ok: true, value: bits };
}

/** `2%` or 2 → 2 (percent), 0 to 100. */
export function parseLoss(value: unknown): Parsed<number> {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  const match = LOSS.exec(text);
  if (!match) return { ok: false, reason: `${JSON.stringify(value)} is not a loss (e.g. 2%)` };
  const percent = Number(match[1]);
  if (percent > 100) return { ok: false, reason: `${text} is outside 0-100%` };
  return { ok: true, value: percent };
}

/** A value that may move over a window: `{ from, to }` (equal when it does not). */
export interface Ramp {
  readonly from: number;
  readonly to: number;
}

/** A value, or `A->B`, each part read by `parse`. */
export function parseRamp(value: unknown, parse: (part: unknown) => Parsed<number>): Parsed<Ramp> {
  if (typeof value === 'string' && value.includes('->')) {
    const [left, right, ...rest] = value.split('->');
    if (rest.length > 0) return { ok: false, reason: `${value}: a ramp has one -> (e.g. 0%->20%)` };
    const from = parse(left);
    if (!from.ok) return from;
    const to = parse(right);
    if (!to.ok) return to;
    return { ok: true, value: { from: from.value, to: to.value } };
  }
  const single = parse(value);
  return single.ok ? { ok: true, value: { from: single.value, to: single.value } } : single;
}

/** The ramp's value at `share` (0 to 1) of its window. */
export function rampAt(ramp: Ramp, share: number): number {
  const clamped = Math.min(1, Math.max(0, share));
  return ramp.from + (ramp.to - ramp.from) * clamped;
}

export function formatDelay(ms: number): string {
  return ms >= 1 || ms === 0 ? `${round(ms)}ms` : `${Math.round(ms * 1000)}us`;
}

export function formatRate(bits: number): string {
  if (bits >= 1e9 && bits % 1e6 === 0) return `${round(bits / 1e9)}gbit`;
  if (bits >= 1e6) return `${round(bits / 1e6)}mbit`;
  return `${round(bits / 1e3)}kbit`;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
