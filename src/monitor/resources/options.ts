/**
 * `--monitor` and `--monitor-interval`: the resource monitor's settings, parsed and checked
 * once into the plan (`monitorIntervalMs`, absent when monitoring is off).
 */
import { booleanWord } from '../../common/boolean-word.js';
import { badFlag } from '../../common/errors.js';

export const DEFAULT_MONITOR_INTERVAL_MS = 1000;
export const MIN_MONITOR_INTERVAL_MS = 100;

/**
 * The sample interval in ms, or undefined with `--monitor false`. Default on, every 1000 ms
 * (or the level's length, when a level is shorter). Throws one BAD_FLAG line naming the fix.
 */
export function parseMonitorInput(
  input: { readonly monitor?: unknown; readonly monitorInterval?: unknown },
  levelSecs: number,
): number | undefined {
  const on =
    input.monitor === undefined
      ? true
      : typeof input.monitor === 'boolean'
        ? input.monitor
        : booleanWord(String(input.monitor));
  if (on === undefined) throw badFlag('monitor', input.monitor, 'true or false');
  const value = input.monitorInterval;
  if (!on) {
    if (value !== undefined)
      throw badFlag('monitor-interval', value, 'sets the interval of --monitor; leave out --monitor false');
    return undefined;
  }
  const levelMs = levelSecs * 1000;
  if (value === undefined) return Math.min(DEFAULT_MONITOR_INTERVAL_MS, levelMs);
  const ms = typeof value === 'number' ? value : String(value).trim() === '' ? Number.NaN : Number(value);
  if (!Number.isInteger(ms))
    throw badFlag('monitor-interval', value, 'a whole number of milliseconds, e.g. 1000');
  if (ms < MIN_MONITOR_INTERVAL_MS)
    throw badFlag(
      'monitor-interval',
      value,
      `below ${MIN_MONITOR_INTERVAL_MS} ms; give ${MIN_MONITOR_INTERVAL_MS} or more (default ${DEFAULT_MONITOR_INTERVAL_MS})`,
    );
  if (ms > levelMs)
    throw badFlag(
      'monitor-interval',
      value,
      `longer than a level (--duration ${levelSecs} s); give at most ${levelMs}, or a longer --duration`,
    );
  return ms;
}
