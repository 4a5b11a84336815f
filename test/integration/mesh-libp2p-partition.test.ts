/**
 * js-libp2p gossipsub (systems/libp2p-gossipsub/) under a bisect partition, with libp2p's
 * liveness ping at 1 s from the user's own compose override: the connections across the cut are
 * closed, so what was published on one side while it held never reaches the other (gossip
 * offers only its last few seconds again after the redial), and the record counts it; after
 * the heal the neighbours dial each other again and every message reaches every node.
 * (The full mesh, a star, a crash: mesh-libp2p.test.ts.)
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MeshBlock } from '../../src/monitor/mesh/monitor.js';
import { firstRecord, MESH_NODES, useMeshSystem } from './mesh-fixture.js';
import { runBin } from './run-bin.js';

const dir = useMeshSystem('libp2p', 'mesh-cut');

describe('libp2p gossipsub under a partition', () => {
  it('a bisect partition that outlasts the liveness ping: what crossed the cut is lost, and counted', async () => {
    const output = join(dir(), 'partition');
    const scenario = join(dir(), 'bisect.yaml');
    await writeFile(scenario, 'events:\n  - { from: 3s, to: 10s, action: partition, shape: bisect }\n');
    // the user's own override, merged as compose -f does: libp2p's connection monitor pings
    // every second and gives up after one (its defaults, 10 s and at least 5 s, outlast a short cut)
    const override = join(dir(), 'fast-ping.yml');
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
