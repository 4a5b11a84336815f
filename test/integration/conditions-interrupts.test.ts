/**
 * Network conditions interrupted: Ctrl-C and SIGKILL of meshbench mid-level leave no rule in any
 * namespace (no chain, no tc tree, no IFB) and no helper; --down removes the rest. (The
 * orchestrator's links and restarts: conditions-lifecycle.test.ts; shared helpers:
 * conditions-fixture.ts.)
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RUN_LABEL } from '../../src/common/labels.js';
import { REPEAT_WINDOW_MS } from '../../src/common/shutdown.js';
import { controlDir, liveControls } from '../../src/conditions/control.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { ROOT, runBin } from './run-bin.js';
import { ourRulesIn, startConditioned, useConditionsDir } from './conditions-fixture.js';

const conditionsDir = useConditionsDir();
// Scoped to the run: the other integration lane may run conditions of its own meanwhile.
const runIdOf = (project: string | undefined) => (project ?? 'no-project-seen').replace(/^meshbench-/, '');
const helpersOf = (project: string | undefined) => ({
  label: [`${RUN_LABEL}=${runIdOf(project)}`, 'meshbench.role=nethelper'],
});

describe('network conditions interrupted mid-level', () => {
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

  it('Ctrl-C twice mid-level with --cleanup: every clean-up of the forced exit ends (none waits on a removed helper) and nothing is left', async () => {
    const traceFile = join(conditionsDir(), 'forced.trace');
    const { child, output, project } = await startConditioned(
      'forced',
      'events:\n  - { at: 1s, action: delay, nodes: node1, delay: 20ms }\n',
      /network: delay 20ms/,
      // zones: the propagation probes keep the level's stopping busy past the second signal
      ['--cleanup', '--zones', join(ROOT, 'examples/zones/aws-4-regions.csv')],
      { ...process.env, MESHBENCH_TRACE_FILE: traceFile },
    );
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      expect(project, output()).toBeDefined();
      child.kill('SIGINT');
      // just past the window in which a second signal counts as the first delivered twice: the
      // run is still stopping its level, so the conditions' clean-up is still registered (it was
      // in every run seen; not asserted, as it depends on how fast the level stops)
      await new Promise((resolve) => setTimeout(resolve, REPEAT_WINDOW_MS + 20));
      child.kill('SIGINT');
      const code = await closed;
      const text = output();
      expect(code, text).toBe(130);
      expect(text).toMatch(/forced exit during level 1/);
      // the forced exit ends when its clean-ups have, else at its 8 s bound: each must have
      // ended (the conditions' clearing once waited out its helpers' 15 s timeout)
      const ends = [
        ...(await readFile(traceFile, 'utf8')).matchAll(/forced exit: clean-up (\d+) of (\d+) ended/g),
      ];
      const registered = Number(ends[0]?.[2] ?? 0);
      expect(registered, text).toBeGreaterThanOrEqual(1);
      expect(
        ends.map((end) => Number(end[1])).sort((a, b) => a - b),
        text,
      ).toEqual(Array.from({ length: registered }, (_, i) => i + 1));
      const docker = createDocker();
      const left = await docker.listContainers({
        all: true,
        filters: { label: [`${RUN_LABEL}=${runIdOf(project)}`] },
      });
      expect(left, text).toEqual([]);
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
      // its control endpoint's announcement outlived it; the next listing (`conditions`, or the
      // next run's control server: the other lane's may have come first) removes it and its socket
      expect((await liveControls()).map((entry) => entry.runId)).not.toContain(runIdOf(project));
      expect(existsSync(join(controlDir(), `${runIdOf(project)}.json`))).toBe(false);
      expect(existsSync(join(controlDir(), `${runIdOf(project)}.sock`))).toBe(false);
    } finally {
      const down = await runBin('local-network', ['--down', runIdOf(project)]);
      expect(down.code, down.stderr).toBe(0);
    }
  }, 180_000);
});
