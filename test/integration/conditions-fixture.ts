/**
 * What the network-conditions integration files share (conditions.test.ts: shaping on a local
 * network; conditions-lifecycle.test.ts: the orchestrator's links, restarts, Ctrl-C, SIGKILL and
 * sandbox hosts): a run of `benchmark` with a scenario, its record's network block, our rules in
 * a namespace, and a conditioned run left going in the background.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import type { NetworkConditioner } from '../../src/conditions/conditioner.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { ROOT, runBin } from './run-bin.js';

export const HELPER = 'meshbench/nethelper:latest';

export interface Window {
  readonly what: string;
  readonly before: { throughput: number | null; worst_second_p99_ms: number | null };
  readonly during: { throughput: number | null; worst_second_p99_ms: number | null };
  readonly after: { throughput: number | null };
  readonly longest_no_commit_ms: number;
  readonly time_to_recover_ms: number | null;
}
export interface NetworkBlock {
  readonly namespaces: { mechanisms: Record<string, string | null> }[];
  readonly windows: Window[];
  readonly events: {
    event: number | null;
    edge: string;
    nodes?: string[];
    changed?: number;
    errors?: unknown;
  }[];
  readonly quality: { t_s: number[]; links: Record<string, { up: boolean[]; delay_ms: number[] }> };
  readonly positions?: { nodes: Record<string, [number, number][]> };
}
export interface Rec {
  readonly runs: { blocks?: { network?: NetworkBlock } }[];
  readonly results: {
    latency_percentiles_ms: { min: number; p50: number };
    time_series: { second: number; commitP99Ms?: number }[];
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}

let dir: string;

/** The folder of the calling test file's runs: made before its tests, removed after them. */
export function useConditionsDir(): () => string {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbench-conditions-it-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return () => dir;
}

export async function record(outputDir: string, network = 'local'): Promise<Rec> {
  const [runDir] = await readdir(outputDir);
  return JSON.parse(
    await readFile(join(outputDir, runDir as string, `${network}-benchmark-1.json`), 'utf8'),
  ) as Rec;
}

export function networkOf(rec: Rec): NetworkBlock {
  const block = rec.runs[0]?.blocks?.network;
  if (!block) throw new Error('no network block in the record');
  return block;
}

export async function bench(name: string, yaml: string | undefined, args: readonly string[]): Promise<Rec> {
  const output = join(dir, name);
  const extra: string[] = [];
  if (yaml !== undefined) {
    const scenario = join(dir, `${name}.yaml`);
    await writeFile(scenario, yaml);
    extra.push('--scenario', scenario);
  }
  const run = await runBin('benchmark', [...args, ...extra, '--cleanup', '--output-dir', output]);
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
  return record(output, args.includes('remote') ? 'remote' : 'local');
}

/** Our chains, tc trees and nfq-delay processes in a container's network namespace. */
export async function ourRulesIn(container: string): Promise<string> {
  const docker = createDocker();
  const helper = await docker.createContainer({
    Image: HELPER,
    Cmd: [
      'sh',
      '-c',
      'iptables -S; iptables -t mangle -S; tc qdisc show | grep -E "4d42|ingress" || true; ip link show mb-ifb 2>/dev/null || true',
    ],
    Labels: { 'meshbench.test': 'conditions' },
    HostConfig: { NetworkMode: `container:${container}`, CapAdd: ['NET_ADMIN'] },
  });
  try {
    await helper.start();
    await helper.wait();
    const logs = (await helper.logs({ stdout: true, stderr: true })).toString('utf8');
    return logs
      .split('\n')
      .filter((line) => /MB-|4d42|ingress|mb-ifb/.test(line))
      .join('\n');
  } finally {
    await helper.remove({ force: true });
  }
}

/**
 * Starts a 60 s benchmark with a scenario of `yaml` in the background and waits (90 s at most)
 * until its output matches `until`: the child, its output so far, and its compose project.
 */
export async function startConditioned(
  name: string,
  yaml: string,
  until: RegExp,
  extra: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ReturnType<typeof spawn>; output: () => string; project: string | undefined }> {
  const scenario = join(dir, `${name}.yaml`);
  await writeFile(scenario, yaml);
  const args = ['--committee', '4', '--loads', '50', '--duration', '60', ...extra];
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/benchmark.js'), ...args, '--scenario', scenario, '--output-dir', join(dir, name)],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  const reached = new Promise<void>((resolve) => {
    const watch = (chunk: Buffer) => {
      text += chunk.toString();
      if (until.test(text)) resolve();
    };
    child.stdout?.on('data', watch);
    child.stderr?.on('data', watch);
  });
  await Promise.race([reached, new Promise((resolve) => setTimeout(resolve, 90_000))]);
  return { child, output: () => text, project: /compose project (meshbench-[\w-]+)/.exec(text)?.[1] };
}

export function emptyLoad(): Parameters<NetworkConditioner['onLoadEnd']>[1] {
  return { startedAt: new Date().toISOString(), durationSecs: 0, timeSeries: [] } as unknown as Parameters<
    NetworkConditioner['onLoadEnd']
  >[1];
}
