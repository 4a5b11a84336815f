/**
 * The `benchmark` command handler, ready for src/cli/benchmark.ts to wire in:
 *
 *   options: (argv) => addBenchmarkOptions(argv),
 *   run: (args, context) => runBenchmarkCommand(args, context, { createTestbed, runLoad }),
 *
 * `benchmark compare BASELINE [CURRENT]` is the positional form of the same command.
 * Flow: settings (defaults < --config file < MESHBENCH_* < flags; then the --interactive
 * wizard if asked) → plan validated once → runBenchmark.
 */
import type { CliContext, CliDefinition } from './run-cli.js';
import { badFlag } from './run-cli.js';
import { MeshbenchError } from '../common/errors.js';
import { addBenchmarkOptions, type BenchmarkArgs } from './benchmark-options.js';
import { addCompareOptions, type CompareArgs } from './compare-options.js';
import {
  benchmarkPlanFromSettings,
  describeSettings,
  resolveBenchmarkSettings,
  sourcesAfterWizard,
} from './benchmark-config.js';
import { testbedFactory } from '../bench/testbeds.js';
import type { Asker } from './benchmark-wizard.js';
import { defaultReporters } from '../report/reporters.js';
import { DEFAULTS, type BenchmarkPlan } from '../bench/plan.js';
import { runBenchmark, type BenchmarkDeps, type BenchmarkOutcome } from '../results/run.js';
import { pluginObservers } from '../bench/plugins.js';
import { newRunId } from '../common/run-id.js';

export type BenchmarkCommandDeps = Omit<
  BenchmarkDeps,
  'stdout' | 'stderr' | 'signal' | 'tty' | 'reporters'
> & {
  readonly tty?: NodeJS.WritableStream | undefined;
  /** Default: the console table, the comparison and the text summary (defaultReporters()). */
  readonly reporters?: BenchmarkDeps['reporters'];
  /** Wizard questions (default: inquirer on stdin/stdout). */
  readonly asker?: Asker;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Called with the outcome (tests, scripts). */
  readonly onOutcome?: (outcome: BenchmarkOutcome, plan: BenchmarkPlan) => void;
};

