/**
 * The networks the bench scripts shape or watch: by default `count` idle containers (the
 * network helper's image, sleeping) on one bridge, each with a node handle and this machine as
 * their host, so a script measures the tool's own cost on a quiet machine; with `refnodes`, a
 * local network of reference nodes (busy ones load the machine, which makes every figure
 * noisier). Every object is labelled with the run, as the tool's own are.
 */
import type { Deployment } from '../../../src/testbed/testbed.js';

export async function benchNetwork(options: {
  readonly nodes: number;
  readonly refnodes: boolean;
  /** The run ID's prefix (`bench-monitor`). */
  readonly prefix: string;
}): Promise<Deployment> {
  if (options.refnodes) {
    const { LocalTestbed } = await import('../../../src/testbed/local/local-testbed.js');
    const testbed = new LocalTestbed({
      committee: options.nodes,
      startupTimeoutMs: 180_000,
      // no fdatasync: 16 nodes on a small machine's disk would not all be ready in time
      nodeEnvironment: { REFNODE_FSYNC: 'false' },
    });
    try {
      return await testbed.deploy({});
    } catch (error) {
      // nodes that were not ready in time: their containers and network go too
      await testbed.forceRemove().catch(() => undefined);
      throw error;
    }
  }
  const { LocalHost } = await import('../../../src/testbed/host-files.js');
  const { ContainerNodeHandle } = await import('../../../src/testbed/docker/node-handle.js');
  const { createDocker } = await import('../../../src/testbed/local/docker-engine.js');
  const docker = createDocker();
  const runId = `${options.prefix}-${Date.now()}`;
  const labels = { 'meshbench.run': runId, 'meshbench.testbed': 'local' };
  const network = await docker.createNetwork({ Name: runId, Labels: labels });
  const containers = await Promise.all(
    Array.from({ length: options.nodes }, async (_, i) => {
      const container = await docker.createContainer({
        Image: 'meshbench/nethelper:latest',
        Cmd: ['sleep', 'infinity'],
        name: `${runId}-node${i}`,
        Labels: labels,
        HostConfig: { NetworkMode: runId },
      });
      await container.start();
      return container;
    }),
  );
  const nodes = containers.map(
    (container, i) =>
      new ContainerNodeHandle({
        docker,
        nodeId: `node${i}`,
        containerId: container.id,
        endpoint: { nodeId: `node${i}`, rpcUrl: 'http://127.0.0.1:1', host: 'local' },
        sidecarLabels: labels,
      }),
  );
  const destroy = async () => {
    await Promise.all(containers.map((c) => c.remove({ force: true }).catch(() => undefined)));
    await network.remove().catch(() => undefined);
  };
  return {
    runId,
    kind: 'local',
    nodes,
    hosts: [new LocalHost()],
    endpoints: [],
    destroy,
    release: destroy,
    [Symbol.asyncDispose]: destroy,
  } as unknown as Deployment;
}
