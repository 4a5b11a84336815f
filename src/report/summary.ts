/**
 * The network commands' console summary: the original tool's lines (successful,
 * failed, actual rate) plus commit and latency figures. Pure: it only renders.
 */
import type { LatencySummary, LoadResult } from '../load/types.js';

const ms = (value: number) => `${value.toFixed(2)} ms`;

function latencyLine(label: string, summary: LatencySummary): string {
  return `  ${label.padEnd(26)}mean ${ms(summary.mean)}, stddev ${ms(summary.stddev)}, p50 ${ms(summary.p50)}, p99 ${ms(summary.p99)} (${summary.count} tx)`;
}

/** Failed = every outcome that is not an accepted tx (rejected, HTTP error, bad reply, timeout, connection error, dropped). */
export function failedCount(result: LoadResult): number {
  const o = result.outcomes;
  const sum = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return sum(o.rejected) + sum(o.httpError) + o.badResponse + o.timeout + o.connectionError + o.dropped;
}

/** The original summary (successful, failed, actual rate) plus latency. Pure. */
export function renderSummary(result: LoadResult, context: { nodes: number; readyAfterMs: number }): string {
  const lines = [
    `${result.interrupted ? 'PARTIAL RESULT (interrupted)' : 'RESULT'}: run ${result.runId}, ${context.nodes} nodes, ready after ${(context.readyAfterMs / 1000).toFixed(2)} s`,
    `  Transactions sent:        ${result.sent} of ${result.scheduled} scheduled, ${result.transactionSizeBytes} bytes each, input rate ${result.inputRate.toFixed(1)} tx/s`,
    `  Successful:               ${result.outcomes.ok}`,
    `  Failed:                   ${failedCount(result)}`,
    `  Actual rate:              ${result.achievedRate.toFixed(1)} tx/s`,
  ];
  if (result.latency.commit) {
    lines.push(
      `  Committed:                ${result.outcomes.committed} (${result.committedThroughput.toFixed(1)} tx/s, ${result.outcomes.commitTimeout} commit timeouts)`,
    );
    lines.push(latencyLine('Latency submit→commit:', result.latency.commit.corrected));
  }
  lines.push(latencyLine('Latency submit→ack:', result.latency.ack.corrected));
  // --mix: a line per kind, its share of the rate, what it got and its latency at the stage measured
  for (const kind of result.kinds ?? []) {
    const commit = kind.latency.commit;
    const confirmed = commit ? `${kind.outcomes.committed} committed` : `${kind.outcomes.ok} accepted`;
    const latency = (commit ?? kind.latency.ack).corrected;
    const label = `Kind ${kind.name} (${(kind.share * 100).toFixed(0)} %):`;
    lines.push(
      `  ${label.padEnd(26)}${kind.sent} sent, ${confirmed}, p50 ${ms(latency.p50)}, p99 ${ms(latency.p99)}`,
    );
  }
  return lines.join('\n');
}
