/**
 * `--propagation`: off by default, on when asked, and on by default when the plan shapes the
 * network (--zones, or a scenario with network events); the sweep then gets the propagation
 * monitor, before the network conditioner (whose load end takes the conditions off).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBenchmarkPlan, type BenchmarkPlan } from '../../../src/bench/plan.js';
import { pluginObservers } from '../../../src/bench/plugins.js';
import { benchmarkInputFromArgs } from '../../../src/cli/benchmark-options.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const ZONES = 'examples/zones/aws-4-regions.csv';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-propagation-plan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const plan = (input: Record<string, unknown>) =>
  buildBenchmarkPlan({ outputDir: dir, ...input }, { cwd: ROOT, env: {} });

/** Whether the plan has the propagation plug-in's section (src/monitor/propagation-plugin.ts). */
const on = (built: BenchmarkPlan) => built.plugins?.['propagation'] !== undefined;

describe('--propagation', () => {
  it('is off by default and on when given (as a flag, a word, or false to turn it off)', async () => {
    expect(on(await plan({}))).toBe(false);
    expect(on(await plan({ propagation: true }))).toBe(true);
    expect(on(await plan({ propagation: 'yes' }))).toBe(true);
    expect(on(await plan(benchmarkInputFromArgs({ propagation: true })))).toBe(true);
    await expect(plan({ propagation: 'maybe' })).rejects.toThrow(
      /--propagation "maybe" is not valid: true or false/,
    );
  });

  it('is on by default with network conditions, unless turned off', async () => {
    expect(on(await plan({ zones: ZONES }))).toBe(true);
    expect(on(await plan({ zones: ZONES, propagation: false }))).toBe(false);
    const scenario = join(dir, 'delay.yaml');
    await writeFile(scenario, 'events:\n  - { from: 1s, to: 3s, action: delay, delay: 20ms }\n');
    const withDelay = await plan({ scenario });
    expect(on(withDelay)).toBe(true);
    const crashes = join(dir, 'crash.yaml');
    await writeFile(crashes, 'events:\n  - { at: 1s, action: crash, nodes: [node1] }\n');
    expect(on(await plan({ scenario: crashes }))).toBe(false);
  });

  it('works in attach mode (it needs only endpoints)', async () => {
    const attached = await plan({ endpoints: 'http://127.0.0.1:26657', propagation: true });
    expect(attached.networkType).toBe('endpoints');
    expect(on(attached)).toBe(true);
  });

  it('registers the monitor before the network conditioner', async () => {
    const names = (observers: { name: string }[]) => observers.map((observer) => observer.name);
    // the resource monitor is on by default
    expect(names(await pluginObservers(await plan({}), { warn: () => undefined }))).toEqual(['resources']);
    expect(
      names(await pluginObservers(await plan({ propagation: true }), { warn: () => undefined })),
    ).toEqual(['propagation', 'resources']);
    const zoned = names(await pluginObservers(await plan({ zones: ZONES }), { warn: () => undefined }));
    expect(zoned.indexOf('propagation')).toBeGreaterThanOrEqual(0);
    expect(zoned.indexOf('propagation')).toBeLessThan(zoned.indexOf('network'));
  });
});
