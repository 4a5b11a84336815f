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

/**
 * The failed transactions by kind, most first: `100 HTTP 400, 3 timeouts`. Empty when none
 * failed. `commitTimeouts`: count accepted transactions never seen committed as failures too
 * (they are, where the figures are of the commit stage).
 */
export function describeFailures(
  o: LoadResult['outcomes'],
  options: { readonly commitTimeouts?: boolean } = {},
): string {
  const parts: [number, string][] = [
    ...Object.entries(o.httpError).map(([status, n]): [number, string] => [n, `HTTP ${status}`]),
    ...Object.entries(o.rejected).map(([code, n]): [number, string] => [n, `rejected (${code})`]),
    [o.badResponse, o.badResponse === 1 ? 'reply not understood' : 'replies not understood'],
    [o.timeout, o.timeout === 1 ? 'timeout' : 'timeouts'],
    [o.connectionError, o.connectionError === 1 ? 'connection error' : 'connection errors'],
    [o.dropped, 'not sent on time'],
    [
      options.commitTimeouts ? o.commitTimeout : 0,
      o.commitTimeout === 1 ? 'commit timeout' : 'commit timeouts',
    ],
  ];
  return parts
    .filter(([n]) => n > 0)
    .sort((a, b) => b[0] - a[0])
    .map(([n, what]) => `${n} ${what}`)
    .join(', ');
}

/**
 * Why a run that got no transaction accepted failed, and what to do, on one line: the nodes
 * did not answer, or answered what the load sent with errors (`fix` says how to give the
 * protocol they speak, which differs by command).
 */
export function noneAcceptedMessage(o: LoadResult['outcomes'], protocol: string, fix: string): string {
  const answered = Object.keys(o.httpError).length + Object.keys(o.rejected).length > 0 || o.badResponse > 0;
  const kinds = describeFailures(o) || 'nothing was sent';
  return answered
    ? `no transaction was accepted (${kinds}): the nodes refused what the load sent as ${protocol}; ${fix}`
    : `no transaction was accepted (${kinds}): the nodes did not answer; see their logs (--logs DIR saves each node's log)`;
}

/** The original summary (successful, failed, actual rate) plus latency. Pure. */
export function renderSummary(result: LoadResult, context: { nodes: number; readyAfterMs: number }): string {
  const lines = [
    `${result.interrupted ? 'PARTIAL RESULT (interrupted)' : 'RESULT'}: run ${result.runId}, ${context.nodes} node${context.nodes === 1 ? '' : 's'}, ready after ${(context.readyAfterMs / 1000).toFixed(2)} s`,
    `  Transactions sent:        ${result.sent} of ${result.scheduled} scheduled, ${result.transactionSizeBytes} bytes each, input rate ${result.inputRate.toFixed(1)} tx/s`,
    `  Successful:               ${result.outcomes.ok}`,
    `  Failed:                   ${failedCount(result)}`,
  ];
  const failures = describeFailures(result.outcomes);
  if (failures) lines.push(`  Failed by kind:           ${failures}`);
  lines.push(`  Actual rate:              ${result.achievedRate.toFixed(1)} tx/s`);
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
