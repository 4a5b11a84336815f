import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { nodeHealthcheck, REFNODE_HEALTHCHECK } from '../../../../src/testbed/local/compose-generate.js';

/** Runs a healthcheck's CMD as Docker would (its argv, the image's node replaced by this one). */
function runCheck(test: string[]): Promise<number> {
  const [, , ...args] = test;
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 10_000 }, (error) =>
      resolve(error ? (typeof error.code === 'number' ? error.code : -1) : 0),
    );
  });
}

describe('the nodes’ healthcheck', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((request, response) => {
      response.statusCode = request.url === '/health' ? 200 : 503;
      response.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('passes on a 2xx, fails on any other status and on a refused connection', async () => {
    expect(nodeHealthcheck(port, '/health').slice(0, 3)).toEqual(['CMD', '/usr/local/bin/node', '-e']);
    expect(await runCheck(nodeHealthcheck(port, '/health'))).toBe(0);
    expect(await runCheck(nodeHealthcheck(port, '/not-ready'))).toBe(1);
    server.closeAllConnections();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await runCheck(nodeHealthcheck(closedPort, '/health'))).toBe(1);
  });

  it('is the one in the seed compose file', async () => {
    const file = parse(await readFile('systems/refnode/docker-compose.yml', 'utf8')) as {
      services: Record<string, { healthcheck: { test: string[] } }>;
    };
    for (const service of Object.values(file.services))
      expect(service.healthcheck.test).toEqual(REFNODE_HEALTHCHECK);
  });
});
