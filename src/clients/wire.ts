/**
 * What the coordinator and a load client say to each other, one JSON object per line.
 * Coordinator → client (its stdin): the spec, then `stop` to end early, and a `node-state`
 * object when a node goes down or comes back (--fault-load); blank lines are keep-alives. Client → coordinator (its stdout): `alive` each second (with its progress once
 * the load runs), then one `result` (the recorder's state: encoded HDR histograms and
 * counters, each kind's with a mix, and the client's own LoadResult) or one `error`; and a
 * `problem` line when a node's commit stream goes wrong as the client reads it.
 */
import type { RecorderState } from '../measure/recorder.js';
import type { LoadOptions, LoadProgress, LoadResult } from '../load/types.js';

/** The load options a client gets: everything but the callbacks and the signal. */
export type ClientLoadOptions = Omit<LoadOptions, 'signal' | 'onProgress' | 'onProblem'>;

export interface ClientSpec {
  readonly type: 'spec';
  readonly clientId: string;
  /** Its share, the agreed start instant and its endpoints are inside the options. */
  readonly options: ClientLoadOptions;
}

export type ClientLine =
  | {
      readonly type: 'alive';
      readonly clientId: string;
      readonly atEpochMs: number;
      readonly progress?: LoadProgress;
    }
  | {
      readonly type: 'result';
      readonly clientId: string;
      readonly state: RecorderState;
      readonly result: LoadResult;
      /** With a mix: each kind's recorder state, in the mix's order (merged exactly like the totals). */
      readonly kindStates?: readonly RecorderState[];
    }
  | { readonly type: 'error'; readonly clientId: string; readonly message: string }
  /** What went wrong with a node's commit stream as this client reads it (one line, once). */
  | { readonly type: 'problem'; readonly clientId: string; readonly line: string };

export const STOP_LINE = 'stop';

/** A node the coordinator learnt is down or up again (the fault injector's events). */
export interface NodeStateLine {
  readonly type: 'node-state';
  readonly node: string;
  readonly state: 'down' | 'up';
}

export function nodeStateLine(node: string, state: 'down' | 'up'): NodeStateLine {
  return { type: 'node-state', node, state };
}

/** A node-state line the coordinator wrote; undefined for anything else. */
export function parseNodeStateLine(line: string): NodeStateLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as Partial<NodeStateLine>;
    if (
      value.type === 'node-state' &&
      typeof value.node === 'string' &&
      (value.state === 'down' || value.state === 'up')
    )
      return { type: 'node-state', node: value.node, state: value.state };
  } catch {
    // not JSON
  }
  return undefined;
}

/** Parses one line a client printed; undefined for anything that is not one of ours. */
export function parseClientLine(line: string): ClientLine | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(text) as { type?: unknown; clientId?: unknown };
    if (typeof value.clientId !== 'string') return undefined;
    if (value.type === 'alive' || value.type === 'result' || value.type === 'error')
      return value as ClientLine;
    if (value.type === 'problem' && typeof (value as { line?: unknown }).line === 'string')
      return value as ClientLine;
  } catch {
    // not JSON: a stray line
  }
  return undefined;
}

/** Parses the spec line a client reads first; throws naming what is wrong. */
export function parseClientSpec(line: string): ClientSpec {
  const value = JSON.parse(line) as Partial<ClientSpec>;
  if (value.type !== 'spec' || typeof value.clientId !== 'string' || typeof value.options !== 'object')
    throw new Error('the first line on stdin is not a load client spec');
  return value as ClientSpec;
}
