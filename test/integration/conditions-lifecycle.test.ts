/**
 * Network conditions, the edges: the orchestrator's own links (--shape-orchestrator), a node
 * restarted by a crash fault getting a new helper (Ctrl-C and SIGKILL mid-level leaving no rule
 * in any namespace: conditions-interrupts.test.ts). Shaping itself is tested in conditions.test.ts and conditions-links.test.ts,
 * a zone matrix on sandbox SSH hosts in conditions-remote.test.ts (shared helpers:
 * conditions-fixture.ts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBin } from './run-bin.js';
import { bench, networkOf, useConditionsDir } from './conditions-fixture.js';

const dir = useConditionsDir();
describe('network conditions: the orchestrator and restarts', () => {
  it("--shape-orchestrator: 100 ms on the orchestrator's links raises latency; the nodes' links stay clear", async () => {
    // two nodes: the orchestrator's links are what is shaped (each node also gets a helper, and a
    // container costs ~2 s of CPU to start and stop on this machine's engine)
    const args = ['--committee', '2', '--loads', '50', '--duration', '6', '--warmup', '1'];
    const yaml = 'events:\n  - { at: 0s, action: delay, nodes: [client], delay: 100ms }\n';
    // not asked: one line naming the flag, before anything starts
    const scenario = join(dir(), 'client.yaml');
    await writeFile(scenario, yaml);
    const refused = await runBin('benchmark', [
      ...args,
      '--scenario',
      scenario,
      '--output-dir',
      join(dir(), 'x'),
    ]);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/client .* is shaped only when asked.*--shape-orchestrator/s);
    const plain = await bench('client-plain', undefined, args);
    const shaped = await bench('client', yaml, [...args, '--shape-orchestrator']);
    const raised = shaped.results.latency_percentiles_ms.p50 - plain.results.latency_percentiles_ms.p50;
    // a request waits 100 ms on its way in, its answer 100 ms on its way out
    expect(
      raised,
      `p50 ${plain.results.latency_percentiles_ms.p50} -> ${shaped.results.latency_percentiles_ms.p50} ms`,
    ).toBeGreaterThanOrEqual(180);
    const links = networkOf(shaped).quality.links;
    expect(links['client->node0']?.delay_ms[0]).toBe(100);
    expect(links['node1->client']?.delay_ms[0]).toBe(100);
    expect(links['node0->node1']?.delay_ms[0] ?? 0).toBe(0);
  }, 240_000);

  it('a node restarted by a crash fault gets a new helper and its links again', async () => {
    const rec = await bench(
      'restart',
      'events:\n  - { at: 0s, action: delay, delay: 20ms }\n  - { at: 3s, action: crash, nodes: [node3] }\n  - { at: 5s, action: restart, nodes: [node3] }\n',
      ['--committee', '4', '--loads', '50', '--duration', '12', '--warmup', '1'],
    );
    const block = networkOf(rec);
    const reattach = block.events.find((event) => event.edge === 'reattach');
    expect(reattach, JSON.stringify(block.events)).toBeDefined();
    expect(reattach?.nodes).toEqual(['node3']);
    expect(reattach?.changed).toBeGreaterThanOrEqual(1);
    expect(reattach?.errors).toBeUndefined();
  }, 180_000);
});
