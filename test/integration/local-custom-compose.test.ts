/**
 * A user's own compose file: renamed services on other ports, no meshbench labels
 * (nodes are found because they publish 26657), a sidecar that is not a node, its own
 * network and named volume. With plain --cleanup nothing of the run remains on the engine, its named volume included.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/local-network.js';
import { RUN_LABEL } from '../../src/common/labels.js';
import type { Endpoint } from '../../src/testbed/testbed.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { engineLister, pickFreePorts } from '../../src/testbed/local/ports.js';
import { captureCli } from './capture-cli.js';

const docker = createDocker();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-custom-it-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('local-network with a custom compose file', () => {
  it('runs renamed services on other ports and removes everything, the named volume too, with --cleanup', async () => {
    const names = ['alpha', 'bravo', 'charlie', 'delta'];
    const ports = await pickFreePorts(engineLister(docker), names.length, 41657);
    const peers = names.map((name) => `${name}@${name}:26656`).join(',');
    const services = names.map((name, index) =>
      [
        `  ${name}:`,
        '    image: meshbench/refnode:latest',
        `    environment: { REFNODE_ID: ${name}, REFNODE_PEERS: "${peers}" }`,
        '    networks: [mesh]',
        `    ports: ["127.0.0.1:${ports[index]}:26657"]`,
      ].join('\n'),
    );
    const file = join(dir, 'my-network.yml');
    await writeFile(
      file,
      [
        'services:',
        ...services,
        '  sidecar:',
        '    image: local/debian-minbase:bookworm',
        '    command: ["sleep", "infinity"]',
        '    networks: [mesh]',
        '    volumes: ["shared:/shared"]',
        'networks:',
        '  mesh: {}',
        'volumes:',
        '  shared: {}',
        '',
      ].join('\n'),
    );

    const run = await captureCli(main, [
      '--docker-compose-path',
      file,
      '--num-transactions',
      '100',
      '--transaction-rate',
      '50',
      '--cleanup',
      '--output',
      dir,
      '--logs',
      join(dir, 'logs'),
    ]);
    const text = run.stdout;
    expect(run.stderr).not.toMatch(/error/);
    expect(run.code).toBe(0);
    const runId = run.runId;
    const result = JSON.parse(
      await readFile(join(dir, `run-${runId}`, 'local-benchmark-1.json'), 'utf8'),
    ) as {
      local_network: { endpoints: Endpoint[]; environment: { nodeRule: string; nodeAccess: string } };
      results: { outcomes: { committed: number } };
    };
    expect(result.local_network.environment.nodeRule).toBe('rpc-port');
    // Reached at their container addresses on the compose network, not through docker-proxy.
    expect(result.local_network.environment.nodeAccess).toBe('direct');
    expect(result.local_network.endpoints.map((endpoint) => endpoint.nodeId)).toEqual(names);
    for (const endpoint of result.local_network.endpoints) {
      expect(endpoint.rpcUrl).toMatch(/^http:\/\/\d+\.\d+\.\d+\.\d+:26657$/);
      expect(endpoint.rpcUrl).not.toMatch(/127\.0\.0\.1/);
    }
    expect(result.results.outcomes.committed).toBe(100);
    expect(await readFile(join(dir, 'logs', 'alpha.log'), 'utf8')).not.toBe('');

    const label = { label: [`${RUN_LABEL}=${runId}`] };
    expect(await docker.listContainers({ all: true, filters: label })).toEqual([]);
    expect(await docker.listNetworks({ filters: label })).toEqual([]);
    expect((await docker.listVolumes({ filters: label })).Volumes ?? []).toEqual([]);
    const project = { label: [`com.docker.compose.project=meshbench-${runId}`] };
    expect((await docker.listVolumes({ filters: project })).Volumes ?? []).toEqual([]);
    expect(text).toMatch(/cleanup: removed 5 containers, 1 network, 1 volume/);
  });
});
