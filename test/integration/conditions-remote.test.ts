/**
 * Network conditions on sandbox SSH hosts: a zone matrix (examples/zones/aws-4-regions.csv)
 * shows its delays in the commit latency of a "remote" run against the same run without
 * zones, and nothing of ours (container, chain, tc tree) stays on the hosts, not even when
 * meshbench is killed while it sweeps a host's rules. Local shaping:
 * conditions.test.ts, conditions-links.test.ts; the edges: conditions-lifecycle.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './run-bin.js';
import {
  DOCKER_HOSTS,
  hostsFile,
  innerDocker,
  leftovers,
  runCliModule,
  useSandbox,
} from './sandbox-fixture.js';
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
    // The four regions are 38-131 ms apart one way. A commit on any node needs the votes of two
    // others, each behind at least a proposal out and a vote back: no zoned commit is faster than
    // 2 x 38 ms (70: nfq-delay's ±2 ms a hop). A floor no load can lower: the p50s' difference
    // could (CI #85, a slow day beside another lane: the plain run's p50 609 ms, the zoned 526).
    const shown = `min ${plain.results.latency_percentiles_ms.min} -> ${zoned.results.latency_percentiles_ms.min} ms, p50 ${plain.results.latency_percentiles_ms.p50} -> ${zoned.results.latency_percentiles_ms.p50} ms`;
    expect(zoned.results.latency_percentiles_ms.min, shown).toBeGreaterThanOrEqual(70);
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

  it('meshbench killed while it sweeps a host of rules leaves no sweeper behind once --down has run', async () => {
    // the sweep is a one-shot nethelper in the host's namespace, made by every cleanup of a host
    // that has the image (the test above shipped it); meshbench is killed outright the moment
    // the engine creates it, so it can neither start it nor remove it
    const state = await useSandbox();
    const [host] = state.hosts;
    if (!host) throw new Error('no sandbox host');
    const hosts = await hostsFile(state, 'conditions-sweep', [host]);
    const shipped = await innerDocker(host, ['images', '-q', HELPER]);
    if (shipped === '') {
      // run alone (-t): ship the helper image as a run would
      const load = spawnSync(
        'sh',
        ['-c', `docker save ${HELPER} | docker exec -i ${host.container} docker load`],
        {
          encoding: 'utf8',
        },
      );
      expect(load.status, load.stderr).toBe(0);
    }
    const sweepers = async () =>
      (await innerDocker(host, ['ps', '-aq', '--filter', `ancestor=${HELPER}`])).split('\n').filter(Boolean);
    expect(await sweepers()).toEqual([]);
    const events = spawn(
      'docker',
      [
        'exec',
        host.container,
        'docker',
        'events',
        '--filter',
        'type=container',
        '--filter',
        'event=create',
        '--filter',
        `image=${HELPER}`,
        '--format',
        '{{.ID}}',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const down = spawn(
      process.execPath,
      [join(ROOT, 'bin/remote-network.js'), '--hosts-file', hosts, '--down'],
      {
        stdio: 'ignore',
      },
    );
    const killed = await new Promise<boolean>((resolve) => {
      events.stdout.once('data', () => resolve(down.kill('SIGKILL')));
      down.once('exit', () => resolve(false));
    });
    events.kill();
    expect(killed, 'the sweeper was created while meshbench ran').toBe(true);
    // as a user would after a killed run: --down again
    const again = await runCliModule('remote-network', ['--hosts-file', hosts, '--down']);
    expect(again.exitCode, again.stderr).toBe(0);
    // a sweeper that ran is removed by the engine when it exits; one never started, by --down
    for (let waited = 0; (await sweepers()).length > 0 && waited < 30; waited++)
      await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await sweepers()).toEqual([]);
  }, 120_000);
});
