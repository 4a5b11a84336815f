/**
 * What each network condition did to the load: for every scenario event, the phases
 * before, during and after its window (throughput, worst p99), the longest stall and the
 * time until throughput was back to 90 % once it was lifted, on the same per-second
 * series as the crash faults (../recovery.ts).
 */
import type { LoadResult } from '../load/types.js';
import { availabilityOf, levelSeries, windowPhases, type WindowPhases } from '../scenario/phases.js';
import type { ConditionEventRecord } from './block.js';
import type { NetworkEvent } from '../scenario/events.js';
import type { NetworkConditions } from './model.js';

export interface WindowRecord extends WindowPhases {
  readonly event: number;
  readonly what: string;
  readonly from_ms: number;
  /** When it was lifted (null: it lasted until the load ended). */
  readonly to_ms: number | null;
  readonly lifted_by: 'scenario' | 'load end';
  readonly summary: string;
}

export function windowFigures(input: {
  readonly conditions: NetworkConditions;
  readonly events: readonly ConditionEventRecord[];
  readonly load: LoadResult;
  readonly warmupMs: number;
  readonly loadStartOffsetMs: number;
  readonly confirmCommit: boolean;
  readonly describe: (event: NetworkEvent, index: number) => string;
}): { windows: WindowRecord[]; availability: number | null } {
  const series = levelSeries(input);
  const out: WindowRecord[] = [];
  input.conditions.events.forEach((event, index) => {
    const start = input.events.find((record) => record.event === index && record.edge === 'start');
    if (!start) return;
    const end = input.events.find((record) => record.event === index && record.edge === 'end');
    const phases = windowPhases(series, start.fired_ms, end ? end.done_ms : null, end !== undefined);
    const what = input.describe(event, index);
    const parts = [`${what} from ${(start.fired_ms / 1000).toFixed(1)} s`];
    parts.push(end ? `to ${(end.done_ms / 1000).toFixed(1)} s` : 'until the load ended');
    if (phases.before.throughput !== null && phases.during.throughput !== null) {
      parts.push(`throughput ${phases.before.throughput} -> ${phases.during.throughput}/s`);
    }
    if (phases.during.worst_second_p99_ms !== null)
      parts.push(`worst p99 ${phases.during.worst_second_p99_ms} ms`);
    if (phases.longest_no_commit_ms > 0)
      parts.push(
        `no ${input.confirmCommit ? 'commit' : 'ok reply'} for ${phases.longest_no_commit_ms / 1000} s`,
      );
    if (end) {
      parts.push(
        phases.time_to_recover_ms === null
          ? 'throughput not back to 90% within the level'
          : `throughput back to 90% ${(phases.time_to_recover_ms / 1000).toFixed(1)} s after`,
      );
    }
    out.push({
      event: index,
      what,
      from_ms: start.fired_ms,
      to_ms: end ? end.done_ms : null,
      lifted_by: end ? 'scenario' : 'load end',
      ...phases,
      summary: parts.join('; '),
    });
  });
  return { windows: out, availability: availabilityOf(series) };
}
