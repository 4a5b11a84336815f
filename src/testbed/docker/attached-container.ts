/**
 * A helper container whose main process reads its stdin from an attach this process holds
 * open (a sidecar): created, attached, started; its stdout split into lines; `close()` ends
 * its stdin and waits for it to exit (the engine removes it: AutoRemove). When this process
 * dies, its connection and so the helper's stdin close with it, and the helper ends too.
 * Used by a node's sidecar (its network namespace) and by a dedicated load client host's
 * client (the host's network).
 */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { ROLE_LABEL } from '../../common/labels.js';
import { sleep } from '../../common/sleep.js';
import type { ExecResult } from '../../common/exec-result.js';
import type { Sidecar, SidecarSpec } from '../testbed.js';

/** Lines kept for a first listener that comes late (the last ones). */
const EARLY_LINES = 100;
/** Bytes the helper gets now and then, so an idle attach stream is never taken for dead. */
const HEARTBEAT_MS = 20_000;

export interface AttachedContainerInit {
  readonly docker: Docker;
  readonly spec: SidecarSpec;
  /** Labels beyond the role label (the run's, and what it belongs to). */
  readonly labels: Readonly<Record<string, string>>;
  /** `container:<id>` (a node's namespace) or `host`. */
  readonly networkMode: string;
  /** Where it runs, for messages: `local` or the host's name. */
  readonly host: string;
  /** Runs an engine call, turning a failure into the error the user sees. */
  readonly call: <T>(what: string, call: () => Promise<T>) => Promise<T>;
  /** A command run in a container, collected (the node handle's exec). */
  readonly exec: (containerId: string, command: readonly string[]) => Promise<ExecResult>;
}

export async function startAttachedContainer(init: AttachedContainerInit): Promise<Sidecar> {
  const { docker, spec } = init;
  const { container, stream } = await init.call(`start a ${spec.role}`, async () => {
    const created = await docker.createContainer({
      Image: spec.image,
      Cmd: [...spec.command],
      Labels: { ...init.labels, [ROLE_LABEL]: spec.role },
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      Tty: false,
      HostConfig: {
        NetworkMode: init.networkMode,
        CapAdd: [...spec.capAdd],
        AutoRemove: true,
      },
    });
    try {
      const attached = (await created.attach({
        stream: true,
        stdin: true,
        stdout: true,
        stderr: false,
        hijack: true,
      })) as NodeJS.ReadWriteStream & { destroy?: () => void };
      attached.on('error', () => undefined);
      await created.start();
      return { container: created, stream: attached };
    } catch (error) {
      await created.remove({ force: true }).catch(() => undefined);
      throw error;
    }
  });
  // stdout arrives multiplexed (no TTY): demultiplex it, then split it into lines
  const stdout = new PassThrough();
  docker.modem.demuxStream(stream, stdout, new PassThrough());
  const listeners: ((line: string) => void)[] = [];
  /** Lines that came before anyone listened: the first listener gets them (a helper may speak first). */
  let early: string[] | undefined = [];
  let pending = '';
  stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      if (early && early.push(line) > EARLY_LINES) early.shift();
      for (const listener of listeners) listener(line);
    }
  });
  const heartbeat = setInterval(() => stream.write('\n'), HEARTBEAT_MS);
  heartbeat.unref();
  // the attach ends when the helper's main process does (or its container goes): said once
  const endListeners: (() => void)[] = [];
  let ended = false;
  const onEnded = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    for (const listener of endListeners.splice(0)) listener();
  };
  // through stdout, so that every line before the end has reached the listeners first
  stdout.once('end', onEnded);
  const endStdout = () => {
    if (!stdout.writableEnded) stdout.end();
  };
  stream.once('end', endStdout);
  stream.once('close', endStdout);
  let closed: Promise<void> | undefined;
  return {
    id: container.id,
    host: init.host,
    exec: (command) => init.call(`exec in the ${spec.role}`, () => init.exec(container.id, command)),
    write: (text) => {
      if (!closed) stream.write(text);
    },
    onLine: (listener) => {
      listeners.push(listener);
      const before = early ?? [];
      early = undefined;
      for (const line of before) listener(line);
    },
    onEnd: (listener) => {
      if (ended) listener();
      else endListeners.push(listener);
    },
    close: (timeoutMs = 10_000) =>
      (closed ??= (async () => {
        clearInterval(heartbeat);
        stream.end();
        const exited = container.wait().then(
          () => true,
          () => true,
        );
        const timer = new AbortController();
        const inTime = await Promise.race([
          exited,
          sleep(timeoutMs, timer.signal).then(
            () => false,
            () => false,
          ),
        ]);
        timer.abort();
        if (!inTime) await container.remove({ force: true }).catch(() => undefined);
        stream.destroy?.();
      })()),
  };
}
