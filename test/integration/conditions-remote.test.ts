/**
 * Network conditions on sandbox SSH hosts: a zone matrix (examples/zones/aws-4-regions.csv)
 * shows its delays in the commit latency of a "remote" run against the same run without
 * zones, and nothing of ours (container, chain, tc tree) stays on the hosts. Local shaping:
 * conditions.test.ts, conditions-links.test.ts; the edges: conditions-lifecycle.test.ts.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './run-bin.js';
import { DOCKER_HOSTS, hostsFile, innerDocker, leftovers, useSandbox } from './sandbox-fixture.js';
import { bench, HELPER, networkOf, useConditionsDir } from './conditions-fixture.js';

useConditionsDir();

describe('network conditions on sandbox SSH hosts', () => {
  it('a zone matrix shows its delays in the commit latency of a "remote" run, and leaves the hosts clean', async () => {
    const state = await useSandbox();
    const hosts = await hostsFile(state, 'conditions', state.hosts.slice(0, DOCKER_HOSTS));
    const args = [
      '--network-type',
      'remote',
      '--hosts-file',
      hosts,
      '--loads',
      '50',
      '--duration',
      '10',
      '--warmup',
      '2',
      '--startup-wait',
      '120',
    ];
    const plain = await bench('remote-plain', undefined, args);
    const zoned = await bench('remote-zones', undefined, [
      ...args,
      '--zones',
      join(ROOT, 'examples/zones/aws-4-regions.csv'),
    ]);
    const raised = zoned.results.latency_percentiles_ms.p50 - plain.results.latency_percentiles_ms.p50;
    // the four regions are 38-131 ms apart one way, and a commit takes several message rounds
    expect(
      raised,
      `p50 ${plain.results.latency_percentiles_ms.p50} -> ${zoned.results.latency_percentiles_ms.p50} ms`,
    ).toBeGreaterThanOrEqual(100);
    const block = networkOf(zoned);
    expect(block.namespaces).toHaveLength(DOCKER_HOSTS);
    expect(block.quality.links['node0->node1']?.delay_ms[0]).toBe(38);
    for (const host of state.hosts.slice(0, DOCKER_HOSTS)) {
      expect((await leftovers(host)).containers).toEqual([]);
      // remote nodes run in the host's namespace: nothing of ours may stay there
      const rules = await innerDocker(host, [
        'run',
        '--rm',
        '--network',
        'host',
        '--cap-add',
        'NET_ADMIN',
        HELPER,
        'sh',
        '-c',
        'iptables -S; iptables -t mangle -S; tc qdisc show',
      ]);
      expect(rules.split('\n').filter((line) => /MB-|4d42/.test(line))).toEqual([]);
    }
  }, 400_000);
});
