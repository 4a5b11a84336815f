/**
 * A sidecar's lines: a helper may speak as soon as it starts (the network helper says its
 * watcher runs), before its caller has listened; the first listener still gets those lines.
 */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { startAttachedContainer } from '../../../../src/testbed/docker/attached-container.js';

/** An engine whose container's attach stream is `stream` (stdout not multiplexed: the fake demux copies it). */
function fakeEngine(stream: PassThrough): Docker {
  const container = {
    id: 'c1',
    attach: () => Promise.resolve(stream),
    start: () => Promise.resolve(),
    wait: () => Promise.resolve({ StatusCode: 0 }),
    remove: () => Promise.resolve(),
  };
  return {
    createContainer: () => Promise.resolve(container),
    modem: { demuxStream: (from: PassThrough, stdout: PassThrough) => from.pipe(stdout) },
  } as unknown as Docker;
}

/** A network helper attached over `stream`. */
function startOn(stream: PassThrough) {
  return startAttachedContainer({
    docker: fakeEngine(stream),
    spec: { image: 'helper', command: ['sh'], capAdd: [], role: 'nethelper' },
    labels: {},
    networkMode: 'container:node0',
    host: 'local',
    call: (_what, call) => call(),
    exec: () => Promise.reject(new Error('no exec')),
  });
}

describe('an attached helper container', () => {
  it('gives its first listener the lines printed before it listened, then every line to every listener', async () => {
    const stream = new PassThrough();
    const sidecar = await startOn(stream);
    stream.write('@! watching\nfirst');
    stream.write(' line\n');
    await new Promise((resolve) => setImmediate(resolve));
    const first: string[] = [];
    const second: string[] = [];
    sidecar.onLine((line) => first.push(line));
    sidecar.onLine((line) => second.push(line));
    stream.write('@@ 1 0\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(first).toEqual(['@! watching', 'first line', '@@ 1 0']);
    expect(second).toEqual(['@@ 1 0']);
    await sidecar.close();
  });

  it('says once when its output ends, also to a listener that comes later', async () => {
    const stream = new PassThrough();
    const sidecar = await startOn(stream);
    let before = 0;
    sidecar.onEnd(() => before++);
    stream.end();
    stream.resume();
    await new Promise((resolve) => stream.once('close', resolve));
    let after = 0;
    sidecar.onEnd(() => after++);
    expect([before, after]).toEqual([1, 1]);
    await sidecar.close();
  });
});
