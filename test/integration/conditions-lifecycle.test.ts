/**
 * Network conditions, the edges: the orchestrator's own links (--shape-orchestrator), a node
 * restarted by a crash fault getting a new helper, Ctrl-C and SIGKILL mid-level leaving no rule
 * in any namespace. Shaping itself is tested in conditions.test.ts and conditions-links.test.ts,
 * a zone matrix on sandbox SSH hosts in conditions-remote.test.ts (shared helpers:
 * conditions-fixture.ts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUN_LABEL } from '../../src/common/labels.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { runBin } from './run-bin.js';
import { bench, networkOf, ourRulesIn, startConditioned, useConditionsDir } from './conditions-fixture.js';

const dir = useConditionsDir();
// Scoped to the run: the other integration lane may run conditions of its own meanwhile.
const runIdOf = (project: string | undefined) => (project ?? 'no-project-seen').replace(/^meshbench-/, '');
const helpersOf = (project: string | undefined) => ({
  label: [`${RUN_LABEL}=${runIdOf(project)}`, 'meshbench.role=nethelper'],
});

describe('network conditions: the orchestrator, restarts and interrupts', () => {
  it("--shape-orchestrator: 100 ms on the orchestrator's links raises latency; the nodes' links stay clear", async () => {
    const args = ['--committee', '4', '--loads', '50', '--duration', '6', '--warmup', '1'];
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
    expect(links['node2->client']?.delay_ms[0]).toBe(100);
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

  it('Ctrl-C mid-level: the helpers undo every rule (chains, tc trees, the IFB) and go', async () => {
    const { child, output, project } = await startConditioned(
      'sigint',
      'events:\n  - { at: 1s, action: delay, delay: 20ms }\n  - { at: 1s, action: bandwidth, links: ["client->node1", "node0->node2"], rate: 50mbit }\n  - { at: 1s, action: partition, nodes: [node3] }\n',
      /network: partition/,
      ['--shape-orchestrator'],
    );
    const text = output();
    const docker = createDocker();
    const mine = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${project}`] },
    });
    try {
      expect(project, text).toBeDefined();
      // the rules are there while the level goes (the IFB too, for client->node1's rate) ...
      const node1 = mine.find((node) => node.Labels['com.docker.compose.service'] === 'node1');
      const during = await ourRulesIn(node1?.Id as string);
      expect(during, text).toMatch(/MB-/);
      expect(during, text).toMatch(/mb-ifb/);
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, text).not.toBe(0);
      // ... and gone once meshbench has exited: no helper, no chain, no tc tree, no IFB
      expect(await docker.listContainers({ all: true, filters: helpersOf(project) })).toEqual([]);
      expect(mine.length, text).toBe(4);
      for (const node of mine) expect(await ourRulesIn(node.Id), node.Names[0]).toBe('');
    } finally {
      child.kill('SIGKILL');
      const down = await runBin('local-network', ['--down', runIdOf(project)]);
      expect(down.code, down.stderr).toBe(0);
    }
  }, 180_000);

  it('after a SIGKILL of meshbench, the helpers undo their rules and go; --down removes the rest', async () => {
    const { child, output, project } = await startConditioned(
      'kill',
      'events:\n  - { at: 1s, action: delay, delay: 30ms }\n  - { at: 1s, action: loss, nodes: node1, loss: 5% }\n',
      /network: loss 5%/,
    );
    const text = output();
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('close', resolve));
    expect(project, text).toBeDefined();
    const docker = createDocker();
    const mine = await docker.listContainers({
      filters: { label: [`com.docker.compose.project=${project}`] },
    });
    try {
      expect(mine.length, text).toBe(4);
      for (let i = 0; i < 50; i++) {
        const helpers = await docker.listContainers({ all: true, filters: helpersOf(project) });
        if (helpers.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(await docker.listContainers({ all: true, filters: helpersOf(project) })).toEqual([]);
      for (const node of mine) expect(await ourRulesIn(node.Id), node.Names[0]).toBe('');
    } finally {
      const down = await runBin('local-network', ['--down', runIdOf(project)]);
      expect(down.code, down.stderr).toBe(0);
    }
  }, 180_000);
});
