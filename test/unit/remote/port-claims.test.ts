/**
 * Another run's node still running on a host holds ports this run's nodes need there (host
 * networking): found from the containers' labels before any node starts.
 */
import { describe, expect, it } from 'vitest';
import {
  firstClaim as claimOf,
  hostPortsLabel,
  hostPortsOf,
  wantsOf,
} from '../../../src/testbed/remote/port-claims.js';

const placed = (nodeId: string, offset = 0) => ({
  nodeId,
  ports: { rpc: 26657 + offset, p2p: 26656 + offset, metrics: 26660 + offset },
});
const firstClaim = (
  runId: string,
  placements: Parameters<typeof wantsOf>[0],
  containers: Parameters<typeof claimOf>[2],
) => claimOf(runId, wantsOf(placements), containers);
const node = (runId: string, nodeId: string, ports?: string) => ({
  Labels: {
    'meshbench.run': runId,
    'meshbench.testbed': 'remote',
    'meshbench.node': nodeId,
    ...(ports === undefined ? {} : { 'meshbench.host-ports': ports }),
  },
});

describe('ports another run holds on a host', () => {
  it('labels a node with its host ports, each once (a system whose metrics are on its RPC port)', () => {
    expect(hostPortsLabel(hostPortsOf(placed('node0')))).toEqual({
      'meshbench.host-ports': '26657,26656,26660',
    });
    expect(hostPortsLabel(hostPortsOf({ ports: { rpc: 8080, p2p: 4001, metrics: 8080 } }))).toEqual({
      'meshbench.host-ports': '8080,4001',
    });
  });

  it("names the other run's node, the port and this run's node that needs it", () => {
    const claim = firstClaim(
      'new',
      [placed('node0'), placed('node1', 100)],
      [node('new', 'node0', '26657,26656,26660'), node('old', 'node3', '26757,26756,26760')],
    );
    expect(claim).toEqual({ runId: 'old', nodeId: 'node3', port: 26757, wantedBy: 'node1' });
  });

  it('lets a run start beside another run whose nodes use other ports, and beside its own', () => {
    expect(firstClaim('new', [placed('node0')], [node('old', 'node0', '8080,4001')])).toBeUndefined();
    expect(firstClaim('new', [placed('node0')], [node('new', 'node0', '26657,26656,26660')])).toBeUndefined();
    expect(firstClaim('new', [], [node('old', 'node0')])).toBeUndefined();
  });

  it('takes a node without the label (made before it) for one on the same ports', () => {
    expect(firstClaim('new', [placed('node0')], [{ Labels: null }, node('old', 'node0')])).toEqual({
      runId: 'old',
      nodeId: 'node0',
      port: 26657,
      wantedBy: 'node0',
    });
  });
});
