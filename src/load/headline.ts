/**
 * Which figures head a result: with --confirm commit, the commit stage (committed txs,
 * commit latency); otherwise the ack stage (accepted txs, ack latency). The record
 * (src/results/record.ts) and the sweep's load search both ask here, so they agree.
 */
import type { LatencySummary } from '../measure/figures.js';
import type { ConfirmMode, LoadResult } from './types.js';

export interface Headline {
  readonly stage: 'commit' | 'ack';
  /** Coordinated-omission-corrected latency of the stage. */
  readonly latency: LatencySummary;
  /** Committed (commit stage) or accepted tx/s. */
  readonly throughput: number;
  readonly successful: number;
  /**
   * Every scheduled tx that did not succeed: rejected, HTTP errors, bad replies,
   * timeouts, connection errors, dropped (never sent on time), and at the commit
   * stage also the accepted txs that were not committed within the commit timeout.
   */
  readonly failed: number;
}

export function headline(load: LoadResult, confirm: ConfirmMode): Headline {
  const commit = confirm === 'commit' ? load.latency.commit : undefined;
  const o = load.outcomes;
  const sendFailures =
    sum(o.rejected) + sum(o.httpError) + o.badResponse + o.timeout + o.connectionError + o.dropped;
  return commit
    ? {
        stage: 'commit',
        latency: commit.corrected,
        throughput: load.committedThroughput,
        successful: o.committed,
        failed: sendFailures + o.commitTimeout,
      }
    : {
        stage: 'ack',
        latency: load.latency.ack.corrected,
        throughput: load.acceptedThroughput,
        successful: o.ok,
        failed: sendFailures,
      };
}

function sum(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((total, value) => total + value, 0);
}
