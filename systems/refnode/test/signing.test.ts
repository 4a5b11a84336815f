/** Signed votes on a real network: a signing node drops votes whose signature does not verify. */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from './helpers.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const invalidVotes = async (cluster: Cluster, i: number): Promise<number> => {
  const metric = await cluster.node(i).metrics.invalidVotes.get();
  return metric.values[0]?.value ?? 0;
};

describe('vote signatures', () => {
  it("drop an unsigned node's votes at the signing nodes, which still commit with the other three", async () => {
    cluster = await Cluster.start({ n: 4, nodeArgs: (i) => (i === 3 ? ['--signing', 'false'] : []) });
    const c = cluster;
    await waitFor(
      'height 5 on the signing nodes',
      () => [0, 1, 2].every((i) => c.node(i).store.height >= 5),
      15_000,
    );
    for (const i of [0, 1, 2]) expect(await invalidVotes(c, i)).toBeGreaterThan(0);
    expect(await invalidVotes(c, 3)).toBe(0); // it verifies nothing
    // The signing nodes' certificates hold only signed precommits, never node3's.
    for (const i of [0, 1, 2]) {
      const cb = c.node(i).store.get(4)!;
      expect(cb.signers).not.toContain('node3');
      expect(cb.votes?.every((v) => v.signature.length === 64)).toBe(true);
    }
    expect(c.violations).toEqual([]);
  });
});
