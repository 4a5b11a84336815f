/**
 * The mesh protocol on a real P2P system: 4 js-libp2p gossipsub nodes (the lean image
 * meshbench/libp2p-gossipsub, systems/libp2p-gossipsub/, built by `npm run images libp2p`) in a
 * full mesh on this machine's engine, `benchmark --protocol mesh` as users run it at 100 msg/s
 * for 10 s: every message delivered on all 4 nodes, the 4×4 matrix complete with a p50 and a
 * p99 in every cell, every accepted publish delivered to every node. Then a generated star of
 * 5 (`--system libp2p-gossipsub --topology star`): the hub forwards everything, so it sends
 * more and spends more CPU than every leaf. And a peer crashed and restarted: gossip keeps
 * nothing, so what was published while it was down never reaches it, and the block says so.
 * And a bisect partition with libp2p's liveness ping at 1 s: the connections across the cut are
 * closed, so what was published on one side while it held never reaches the other (gossip
 * offers only its last few seconds again after the redial), and the record counts it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeshBlock } from '../../src/monitor/mesh/monitor.js';
import { expectCompleteMesh, firstRecord, MESH_NODES, runFullMesh } from './mesh-fixture.js';
import { ROOT, runBin } from './run-bin.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-mesh-it-'));
  // Builds the image when its recipe changed (seconds when it did not).
  await promisify(execFile)('bash', ['scripts/build-images.sh', 'libp2p'], { cwd: ROOT, timeout: 180_000 });
}, 200_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('libp2p gossipsub behind the mesh protocol', () => {
  it('delivers every message on all 4 nodes of a full mesh, with a complete 4×4 matrix', async () => {
    const { block } = await runFullMesh('systems/libp2p-gossipsub/docker-compose.yml', join(dir, 'full'));
    expectCompleteMesh(block);
  }, 180_000);

  it('a generated star of 5 peers: the hub sends more and uses more CPU than every leaf', async () => {
    const output = join(dir, 'star');
    const run = await runBin('benchmark', [
      '--system',
      'libp2p-gossipsub',
      '--committee',
      '5',
      '--topology',
      'star',
      '--local-loads',
      '200',
      '--duration',
      '10',
      '--monitor',
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const record = await firstRecord<{
      runs: {
        blocks?: {
          mesh?: MeshBlock;
          resources?: {
            nodes: { node_id: string; cpu_percent: { mean: number }; net_tx_bytes_per_s: { mean: number } }[];
          };
        };
      }[];
    }>(output);
    const blocks = record.runs[0]?.blocks;
    expect(blocks?.mesh?.never_delivered).toBe(0);
    const nodes = blocks?.resources?.nodes ?? [];
    expect(nodes.map((node) => node.node_id).sort()).toEqual(['node0', 'node1', 'node2', 'node3', 'node4']);
    const hub = nodes.find((node) => node.node_id === 'node0')!;
    const leaves = nodes.filter((node) => node !== hub);
    const line = nodes
      .map(
        (node) =>
          `${node.node_id} ${node.cpu_percent.mean} % ${Math.round(node.net_tx_bytes_per_s.mean)} B/s`,
      )
      .join(', ');
    process.stdout.write(`    ${line}\n`);
    for (const leaf of leaves) {
      expect(hub.net_tx_bytes_per_s.mean, line).toBeGreaterThan(leaf.net_tx_bytes_per_s.mean);
      expect(hub.cpu_percent.mean, line).toBeGreaterThan(leaf.cpu_percent.mean);
    }
  }, 240_000);

  it('a peer crashed and restarted loses what was published while it was down (gossip keeps nothing)', async () => {
    const output = join(dir, 'crash');
    const scenario = join(dir, 'crash.yaml');
    await writeFile(
      scenario,
      [
        'events:',
        '  - { at: 3s, action: crash, nodes: [node3] }',
        '  - { at: 7s, action: restart, nodes: [node3] }',
        '',
      ].join('\n'),
    );
    const run = await runBin('benchmark', [
      '--docker-compose-path',
      'systems/libp2p-gossipsub/docker-compose.yml',
      '--protocol',
      'mesh',
      '--local-loads',
      '50',
      '--duration',
      '11',
      '--scenario',
      scenario,
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const record = await firstRecord<{ runs: { blocks?: { mesh?: MeshBlock } }[] }>(output);
    const crash = record.runs[0]?.blocks?.mesh?.windows?.[0];
    expect(crash?.label).toMatch(/node3/);
    expect(crash!.published).toBeGreaterThan(100);
    const node3 = crash!.receivers.find((receiver) => receiver.node === 'node3')!;
    // down for 4 s of a 50 msg/s load: nearly all of what was published meanwhile is lost to it
    expect(node3.missing).toBeGreaterThan(crash!.published / 2);
    for (const other of crash!.receivers.filter((receiver) => receiver.node !== 'node3')) {
      expect(other.missing, other.node).toBe(0);
    }
    expect(run.stdout).toMatch(/mesh: .*node3.* never reached: node3 \d+/);
  }, 240_000);

  it('a bisect partition that outlasts the liveness ping: what crossed the cut is lost, and counted', async () => {
    const output = join(dir, 'partition');
    const scenario = join(dir, 'bisect.yaml');
    await writeFile(scenario, 'events:\n  - { from: 3s, to: 10s, action: partition, shape: bisect }\n');
    // the user's own override, merged as compose -f does: libp2p's connection monitor pings
    // every second and gives up after one (its defaults, 10 s and at least 5 s, outlast a short cut)
    const override = join(dir, 'fast-ping.yml');
    await writeFile(
      override,
      `services:\n${MESH_NODES.map((node) => `  ${node}:\n    environment:\n      MESH_PING_INTERVAL_MS: "1000"\n      MESH_PING_TIMEOUT_MS: "1000"\n`).join('')}`,
    );
    const run = await runBin('benchmark', [
      '--docker-compose-path',
      'systems/libp2p-gossipsub/docker-compose.yml',
      '--docker-compose-path',
      override,
      '--protocol',
      'mesh',
      '--local-loads',
      '50',
      '--duration',
      '16',
      '--scenario',
      scenario,
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/partition bisect healed at/);
    const record = await firstRecord<{ runs: { blocks?: { mesh?: MeshBlock } }[] }>(output);
    const mesh = record.runs[0]?.blocks?.mesh;
    if (!mesh) throw new Error(`no mesh block in the record\n${run.stdout}`);
    const cut = mesh.windows?.find((window) => /partition/.test(window.label));
    if (!cut) throw new Error(`no partition window in the mesh block: ${JSON.stringify(mesh.windows)}`);
    const lost = cut.receivers.map((receiver) => `${receiver.node} ${receiver.missing}`).join(', ');
    process.stdout.write(
      `    ${cut.published} published during the cut; never reached: ${lost}; ${mesh.delivered_everywhere} of ${mesh.messages} everywhere; available ${mesh.availability.available} of ${mesh.availability.seconds} s\n`,
    );
    expect(cut.published).toBeGreaterThan(200);
    // each side misses some of what the other published while the cut held ...
    for (const receiver of cut.receivers) expect(receiver.missing, lost).toBeGreaterThan(0);
    // ... and the record counts them: not delivered everywhere, missing on their receivers
    expect(mesh.delivered_everywhere).toBeLessThan(mesh.messages);
    for (const receiver of mesh.receivers) {
      const inCut = cut.receivers.find((other) => other.node === receiver.node)!;
      expect(receiver.missing, receiver.node).toBeGreaterThanOrEqual(inCut.missing);
    }
    expect(run.stdout).toMatch(/mesh: .*partition.* never reached: node\d \d+/);
    // the neighbours dialled each other again after the heal: seconds with every message
    // everywhere came back (3 s before the cut, and some after it; none while it held)
    expect(mesh.availability.available, JSON.stringify(mesh.availability)).toBeGreaterThanOrEqual(6);
  }, 240_000);
});
