/**
 * The seed compose file (systems/refnode/docker-compose.yml) on the real engine: the 4-node
 * network starts (its healthcheck passing in every node), a broadcast_tx_commit to node0 is found by `tx` on node3,
 * and it keeps committing with one container stopped. Also checks the labels and
 * that destroy leaves nothing (containers, network, anonymous volumes).
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_LABEL } from '../../src/common/labels.js';
import { REFNODE_HEALTHCHECK } from '../../src/testbed/local/compose-generate.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { isPortFree } from '../../src/testbed/local/ports.js';
import { LocalTestbed, type LocalDeployment } from '../../src/testbed/local/local-testbed.js';

const docker = createDocker();
let deployment: LocalDeployment;

async function rpc(
  url: string,
  method: string,
  params: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const reply = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(30_000),
  });
  return (await reply.json()) as Record<string, unknown>;
}

async function commitTx(url: string): Promise<{ hash: string; height: number }> {
  const tx = randomBytes(64);
  const reply = await rpc(url, 'broadcast_tx_commit', { tx: tx.toString('base64') });
  const result = reply.result as { hash: string; height: string } | undefined;
  if (!result) throw new Error(`broadcast_tx_commit failed: ${JSON.stringify(reply.error)}`);
  expect(result.hash).toBe(createHash('sha256').update(tx).digest('hex').toUpperCase());
  return { hash: result.hash, height: Number(result.height) };
}

beforeAll(async () => {
  // The engine is shared (other runs may hold the seed ports for a while): wait for them.
  const seedPorts = [26657, 26658, 26659, 26660, 26670, 26671, 26672, 26673];
  for (let waited = 0; waited < 180; waited++) {
    const free = await Promise.all(seedPorts.map((port) => isPortFree(port, '127.0.0.1')));
    if (free.every(Boolean)) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  deployment = await new LocalTestbed({
    composePath: 'systems/refnode/docker-compose.yml',
    startupTimeoutMs: 60_000,
    // This file checks the seed file's published ports (other tests cover the direct path).
    nodeAccess: 'published',
  }).deploy();
});

afterAll(async () => {
  if (!deployment) return;
  const volumes = (
    await Promise.all(deployment.nodes.map((node) => docker.getContainer(node.containerId).inspect()))
  ).flatMap((info) =>
    info.Mounts.filter((mount) => mount.Type === 'volume').map((mount) => mount.Name as string),
  );
  await deployment.destroy();
  const label = { label: [`${RUN_LABEL}=${deployment.runId}`] };
  expect(await docker.listContainers({ all: true, filters: label })).toEqual([]);
  expect(await docker.listNetworks({ filters: label })).toEqual([]);
  const remaining = ((await docker.listVolumes()).Volumes ?? []).map((volume) => volume.Name);
  expect(volumes.length).toBe(4);
  expect(remaining.filter((name) => volumes.includes(name))).toEqual([]);
});

describe('systems/refnode/docker-compose.yml on the real engine', () => {
  it('starts 4 labelled nodes on the seed ports, their healthcheck passing', async () => {
    expect(
      deployment.endpoints.map((endpoint) => [endpoint.nodeId, endpoint.rpcUrl, endpoint.metricsUrl]),
    ).toEqual([
      ['node0', 'http://127.0.0.1:26657', 'http://127.0.0.1:26670/metrics'],
      ['node1', 'http://127.0.0.1:26658', 'http://127.0.0.1:26671/metrics'],
      ['node2', 'http://127.0.0.1:26659', 'http://127.0.0.1:26672/metrics'],
      ['node3', 'http://127.0.0.1:26660', 'http://127.0.0.1:26673/metrics'],
    ]);
    const containers = await docker.listContainers({
      filters: { label: [`${RUN_LABEL}=${deployment.runId}`] },
    });
    expect(containers).toHaveLength(4);
    for (const container of containers) {
      expect(container.Labels).toMatchObject({
        'meshbench.role': 'node',
        'meshbench.protocol': 'cometbft',
        'meshbench.rpc-port': '26657',
        'meshbench.testbed': 'local',
      });
    }
    const networks = await docker.listNetworks({ filters: { label: [`${RUN_LABEL}=${deployment.runId}`] } });
    expect(networks).toHaveLength(1);
    // The engine's own healthcheck: each container carries the generator's check and timing, and
    // the check's command passes inside it. (The engine first runs it 30 s after the start, Docker's
    // default interval, so the test runs the command itself instead of waiting for the status.)
    for (const node of deployment.nodes) {
      const info = await docker.getContainer(node.containerId).inspect();
      expect(info.Config.Healthcheck?.Test).toEqual(REFNODE_HEALTHCHECK);
      expect(info.Config.Healthcheck?.Interval).toBe(30e9);
      const check = await node.exec(REFNODE_HEALTHCHECK.slice(1));
      expect(check.exitCode, `${node.nodeId}: ${check.stderr}`).toBe(0);
    }
    // The second published port carries Prometheus metrics.
    const metrics = await (await fetch(deployment.endpoints[0]?.metricsUrl ?? '')).text();
    expect(metrics).toMatch(/^# (HELP|TYPE) /m);
  });

  it('a broadcast_tx_commit to node0 is found by tx on node3', async () => {
    const [node0, , , node3] = deployment.endpoints;
    const { hash, height } = await commitTx(node0?.rpcUrl ?? '');
    expect(height).toBeGreaterThan(0);
    let found: { height?: string; hash?: string } | undefined;
    for (let attempt = 0; attempt < 100 && !found; attempt++) {
      const reply = (await (await fetch(`${node3?.rpcUrl}/tx?hash=0x${hash}`)).json()) as {
        result?: { height: string; hash: string };
      };
      found = reply.result;
      if (!found) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(found).toMatchObject({ hash, height: String(height) });
  });

  it('keeps committing with one container stopped', async () => {
    const stopped = deployment.nodes[2];
    await stopped?.stop(2);
    expect((await stopped?.state())?.status).toBe('exited');
    const node0 = deployment.endpoints[0]?.rpcUrl ?? '';
    const first = await commitTx(node0);
    const second = await commitTx(node0);
    expect(second.height).toBeGreaterThan(first.height);
  });
});
