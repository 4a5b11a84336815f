/**
 * The `load_clients` block: each client's applied clock offset and own start instant, and the
 * host offsets read from the deploy's clock check.
 */
import { describe, expect, it } from 'vitest';
import { clockFromClient, clockOffsetOf, loadClientsBlock } from '../../../src/clients/coordinator.js';
import type { ClientOutcome } from '../../../src/clients/merge.js';
import { loadClientsBlockSchema } from '../../../src/clients/schema.js';
import type { LoadResult } from '../../../src/load/types.js';
import type { Deployment } from '../../../src/testbed/testbed.js';

const outcome = (index: number, host: string): ClientOutcome => ({
  clientId: `client${index}`,
  host,
  nodeIds: ['node0', 'node1'],
  share: { index, count: 2 },
  status: 'dead',
  reason: 'no line for 3.1 s',
});

const deployment = {
  environment: {
    testbed: 'remote',
    hosts: [{ name: 'n0', address: '10.0.0.1', clock: { method: 'ssh-date-batch', offsetMs: 0.25 } }],
    clientHosts: [
      { name: 'c0', address: '10.0.0.2', clock: { method: 'ssh-date-batch', offsetMs: 2000.5 } },
      { name: 'c1', address: '10.0.0.3', clock: { method: 'ssh-date-batch', error: 'no date' } },
    ],
  },
} as unknown as Deployment;

describe('the load_clients block', () => {
  it("reads a host's measured offset from the node hosts and the client hosts", () => {
    expect(clockOffsetOf(deployment, 'n0')).toBe(0.25);
    expect(clockOffsetOf(deployment, 'c0')).toBe(2000.5);
    expect(clockOffsetOf(deployment, 'c1')).toBeUndefined();
    expect(clockOffsetOf(deployment, 'elsewhere')).toBeUndefined();
    expect(
      clockOffsetOf({ environment: { testbed: 'local' } } as unknown as Deployment, 'n0'),
    ).toBeUndefined();
  });

  it("gives a client each node's clock against its own: node − client, or none when either is not known", () => {
    const node = { nodeId: 'node1', rpcUrl: 'http://10.0.0.1:8080', clockOffsetMs: 0.25 };
    expect(clockFromClient(node, 2000.5)).toEqual({ ...node, clockOffsetMs: 0.25 - 2000.5 });
    expect(clockFromClient(node, 0.25)).toEqual({ ...node, clockOffsetMs: 0 }); // beside its own node
    expect(clockFromClient(node, undefined)).toEqual({ nodeId: 'node1', rpcUrl: 'http://10.0.0.1:8080' });
    const { clockOffsetMs: _unknown, ...attached } = node;
    expect(clockFromClient(attached, 1)).toEqual(attached);
  });

  it("records each client's offset and its start instant: the agreed start + its offset", () => {
    const agreed = Date.parse('2026-01-01T00:00:10.000Z');
    const block = loadClientsBlock(
      [outcome(0, 'c0'), outcome(1, 'c1')],
      agreed,
      { scheduled: 0 } as LoadResult,
      {
        mode: 'dedicated',
        clocks: [
          { offsetMs: 2000.5, startAtEpochMs: agreed + 2000.5 },
          { offsetMs: undefined, startAtEpochMs: agreed },
        ],
      },
    );
    expect(loadClientsBlockSchema.safeParse(block).success).toBe(true);
    expect(block.mode).toBe('dedicated');
    expect(block.clock_offsets).toBe('partly applied');
    expect(block.per_client[0]).toMatchObject({
      clock_offset_ms: 2000.5,
      start_at: '2026-01-01T00:00:12.000Z',
    });
    expect(block.per_client[1]).not.toHaveProperty('clock_offset_ms');
    expect(block.per_client[1]?.start_at).toBe('2026-01-01T00:00:10.000Z');
    const all = loadClientsBlock([outcome(0, 'c0')], agreed, { scheduled: 0 } as LoadResult, {
      mode: 'dedicated',
      clocks: [{ offsetMs: -3, startAtEpochMs: agreed - 3 }],
    });
    expect(all.clock_offsets).toBe('applied');
    const none = loadClientsBlock([outcome(0, 'c0')], agreed, { scheduled: 0 } as LoadResult);
    expect(none.clock_offsets).toBe('not measured');
    expect(none.mode).toBe('colocated');
  });
});
