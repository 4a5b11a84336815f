/**
 * A command over SSH that is stopped (Ctrl-C, another host's failure, its timeout) while it is
 * blocked on something that no longer answers: sshd answers the channel's close only once the
 * command's output is done, so the result waited for good (a deploy after another host's
 * refusal, while `docker load` fed an engine that had stopped: found by stopping the sandbox
 * host's dockerd with SIGSTOP). The channel here is a stand-in that behaves as sshd's does then:
 * it takes the close and the signal and never closes.
 */
import { EventEmitter } from 'node:events';
import { Duplex, PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CLOSE_GRACE_MS, SshSession } from '../../../src/testbed/remote/ssh-session.js';
import { sessionHost as host } from './session-host.js';

/**
 * A session channel whose command never ends and whose server never answers a close (unless
 * told to): its input side takes `takes` bytes and then no more, as a command blocked on what
 * it feeds; its output is only what a test emits.
 */
class BlockedChannel extends Duplex {
  readonly stderr = new PassThrough();
  closes = 0;
  readonly signals: string[] = [];
  #taken = 0;
  constructor(
    private readonly answersClose = false,
    private readonly takes = Infinity,
  ) {
    // its input's end is not its close: only the server's answer is
    super({ autoDestroy: false, emitClose: false, highWaterMark: 16 });
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: string, taken: () => void): void {
    this.#taken += chunk.length;
    if (this.#taken <= this.takes) taken(); // past that, never: it stopped reading
  }
  close(): void {
    this.closes++;
    if (this.answersClose) setImmediate(() => this.emit('close'));
  }
  signal(name: string): void {
    this.signals.push(name);
  }
}

function sessionWith(channel: BlockedChannel): SshSession {
  const client = Object.assign(new EventEmitter(), {
    exec: (_command: string, callback: (error: Error | undefined, channel: BlockedChannel) => void) =>
      setImmediate(() => callback(undefined, channel)),
  });
  return new SshSession(host, client as never);
}

describe('a command stopped while it is blocked', () => {
  it('Ctrl-C: INTERRUPTED once the close grace is out, the command signalled and its input let go', async () => {
    const channel = new BlockedChannel();
    const controller = new AbortController();
    const input = Readable.from(['archive bytes']);
    const result = sessionWith(channel).exec(['docker', 'load'], { stdin: input, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    controller.abort();
    await expect(result).rejects.toThrow('host0 (u@127.0.0.1:22): interrupted');
    const tookMs = performance.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(CLOSE_GRACE_MS - 50);
    expect(tookMs).toBeLessThan(CLOSE_GRACE_MS + 10_000);
    expect(channel.closes).toBe(1);
    expect(channel.signals).toEqual(['TERM']);
    expect(input.destroyed).toBe(true);
  });

  it('its timeout: exit 124 with what it printed, once the close grace is out', async () => {
    const channel = new BlockedChannel();
    const result = sessionWith(channel).exec(['sleep', 'forever'], { timeoutMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    channel.emit('data', Buffer.from('half a line')); // what the command printed
    const done = await result;
    expect(done.exitCode).toBe(124);
    expect(done.stdout).toBe('half a line');
    expect(done.stderr).toContain('(timed out after 100 ms)');
    expect(channel.closes).toBe(1);
  });

  it('fed input it stops taking, printing nothing: exit 124 saying so, its input let go', async () => {
    const channel = new BlockedChannel(false, 36); // takes two chunks, then no more
    const input = Readable.from(Array.from({ length: 100 }, () => 'image layer bytes '));
    const started = performance.now();
    const done = await sessionWith(channel).exec(['docker', 'load'], { stdin: input, inputIdleMs: 200 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(done.exitCode).toBe(124);
    expect(done.stderr).toContain('it took none of its input for 200 ms (what it feeds no longer answers)');
    expect(channel.signals).toEqual(['TERM']);
    expect(input.destroyed).toBe(true);
  });

  it('fed input it takes, then silent once it all went: not stopped for that silence', async () => {
    const channel = new BlockedChannel(); // it takes all it is given
    const input = Readable.from(Array.from({ length: 20 }, () => 'image layer bytes '));
    const result = sessionWith(channel).exec(['docker', 'load'], { stdin: input, inputIdleMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 400)); // 4 bounds of silence after its input
    expect(channel.closes).toBe(0);
    channel.emit('exit', 0);
    channel.emit('close');
    expect((await result).exitCode).toBe(0);
  });

  it('fed input it takes all of, then not ending within its bound after: exit 124 saying so', async () => {
    const channel = new BlockedChannel(); // it takes all it is given, and never ends
    const input = Readable.from(Array.from({ length: 20 }, () => 'image layer bytes '));
    const started = performance.now();
    const done = await sessionWith(channel).exec(['docker', 'load'], {
      stdin: input,
      inputIdleMs: 100,
      afterInputMs: 300,
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(done.exitCode).toBe(124);
    expect(done.stderr).toContain(
      'it took all of its input but had not ended 300 ms later (what it feeds no longer answers)',
    );
    expect(channel.signals).toEqual(['TERM']);
    expect(channel.closes).toBe(1);
  });

  it('a bound after the input does not stop a command that ends within it', async () => {
    const channel = new BlockedChannel();
    const input = Readable.from(['image layer bytes ']);
    const result = sessionWith(channel).exec(['docker', 'load'], { stdin: input, afterInputMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    channel.emit('exit', 0);
    channel.emit('close');
    expect((await result).exitCode).toBe(0);
    expect(channel.closes).toBe(0);
  });

  it('a server that answers the close settles it at once, without the grace', async () => {
    const channel = new BlockedChannel(true);
    const controller = new AbortController();
    const result = sessionWith(channel).exec(['true'], { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = performance.now();
    controller.abort();
    await expect(result).rejects.toThrow('interrupted');
    expect(performance.now() - started).toBeLessThan(CLOSE_GRACE_MS);
  });
});
