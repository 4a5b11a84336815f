import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RemoteDockerApi,
  apiErrorMessage,
  createContainerBody,
  pathSegment,
  runArguments,
  type ContainerSpec,
} from '../../../src/testbed/remote/docker-api.js';
import type { SshSession } from '../../../src/testbed/remote/ssh-session.js';

const spec: ContainerSpec = {
  name: 'meshbench-r1-node0',
  image: `sha256:${'a'.repeat(64)}`,
  labels: { 'meshbench.run': 'r1', 'meshbench.node': 'node0' },
  env: { REFNODE_ID: 'node0', HOSTILE: `$(rm -rf /); 'quoted' "x" a=b` },
  networkMode: 'host',
  volume: { name: 'meshbench-r1-node0', target: '/data', labels: { 'meshbench.run': 'r1' } },
};

describe('container specs', () => {
  it('give the API body and the docker run arguments of the same container', () => {
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
    expect(runArguments(spec)).toEqual([
      'run',
      '-d',
      '--name',
      'meshbench-r1-node0',
      '--label',
      'meshbench.run=r1',
      '--label',
      'meshbench.node=node0',
      '--network',
      'host',
      '--restart',
      'no',
      '--mount',
      'type=volume,source=meshbench-r1-node0,target=/data,volume-label=meshbench.run=r1',
      '-e',
      'REFNODE_ID=node0',
      '-e',
      `HOSTILE=$(rm -rf /); 'quoted' "x" a=b`,
      spec.image,
    ]);
  });

  it('keep image IDs readable in paths and encode anything else', () => {
    expect(pathSegment(`sha256:${'0f'.repeat(32)}`)).toBe(`sha256:${'0f'.repeat(32)}`);
    expect(pathSegment('meshbench/refnode:latest')).toBe('meshbench%2Frefnode%3Alatest');
    expect(pathSegment('../../containers/x')).toBe('..%2F..%2Fcontainers%2Fx');
  });

  it('read the message of an API error', () => {
    expect(apiErrorMessage({ status: 404, text: '{"message":"No such image: x"}' })).toBe('No such image: x');
    expect(apiErrorMessage({ status: 500, text: 'plain\n' })).toBe('plain');
    expect(apiErrorMessage({ status: 502, text: '' })).toBe('HTTP 502');
  });
});

describe('RemoteDockerApi over a stream', () => {
  // A real HTTP server on a Unix socket stands in for the engine at the end of the SSH channel.
  let dir: string;
  let server: Server;
  const seen: { method?: string; url?: string; body: string }[] = [];
  const host = { name: 'host0', user: 'root', address: '10.0.0.1', port: 22 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbench-docker-api-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, body });
        if (req.url?.startsWith('/containers/create')) {
          res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"Id":"c0ffee"}');
        } else if (req.url === '/containers/c0ffee/start') {
          res.writeHead(204).end();
        } else if (req.url === '/slow') {
          // never answers
        } else {
          res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"page not found"}');
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

  const session = (socketDir: () => string) =>
    ({
      host,
      openUnixSocket: (path: string) =>
        new Promise((resolve, reject) => {
          const socket = connect(join(socketDir(), path.split('/').at(-1)!));
          socket.once('connect', () => resolve(socket));
          socket.once('error', reject);
        }),
    }) as unknown as SshSession;

  it('creates and starts a container, sending the spec as JSON', async () => {
    const api = new RemoteDockerApi(session(() => dir));
    seen.length = 0;
    await expect(api.run(spec, 'starting node0')).resolves.toBe('c0ffee');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST /containers/create?name=meshbench-r1-node0',
      'POST /containers/c0ffee/start',
    ]);
    expect(JSON.parse(seen[0]!.body)).toEqual(createContainerBody(spec));
  });

  it('names the host and the engine message when a call fails', async () => {
    const api = new RemoteDockerApi(session(() => dir));
    await expect(api.expect('GET', '/nothing', 'inspecting x')).rejects.toThrow(
      'host0 (root@10.0.0.1:22): inspecting x failed: page not found',
    );
  });

  it('gives up after its timeout, and fails when the socket cannot be opened', async () => {
    const api = new RemoteDockerApi(session(() => dir));
    await expect(api.request('GET', '/slow', { timeoutMs: 100 })).rejects.toThrow(/timed out after 100 ms/);
    const missing = new RemoteDockerApi(session(() => join(dir, 'nowhere')));
    await expect(missing.request('GET', '/_ping')).rejects.toThrow(/ENOENT/);
  });
});
