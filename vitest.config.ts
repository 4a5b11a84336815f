import { defineConfig } from 'vitest/config';

// Two tiers (STYLE.md): fast unit tests, and integration tests on a real Docker
// engine and real SSH hosts. Projects run one group after another:
//   0 unit        in parallel, 4 files at a time: most wait on loopback sockets and timers,
//                 not the CPU (vitest's default on 2 cores is 1; 4 took the tier from ~160 s to ~60 s)
//   1 timing      the generator's latency/rate tests, one file at a time, alone on the
//                 machine (a loaded 2-core machine skews a 1 ms bound)
//   2 integration one file at a time: they share one engine and this machine has two cores
const timingTests = ['test/unit/load/generator.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'src/**/*.test.ts', 'systems/*/test/**/*.test.ts'],
          exclude: [...timingTests, 'systems/*/node_modules/**'],
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
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 900_000,
          fileParallelism: false,
          globalSetup: ['test/integration/global-setup.ts'],
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
