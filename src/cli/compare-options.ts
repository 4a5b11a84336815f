/**
 * The flags of `benchmark compare BASELINE [CURRENT]`, the regression gate (src/report/gate.ts):
 * its tolerance and test, thresholds on one run, and the machine-readable outputs.
 */
import type { Argv } from 'yargs';

export const GROUP_COMPARE = 'Compare (benchmark compare BASELINE [CURRENT]; docs/benchmark.md):';

export interface CompareArgs {
  readonly 'max-regression'?: string;
  readonly alpha?: string;
  /** One value per `--threshold` (yargs makes a list of a repeated flag). */
  readonly threshold?: string | readonly string[];
  readonly 'across-systems'?: boolean;
  readonly json?: boolean;
  readonly junit?: string;
  readonly markdown?: string;
}

export function addCompareOptions<T>(argv: Argv<T>): Argv<T & CompareArgs> {
  return argv
    .option('max-regression', {
      type: 'string',
      group: GROUP_COMPARE,
      description:
        'compare: how much worse a metric may get before it counts as a regression, e.g. 10% (with --runs 3 or more a side, only when Welch’s t-test also finds it)',
      defaultDescription: '10%',
    })
    .option('alpha', {
      type: 'string',
      group: GROUP_COMPARE,
      description: 'compare: the significance level of the t-test',
      defaultDescription: '0.05',
    })
    .option('threshold', {
      // repeatable, one value each: a list option would take the runs after it
      // (`compare --threshold 'p99_ms<500' RUN` read RUN as a second threshold)
      type: 'string',
      group: GROUP_COMPARE,
      description:
        "compare: a limit every level of CURRENT must keep, k6 style: 'p99_ms<500', 'efficiency>=0.99' (repeatable; no baseline needed)",
    })
    .option('across-systems', {
      type: 'boolean',
      group: GROUP_COMPARE,
      description:
        'compare: the two sides may differ in the system itself (protocol, node image); findings say what each kept under the same faults',
    })
    .option('json', {
      type: 'boolean',
      group: GROUP_COMPARE,
      description: 'compare: print the verdict as JSON instead of the table',
    })
    .option('junit', {
      type: 'string',
      group: GROUP_COMPARE,
      description: 'compare: also write JUnit XML (a test case per check) to this file',
    })
    .option('markdown', {
      type: 'string',
      group: GROUP_COMPARE,
      description: 'compare: also write a Markdown summary (for a pull-request comment) to this file',
    }) as Argv<T & CompareArgs>;
}