export async function runBenchmarkCommand(
  args: BenchmarkArgs & CompareArgs & { readonly _?: readonly (string | number)[] },
  context: CliContext,
  deps: BenchmarkCommandDeps,
): Promise<number> {
  const positionals = (args._ ?? []).map(String);
  if (positionals[0] === 'compare') {
    // the subcommands, the wizard, the dashboard and the generator load on use (start-up: issue 31)
    const [{ runCompareCommand }, { gateError }] = await Promise.all([
      import('./compare-command.js'),
      import('../report/gate.js'),
    ]);
    const [, a, b, ...rest] = positionals;
    if (a === undefined || rest.length > 0) {
      const given = positionals.slice(1);
      throw gateError(
        given.length === 0
          ? 'compare: no runs given; give a baseline and a current run'
          : `compare ${given.join(' ')}: ${given.length} runs given; give a baseline and a current run`,
        "benchmark compare BASELINE CURRENT (run folders or result JSON files), or benchmark compare RUN --threshold 'p99_ms<500'",
      );
    }
    const compared = await runCompareCommand(
      {
        a,
        b,
        outputDir: args['output-dir'] ?? DEFAULTS.outputDir,
        fileOutput: args['file-output'] !== false,
        maxRegression: args['max-regression'],
        alpha: args.alpha,
        thresholds: args.threshold === undefined ? undefined : [args.threshold].flat(),
        acrossSystems: args['across-systems'],
        json: args.json,
        junit: args.junit,
        markdown: args.markdown,
      },
      { stdout: context.stdout, ...(deps.cwd ? { cwd: deps.cwd } : {}) },
    );
    return compared.exitCode;
  }
  if (positionals[0] === 'report') {
    const [, runDir, ...rest] = positionals;
    if (runDir === undefined || rest.length > 0) {
      const given = positionals.slice(1);
      throw new MeshbenchError(
        'BAD_FLAG',
        given.length === 0
          ? 'report: no run folder given'
          : `report ${given.join(' ')}: ${given.length} run folders given`,
        { hint: 'benchmark report RUN_DIR, with one run folder (benchmarks/run-<id>)' },
      );
    }
    const { runReportCommand } = await import('./report-command.js');
    await runReportCommand(runDir, {
      stdout: context.stdout,
      ...(deps.cwd ? { cwd: deps.cwd } : {}),
      ...(args.png === true ? { png: true } : {}),
    });
    return 0;
  }
  if (args.png === true) {
    throw badFlag('png', true, 'it draws a run folder that exists: benchmark report RUN_DIR --png');
  }
  if (positionals.length > 0) {
    throw badFlag(
      'command',
      positionals.join(' '),
      'no positional arguments, or: compare BASELINE [CURRENT], or: report RUN_DIR',
    );
  }

  const planContext = {
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.cwd ? { cwd: deps.cwd } : {}),
    // a compose file's nodes labelled meshbench.protocol set the default protocol (read by compose)
    composeProtocol: async (files: readonly string[]) =>
      (await import('../testbed/local/user-compose.js')).composeProtocol({
        files,
        ...(deps.env ? { env: deps.env } : {}),
      }),
  };
  const resolved = await resolveBenchmarkSettings(args, {
    env: deps.env ?? process.env,
    cwd: deps.cwd ?? process.cwd(),
  });
  if (context.verbose) {
    context.stderr('benchmark: settings (defaults < --config file < MESHBENCH_* < flags):');
    for (const line of describeSettings(resolved.settings)) context.stderr(`  ${line}`);
  }
  let plan: BenchmarkPlan;
  if (args.interactive) {
    // Without a terminal the prompts cannot be answered: inquirer drew one and then gave up as
    // if interrupted (exit 130), which a script or CI job reads as a Ctrl-C.
    if (deps.asker === undefined && !process.stdin.isTTY)
      throw new MeshbenchError('BAD_FLAG', '--interactive needs a terminal, and standard input is not one', {
        hint: 'give the settings as flags or in a --config file instead',
      });
    const { inquirerAsker, runBenchmarkWizard } = await import('./benchmark-wizard.js');
    const outcome = await runBenchmarkWizard({
      asker: deps.asker ?? inquirerAsker(),
      say: context.stdout,
      initial: resolved.input,
      ...planContext,
    });
    if (outcome.kind === 'cancelled') return outcome.reason === 'interrupted' ? 130 : 0;
    // The same plan again, now recording which settings the answers changed.
    plan = await benchmarkPlanFromSettings(
      {
        input: outcome.input,
        settings: {
          values: resolved.settings.values,
          sources: sourcesAfterWizard(resolved.input, outcome.input, resolved.settings.sources),
        },
      },
      planContext,
    );
  } else {
    plan = await benchmarkPlanFromSettings(resolved, planContext);
  }
  if (context.verbose) context.stderr(`benchmark: plan ${JSON.stringify(plan)}`);

  // --dashboard: an observer (binds in preflight, follows the levels) and a reporter (after report.html).
  const dashboard = plan.dashboard
    ? (await import('../report/dashboard/dashboard.js')).dashboardFor(plan, {
        say: (line) => context.stderr(`benchmark: ${line}`),
        onForce: (cleanup) => context.shutdown.onForce(cleanup),
      })
    : undefined;
  // The run's id, made here so the plug-ins know it too (`conditions --run` takes it).
  const runId = deps.newRunId?.() ?? newRunId(deps.wallClock?.());
  let outcome: BenchmarkOutcome;
  try {
    outcome = await runBenchmark(plan, {
      ...deps,
      newRunId: () => runId,
      observers: [
        ...(deps.observers ?? []),
        ...(await pluginObservers(plan, {
          runId,
          warn: (line) => context.stderr(`benchmark: warning: ${line}`),
          say: (line) => context.stdout(`benchmark: ${line}`),
          onForce: (cleanup) => context.shutdown.onForce(cleanup),
        })),
        ...(dashboard ? [dashboard.observer] : []),
      ],
      reporters: [...(deps.reporters ?? defaultReporters()), ...(dashboard ? [dashboard.reporter] : [])],
      stdout: context.stdout,
      stderr: context.stderr,
      signal: context.shutdown.signal,
      onForce: (cleanup) => context.shutdown.onForce(cleanup),
      tty: deps.tty ?? (process.stdout.isTTY ? process.stdout : undefined),
    });
  } finally {
    // After an error the run's end may not have come: nothing stays listening.
    await dashboard?.close();
  }
  deps.onOutcome?.(outcome, plan);
  if (outcome.interrupted) return 130;
  // A network where not one transaction was accepted at any level: its nodes refused the
  // protocol, or never answered (with --network-type both, the other network's figures do not
  // make the run a success).
  const networks = [...new Set(outcome.records.map((record) => record.network_type))];
  const refused = networks
    .map((network) => outcome.records.filter((record) => record.network_type === network))
    .filter((records) => records.every((record) => record.results.outcomes.ok === 0));
  if (refused.length === 0) return 0;
  const [{ noneAcceptedMessage }, { sumOutcomes }] = await Promise.all([
    import('../report/summary.js'),
    import('../measure/figures.js'),
  ]);
  for (const records of refused) {
    const outcomes = sumOutcomes(records.map((record) => record.results.outcomes));
    const network = networks.length > 1 ? `${records[0]?.network_type}: ` : '';
    context.stderr(
      `benchmark: error: ${network}${noneAcceptedMessage(outcomes, plan.protocol.kind, 'give the protocol they speak with --protocol (docs/protocols.md)')}`,
    );
  }
  return 1;
}

/**
 * The whole `benchmark` command as a runCli definition, with the real testbeds and
 * generator: `main = (argv) => runCli(benchmarkDefinition(), argv)`.
 */
export function benchmarkDefinition(
  deps: Partial<BenchmarkCommandDeps> = {},
): CliDefinition<BenchmarkArgs & CompareArgs & { readonly _?: readonly (string | number)[] }> {
  return {
    name: 'benchmark',
    positionals: true,
    protocolModules: true,
    usage:
      '$0 [options]    sweep load levels on a local/remote network (or --endpoints)\n$0 compare BASELINE [CURRENT]    compare two runs (a regression gate), or check one against --threshold\n$0 report RUN_DIR    write report.html (a self-contained HTML report) into a run folder',
    epilogue:
      'Settings, lowest first: defaults < --config FILE < MESHBENCH_<FLAG_NAME> (e.g. MESHBENCH_LOADS=100,200) < flags; --verbose prints where each came from.\n' +
      'Writes one run folder per invocation under --output-dir: a JSON per load level (docs/result.schema.json), summary.txt, run.json, and comparison.json/.txt for --network-type both. See docs/benchmark.md.',
    options: (argv) => addCompareOptions(addBenchmarkOptions(argv)),
    run: (args, context) =>
      runBenchmarkCommand(args, context, {
        createTestbed: testbedFactory(),
        runLoad: async (options) => (await import('../load/index.js')).runLoad(options),
        probeEndpoints: async (endpoints, protocol) =>
          (await import('../load/index.js')).probeEndpoints(endpoints, protocol),
        ...deps,
      }),
  };
}
