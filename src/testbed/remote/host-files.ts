/**
 * A remote host as a `HostHandle` (../testbed.ts): its files read every interval by one
 * long-lived bash loop over the SSH connection the testbed already holds (no process per
 * reading: bash builtins read the files, and `read -t` on the channel's stdin is the pause).
 * When the orchestrator closes the channel, or its connection drops, stdin ends and the loop
 * exits at once, so nothing is left running on the host.
 */
import type { Duplex } from 'node:stream';
import type { HostHandle, ReadingStream } from '../testbed.js';
import type { SshSession } from './ssh-session.js';

/** Prints `@@begin`, then `@@file PATH` and its lines for each file, then `@@end`; pauses; again. */
const LOOP_SCRIPT = [
  'secs=$1; shift',
  'while :; do',
  "  printf '@@begin\\n'",
  '  for f in "$@"; do',
  '    printf \'@@file %s\\n\' "$f"',
  '    if [ -r "$f" ]; then',
  '      while IFS= read -r line || [ -n "$line" ]; do printf \'%s\\n\' "$line"; done < "$f"',
  '    fi',
  '  done',
  "  printf '@@end\\n'",
  '  read -r -t "$secs" _ && continue',
  '  [ $? -gt 128 ] || exit 0',
  'done',
].join('\n');

/** Splits the loop's output into one record of file texts per round. */
export class HostFilesParser {
  #pending = '';
  #files: Record<string, string[]> | undefined;
  #current: string[] | undefined;

  constructor(private readonly onRead: (files: Readonly<Record<string, string>>) => void) {}

  push(chunk: string): void {
    this.#pending += chunk;
    for (let at = this.#pending.indexOf('\n'); at >= 0; at = this.#pending.indexOf('\n')) {
      this.#line(this.#pending.slice(0, at));
      this.#pending = this.#pending.slice(at + 1);
    }
  }

  #line(line: string): void {
    if (line === '@@begin') {
      this.#files = {};
      this.#current = undefined;
    } else if (line === '@@end') {
      const files = this.#files;
      this.#files = undefined;
      this.#current = undefined;
      if (files)
        this.onRead(
          Object.fromEntries(Object.entries(files).map(([path, lines]) => [path, lines.join('\n')])),
        );
    } else if (line.startsWith('@@file ') && this.#files) {
      this.#current = this.#files[line.slice('@@file '.length)] = [];
    } else {
      this.#current?.push(line);
    }
  }
}

export class RemoteHostFiles implements HostHandle {
  constructor(
    readonly name: string,
    private readonly session: Pick<SshSession, 'openCommandStream'>,
  ) {}

  async watchFiles(
    paths: readonly string[],
    intervalMs: number,
    onRead: (files: Readonly<Record<string, string>>) => void,
    onEnd?: (error?: unknown) => void,
  ): Promise<ReadingStream> {
    const seconds = (Math.max(1, intervalMs) / 1000).toFixed(3);
    const channel: Duplex = await this.session.openCommandStream([
      'bash',
      '-c',
      LOOP_SCRIPT,
      'meshbench-host-files',
      seconds,
      ...paths,
    ]);
    const parser = new HostFilesParser(onRead);
    let ended = false;
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      onEnd?.(error);
    };
    channel.on('data', (chunk: Buffer) => parser.push(chunk.toString('utf8')));
    channel.on('error', (error: unknown) => end(error));
    channel.on('close', () => end());
    return {
      close: () => {
        ended = true;
        channel.end();
        channel.destroy();
      },
    };
  }
}
