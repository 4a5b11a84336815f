import type { ContainerInfo } from 'dockerode';
import { describe, expect, it } from 'vitest';
import { RUN_LABEL } from '../../../../src/common/labels.js';
import {
  isPortFree,
  pickFreePorts,
  type ContainerLister,
  type ContainerPortConfig,
} from '../../../../src/testbed/local/ports.js';

/** Six ports in a row that nothing on this machine listens on (loopback). */
async function freeRun(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 40_000 + Math.floor(Math.random() * 20_000);
    const free = await Promise.all([0, 1, 2, 3, 4, 5].map((k) => isPortFree(base + k, '127.0.0.1')));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no six free ports in a row');
}

/** An engine with the given containers; inspect answers the configured bindings of each. */
function engine(containers: { info: Partial<ContainerInfo>; bindings?: number[] }[]): ContainerLister & {
  inspected: string[];
} {
  const inspected: string[] = [];
  return {
    inspected,
    listContainers: async (options) =>
      containers
        .map((container) => container.info as ContainerInfo)
        .filter((info) => options?.all === true || info.State === 'running'),
    inspectContainer: async (id): Promise<ContainerPortConfig> => {
      inspected.push(id);
      const found = containers.find((container) => container.info.Id === id);
      return {
        HostConfig: {
          PortBindings: {
            '26657/tcp': (found?.bindings ?? []).map((port) => ({
              HostIp: '127.0.0.1',
              HostPort: String(port),
            })),
          },
        },
      };
    },
  };
}

describe('pickFreePorts', () => {
  it("skips what running containers publish and what meshbench's stopped (crashed) nodes will bind again", async () => {
    const base = await freeRun();
    const fake = engine([
      {
        info: {
          Id: 'running',
          State: 'running',
          Labels: {},
          Ports: [{ IP: '127.0.0.1', PrivatePort: 26657, PublicPort: base, Type: 'tcp' }],
        },
      },
      // a node a crash fault killed: no port bound now, its own again at the restart
      {
        info: { Id: 'crashed', State: 'exited', Labels: { [RUN_LABEL]: 'r1' }, Ports: [] },
        bindings: [base + 1],
      },
      // someone else's stopped container: not meshbench's to keep free
      { info: { Id: 'foreign', State: 'exited', Labels: {}, Ports: [] }, bindings: [base + 2] },
    ]);
    expect(await pickFreePorts(fake, 2, base)).toEqual([base + 2, base + 3]);
    expect(fake.inspected).toEqual(['crashed']);
  });

  it('a stopped container that cannot be inspected (removed meanwhile) keeps nothing', async () => {
    const base = await freeRun();
    const fake = engine([
      { info: { Id: 'gone', State: 'exited', Labels: { [RUN_LABEL]: 'r1' }, Ports: [] } },
    ]);
    fake.inspectContainer = () => Promise.reject(new Error('no such container'));
    expect(await pickFreePorts(fake, 1, base)).toEqual([base]);
  });
});
