/**
 * cleanHost on one host connection: a removal of a run asked while one of the same run is under
 * way joins it (a second Ctrl-C during the cleanup of the first), and a thorough one follows a
 * plain one, instead of two removals racing over the same containers.
 */
import { describe, expect, it } from 'vitest';
import { cleanHost } from '../../../src/testbed/remote/cleanup.js';
import type { RemoteHostAgent } from '../../../src/testbed/remote/remote-host.js';

/** An engine with one container and one volume of the run; each removal pass is logged. */
function fakeAgent() {
  const passes: string[] = [];
  let containers = [{ Id: 'c1', Labels: {}, Image: 'img', ImageID: 'sha256:img', Names: ['/n'] }];
  let volumes = [{ Name: 'v1', Labels: {} }];
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const docker = {
    async listContainers(options: { filters?: { label?: string[]; ancestor?: string[] } }) {
      if (options.filters?.label?.some((label) => label.endsWith('=nethelper'))) return [];
      if (options.filters?.ancestor) return [];
      passes.push('list');
      await held; // the first pass waits until the test lets it go
      return containers;
    },
    getContainer: (id: string) => ({
      remove: async () => {
        if (!containers.some((container) => container.Id === id))
          throw Object.assign(new Error('no such container'), { statusCode: 404 });
        containers = containers.filter((container) => container.Id !== id);
      },
    }),
    listNetworks: async () => [],
    getNetwork: () => ({ remove: async () => undefined }),
    listVolumes: async () => ({ Volumes: volumes }),
    getVolume: (name: string) => ({
      remove: async () => {
        volumes = volumes.filter((volume) => volume.Name !== name);
      },
    }),
    getImage: () => ({
      inspect: async () => {
        throw Object.assign(new Error('no such image'), { statusCode: 404 });
      },
      remove: async () => undefined,
    }),
  };
  const agent = {
    docker,
    host: { name: 'host0', address: '127.0.0.1', user: 'root', port: 22 },
    failure: (what: string, error: unknown) => new Error(`${what}: ${String(error)}`),
  } as unknown as RemoteHostAgent;
  return { agent, passes, release, left: () => ({ containers: containers.length, volumes: volumes.length }) };
}

describe('cleanHost', () => {
  it('joins a removal of the same run under way on the connection, and the two report the same', async () => {
    const { agent, passes, release, left } = fakeAgent();
    const first = cleanHost(agent, { runId: 'r1', thorough: true });
    const second = cleanHost(agent, { runId: 'r1', thorough: true });
    expect(second).toBe(first);
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(passes).toEqual(['list']);
    expect(a).toMatchObject({ containers: 1, volumes: 1 });
    expect(b).toBe(a);
    expect(left()).toEqual({ containers: 0, volumes: 0 });
  });

  it('runs a thorough removal after a plain one under way, and a later one anew', async () => {
    const { agent, passes, release } = fakeAgent();
    const plain = cleanHost(agent, { runId: 'r1', thorough: false });
    const thorough = cleanHost(agent, { runId: 'r1', thorough: true });
    expect(thorough).not.toBe(plain);
    await new Promise((resolve) => setImmediate(resolve));
    expect(passes).toEqual(['list']); // the thorough one waits for the plain one
    release();
    await Promise.all([plain, thorough]);
    expect(passes).toEqual(['list', 'list']);
    await cleanHost(agent, { runId: 'r1', thorough: true });
    expect(passes).toEqual(['list', 'list', 'list']);
    // another run, or every run (--down), is a removal of its own
    await Promise.all([
      cleanHost(agent, { runId: 'r2', thorough: true }),
      cleanHost(agent, { thorough: true }),
    ]);
    expect(passes).toHaveLength(5);
  });
});
