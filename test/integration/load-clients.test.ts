/**
 * `--load-clients colocated` on 4 sandbox hosts over SSH, as users run it: one load client
 * beside each node. The merged counts equal the sum of the clients' own counts; the merged
 * latency histogram is the exact merge (its count is the sum, its max the largest client max,
 * its percentiles between the clients' extremes and not their average). Then one client
 * container is killed on its host's engine mid-run: the run completes, that client is reported
 * dead with the progress it made, and no client container is left on any host.
 *
 * `--load-clients dedicated:2`: hosts 2 and 3 are marked `role: client` in a YAML inventory (one
 * per host, one through its group), so the nodes run on hosts 0 and 1 only and one client runs on
 * each client host, sending to every node. With a 2-kind mix, the merged per-kind counts are the
 * sums of the clients' own; host 3's clock source is shifted on purpose, and its client's start
 * instant carries that measured offset in the record.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClientsBlockSchema, type LoadClientsBlock } from '../../src/clients/schema.js';
import { docker, type SandboxHost, type SandboxState } from '../../src/testbed/sandbox/sandbox.js';
import { ROOT } from './run-bin.js';
import { DOCKER_HOSTS, hostsFile, innerDocker, useSandbox } from './sandbox-fixture.js';

let dir: string;
let sandbox: SandboxState;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-load-clients-it-'));
  sandbox = await useSandbox();
}, 600_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  // the sandbox stays up for the next file; the global teardown removes it
});

function note(line: string): void {
  process.stdout.write(`    ${line}\n`);
}

interface Record_ {
  readonly environment?: {
    readonly testbed?: {
      readonly hosts: readonly { name: string }[];
      readonly clientHosts?: readonly { name: string; clock?: { offsetMs: number; rttMs: number } }[];
    };
  };
  readonly runs: {
    readonly results: {
      readonly scheduled_transactions: number;
      readonly sent_transactions: number;
      readonly input_rate: number;
      readonly outcomes: { readonly ok: number; readonly committed: number };
      readonly ack_latency_ms: { count: number; p50: number; p99: number; max: number };
      readonly kinds?: readonly {
        name: string;
        scheduled_transactions: number;
        outcomes: { ok: number; committed: number };
      }[];
    };
    readonly blocks?: { load_clients?: LoadClientsBlock };
  }[];
}

/** Runs bin/benchmark.js; `whenOutput` is called on each chunk of its output (to act mid-run). */
function benchmark(
  args: readonly string[],
  whenOutput?: (text: string, child: ChildProcess) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/benchmark.js'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      whenOutput?.(stdout + stderr, child);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      whenOutput?.(stdout + stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

async function recordOf(output: string): Promise<Record_> {
  const [runDir] = await readdir(output);
  const text = await readFile(join(output, runDir as string, 'remote-benchmark-1.json'), 'utf8');
  return JSON.parse(text) as Record_;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

describe('load clients beside the nodes (sandbox hosts)', () => {
  const args = (file: string, output: string, durationSecs = 8) => [
    '--network-type',
    'remote',
    '--hosts-file',
    file,
    '--load-clients',
    'colocated',
    '--loads',
    '200',
    '--duration',
    String(durationSecs),
    '--startup-wait',
    '120',
    '--monitor',
    'false',
    '--cleanup',
    '--output-dir',
    output,
  ];

  it('merges the clients exactly: counts add up, percentiles from the merged histogram', async () => {
    const hosts = sandbox.hosts.slice(0, DOCKER_HOSTS);
    const file = await hostsFile(sandbox, 'load-clients', hosts);
    const output = join(dir, 'merge');
    const run = await benchmark(args(file, output));
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const record = await recordOf(output);
    const level = record.runs[0]!;
    const block = level.blocks?.load_clients;
    if (!block) throw new Error(`no load_clients block\n${run.stdout}\n${run.stderr}`);
    expect(loadClientsBlockSchema.safeParse(block).success).toBe(true);
    expect(block.clients).toBe(hosts.length);
    expect(block.merged_clients).toBe(hosts.length);
    const clients = block.per_client;
    for (const c of clients)
      note(
        `${c.client}@${c.host}: ${c.scheduled} scheduled, ${c.ok} ok, ${c.committed} committed, ack p99 ${c.latency_ack?.p99} ms`,
      );
    expect(new Set(clients.map((c) => c.host))).toEqual(new Set(hosts.map((h) => h.name)));
    expect(clients.every((c) => c.status === 'ok')).toBe(true);
    // the split: the shares add up to the one schedule (200 tx/s for the measured window)
    expect(sum(clients.map((c) => c.scheduled ?? 0))).toBe(level.results.scheduled_transactions);
    expect(sum(clients.map((c) => c.input_rate ?? 0))).toBeCloseTo(200, 6);
    expect(
      Math.max(...clients.map((c) => c.scheduled ?? 0)) - Math.min(...clients.map((c) => c.scheduled ?? 0)),
    ).toBeLessThanOrEqual(1);
    // the merge: counts are sums
    expect(sum(clients.map((c) => c.sent ?? 0))).toBe(level.results.sent_transactions);
    expect(sum(clients.map((c) => c.ok ?? 0))).toBe(level.results.outcomes.ok);
    expect(sum(clients.map((c) => c.committed ?? 0))).toBe(level.results.outcomes.committed);
    expect(level.results.outcomes.ok).toBeGreaterThan(0);
    // the merged histogram: its count is the sum, its max the largest client max, its median
    // within the clients' medians (the exact values are checked in test/unit/clients/)
    const ack = level.results.ack_latency_ms;
    const own = clients.map((c) => c.latency_ack!);
    expect(ack.count).toBe(sum(own.map((l) => l.count)));
    expect(ack.max).toBe(Math.max(...own.map((l) => l.max)));
    expect(ack.p50).toBeGreaterThanOrEqual(Math.min(...own.map((l) => l.p50)));
    expect(ack.p50).toBeLessThanOrEqual(Math.max(...own.map((l) => l.p50)));
  }, 240_000);

  it('Ctrl-C while the clients start: interrupted, exit 130, nothing left', async () => {
    const hosts = sandbox.hosts.slice(0, 2);
    const file = await hostsFile(sandbox, 'clients-interrupt', hosts);
    const output = await mkdtemp(join(dir, 'interrupt-'));
    let interrupted = false;
    const run = await benchmark(args(file, output, 20), (text, child) => {
      // the nodes are ready: the coordinator is starting the clients now
      if (interrupted || !/nodes ready after/.test(text)) return;
      interrupted = true;
      child.kill('SIGINT');
    });
    expect(interrupted, run.stderr).toBe(true);
    // it was exit 1: "load client(s) on host0, host1 did not start within 60 s", after each
    // client had read the coordinator's "stop" as its spec ("stop" is not valid JSON)
    expect(run.code, run.stderr).toBe(130);
    expect(run.stdout + run.stderr).not.toMatch(/did not start|not valid JSON|: error: /);
    for (const host of hosts)
      expect(await innerDocker(host, ['ps', '-aq', '--filter', 'label=meshbench.remote=1'])).toBe('');
  }, 300_000);

  it('reports a client killed mid-run with what it did, and the run completes', async () => {
    const hosts = sandbox.hosts.slice(0, DOCKER_HOSTS);
    const file = await hostsFile(sandbox, 'load-clients-kill', hosts);
    const output = join(dir, 'kill');
    const victim = hosts[1]!;
    const clientsOn = async () =>
      (await innerDocker(victim, ['ps', '-q', '--filter', 'label=meshbench.role=loadclient']))
        .split('\n')
        .filter(Boolean);
    // once the client container on the victim is up and has sent: kill it
    const killing = (async () => {
      const until = Date.now() + 200_000;
      let ids: string[] = [];
      while (ids.length === 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 500));
        ids = await clientsOn().catch(() => []);
      }
      if (ids.length !== 1) return `expected one client container on ${victim.name}, found ${ids.length}`;
      // killed once it has reported progress with sends (its `alive` lines carry the counts)
      let logs = '';
      while (!/"sent":[1-9]/.test(logs) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        logs = await innerDocker(victim, ['logs', ids[0]!]).catch(() => '');
      }
      if (!/"sent":[1-9]/.test(logs))
        return `client on ${victim.name} reported no sends: ${logs.slice(-400)}`;
      return innerDocker(victim, ['kill', ids[0]!]).then(
        () => 'killed',
        (error: unknown) => String(error),
      );
    })();
    const run = await benchmark(args(file, output, 10));
    expect(await killing).toBe('killed');
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(`${run.stdout}\n${run.stderr}`).toMatch(/load client client1 on \S+ is dead/);
    const record = await recordOf(output);
    const level = record.runs[0]!;
    const block = level.blocks?.load_clients;
    if (!block) throw new Error(`no load_clients block\n${run.stdout}\n${run.stderr}`);
    const dead = block.per_client.find((c) => c.status === 'dead');
    note(`dead: ${JSON.stringify(dead)}`);
    expect(dead?.host).toBe(victim.name);
    expect(dead?.last_progress?.sent ?? 0).toBeGreaterThan(0);
    expect(block.merged_clients).toBe(hosts.length - 1);
    const alive = block.per_client.filter((c) => c.status === 'ok');
    expect(sum(alive.map((c) => c.ok ?? 0))).toBe(level.results.outcomes.ok);
    expect(sum(alive.map((c) => c.scheduled ?? 0))).toBe(level.results.scheduled_transactions);
    for (const host of hosts) {
      const left = await innerDocker(host, ['ps', '-aq', '--filter', 'label=meshbench.role=loadclient']);
      expect(left.trim(), host.name).toBe('');
    }
  }, 240_000);
});

