/**
 * Start-up trace: with MESHBENCH_TRACE=1, each step of local-network's start (and each remote
 * host's Docker, image and node steps, and each container create and start) writes
 * `[trace <ms since process start>] <event>` to stderr, to see where the time goes.
 */
const enabled = process.env.MESHBENCH_TRACE === '1';

export function trace(event: string): void {
  if (enabled) process.stderr.write(`[trace ${performance.now().toFixed(0)}] ${event}\n`);
}
