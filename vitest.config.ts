import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { relative, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { decideLanes, lanesFor } from './scripts/test-lanes.mjs';

// Two tiers (STYLE.md): fast unit tests, and integration tests on a real Docker
// engine and real SSH hosts. Projects run one group after another:
//   0 unit        in parallel, 4 files at a time: most wait on loopback sockets and timers,
//                 not the CPU (vitest's default on 2 cores is 1; 4 took the tier from ~160 s to ~60 s)
//   0 timing      the generator's latency/rate tests, in a project of their own (one file,
//                 its tests one after another) beside the unit files, lint and tsc (load 6-9):
//                 their bounds are held to a bare client paced the same way and run beside the
//                 generator in the same test (one measured before and after missed the load's
//                 swings there: CI failed the p50 test twice), so they no longer wait for the
//                 machine to themselves (53 s at the end of the unit tier)
//   2 integration two files at a time, or one per two cores on a larger machine (largest
//                 first; MESHBENCH_TEST_LANES sets it). Files share the engine, so each names
//                 what it made by its run id, picks free ports (a generated committee,
//                 pickFreePorts) and claims a sandbox of SSH hosts no running file holds
//                 (sandbox-fixture.ts). The files are CPU-bound: alone, one keeps this 2-core
//                 machine ~65 % busy, so a second lane fills the rest. Once the nodes' healthcheck,
//                 the commands' start-up and the fixtures' tsx were cut (issue 29), two lanes
//                 took the tier from 2,073 s (one lane) to 1,562 s here, load 10-11. With
//                 something else on the machine it runs fewer (scripts/test-lanes.mjs: beside
//                 two CPU burners, two lanes reached load 12-14 and starved the nodes under test)
//   3 alone       the files that need the engine or the clock to themselves, one at a time
//                 after the rest: the seed compose file's fixed host ports, nfq-delay's ±2 ms.
//                 (propagation ran here too; beside faults.test its plain peer round trips were
//                 1-4 ms against a bound of 61, the zoned pair's p50 426 ms against plain 52 + 30)
const root = import.meta.dirname;
const timingTests = ['test/unit/load/generator.test.ts'];
// Unit files share their workers' module graph (isolate: false): importing src/ once per worker
// instead of once per file took vitest's import time from 153 s to 55 s, and npm run test:unit
// from 216 s to 159 s on this 2-core machine. These files need a graph of
// their own: a vi.mock of a module others import, or protocols registered into the registry.
const isolatedUnitTests = [
  'test/unit/load/engine-pump.test.ts',
  // vi.mock of the Waker, which the generator imports: in the shared graph it counted nothing
  // when a file before it had loaded the generator (CI #91, once the start order changed)
  'test/unit/load/waker.test.ts',
  'test/unit/protocols/protocol-module.test.ts',
  'test/unit/protocols/extra-protocol.test.ts',
];
/**
 * MESHBENCH_TEST_LANES, else scripts/test-lanes.mjs: two (one per two cores on a larger machine)
 * when nothing else uses the machine, fewer when something does. Sampled only when the run
 * includes the integration tier (three seconds of /proc/stat, the least busy counting).
 */
async function integrationLanes(): Promise<number> {
  const fixed = Number(process.env.MESHBENCH_TEST_LANES);
  if (fixed > 0) return fixed;
  const projects = process.argv.flatMap((arg, i, argv) =>
    arg === '--project' ? [argv[i + 1] ?? ''] : arg.startsWith('--project=') ? [arg.slice(10)] : [],
  );
  if (projects.length > 0 && !projects.includes('integration')) return lanesFor(availableParallelism(), 0);
  const { lanes, why } = await decideLanes();
  process.stderr.write(`integration lanes: ${lanes} (${why})\n`);
  return lanes;
}
const lanes = await integrationLanes();
const aloneTests = ['test/integration/refnode-compose.test.ts', 'test/integration/nfq-delay.test.ts'];
/**
 * Longest first, by each file's time in a recent clean-clone CI run (test/file-durations.json,
 * written by scripts/test-order.mjs). vitest orders by its own cache of the last run, which a
 * clean clone has not got, and then by file size: there help.test (50 s) started at 81 s of a
 * 130 s unit tier, and the unit-isolated files after every unit file. A file the list does not
 * know starts first, as vitest starts files it has no time for.
 */
class LongestFirst extends BaseSequencer {
  private readonly secs: Readonly<Record<string, number>>;
  constructor(...args: ConstructorParameters<typeof BaseSequencer>) {
    super(...args);
    let secs: Record<string, number> = {};
    try {
      secs = (
        JSON.parse(readFileSync(resolve(root, 'test/file-durations.json'), 'utf8')) as {
          files: Record<string, number>;
        }
      ).files;
    } catch {
      // no list: every file is unknown, and the order below is vitest's own by file size
    }
    this.secs = secs;
  }
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const secs = (file: TestSpecification) => this.secs[relative(root, file.moduleId)] ?? Infinity;
    // stable: files of equal time (both unknown) keep vitest's own order by size
    const sorted = (await super.sort(files)).sort((a, b) => {
      const group = a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder;
      if (group !== 0) return group;
      const [sa, sb] = [secs(a), secs(b)];
      return sa === sb ? 0 : sb > sa ? 1 : -1;
    });
    if (process.env.MESHBENCH_PRINT_ORDER === '1')
      for (const file of sorted)
        process.stderr.write(`order: ${file.project.name} ${secs(file)} ${relative(root, file.moduleId)}\n`);
    return sorted;
  }
}

const integration = {
  testTimeout: 600_000,
  hookTimeout: 900_000,
  globalSetup: ['test/integration/global-setup.ts'],
};

export default defineConfig({
  test: {
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'src/**/*.test.ts', 'systems/*/test/**/*.test.ts'],
          exclude: [...timingTests, ...isolatedUnitTests, 'systems/*/node_modules/**'],
          testTimeout: 30_000,
          // as long as a test: the refnode cluster's afterEach stops 4 nodes whose stores fsync
          // as they close, and once took over vitest's default 10 s beside lint and a busy disk
          hookTimeout: 30_000,
          maxWorkers: 4,
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'unit-isolated',
          include: isolatedUnitTests,
          testTimeout: 30_000,
          maxWorkers: 4,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'timing',
          include: timingTests,
          testTimeout: 60_000,
          // one file; the unit projects' pool settings, so it shares their phase (with
          // fileParallelism: false or maxWorkers: 1 vitest ran it in a phase of its own after
          // them: CI ran it last, after the integration tier)
          maxWorkers: 4,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: aloneTests,
          ...integration,
          maxWorkers: lanes,
          sequence: { groupOrder: 2 },
        },
      },
      {
        test: {
          name: 'integration-alone',
          include: aloneTests,
          ...integration,
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
