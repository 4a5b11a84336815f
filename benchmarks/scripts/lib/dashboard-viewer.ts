/**
 * A browser on a live dashboard, in a process of its own so that neither playwright's client
 * nor Chromium counts as the orchestrator's CPU: `node --import tsx dashboard-viewer.ts URL`
 * opens URL in headless Chromium (Debian's, through playwright-core: test/support/report-browser.ts,
 * as the dashboard's integration test does, every other origin refused), prints `ready` on
 * stdout once the page has rendered, and keeps it open until SIGTERM/SIGINT or stdin closes.
 *
 * `openViewer(url)` starts it from a bench script and resolves once it is ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface Viewer {
  readonly child: ChildProcess;
  /** Closes the browser and waits for the process to end. */
  close(): Promise<void>;
}

export async function openViewer(url: string, readyTimeoutMs = 60_000): Promise<Viewer> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, url], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<void>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`the dashboard viewer was not ready within ${readyTimeoutMs} ms: ${output}`)),
      readyTimeoutMs,
    );
    lines.on('line', (line) => {
      if (line !== 'ready') return;
      clearTimeout(timer);
      done();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the dashboard viewer exited (${code}) before it was ready: ${output}`));
    });
  });
  try {
    await ready;
  } catch (error) {
    await close();
    throw error;
  }
  return { child, close };
}

// Run as a program: open the page and hold it.
if (process.argv[1] === import.meta.filename) {
  const url = process.argv[2];
  if (!url) {
    process.stderr.write('dashboard-viewer: give the dashboard URL\n');
    process.exit(2);
  }
  const { openReport } = await import('../../../test/support/report-browser.js');
  const opened = await openReport(url, undefined, { allowOrigin: new URL(url).origin });
  process.stdout.write('ready\n');
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    void opened.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
  process.stdin.on('end', close).resume();
}
