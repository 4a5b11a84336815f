/**
 * The mesh protocol on a sync mesh: 4 crdt-sync nodes (one shared Yjs document, neighbours
 * synced over TCP; systems/crdt-sync/, the lean image built by `npm run images crdt`) on this
 * machine's engine, `benchmark --protocol mesh` as users run it.
 * - A full mesh at 100 msg/s for 10 s: every message on all 4 nodes, the 4×4 matrix complete.
 * - `local-network --protocol mesh` (the bundled command, dist/bundle/): every message committed.
 *   The bundle once lost undici's named exports and with them every delivery stream.
 * - A bisect partition of 5 s, then a crash and restart of node3: what was published on one
 *   side reaches the other only after the heal (the catch-up), and the restarted node catches
 *   up what it missed, so nothing is lost; the commit p99 spans the cut, the mesh block's
 *   windows say who caught up how late, and the nodes' resync series show catch-ups smaller
 *   than the whole state they would otherwise resend.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MeshBlock } from '../../src/monitor/mesh/monitor.js';
import {
  expectCompleteMesh,
  expectEveryAcceptedCommitted,
  firstRecord,
  MESH_NODES,
  runFullMesh,
  useMeshSystem,
} from './mesh-fixture.js';
import { runBin } from './run-bin.js';

const dir = useMeshSystem('crdt', 'crdt');

interface Record {
  results: { latency_stage: string; latency_percentiles_ms: { p99: number } };
  runs: {
    blocks?: {
      mesh?: MeshBlock;
      metrics?: { nodes: { [node: string]: { [series: string]: (number | null)[] } } };
    };
  }[];
}

describe('crdt-sync behind the mesh protocol', () => {
  it('delivers every message on all 4 nodes of a full mesh, with a complete 4×4 matrix', async () => {
    const { block } = await runFullMesh('systems/crdt-sync/docker-compose.yml', join(dir(), 'full'));
    expectCompleteMesh(block);
  }, 180_000);

  it('local-network --protocol mesh (the bundled command) commits every message', async () => {
    const run = await runBin('local-network', [
      '--docker-compose-path',
      'systems/crdt-sync/docker-compose.yml',
      '--protocol',
      'mesh',
      '--num-transactions',
      '200',
      '--transaction-rate',
      '100',
      '--cleanup',
      '--output',
      join(dir(), 'local-network'),
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expectEveryAcceptedCommitted(run.stdout);
  }, 180_000);

  it('resyncs after a 5 s bisect partition and a crash: nothing lost, catch-ups smaller than the whole state', async () => {
    const output = join(dir(), 'partition');
    const scenario = join(dir(), 'bisect.yaml');
    await writeFile(
      scenario,
      [
        'events:',
        '  - { from: 3s, to: 8s, action: partition, shape: bisect }',
        '  - { at: 10s, action: crash, nodes: [node3] }',
        '  - { at: 13s, action: restart, nodes: [node3] }',
        '',
      ].join('\n'),
    );
    const run = await runBin('benchmark', [
      '--docker-compose-path',
      'systems/crdt-sync/docker-compose.yml',
      '--protocol',
      'mesh',
      '--local-loads',
      '50',
      '--duration',
      '17',
      '--scenario',
      scenario,
      '--metrics-series',
      'crdt_resync_bytes_total,crdt_resync_full_state_bytes_total,crdt_resyncs_total,crdt_state_bytes',
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/partition bisect healed at/);
    const result = await firstRecord<Record>(output);
    const [level] = result.runs;
    const mesh = level?.blocks?.mesh;
    if (!mesh) throw new Error(`no mesh block in the record\n${run.stdout}`);
    // A sync mesh loses nothing: every message published on either side is on every node.
    expect(mesh.never_delivered).toBe(0);
    expect(mesh.delivered_everywhere).toBe(mesh.messages);
    expect(mesh.messages).toBeGreaterThan(300);
    // The block's window: every node held all that was published during the cut, with a
    // catch-up time each (how long after the heal depends on the redial, so no bound here;
    // that the cut delayed messages by seconds is the commit p99 above).
    const [cut] = mesh.windows ?? [];
    expect(cut?.label).toMatch(/partition/);
    expect(cut!.published).toBeGreaterThan(100);
    expect(cut!.receivers.map((receiver) => receiver.missing)).toEqual([0, 0, 0, 0]);
    expect(cut!.receivers.every((receiver) => receiver.resync_ms !== null && receiver.resync_ms >= 0)).toBe(
      true,
    );
    expect(run.stdout).toMatch(/mesh: .*partition.* \(\d+ published during it\): /);
    // node3 crashed and restarted with an empty document: it caught up what it missed, too
    const crash = (mesh.windows ?? []).find((window) => /node3/.test(window.label));
    expect(crash, JSON.stringify(mesh.windows)).toBeDefined();
    expect(crash!.published).toBeGreaterThan(50);
    const node3 = crash!.receivers.find((receiver) => receiver.node === 'node3')!;
    expect(node3.missing).toBe(0);
    expect(node3.resync_ms).not.toBeNull();
    // Messages published during the cut reached the other side only after the heal.
    expect(result.results.latency_stage).toBe('commit');
    expect(result.results.latency_percentiles_ms.p99).toBeGreaterThan(2000);
    const nodes = level?.blocks?.metrics?.nodes ?? {};
    const last = (node: string, series: string): number => {
      const values = (nodes[node]?.[series] ?? []).filter((value): value is number => value !== null);
      return values.at(-1) ?? 0;
    };
    const first = (node: string, series: string): number =>
      (nodes[node]?.[series] ?? []).find((value): value is number => value !== null) ?? 0;
    const most = (node: string, series: string): number =>
      Math.max(0, ...(nodes[node]?.[series] ?? []).filter((value): value is number => value !== null));
    // Every node reconnected across the cut: more catch-ups later than at the start. node3's
    // counter starts again with its crash, and when the crash came soon after the heal its
    // series may never show the heal's catch-ups above its first value (seen in CI: 6 and 6), nor
    // a visible drop; its catch-up after the restart is checked by its window above instead.
    const series = 'crdt_resyncs_total';
    for (const node of MESH_NODES.filter((name) => name !== 'node3')) {
      expect(most(node, series), `${node}: ${JSON.stringify(nodes[node]?.[series])}`).toBeGreaterThan(
        first(node, series),
      );
    }
    // ... and what the catch-ups carried is far less than resending the whole state each time.
    const caughtUp = MESH_NODES.reduce((sum, node) => sum + last(node, 'crdt_resync_bytes_total'), 0);
    const whole = MESH_NODES.reduce((sum, node) => sum + last(node, 'crdt_resync_full_state_bytes_total'), 0);
    process.stdout.write(`    catch-ups ${caughtUp} bytes against ${whole} bytes of whole state\n`);
    expect(caughtUp).toBeGreaterThan(10_000);
    expect(caughtUp).toBeLessThan(whole / 2);
    // The whole state's size, counted as it grows (not encoded at each scrape): each of the
    // messages is an entry of its 684 base64 characters of payload, its 64-digit id and a few dozen
    // bytes of Yjs framing (the warm-up's entries come on top).
    for (const node of MESH_NODES) {
      const bytes = most(node, 'crdt_state_bytes');
      expect(bytes, `${node}: ${JSON.stringify(nodes[node]?.crdt_state_bytes)}`).toBeGreaterThan(
        0.9 * mesh.messages * (684 + 64),
      );
      expect(bytes).toBeLessThan(2 * mesh.messages * (684 + 64 + 100));
    }
  }, 240_000);
});
