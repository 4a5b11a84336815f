import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshbenchError } from '../../../../src/common/errors.js';
import { EngineApi, engineTargetOf } from '../../../../src/testbed/docker/engine-reads.js';
import { checkEngine, checkImages } from '../../../../src/testbed/local/engine-checks.js';

/** A small Engine-API-shaped server on a unix socket of its own. */
let dir: string;
let socketPath: string;
let server: Server;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-engine-'));
  socketPath = join(dir, 'docker.sock');
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/version') {
      res.end(JSON.stringify({ Version: '20.10.24', ApiVersion: '1.41', Os: 'linux', Arch: 'amd64' }));
    } else if (req.url === '/info') {
      res.end(JSON.stringify({ NCPU: 2, MemTotal: 1024 }));
    } else if (req.url === '/images/present:1/json') {
      res.end(JSON.stringify({ Id: 'sha256:abc' }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ message: `No such image: ${req.url}` }));
    }
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('engine checks', () => {
  it('reads DOCKER_HOST like the docker CLI', () => {
    expect(engineTargetOf({})).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(engineTargetOf({ DOCKER_HOST: 'unix:///tmp/d.sock' })).toEqual({ socketPath: '/tmp/d.sock' });
    expect(engineTargetOf({ DOCKER_HOST: 'tcp://10.0.0.1:2376' })).toEqual({ host: '10.0.0.1', port: 2376 });
  });

  it('reports the engine facts', async () => {
    const facts = await checkEngine(new EngineApi({ socketPath }));
    expect(facts).toEqual({
      engineVersion: '20.10.24',
      apiVersion: '1.41',
      os: 'linux/amd64',
      cpus: 2,
      memoryBytes: 1024,
    });
  });

  it('says the engine is not running, naming where it looked and the fix', async () => {
    const missing = join(dir, 'nothing.sock');
    const error = await checkEngine(new EngineApi({ socketPath: missing }), {
      DOCKER_HOST: `unix://${missing}`,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MeshbenchError);
    expect((error as MeshbenchError).code).toBe('DOCKER_UNAVAILABLE');
    expect((error as MeshbenchError).message).toBe(
      `the Docker engine is not running (no answer at unix://${missing}: ENOENT)`,
    );
  });

  it('finds present images and names a missing one with how to get it', async () => {
    const api = new EngineApi({ socketPath });
    expect(await checkImages(api, [{ service: 'a', image: 'present:1', hasBuild: false }])).toEqual({
      'present:1': 'sha256:abc',
    });
    // A missing image that the file can build is fine.
    expect(await checkImages(api, [{ service: 'b', image: 'mine:dev', hasBuild: true }])).toEqual({});
    await expect(
      checkImages(api, [{ service: 'node0', image: 'meshbench/refnode:latest', hasBuild: false }]),
    ).rejects.toThrow(/^image meshbench\/refnode:latest \(service node0\) is missing$/);
    const error = await checkImages(api, [{ service: 'n', image: 'other/x:1', hasBuild: false }]).catch(
      (caught: unknown) => caught as MeshbenchError,
    );
    expect(error.hint).toBe('pull or build it first (docker pull other/x:1)');
  });
});
