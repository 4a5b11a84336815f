/**
 * The P2P systems on sandbox SSH hosts (remote mode), as users run them: each system's image
 * shipped over SSH as the reference node's is, its nodes started with the host's network and
 * their own environment, their peers the hosts' addresses.
 * - `benchmark --system libp2p-gossipsub` on 4 hosts: every message on every node, a complete
 *   4×4 matrix (the same check as the local full mesh, mesh-libp2p.test.ts).
 * - `remote-network --system crdt-sync --nodes-per-host 2` on 2 hosts: the second node on a host
 *   moved to its own ports by the system's port variables, every message delivered everywhere
 *   (the mesh's commit), and nothing left on the hosts after --cleanup.
 * - `benchmark --system crdt-sync --load-clients colocated --mesh-delivery 2` on 2 hosts, 250 ms
 *   apart (`--zones`): each client follows every node's deliveries, so a message counts as
 *   committed once both nodes delivered it (a client that followed only its own node's stream
 *   never saw 2), and is timed by the nodes' own delivery times (`at`): one one-way delay, where
 *   the far node's event, timed at its arrival across the shaped link, read two.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MeshBlock } from '../../src/monitor/mesh/monitor.js';
import {
  expectCompleteMesh,
  expectEveryAcceptedCommitted,
  firstRecord,
  useMeshSystem,
} from './mesh-fixture.js';
import { runBin } from './run-bin.js';
import { DOCKER_HOSTS, hostsFile, leftovers, sandboxSuite } from './sandbox-fixture.js';

const suite = sandboxSuite('mesh-remote');
useMeshSystem('libp2p', 'mesh-remote-libp2p');
useMeshSystem('crdt', 'mesh-remote-crdt');

describe('P2P systems on remote hosts', () => {
  it('libp2p-gossipsub on 4 hosts: its image shipped, every message on every node, a complete 4×4 matrix', async () => {
    const hosts = suite.sandbox.hosts.slice(0, DOCKER_HOSTS);
    const file = await hostsFile(suite.sandbox, 'mesh-remote', hosts);
    const output = join(suite.dir, 'libp2p');
    const run = await runBin('benchmark', [
      '--network-type',
      'remote',
      '--hosts-file',
      file,
      '--system',
      'libp2p-gossipsub',
      '--remote-loads',
      '100',
      '--duration',
      '10',
      '--startup-wait',
      '120',
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/image: meshbench\/libp2p-gossipsub:latest: (shipped|present)/);
    const record = await firstRecord<{ runs: { blocks?: { mesh?: MeshBlock } }[] }>(output, 'remote');
    const block = record.runs[0]?.blocks?.mesh;
    if (!block) throw new Error(`no mesh block in the record\n${run.stdout}`);
    expectCompleteMesh(block);
    for (const host of hosts)
      expect(await leftovers(host), host.name).toEqual({ containers: [], volumes: [] });
  }, 240_000);

  it('crdt-sync, 2 nodes on each of 2 hosts: the second on its own ports, every message delivered everywhere', async () => {
    const hosts = suite.sandbox.hosts.slice(0, 2);
    const file = await hostsFile(suite.sandbox, 'mesh-remote-two', hosts);
    const output = join(suite.dir, 'crdt');
    const run = await runBin('remote-network', [
      '--hosts-file',
      file,
      '--system',
      'crdt-sync',
      '--nodes-per-host',
      '2',
      '--num-transactions',
      '400',
      '--transaction-rate',
      '100',
      '--cleanup',
      '--output',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stderr).toMatch(/node2 started \(rpc :8090, p2p :26666\)/);
    expect(run.stderr).toMatch(/node3 started \(rpc :8090, p2p :26666\)/);
    const [runDir] = await readdir(output);
    const record = JSON.parse(
      await readFile(join(output, runDir as string, 'remote-benchmark-1.json'), 'utf8'),
    ) as {
      remote_network: { system?: string; image: string; endpoints: { rpcUrl: string }[] };
      results: { successful: number; committed?: number };
    };
    expect(record.remote_network.system).toBe('crdt-sync');
    expect(record.remote_network.image).toBe('meshbench/crdt-sync:latest');
    expect(record.remote_network.endpoints.map((e) => new URL(e.rpcUrl).port)).toEqual([
      '8080',
      '8080',
      '8090',
      '8090',
    ]);
    // the mesh's commit: every message a node accepted delivered to every node
    expectEveryAcceptedCommitted(run.stdout);
    for (const host of hosts)
      expect(await leftovers(host), host.name).toEqual({ containers: [], volumes: [] });
  }, 240_000);

  it('crdt-sync with a load client beside each node: a commit is a delivery on every node, timed by the nodes', async () => {
    const hosts = suite.sandbox.hosts.slice(0, 2);
    const file = await hostsFile(suite.sandbox, 'mesh-remote-clients', hosts);
    const output = join(suite.dir, 'crdt-clients');
    const zones = join(suite.dir, 'two-zones.csv');
    await writeFile(zones, 'from\\to,near,far\nnear,0ms,250ms\nfar,250ms,0ms\n');
    const run = await runBin('benchmark', [
      '--network-type',
      'remote',
      '--hosts-file',
      file,
      '--system',
      'crdt-sync',
      '--load-clients',
      'colocated',
      '--mesh-delivery',
      '2',
      '--zones',
      zones,
      '--loads',
      '50',
      // the zones apply as the level starts: the nodes' connection, a 0.3 ms round trip a moment
      // before, now takes 500 ms (TCP's retransmission timer, set for the old round trip, fires
      // before the first ack comes back); the figures start after a second of warm-up
      '--duration',
      '5',
      '--warmup',
      '1',
      '--monitor',
      'false',
      '--cleanup',
      '--output-dir',
      output,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    type Summary = { min: number; p50: number };
    const record = await firstRecord<{
      results: {
        outcomes: { ok: number; committed: number };
        commit_latency_ms: Summary;
        commit_latency_uncorrected_ms: Summary;
        schedule_lag_ms: Summary;
      };
      environment: { testbed: { hosts: { name: string; clock?: { errorBoundMs?: number } }[] } };
      runs?: { blocks?: { network?: { nfq_delay?: unknown } } }[];
    }>(output, 'remote');
    const outcomes = record.results.outcomes;
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.committed).toBe(outcomes.ok);
    // Every commit waits for the far node, 250 ms away: from each client's send to the far node's
    // own time of the delivery, one one-way delay. Timed at the far event's arrival at the client
    // (across the link back), none could read under two (500 ms; the p50 read about 500). The send
    // is on the client's clock and the delivery on the far node's: each host's clock as measured
    // may be off by its error bound, which the record keeps, so the bounds widen by it. The send →
    // commit latency (uncorrected: the client's own lag behind its schedule is not checked here).
    // Quiet, every commit reads 250-260 ms (p50 253, p99 258). A starved machine only adds: CI
    // read p50 386, p90 692, max 1,643 (min 248) beside conditions-remote.test.ts, the client
    // itself up to 216 ms behind its schedule, so a median near 250 holds only on a quiet machine.
    // What holds on any: no commit comes before the delay (the p50 at or above it; the fastest may
    // read under it, 248.1 in one CI run, 234.1 in another with the client 180 ms behind its
    // schedule; why is not known: timeOrigin + now() read within 0.04 ms of the system clock in
    // every fresh Node process measured, also 12 started at once, so it is not the processes'
    // clocks. The fastest is held to most of the delay, above 200, where a delay not applied
    // reads a few ms), and the fastest come with one
    // delay, not two (under 375: timed by arrival, none reads under 500).
    // Which stream's events are timed by `at` and which by arrival is the unit tests' (mesh.test.ts).
    const clocks = record.environment.testbed.hosts.map((h) => h.clock?.errorBoundMs ?? Infinity);
    const clockErrorMs = clocks.reduce((sum, bound) => sum + bound, 0);
    const latency = record.results.commit_latency_uncorrected_ms;
    const seen = JSON.stringify({
      commit: record.results.commit_latency_ms,
      uncorrected: latency,
      lag: record.results.schedule_lag_ms,
      hosts: record.environment.testbed.hosts,
      // nfq-delay's own figures per namespace (how late it released what it held), when it shaped
      nfq: record.runs?.[0]?.blocks?.network?.nfq_delay,
    });
    expect(latency.p50, seen).toBeGreaterThanOrEqual(250 - clockErrorMs);
    expect(latency.min, seen).toBeGreaterThan(200 - clockErrorMs);
    expect(latency.min, seen).toBeLessThan(375 + clockErrorMs);
    for (const host of hosts)
      expect(await leftovers(host), host.name).toEqual({ containers: [], volumes: [] });
  }, 240_000);
});
