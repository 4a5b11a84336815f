/**
 * The guard of test runs (MESHBENCH_CHECK_HANDLES=1): a command that returns but leaves
 * a server, a socket or a timer open is reported on stderr, naming each; a command that
 * closes what it opened exits at once and says nothing.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const leaky = `
import { createServer, connect } from 'node:net';
import { runCli } from './src/cli/run-cli.ts';
const leave = process.env.LEAVE === '1';
process.exitCode = await runCli(
  {
    name: 'leaky',
    usage: '$0',
    options: (argv) => argv,
    run: async () => {
      const server = createServer(() => undefined);
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const socket = connect(server.address().port, '127.0.0.1');
      await new Promise((resolve) => socket.on('connect', resolve));
      const timer = setInterval(() => undefined, 60_000);
      if (!leave) {
        clearInterval(timer);
        socket.destroy();
        server.close();
      }
      return 0;
    },
  },
  [],
);
`;

function run(leave: boolean): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', leaky], {
      env: { ...process.env, MESHBENCH_CHECK_HANDLES: '1', LEAVE: leave ? '1' : '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // The report is all the test needs; the leaky process would never end by itself.
      if (leave && /setInterval/.test(stderr)) child.kill();
    });
    const bound = setTimeout(() => child.kill(), 20_000);
    child.on('close', (code) => {
      clearTimeout(bound);
      resolve({ code, stderr, ms: performance.now() - started });
    });
  });
}

describe('MESHBENCH_CHECK_HANDLES', () => {
  it('names the server, the socket and the timer a command left open', async () => {
    const result = await run(true);
    expect(result.stderr).toMatch(/leaky: error: still running 2000 ms after the command finished/);
    expect(result.stderr).toMatch(/server listening on .*127\.0\.0\.1/);
    expect(result.stderr).toMatch(/TCP socket 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+/);
    expect(result.stderr).toMatch(/setInterval\(…, 60000\) made at \S/);
  });

  it('says nothing when the command closed what it opened, and the process exits', async () => {
    const result = await run(false);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});