/** Shifts a sandbox host's clock source (`date`, found first in sshd's PATH) by whole seconds. */
const DATE_WRAPPER = '/usr/local/bin/date';
async function shiftDate(host: SandboxHost, seconds: number | undefined): Promise<void> {
  const script =
    seconds === undefined
      ? `rm -f ${DATE_WRAPPER}`
      : `printf '%s' '#!/bin/sh\nsed -u "s/$/ + ${seconds} seconds/" | /usr/bin/date "$@"\n' > ${DATE_WRAPPER} && chmod 755 ${DATE_WRAPPER}`;
  const result = await docker(['exec', host.container, 'sh', '-c', script]);
  if (result.exitCode !== 0) throw new Error(`${host.name}: ${result.stderr}`);
}

describe('dedicated load client hosts (sandbox hosts)', () => {
  const SHIFT_SECONDS = 2;

  it('runs one client per client host and no node there; merges totals and kinds exactly; applies the clock offset', async () => {
    const [h0, h1, h2, h3] = sandbox.hosts.slice(0, DOCKER_HOSTS) as [
      SandboxHost,
      SandboxHost,
      SandboxHost,
      SandboxHost,
    ];
    const inventory = join(dir, 'dedicated.yaml');
    await writeFile(
      inventory,
      [
        `defaults: { user: root, key: ${sandbox.keyPath} }`,
        `known_hosts: ${sandbox.knownHostsPath}`,
        'ssh_config: none',
        'groups:',
        '  loaders: { role: client }',
        'hosts:',
        `  - { name: ${h0.name}, host: ${h0.address} }`,
        `  - { name: ${h1.name}, host: ${h1.address}, role: node }`,
        `  - { name: ${h2.name}, host: ${h2.address}, role: client }`,
        `  - { name: ${h3.name}, host: ${h3.address}, group: loaders }`,
        '',
      ].join('\n'),
    );
    const mix = join(dir, 'mix.yaml');
    await writeFile(
      mix,
      'kinds:\n  - { name: small, weight: 3, size: 128 }\n  - { name: large, weight: 1, size: 2048 }\n',
    );
    const output = join(dir, 'dedicated');
    await shiftDate(h3, SHIFT_SECONDS);
    let run: Awaited<ReturnType<typeof benchmark>>;
    try {
      run = await benchmark([
        '--network-type',
        'remote',
        '--hosts-file',
        inventory,
        '--load-clients',
        'dedicated:2',
        '--mix',
        mix,
        '--loads',
        '100',
        '--duration',
        '4',
        '--startup-wait',
        '120',
        '--monitor',
        'false',
        '--cleanup',
        '--output-dir',
        output,
      ]);
    } finally {
      await shiftDate(h3, undefined);
    }
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const record = await recordOf(output);
    // the nodes on the node hosts only; the client hosts measured beside them
    const testbed = record.environment?.testbed;
    expect(testbed?.hosts.map((h) => h.name)).toEqual([h0.name, h1.name]);
    expect(testbed?.clientHosts?.map((h) => h.name)).toEqual([h2.name, h3.name]);
    const level = record.runs[0]!;
    const block = level.blocks?.load_clients;
    if (!block) throw new Error(`no load_clients block\n${run.stdout}\n${run.stderr}`);
    expect(loadClientsBlockSchema.safeParse(block).success).toBe(true);
    expect(block.mode).toBe('dedicated');
    expect(block.clients).toBe(2);
    expect(block.merged_clients).toBe(2);
    const clients = block.per_client;
    for (const c of clients)
      note(
        `${c.client}@${c.host}: offset ${c.clock_offset_ms} ms, start ${c.start_at}, ${c.scheduled} scheduled, ${c.ok} ok, kinds ${JSON.stringify(c.kinds)}`,
      );
    expect(clients.map((c) => c.host)).toEqual([h2.name, h3.name]);
    for (const c of clients) {
      expect(c.status).toBe('ok');
      expect(c.nodes).toEqual(['node0', 'node1']);
    }
    // totals: the merged counts are the sums of the clients' own
    expect(sum(clients.map((c) => c.scheduled ?? 0))).toBe(level.results.scheduled_transactions);
    expect(sum(clients.map((c) => c.sent ?? 0))).toBe(level.results.sent_transactions);
    expect(sum(clients.map((c) => c.ok ?? 0))).toBe(level.results.outcomes.ok);
    expect(sum(clients.map((c) => c.committed ?? 0))).toBe(level.results.outcomes.committed);
    expect(level.results.ack_latency_ms.count).toBe(sum(clients.map((c) => c.latency_ack?.count ?? 0)));
    expect(level.results.outcomes.ok).toBeGreaterThan(0);
    // kinds: the merged per-kind counts are the sums of the clients' per-kind counts
    const kinds = level.results.kinds ?? [];
    expect(kinds.map((k) => k.name)).toEqual(['small', 'large']);
    for (const kind of kinds) {
      const own = clients.map((c) => c.kinds?.find((k) => k.name === kind.name));
      expect(sum(own.map((k) => k?.scheduled ?? 0))).toBe(kind.scheduled_transactions);
      expect(sum(own.map((k) => k?.ok ?? 0))).toBe(kind.outcomes.ok);
      expect(sum(own.map((k) => k?.committed ?? 0))).toBe(kind.outcomes.committed);
    }
    expect(sum(kinds.map((k) => k.scheduled_transactions))).toBe(level.results.scheduled_transactions);
    // and every client sent both kinds: the kind of a tx does not line up with the split by seq mod n
    for (const c of clients)
      for (const kind of kinds)
        expect(c.kinds?.find((k) => k.name === kind.name)?.scheduled ?? 0).toBeGreaterThan(0);
    // the barrier: each client's start is the agreed one plus its host's measured offset
    expect(block.clock_offsets).toBe('applied');
    const agreed = Date.parse(block.start_at);
    for (const c of clients) {
      const measured = testbed?.clientHosts?.find((h) => h.name === c.host)?.clock;
      expect(c.clock_offset_ms).toBeCloseTo(measured?.offsetMs ?? NaN, 3);
      expect(Math.abs(Date.parse(c.start_at!) - (agreed + c.clock_offset_ms!))).toBeLessThanOrEqual(1);
    }
    const shifted = clients.find((c) => c.host === h3.name)!;
    const shiftedClock = testbed?.clientHosts?.find((h) => h.name === h3.name)?.clock;
    expect(Math.abs(shifted.clock_offset_ms! - SHIFT_SECONDS * 1000)).toBeLessThanOrEqual(
      (shiftedClock?.rttMs ?? 0) / 2 + 5,
    );
    expect(`${run.stdout}\n${run.stderr}`).toMatch(/clock offsets applied: \S+ [+-]\d+\.\d{3} ms/);
    // nothing of the run left on any host, client hosts included
    for (const host of [h0, h1, h2, h3]) {
      const left = await innerDocker(host, ['ps', '-aq', '--filter', 'label=meshbench.remote=1']);
      expect(left.trim(), host.name).toBe('');
    }
  }, 300_000);
});
