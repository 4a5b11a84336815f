import { describe, expect, it } from 'vitest';
import { DurableOutbox } from '../src/outbox.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('DurableOutbox', () => {
  it('holds messages until the records appended before them are synced, in order', async () => {
    const syncs: ReturnType<typeof deferred>[] = [];
    const sent: string[] = [];
    const outbox = new DurableOutbox(
      true,
      () => {
        const d = deferred();
        syncs.push(d);
        return d.promise;
      },
      () => {},
    );
    outbox.send(() => sent.push('before any record'));
    expect(sent).toEqual(['before any record']);
    outbox.noteAppend(); // record 1 -> a sync starts
    outbox.send(() => sent.push('a'));
    outbox.noteAppend(); // record 2 -> waits for the sync in flight
    outbox.send(() => sent.push('b'));
    expect(sent).toEqual(['before any record']);
    expect(syncs.length).toBe(1);
    syncs[0]?.resolve();
    await tick();
    expect(sent).toEqual(['before any record', 'a']); // 'b' needs record 2
    expect(syncs.length).toBe(2);
    syncs[1]?.resolve();
    await tick();
    expect(sent).toEqual(['before any record', 'a', 'b']);
    expect(outbox.pending).toBe(0);
  });

  it('sends at once with fsync off', () => {
    const sent: number[] = [];
    const outbox = new DurableOutbox(
      false,
      () => Promise.reject(new Error('never')),
      () => {},
    );
    outbox.noteAppend();
    outbox.send(() => sent.push(1));
    expect(sent).toEqual([1]);
  });

  it('stops sending and reports when a sync fails', async () => {
    const errors: string[] = [];
    const sent: number[] = [];
    const outbox = new DurableOutbox(
      true,
      () => Promise.reject(new Error('EIO')),
      (e) => errors.push(e.message),
    );
    outbox.noteAppend();
    outbox.send(() => sent.push(1));
    await tick();
    expect(errors).toEqual(['EIO']);
    outbox.send(() => sent.push(2));
    expect(sent).toEqual([]);
  });
});
