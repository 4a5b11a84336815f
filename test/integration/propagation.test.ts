/**
 * Propagation latency per node pair and peer round-trip times on real networks: `benchmark`
 * as users run it (bin/benchmark.js) on local 4-node refnode networks on this machine's
 * engine, plain and with the AWS zone matrix (delay through nfq-delay on this kernel), and on
 * a 3-member etcd cluster. The zone matrix must come back out of the system: a pair across
 * the Atlantic takes at least as long as its shortest way through a third zone, and the nodes' own
 * round-trip times show twice the matrix's one-way delay.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PropagationBlock } from '../../src/monitor/propagation.js';
import { runBin } from './run-bin.js';

const ZONES = 'examples/zones/aws-4-regions.csv';
/**
 * That matrix's one-way delays (ms) between the nodes, by pair: nodes go round robin over its
 * zones, so node0 is in N_Virginia, node1 in London, node2 in Tokyo, node3 in Sydney.
 */
const ONE_WAY_MS: Readonly<Record<string, number>> = {
  'node0 node1': 38,
  'node0 node2': 73,
  'node0 node3': 98,
  'node1 node2': 104,
  'node1 node3': 131,
  'node2 node3': 57,
};
const oneWayMs = (a: string, b: string): number => ONE_WAY_MS[[a, b].sort().join(' ')] as number;
/** N_Virginia → Tokyo → London: the shortest way through a third zone to London. */
const VIRGINIA_TOKYO_LONDON_MS = oneWayMs('node0', 'node2') + oneWayMs('node2', 'node1');

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-propagation-it-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function note(line: string): void {
  process.stdout.write(`    ${line}\n`);
}

async function propagationOf(name: string, args: readonly string[]): Promise<PropagationBlock> {
  const output = join(dir, name);
  const run = await runBin('benchmark', [...args, '--cleanup', '--output-dir', output]);
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
  expect(run.stdout).toMatch(/propagation p50 ms/);
  const [runDir] = await readdir(output);
  const record = JSON.parse(
    await readFile(join(output, runDir as string, 'local-benchmark-1.json'), 'utf8'),
  ) as { runs: { blocks?: { propagation?: PropagationBlock } }[] };
  const block = record.runs[0]?.blocks?.propagation;
  if (!block) throw new Error(`no propagation block in the record\n${run.stdout}`);
  return block;
}

const pair = (block: PropagationBlock, from: string, to: string) => {
  const found = block.pairs.find((p) => p.from === from && p.to === to);
  if (!found) throw new Error(`no pair ${from} -> ${to}`);
  return found;
};

const matrixNote = (block: PropagationBlock): string =>
  block.pairs.map((p) => `${p.from}->${p.to} ${p.p50_ms?.toFixed(0)}`).join(', ');

const rttNote = (block: PropagationBlock): string =>
  Object.entries(block.peer_rtt_ms ?? {})
    .flatMap(([node, peers]) =>
      Object.entries(peers).map(([peer, ms]) => `${node}->${peer} ${ms.toFixed(1)}`),
    )
    .join(', ');

const REFNODE = ['--committee', '4', '--loads', '50', '--duration', '10'];
const NODES = ['node0', 'node1', 'node2', 'node3'];

