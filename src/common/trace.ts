/**
 * Start-up trace: with MESHBENCH_TRACE=1, each step of local-network's start (and each remote
 * host's Docker, image and node steps, each container create and start, each request to a
 * remote engine and each command over SSH) writes `[trace <ms since process start>] <event>`
 * to stderr, to see where the time goes. MESHBENCH_TRACE_FILE=PATH appends the same lines to
 * a file instead (the integration tests keep one per command they run, to name the step a
 * command that does not exit is waiting on).
 */
import { appendFileSync } from 'node:fs';

const toStderr = process.env.MESHBENCH_TRACE === '1';
const file = process.env.MESHBENCH_TRACE_FILE || undefined;

/** Whether anything is traced (callers skip building an event's text when not). */
export const tracing = toStderr || file !== undefined;

export function trace(event: string): void {
  if (!tracing) return;
  const line = `[trace ${performance.now().toFixed(0)}] ${event}\n`;
  if (toStderr) process.stderr.write(line);
  if (file !== undefined) {
    try {
      appendFileSync(file, line);
    } catch {
      // a trace is a diagnostic: never a failure of the command
    }
  }
}
