/**
 * The one Docker client (dockerode) over a stream per request, as it runs over an SSH-forwarded
 * socket: a real HTTP server on a Unix socket stands in for the engine at the end of the channel.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatError } from '../../../../src/common/errors.js';
import { engineMessage, streamDocker } from '../../../../src/testbed/docker/connection.js';
import {
  createContainerBody,
  runContainer,
  type ContainerSpec,
} from '../../../../src/testbed/docker/container-spec.js';
import { containerLogs } from '../../../../src/testbed/docker/logs.js';
import { RemoteHostAgent } from '../../../../src/testbed/remote/remote-host.js';
import type { SshSession } from '../../../../src/testbed/remote/ssh-session.js';

const spec: ContainerSpec = {
  name: 'meshbench-r1-node0',
  image: `sha256:${'a'.repeat(64)}`,
  labels: { 'meshbench.run': 'r1', 'meshbench.node': 'node0' },
  env: { REFNODE_ID: 'node0', HOSTILE: `$(rm -rf /); 'quoted' "x" a=b` },
  networkMode: 'host',
  volume: { name: 'meshbench-r1-node0', target: '/data', labels: { 'meshbench.run': 'r1' } },
};

/** One multiplexed frame (stdout 1, stderr 2) as the engine sends logs of a container without a TTY. */
function frame(kind: 1 | 2, text: string): Buffer {
  const body = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = kind;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

describe('container specs', () => {
  it('give the body of the container `docker run -d` makes', () => {
    expect(createContainerBody(spec)).toEqual({
      Image: spec.image,
      Env: ['REFNODE_ID=node0', `HOSTILE=$(rm -rf /); 'quoted' "x" a=b`],
      Labels: spec.labels,
      HostConfig: {
        NetworkMode: 'host',
        RestartPolicy: { Name: 'no' },
        Mounts: [
          {
            Type: 'volume',
            Source: 'meshbench-r1-node0',
            Target: '/data',
            VolumeOptions: { Labels: { 'meshbench.run': 'r1' } },
          },
        ],
      },
    });
  });
});

describe('dockerode over a stream per request', () => {
  let dir: string;
  let server: Server;
  let opened = 0;
  const seen: { method?: string; url?: string; body: string }[] = [];
  const host = { name: 'host0', user: 'root', address: '10.0.0.1', port: 22 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbench-docker-client-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, body });
        const path = req.url?.replace(/^\/v[\d.]+/, '') ?? '';
        if (path.startsWith('/containers/create?name=meshbench-r1-stalled')) {
          // a stalled engine: never answers
        } else if (path.startsWith('/containers/create?name=meshbench-r1-slow')) {
          setTimeout(
            () => res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"Id":"c0ffee"}'),
            300,
          );
        } else if (path.startsWith('/containers/create')) {
          res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"Id":"c0ffee"}');
        } else if (path === '/containers/c0ffee/start') {
          res.writeHead(204).end();
        } else if (path.startsWith('/containers/c0ffee/logs')) {
          res
            .writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' })
            .end(Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 2\n'), frame(1, '{"json":3}\n')]));
        } else if (path.startsWith('/containers/stuck/wait')) {
          // a wait for a container that never goes: the engine sends the head at once, then nothing
          res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders();
        } else if (path === '/slow') {
          // never answers
        } else {
          res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"No such image: x"}');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(join(dir, 'docker.sock'), resolve));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const opener = (socketDir: () => string) => () =>
    new Promise<import('node:stream').Duplex>((resolve, reject) => {
      opened += 1;
      const socket = connect(join(socketDir(), 'docker.sock'));
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });

  it('creates and starts a container: the name in the query, the spec as the JSON body', async () => {
    const docker = await streamDocker(opener(() => dir));
    seen.length = 0;
    opened = 0;
    await expect(runContainer(docker, spec)).resolves.toBe('c0ffee');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST /containers/create?name=meshbench-r1-node0',
      'POST /containers/c0ffee/start',
    ]);
    expect(JSON.parse(seen[0]!.body)).toEqual(createContainerBody(spec));
    // one stream per request, none kept open
    expect(opened).toBe(2);
  });

  it('after Ctrl-C waits for a create the engine answers, and gives up on one it never answers', async () => {
    const docker = await streamDocker(opener(() => dir));
    // answered 300 ms after the request, Ctrl-C at 50 ms: the container is made, then INTERRUPTED
    const slow = new AbortController();
    setTimeout(() => slow.abort(), 50);
    seen.length = 0;
    await expect(
      runContainer(docker, { ...spec, name: 'meshbench-r1-slow' }, slow.signal, 5000),
    ).rejects.toThrow(/interrupted before starting meshbench-r1-slow/);
    expect(seen.map((s) => s.url)).toEqual(['/containers/create?name=meshbench-r1-slow']);
    // never answered: given up on the grace after Ctrl-C, naming what may still appear
    const stalled = new AbortController();
    setTimeout(() => stalled.abort(), 50);
    const started = performance.now();
    const error = await runContainer(
      docker,
      { ...spec, name: 'meshbench-r1-stalled' },
      stalled.signal,
      200,
    ).catch((caught: unknown) => caught);
    expect(formatError(error)).toMatch(
      /interrupted while creating meshbench-r1-stalled, and the engine had not answered 200 ms later/,
    );
    expect((error as { code?: string }).code).toBe('INTERRUPTED');
    // at least the grace, and not the engine's idle timeout (2 minutes)
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
    expect(performance.now() - started).toBeLessThan(60_000);
  });

  it('reads logs as one text, stdout and stderr frames in the order they came, JSON lines kept', async () => {
    const docker = await streamDocker(opener(() => dir));
    await expect(containerLogs(docker, 'c0ffee', 3)).resolves.toBe('out 1\nerr 2\n{"json":3}\n');
    expect(seen.at(-1)?.url).toMatch(/\/containers\/c0ffee\/logs\?.*tail=3/);
  });

  it('names the host and the engine message when a call fails', async () => {
    const docker = await streamDocker(opener(() => dir));
    const error = await docker
      .getImage('x')
      .inspect()
      .catch((caught: unknown) => caught);
    expect(engineMessage(error)).toBe('No such image: x');
    const session = { host, isClosed: false, close: () => undefined } as unknown as SshSession;
    const agent = new RemoteHostAgent(session);
    expect(agent.failure('inspecting image x', error).message).toBe(
      'host0 (root@10.0.0.1:22): inspecting image x failed: No such image: x',
    );
  });

  it('ends a request aborted once its answer began, over a stream whose destroy takes no error (an SSH channel)', async () => {
    // ssh2's Channel.destroy() ends and closes the channel and ignores its argument
    const channelLike = (socketDir: () => string) => async () => {
      const socket = await opener(socketDir)();
      socket.destroy = (() => socket.end()) as typeof socket.destroy;
      return socket;
    };
    const docker = await streamDocker(channelLike(() => dir));
    const bound = AbortSignal.timeout(200);
    const started = performance.now();
    const error = await docker
      .getContainer('stuck')
      .wait({ _query: { condition: 'removed' }, abortSignal: bound } as Docker.ContainerWaitOptions)
      .catch((caught: unknown) => caught);
    expect((error as Error).name).toBe('AbortError');
    expect(seen.at(-1)?.url).toBe('/containers/stuck/wait?condition=removed');
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('gives up on a stream that stays silent, and fails when the stream cannot be opened', async () => {
    const docker = await streamDocker(
      opener(() => dir),
      { idleTimeoutMs: 100 },
    );
    const silent = new Promise((resolve, reject) =>
      docker.modem.dial(
        { path: '/slow', method: 'GET', statusCodes: { 200: true }, options: {} },
        (error: unknown, data: unknown) => (error ? reject(error as Error) : resolve(data)),
      ),
    );
    await expect(silent).rejects.toThrow(/sent nothing for 100 ms/);
    const missing = await streamDocker(opener(() => join(dir, 'nowhere')));
    await expect(missing.ping()).rejects.toThrow(/ENOENT/);
  });
});