describe('propagation latency on a local refnode network', () => {
  it('--propagation: 12 pairs, each seen, plausible; the nodes report their peers’ round trips', async () => {
    const block = await propagationOf('plain', [...REFNODE, '--propagation']);
    note(`plain p50 ms: ${matrixNote(block)}`);
    note(`plain peer RTT ms (median of the level): ${rttNote(block)}`);
    expect(block.nodes).toEqual(NODES);
    expect(block.pairs).toHaveLength(12);
    expect(block.probes.refused).toBe(0);
    expect(block.probes.sent).toBeGreaterThanOrEqual(12);
    for (const p of block.pairs) {
      expect(p.count, JSON.stringify(p)).toBeGreaterThan(0);
      expect(p.missing).toBe(0);
      expect(p.p50_ms).toBeGreaterThan(0);
      expect(p.p50_ms).toBeLessThan(2000);
      expect(p.p99_ms).toBeGreaterThanOrEqual(p.p50_ms as number);
    }
    expect(block.peer_rtt_metric).toBe('refnode_peer_rtt_seconds');
    for (const node of NODES) {
      const peers = block.peer_rtt_ms?.[node] ?? {};
      expect(Object.keys(peers).sort()).toEqual(NODES.filter((n) => n !== node));
      // Measured, in milliseconds (a bound on the unit, not on the machine): 1-4 ms on a local
      // bridge beside another integration file, but 61 ms beside a 16-node benchmark at 2,000
      // tx/s (load average 20 on 2 cores), so no tighter bound holds on a busy machine; the
      // zones test below checks the delays come out as floors, which load can only raise.
      for (const ms of Object.values(peers)) {
        expect(ms).toBeGreaterThan(0);
        expect(ms).toBeLessThan(2000);
      }
    }
  });

  it('--zones: the matrix comes back out, in propagation and in the round trips (default on with conditions)', async () => {
    const block = await propagationOf('zones', [...REFNODE, '--zones', ZONES]);
    note(`zones p50 ms: ${matrixNote(block)}`);
    note(`zones peer RTT ms (median of the level): ${rttNote(block)}`);
    expect(block.pairs).toHaveLength(12);
    for (const p of block.pairs) expect(p.count, JSON.stringify(p)).toBeGreaterThan(0);
    // node0 (N. Virginia) -> node1 (London): node1 commits a probe with precommits from a quorum
    // of 3, so one of them comes from Tokyo or Sydney, whose node needs the probe's block first:
    // at least Virginia -> Tokyo -> London (73 + 104 ms; through Sydney, 98 + 131). A floor from
    // the matrix, not from the plain network's level: measured at another time, that one swung
    // with the machine's load (a CI run beside another lane: plain 834 ms, zoned 764 ms; 52 and
    // 426 ms on a quieter one), and load only adds to a floor.
    const zoned = pair(block, 'node0', 'node1').p50_ms;
    note(`node0->node1 p50: zones ${zoned?.toFixed(1)} ms, at least ${VIRGINIA_TOKYO_LONDON_MS} ms`);
    expect(zoned).toBeGreaterThanOrEqual(VIRGINIA_TOKYO_LONDON_MS);
    // The refnode's pings: every pair's round trip at least twice the matrix's one-way delay
    // (less 15 ms of slack for the pings' own timing), a floor that load can only raise. The
    // matrix's order between pairs is not asserted: measured in the same level, a busy
    // machine still added unequal amounts (a CI run: node0 -> node1 381 ms against node0 ->
    // node2 319 ms, for 76 and 146 ms in the matrix; a clean-clone run before, 119 against 76).
    for (const from of NODES) {
      for (const to of NODES.filter((node) => node !== from)) {
        const rtt = block.peer_rtt_ms?.[from]?.[to];
        expect(rtt, `${from} -> ${to}: ${rttNote(block)}`).toBeGreaterThanOrEqual(
          2 * oneWayMs(from, to) - 15,
        );
      }
    }
  });
});

describe('propagation latency on a 3-member etcd cluster', () => {
  it('a watch on each member sees every probe; etcd exports no peer round-trip gauge', async () => {
    const block = await propagationOf('etcd', [
      '--docker-compose-path',
      'systems/etcd/docker-compose.yml',
      '--protocol',
      'etcd',
      '--loads',
      '50',
      '--duration',
      '6',
      '--propagation',
      // the members' data volumes go with --cleanup
      '--cleanup',
    ]);
    note(`etcd p50 ms: ${matrixNote(block)}`);
    expect(block.method).toMatch(/\/v3\/watch/);
    expect(block.nodes).toEqual(['kv0', 'kv1', 'kv2']);
    expect(block.pairs).toHaveLength(6);
    for (const p of block.pairs) {
      expect(p.count, JSON.stringify(p)).toBeGreaterThan(0);
      expect(p.p50_ms).toBeGreaterThan(0);
      expect(p.p50_ms).toBeLessThan(2000);
    }
    expect(block.peer_rtt_ms).toBeUndefined();
  });
});
