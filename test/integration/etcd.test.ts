/**
 * The etcd adapter against real etcd 3.4 (Debian's etcd-server): one member on
 * 127.0.0.1, and a 3-member cluster that `benchmark --docker-compose-path` deploys from
 * systems/etcd/docker-compose.yml. etcd itself, read with etcdctl, must hold one
 * key per successful put, its revision must have advanced by exactly that count, and a
 * member stopped mid-run must give counted failures in the record (until the transport takes it for down and its share goes to the others), not a hang.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/benchmark.js';
import type { FaultsBlock } from '../../src/faults/recovery.js';
import { readEtcdRaftIndex } from '../../src/protocols/etcd.js';
import { etcdKeyMaker, summarizeEtcdKeys } from '../../src/protocols/etcd-keys.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { removeRun } from '../../src/testbed/local/teardown.js';
import {
  containerEtcdctl,
  countKeys,
  startEtcdMember,
  type EtcdMember,
  type KeyCount,
} from './etcd-fixture.js';

const exec = promisify(execFile);

/** The parts of a level's record these tests read. */
interface LevelRecord {
  readonly run_id: string;
  readonly parameters: { readonly key_pattern: Record<string, unknown> };
  readonly results: {
    readonly successful_transactions: number;
    readonly failed_transactions: number;
    readonly scheduled_transactions: number;
    readonly sent_transactions: number;
    readonly outcomes: {
      readonly ok: number;
      readonly timeout: number;
      readonly connectionError: number;
      readonly httpError: Record<string, number>;
      readonly rejected: Record<string, number>;
    };
    readonly per_node: readonly {
      readonly node_id: string;
      readonly ok: number;
      readonly failed: number;
      readonly redirected_out?: number;
      readonly redirected_in?: number;
    }[];
  };
  readonly runs: readonly {
    readonly key_prefix?: string;
    readonly excluded: { readonly warmup: { readonly sent: number } } | null;
    readonly timing: { readonly loadMs: number };
    readonly blocks?: { readonly faults?: FaultsBlock };
  }[];
  readonly environment: { readonly testbed?: { readonly composeProject?: string } };
}

