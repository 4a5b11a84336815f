import { describe, expect, it } from 'vitest';
import { faultFigures, type FaultEventRecord } from '../../../src/faults/recovery.js';
import { loadWithSeries } from '../../support/load-result.js';

function event(
  action: FaultEventRecord['action'],
  nodes: string[],
  atMs: number,
  doneMs = atMs + 100,
): FaultEventRecord {
  return {
    action,
    nodes,
    cause: 'scenario',
    scheduled_ms: atMs,
    fired_ms: atMs,
    done_ms: doneMs,
    started_at: new Date(atMs).toISOString(),
  };
}

describe('recovery figures', () => {
  it('a stall: the no-commit window covers it, recovery is timed from the restart, availability counts seconds', () => {
    // 100/s for 5 s, nothing for 4 s (two nodes of four down), then back (a burst of the backlog).
    const series = [100, 100, 100, 100, 100, 0, 0, 0, 0, 300, 100, 100];
    const figures = faultFigures({
      events: [event('kill', ['node2', 'node3'], 5000), event('restart', ['node2', 'node3'], 8000, 8600)],
      resyncs: [{ node: 'node2', from_ms: 8600, answering_ms: 300, resynced_ms: 1200, height: 40 }],
      load: loadWithSeries(series, {
        commitMaxMs: [50, 50, 50, 50, 50, 4100, 3200, 2100, 1100, 60, 50, 50],
        startedAt: new Date(0),
      }),
      warmupMs: 0,
      loadStartOffsetMs: 0,
      confirmCommit: true,
    });
    const [fault] = figures.faults;
    expect(fault?.before).toEqual({ seconds: 5, throughput: 100, worst_second_p99_ms: 20 });
    expect(fault?.during.seconds).toBe(4);
    expect(fault?.longest_no_commit_ms).toBe(4000);
    expect(fault?.max_latency_ms).toBe(4100);
    // Back at 8.6 s; the second [9, 10) reaches 90 %: 1.4 s.
    expect(fault?.time_to_recover_ms).toBe(1400);
    expect(fault?.resync).toEqual([
      { node: 'node2', from_ms: 8600, answering_ms: 300, resynced_ms: 1200, height: 40 },
    ]);
    expect(fault?.summary).toBe(
      'node2, node3 crashed at 5.0 s; node2 resynced 1.2 s after restart; throughput back to 90% after 1.4 s; no commit for 4 s',
    );
    expect(figures.availability).toBeCloseTo(8 / 12);
  });

  it('a fault that never came back within the load, and one at the very start: no pre-fault level to recover to', () => {
    const figures = faultFigures({
      events: [event('kill', ['node3'], 0)],
      resyncs: [],
      load: loadWithSeries([100, 100, 100], { startedAt: new Date(0) }),
      warmupMs: 0,
      loadStartOffsetMs: 0,
      confirmCommit: true,
    });
    expect(figures.faults[0]).toMatchObject({
      up_ms: null,
      before: { seconds: 0, throughput: null },
      time_to_recover_ms: null,
      longest_no_commit_ms: 0,
    });
    expect(figures.faults[0]?.summary).toBe('node3 crashed at 0.0 s; down until the load ended');
    expect(figures.availability).toBe(1);
  });
});