/** Runs `benchmark` in this process; its output is kept for the failure message. */
async function benchmark(
  args: readonly string[],
  progress: { ended: boolean; output?: string } = { ended: false },
): Promise<{ code: number; output: string; records: LevelRecord[] }> {
  const outputDir = await mkdtemp(join(tmpdir(), 'meshbench-etcd-out-'));
  let output = '';
  const keep = (chunk: unknown) => {
    output += String(chunk);
    progress.output = output;
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(keep);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(keep);
  try {
    let code: number;
    try {
      code = await main([...args, '--output-dir', outputDir]);
    } finally {
      out.mockRestore();
      err.mockRestore();
      progress.ended = true;
    }
    const records: LevelRecord[] = [];
    for (const run of await readdir(outputDir)) {
      const files = (await readdir(join(outputDir, run)))
        .filter((f) => /-benchmark-\d+\.json$/.test(f))
        .sort();
      for (const file of files)
        records.push(JSON.parse(await readFile(join(outputDir, run, file), 'utf8')) as LevelRecord);
    }
    return { code, output, records };
  } finally {
    await rm(outputDir, { recursive: true, force: true });
  }
}

/** One line of the figures a test measured, for the CI log. */
const note = (line: string) => process.stdout.write(`etcd figures: ${line}\n`);

const sum = (records: readonly LevelRecord[], pick: (r: LevelRecord) => number) =>
  records.reduce((total, r) => total + pick(r), 0);
/** Sends whose outcome etcd may or may not have applied: the reply never came. */
const unknownOutcome = (r: LevelRecord) => r.results.outcomes.timeout + r.results.outcomes.connectionError;

/** Polls `probe` until it answers; gives up after `timeoutMs`, or at once when `running` has ended. */
async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  running?: { ended: boolean },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (running?.ended) throw new Error(`${what}: the benchmark ended first`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A member of `names` that is not the leader, read with `etcdctl endpoint status --cluster`. */
async function followerOf(
  etcdctl: (args: readonly string[]) => Promise<string>,
  names: readonly string[],
): Promise<string> {
  const raw = await etcdctl(['endpoint', 'status', '--cluster', '-w', 'json']);
  // member ids are uint64: quote them before JSON.parse so no digit is lost
  const statuses = JSON.parse(raw.replace(/:\s*(\d{10,})/g, ':"$1"')) as {
    Endpoint: string;
    Status: { header: { member_id: string }; leader: string };
  }[];
  // before the first election every member reports leader 0: none is a follower yet
  const leaders = new Set(statuses.map(({ Status }) => Status.leader));
  const elected = statuses.some(({ Status }) => leaders.has(Status.header.member_id));
  for (const { Endpoint, Status } of statuses) {
    const name = names.find((n) => Endpoint.includes(`//${n}:`));
    if (elected && name && Status.header.member_id !== Status.leader) return name;
  }
  throw new Error(`no follower among ${names.join(', ')}: ${raw}`);
}

/** The leader among `names` and each member's id in hex (as `etcdctl move-leader` takes it). */
async function leaderOf(
  etcdctl: (args: readonly string[]) => Promise<string>,
  names: readonly string[],
): Promise<{ leader: string | undefined; ids: Map<string, string> }> {
  const raw = await etcdctl(['endpoint', 'status', '--cluster', '-w', 'json']);
  const statuses = JSON.parse(raw.replace(/:\s*(\d{10,})/g, ':"$1"')) as {
    Endpoint: string;
    Status: { header: { member_id: string }; leader: string };
  }[];
  const ids = new Map<string, string>();
  let leader: string | undefined;
  for (const { Endpoint, Status } of statuses) {
    const name = names.find((n) => Endpoint.includes(`//${n}:`));
    if (!name) continue;
    ids.set(name, BigInt(Status.header.member_id).toString(16));
    if (Status.header.member_id === Status.leader) leader = name;
  }
  return { leader, ids };
}

/** Every level's keys lie under its own key_prefix, one per successful put. */
async function expectOneKeyPerPut(
  etcdctl: (args: readonly string[]) => Promise<string>,
  records: readonly LevelRecord[],
): Promise<void> {
  for (const record of records) {
    expect(record.parameters.key_pattern).toEqual({ pattern: 'unique', prefix: 'meshbench/' });
    const [run] = record.runs;
    expect(run?.excluded?.warmup.sent ?? 0).toBe(0); // --warmup 0: every put is in the figures
    expect(run?.key_prefix).toBeDefined();
    const level = await countKeys(etcdctl, run?.key_prefix ?? '?');
    expect(level.count).toBe(record.results.successful_transactions);
  }
}

describe('etcd: one real member on 127.0.0.1', () => {
  let member: EtcdMember;
  beforeAll(async () => {
    member = await startEtcdMember();
    // A key outside the benchmark's prefix: the store is not empty, and it must not be counted.
    await member.etcdctl(['put', 'other/key', 'x']);
  });
  afterAll(async () => {
    await member?.close();
  });

  it('a sweep of two levels writes one key per successful put, and the revision advances by exactly that count', async () => {
    const before = await countKeys(member.etcdctl, 'meshbench/');
    const sweep = await benchmark([
      '--endpoints',
      member.clientUrl,
      '--protocol',
      'etcd',
      '--loads',
      '200,400',
      '--duration',
      '3',
      '--warmup',
      '0',
    ]);
    expect(sweep.code, sweep.output).toBe(0);
    expect(sweep.records).toHaveLength(2);
    const ok = sum(sweep.records, (r) => r.results.successful_transactions);
    expect(
      sum(sweep.records, (r) => r.results.failed_transactions),
      sweep.output,
    ).toBe(0);
    expect(ok).toBe(200 * 3 + 400 * 3);
    const after = await countKeys(member.etcdctl, 'meshbench/');
    note(
      `one member, 2 levels: ${ok} successful puts, keys +${after.count - before.count}, revision +${after.revision - before.revision}`,
    );
    expect(after.count - before.count).toBe(ok);
    expect(after.revision - before.revision).toBe(ok);
    await expectOneKeyPerPut(member.etcdctl, sweep.records);
  });

  it('a second sweep, on two worker threads, adds its own keys and overwrites none of the first', async () => {
    const before = await countKeys(member.etcdctl, 'meshbench/');
    const sweep = await benchmark([
      '--endpoints',
      member.clientUrl,
      '--protocol',
      'etcd',
      '--loads',
      '300',
      '--workers',
      '2',
      '--duration',
      '2',
      '--warmup',
      '0',
    ]);
    expect(sweep.code, sweep.output).toBe(0);
    const ok = sum(sweep.records, (r) => r.results.successful_transactions);
    expect(ok).toBe(600);
    const after = await countKeys(member.etcdctl, 'meshbench/');
    note(
      `one member, second sweep (2 workers): ${ok} successful puts, keys +${after.count - before.count}, revision +${after.revision - before.revision}`,
    );
    expect(after.count - before.count).toBe(ok);
    expect(after.revision - before.revision).toBe(ok);
  });

  it('zipfian over 200 keys: every put a revision, and exactly the distinct keys its sends chose', async () => {
    const before: KeyCount = await countKeys(member.etcdctl, 'zipf/');
    const sweep = await benchmark([
      '--endpoints',
      member.clientUrl,
      '--protocol',
      'etcd',
      '--etcd-key-prefix',
      'zipf/',
      '--etcd-key-pattern',
      'zipfian',
      '--etcd-key-space',
      '200',
      '--loads',
      '300',
      '--duration',
      '2',
      '--warmup',
      '0',
    ]);
    expect(sweep.code, sweep.output).toBe(0);
    const [record] = sweep.records;
    if (!record) throw new Error(sweep.output);
    expect(record.parameters.key_pattern).toEqual({
      pattern: 'zipfian',
      prefix: 'zipf/',
      key_space: 200,
      key_size_bytes: 8,
      zipf_exponent: 0.99,
    });
    expect(record.results.failed_transactions).toBe(0);
    expect(record.results.successful_transactions).toBe(record.results.scheduled_transactions);
    // The key of send n is a function of (level run id, n): recompute the set the level wrote.
    const levelRunId = `${record.run_id}-endpoints-1-1`;
    const keyOf = etcdKeyMaker(
      summarizeEtcdKeys({ kind: 'zipfian', keySpace: 200 }, 'zipf/', levelRunId),
      levelRunId,
    );
    const chosen = new Set<string>();
    for (let seq = 0; seq < record.results.sent_transactions; seq++) chosen.add(keyOf(seq));
    const after = await countKeys(member.etcdctl, 'zipf/');
    note(
      `one member, zipfian over 200 keys: ${record.results.successful_transactions} successful puts, ${chosen.size} distinct keys chosen, ${after.count} keys held, revision +${after.revision - before.revision}`,
    );
    expect(before.count).toBe(0);
    expect(after.count).toBe(chosen.size);
    expect(after.count).toBeLessThan(200);
    expect(after.revision - before.revision).toBe(record.results.successful_transactions);
  });

  it("the member's raft index (its height for resync times) rises by one per put", async () => {
    const endpoint = { nodeId: 'm0', rpcUrl: member.clientUrl };
    const before = await readEtcdRaftIndex(endpoint);
    for (const value of ['a', 'b', 'c']) await member.etcdctl(['put', 'raft-index/key', value]);
    expect((await readEtcdRaftIndex(endpoint)) - before).toBe(3);
  });

  it('the member killed mid-run: failures are counted and the level ends within one request timeout', async () => {
    const before = await countKeys(member.etcdctl, 'meshbench/');
    const started = Date.now();
    const progress = { ended: false };
    const running = benchmark(
      [
        '--endpoints',
        member.clientUrl,
        '--protocol',
        'etcd',
        '--loads',
        '300',
        '--duration',
        '4',
        '--warmup',
        '0',
      ],
      progress,
    );
    await waitFor(
      '100 puts',
      15_000,
      async () => {
        const now = await countKeys(member.etcdctl, 'meshbench/');
        return now.count - before.count >= 100 ? true : undefined;
      },
      progress,
    );
    await member.kill();
    const sweep = await running;
    const elapsedMs = Date.now() - started;
    expect(sweep.code, sweep.output).toBe(0);
    const [record] = sweep.records;
    if (!record) throw new Error(sweep.output);
    const { results } = record;
    expect(results.successful_transactions).toBeGreaterThanOrEqual(100);
    expect(results.failed_transactions).toBeGreaterThan(0);
    expect(results.successful_transactions + results.failed_transactions).toBe(
      results.scheduled_transactions,
    );
    expect(unknownOutcome(record)).toBeGreaterThan(0);
    // Bounded: the level's 4 s, then at most one request timeout (10 s). Sends to the dead
    // member that the raw transport queued behind its connect backoff end as timeouts.
    expect(record.runs[0]?.timing.loadMs, sweep.output).toBeLessThan(4_000 + 10_000 + 2_000);
    expect(elapsedMs, sweep.output).toBeLessThan(30_000);

    await member.restart();
    const after = await countKeys(member.etcdctl, 'meshbench/');
    const written = after.count - before.count;
    note(
      `one member killed mid-run: ok ${results.successful_transactions}, failed ${results.failed_transactions} (connectionError ${results.outcomes.connectionError}, timeout ${results.outcomes.timeout}), keys +${written}, revision +${after.revision - before.revision}, level ${Math.round(record.runs[0]?.timing.loadMs ?? 0)} ms`,
    );
    expect(written).toBeGreaterThanOrEqual(results.successful_transactions);
    expect(written).toBeLessThanOrEqual(results.successful_transactions + unknownOutcome(record));
    expect(after.revision - before.revision).toBe(written);
  });
});

describe('etcd: a 3-member cluster deployed from systems/etcd/docker-compose.yml', () => {
  const composeFile = resolve('systems/etcd/docker-compose.yml');
  const docker = createDocker();
  const networks: string[] = [];
  const networkOf = (record: LevelRecord | undefined): string => {
    const project = record?.environment.testbed?.composeProject ?? '';
    expect(project).toMatch(/^meshbench-/);
    return project.replace(/^meshbench-/, '');
  };
  /** Running containers that match every filter: service name → container id. */
  const containersOf = async (
    filters: readonly string[],
    skip: ReadonlySet<string> = new Set(),
  ): Promise<Map<string, string>> => {
    const { stdout } = await exec('docker', [
      'ps',
      ...filters.flatMap((f) => ['--filter', f]),
      '--format',
      '{{.ID}} {{.Label "com.docker.compose.service"}}',
    ]);
    const byService = new Map<string, string>();
    for (const line of stdout.trim().split('\n').filter(Boolean)) {
      const [id, service] = line.split(' ');
      if (id && service && !skip.has(id)) byService.set(service, id);
    }
    return byService;
  };
  /** The run ids of the etcd networks running now. */
  const etcdNetworks = async (): Promise<Set<string>> => {
    const { stdout } = await exec('docker', [
      'ps',
      '-a',
      '--filter',
      'ancestor=meshbench/etcd:3.4',
      '--format',
      '{{.Label "meshbench.run"}}',
    ]);
    return new Set(stdout.split('\n').filter(Boolean));
  };
  let before = new Set<string>();
  beforeAll(async () => {
    before = await etcdNetworks();
  });
  afterAll(async () => {
    // The networks these tests made, also those of a run that failed before its records.
    for (const runId of new Set([...networks, ...(await etcdNetworks())]))
      if (!before.has(runId)) await removeRun(docker, runId, { volumes: true });
  });

  it('a sweep of two levels: etcd holds one key per successful put, and the revision advanced by exactly that count', async () => {
    const sweep = await benchmark([
      '--docker-compose-path',
      composeFile,
      '--protocol',
      'etcd',
      '--loads',
      '150,300',
      '--duration',
      '3',
      '--warmup',
      '0',
    ]);
    const networkRunId = networkOf(sweep.records[0]);
    networks.push(networkRunId);
    expect(sweep.code, sweep.output).toBe(0);
    expect(sweep.records).toHaveLength(2);
    expect(
      sum(sweep.records, (r) => r.results.failed_transactions),
      sweep.output,
    ).toBe(0);
    const ok = sum(sweep.records, (r) => r.results.successful_transactions);
    expect(ok).toBe(150 * 3 + 300 * 3);
    for (const record of sweep.records)
      expect(record.results.per_node.map((n) => n.node_id).sort()).toEqual(['kv0', 'kv1', 'kv2']);
    const members = await containersOf([`label=meshbench.run=${networkRunId}`]);
    expect([...members.keys()].sort()).toEqual(['kv0', 'kv1', 'kv2']);
    const etcdctl = containerEtcdctl(members.get('kv1') ?? '?');
    const after = await countKeys(etcdctl, 'meshbench/');
    note(
      `3-member cluster, 2 levels: ${ok} successful puts, ${after.count} keys, revision ${after.revision} (from 1)`,
    );
    expect(after.count).toBe(ok);
    // A new cluster's store is at revision 1; each put of a new key adds one.
    expect(after.revision - 1).toBe(ok);
    await expectOneKeyPerPut(etcdctl, sweep.records);
  });

  it('a follower stopped mid-run: its first sends are counted failures, the rest go to the others, and nothing hangs', async () => {
    const { stdout: listed } = await exec('docker', [
      'ps',
      '-q',
      '--no-trunc',
      '--filter',
      'ancestor=meshbench/etcd:3.4',
    ]);
    const earlier = new Set(listed.split('\n').map((id) => id.slice(0, 12)));
    const started = Date.now();
    const progress = { ended: false };
    const running = benchmark(
      [
        '--docker-compose-path',
        composeFile,
        '--protocol',
        'etcd',
        '--loads',
        '300',
        '--duration',
        '10',
        '--warmup',
        '0',
      ],
      progress,
    );
    const members = await waitFor(
      'the new cluster',
      120_000,
      async () => {
        const fresh = await containersOf(
          ['ancestor=meshbench/etcd:3.4', 'label=meshbench.role=node'],
          earlier,
        );
        return fresh.size === 3 ? fresh : undefined;
      },
      progress,
    );
    const kv0 = containerEtcdctl(members.get('kv0') ?? '?');
    // Stop a follower, not the leader: a stopped leader means an election, and the puts in
    // flight on the other members at that moment fail too ("leader changed"), which is
    // right but not what this test is about. It is found before the load gets going, so that
    // once the puts are seen only the stop is left to do inside the level (CI with two CPU
    // burners beside it asked the cluster after the 100 puts, and the level ended first)
    const victim = await waitFor(
      'a follower',
      120_000,
      () => followerOf(kv0, ['kv0', 'kv1', 'kv2']),
      progress,
    );
    await waitFor(
      '100 puts',
      120_000,
      async () => ((await countKeys(kv0, 'meshbench/')).count >= 100 ? true : undefined),
      progress,
    );
    const survivors = ['kv0', 'kv1', 'kv2'].filter((name) => name !== victim);
    const survivor = containerEtcdctl(members.get(survivors[0] ?? '?') ?? '?');
    const stoppedAt = Date.now();
    await exec('docker', ['stop', '--time', '10', members.get(victim) ?? '?']);
    const sweep = await running;
    const finishedAfterStopMs = Date.now() - stoppedAt;
    networks.push(networkOf(sweep.records[0]));
    expect(sweep.code, sweep.output).toBe(0);
    const [record] = sweep.records;
    if (!record) throw new Error(sweep.output);
    const { results } = record;
    expect(results.failed_transactions).toBeGreaterThan(0);
    expect(results.successful_transactions + results.failed_transactions).toBe(
      results.scheduled_transactions,
    );
    const perNode = Object.fromEntries(results.per_node.map((n) => [n.node_id, n]));
    expect(perNode[victim]?.failed).toBeGreaterThan(0);
    for (const name of survivors) {
      expect(perNode[name]?.failed, `${name}: ${sweep.output}`).toBe(0);
      expect(perNode[name]?.ok).toBeGreaterThan(0);
    }
    // Nobody announced this stop (docker stop from outside): the transport took the member for
    // down after 3 straight connection failures, and --fault-load redirect (the default) sent
    // the rest of its share to the next live member, which the survivors' counts show. Until
    // the engine removes the member's port, Docker's userland proxy accepts connections to it
    // and closes them (a broken connection, the member's failure, not a refusal). With two CPU
    // burners beside it a 6 s level ended with 246 failed and 0 redirected, most likely inside
    // that window; at 10 s the same burners left time for the refusals (11 failed, the rest
    // redirected).
    const redirected = perNode[victim]?.redirected_out ?? 0;
    expect(redirected, sweep.output).toBeGreaterThan(0);
    expect(survivors.reduce((total, name) => total + (perNode[name]?.redirected_in ?? 0), 0)).toBe(
      redirected,
    );
    // The level's 10 s, then at most one request timeout (10 s) for sends to the stopped member.
    expect(record.runs[0]?.timing.loadMs, sweep.output).toBeLessThan(10_000 + 12_000);
    expect(finishedAfterStopMs, sweep.output).toBeLessThan(10_000 + 12_000 + 30_000);
    expect(Date.now() - started, sweep.output).toBeLessThan(240_000);

    const after = await countKeys(survivor, 'meshbench/');
    note(
      `3-member cluster, follower ${victim} stopped mid-run: ok ${results.successful_transactions}, failed ${results.failed_transactions} (connectionError ${results.outcomes.connectionError}, timeout ${results.outcomes.timeout}; ${victim} failed ${perNode[victim]?.failed ?? 0} of ${(perNode[victim]?.ok ?? 0) + (perNode[victim]?.failed ?? 0)}), ${after.count} keys, revision ${after.revision} (from 1), level ${Math.round(record.runs[0]?.timing.loadMs ?? 0)} ms`,
    );
    expect(after.count).toBeGreaterThanOrEqual(results.successful_transactions);
    // Every put the stopped member failed has an unknown outcome, not only the timeouts and
    // broken connections: a member that is shutting down may answer an error for a proposal
    // the others then commit (seen in a clean-clone CI: 1,478 ok, 8 connection errors,
    // 14 other failures on kv1, and 1,490 keys). The survivors failed none (above).
    expect(after.count).toBeLessThanOrEqual(results.successful_transactions + (perNode[victim]?.failed ?? 0));
    expect(after.revision - 1).toBe(after.count);
  });

  it('a follower crashed and restarted (--crash-recovery) keeps its data in its volume and resyncs to the raft index of the others', async () => {
    const names = ['kv0', 'kv1', 'kv2'];
    const progress: { ended: boolean; output?: string } = { ended: false };
    // --faults 1 takes the last node, kv2: down at 5 s, started again at 10 s (the next tick, 15 s, is after the level)
    const running = benchmark(
      [
        '--docker-compose-path',
        composeFile,
        '--protocol',
        'etcd',
        '--loads',
        '200',
        '--duration',
        '12',
        '--warmup',
        '0',
        '--faults',
        '1',
        '--crash-recovery',
        '--crash-interval',
        '5',
      ],
      progress,
    );
    const networkRunId = await waitFor(
      'the compose project',
      120_000,
      async () => /compose project meshbench-([\w-]+)/.exec(progress.output ?? '')?.[1],
      progress,
    );
    networks.push(networkRunId);
    const members = await waitFor(
      'three members',
      60_000,
      async () => {
        const found = await containersOf([`label=meshbench.run=${networkRunId}`]);
        return found.size === 3 ? found : undefined;
      },
      progress,
    );
    const etcdctlOf = (name: string) => containerEtcdctl(members.get(name) ?? '?');
    // A follower, not the leader, is the one to crash: move the leadership away from kv2 if it has it.
    let movedLeader = false;
    const kv2FollowerAt = await waitFor(
      'kv2 a follower',
      60_000,
      async () => {
        const { leader, ids } = await leaderOf(etcdctlOf('kv0'), names);
        if (leader !== 'kv2') return leader === undefined ? undefined : Date.now();
        await etcdctlOf('kv2')(['move-leader', ids.get('kv0') ?? '?']);
        movedLeader = true;
        return undefined;
      },
      progress,
    );
    const sweep = await running;
    expect(sweep.code, sweep.output).toBe(0);
    const [record] = sweep.records;
    const block = record?.runs[0]?.blocks?.faults;
    if (!record || !block) throw new Error(sweep.output);
    expect(block.events.map((e) => `${e.cause} ${e.action} ${e.nodes.join(',')}`)).toEqual([
      'scenario kill kv2',
      'scenario restart kv2',
    ]);
    expect(kv2FollowerAt, 'kv2 was still the leader when it was crashed').toBeLessThan(
      Date.parse(block.events[0]?.started_at ?? ''),
    );
    const [fault] = block.faults;
    expect(fault?.brought_back_by).toBe('scenario');
    const [resync] = fault?.resync ?? [];
    // Back with its log (the volume kept it): answering, then caught up to the others' raft index.
    expect(resync?.node, sweep.output).toBe('kv2');
    expect(resync?.reason, sweep.output).toBeUndefined();
    expect(resync?.answering_ms).toEqual(expect.any(Number));
    expect(resync?.resynced_ms).toEqual(expect.any(Number));
    expect(resync?.resynced_ms).toBeGreaterThanOrEqual(resync?.answering_ms ?? Infinity);
    expect(fault?.summary).toMatch(/^kv2 crashed at 5\.\d s; resynced \d+\.\d s after restart/);
    const { results } = record;
    expect(results.successful_transactions + results.failed_transactions).toBe(
      results.scheduled_transactions,
    );
    // Its own store (a serializable read, served by kv2 alone) holds every key the others hold.
    const kv0Keys = await countKeys(etcdctlOf('kv0'), 'meshbench/');
    const kv2Keys = await waitFor('kv2 holding every key', 10_000, async () => {
      const held = await countKeys((args) => etcdctlOf('kv2')([...args, '--consistency=s']), 'meshbench/');
      return held.count === kv0Keys.count ? held : undefined;
    });
    expect(kv2Keys.count).toBeGreaterThanOrEqual(results.successful_transactions);
    // The height recorded is a raft index kv2 itself has reached since.
    const kv2RaftIndex = Number(
      /"raftIndex":(\d+)/.exec(await etcdctlOf('kv2')(['endpoint', 'status', '-w', 'json']))?.[1],
    );
    expect(resync?.height).toBeGreaterThan(0);
    expect(resync?.height).toBeLessThanOrEqual(kv2RaftIndex);
    note(
      `3-member cluster, follower kv2 crashed at ${fault?.down_ms} ms and restarted at ${fault?.up_ms} ms: answering after ${resync?.answering_ms} ms, resynced after ${resync?.resynced_ms} ms at raft index ${resync?.height} (leadership moved off kv2 first: ${movedLeader ? 'yes' : 'no'}); ok ${results.successful_transactions}, failed ${results.failed_transactions}; ${kv2Keys.count} keys on kv2`,
    );
    // The members' data volumes carry the run's label, and removal by it (--down, --cleanup-thorough) takes them.
    const volumes = async () =>
      (await exec('docker', ['volume', 'ls', '-q', '--filter', `label=meshbench.run=${networkRunId}`])).stdout
        .split('\n')
        .filter(Boolean)
        .sort();
    expect(await volumes()).toEqual(names.map((name) => `meshbench-${networkRunId}_${name}-data`));
    const removed = await removeRun(docker, networkRunId, { volumes: true });
    expect(removed.volumes).toBe(3);
    expect(await volumes()).toEqual([]);
  });
});
