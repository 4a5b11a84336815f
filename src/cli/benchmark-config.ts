/**
 * `benchmark`'s settings through the config pipeline (src/cli/config-pipeline.ts):
 * defaults (src/common/defaults.ts, applied by the plan) < `--config FILE` <
 * `MESHBENCH_<FLAG_NAME>` < flags, then validated once by the plan (src/bench/plan.ts).
 * A bad value from the file or the environment is reported against that source (exit 2).
 */
import {
  buildBenchmarkPlan,
  type BenchmarkInput,
  type BenchmarkPlan,
  type PlanContext,
} from '../bench/plan.js';
import { benchmarkInputFromArgs, type BenchmarkArgs } from './benchmark-options.js';
import {
  attributeSettingError,
  configSources,
  gatherSettings,
  kebabCase,
  type SettingSource,
  type Settings,
  type SettingsSpec,
} from './config-pipeline.js';
import { protocolSettings } from '../protocols/registry.js';
export { configSources, describeSettings } from './config-pipeline.js';
import { settingFlag } from '../protocols/settings.js';
import { sweepPlugins } from '../bench/registry.js';

/**
 * The settings are the flags the plan takes: every key `benchmarkInputFromArgs` maps, and
 * every protocol's settings (src/protocols/), so a flag added there is a file key and an
 * environment variable at once. Read when asked: a protocol registered at run time counts.
 */
export const BENCHMARK_SETTINGS: SettingsSpec = {
  command: 'benchmark',
  get names() {
    return [
      ...Object.keys(benchmarkInputFromArgs({})).map(kebabCase),
      ...protocolSettings().map(({ setting }) => settingFlag(setting.key)),
      ...sweepPlugins().flatMap((plugin) => plugin.flags.map((flag) => flag.name)),
    ].filter((name, index, all) => all.indexOf(name) === index);
  },
  get lists() {
    return [
      'loads',
      'local-loads',
      'remote-loads',
      'endpoints',
      'endpoint-metrics',
      'docker-compose-path',
      ...protocolSettings()
        .filter(({ setting }) => setting.repeatable)
        .map(({ setting }) => settingFlag(setting.key)),
      ...sweepPlugins().flatMap((plugin) =>
        plugin.flags.filter((flag) => flag.list).map((flag) => flag.name),
      ),
    ];
  },
  envPrefix: 'MESHBENCH_',
  flagsOnly: ['config', 'interactive', 'verbose', 'help'],
};

export interface BenchmarkSettings {
  /** The merged settings as the plan's loose input. */
  readonly input: BenchmarkInput;
  readonly settings: Settings;
}

/** Reads the config file (if any), the environment and the flags, and merges them. */
export async function resolveBenchmarkSettings(
  args: BenchmarkArgs,
  context: { readonly env: Readonly<Record<string, string | undefined>>; readonly cwd: string },
): Promise<BenchmarkSettings> {
  const configFile = Array.isArray(args.config) ? (args.config.at(-1) as string | undefined) : args.config;
  const settings = await gatherSettings(BENCHMARK_SETTINGS, {
    flags: args as Readonly<Record<string, unknown>>,
    env: context.env,
    configFile,
    cwd: context.cwd,
  });
  return { input: benchmarkInputFromArgs(settings.values as BenchmarkArgs), settings };
}

/** Validates the merged settings once; a rejected value names its source. */
export async function benchmarkPlanFromSettings(
  resolved: BenchmarkSettings,
  context: PlanContext = {},
): Promise<BenchmarkPlan> {
  try {
    return await buildBenchmarkPlan(resolved.input, {
      ...context,
      configSources: configSources(resolved.settings.sources),
    });
  } catch (error) {
    throw attributeSettingError(error, resolved.settings.sources);
  }
}

/**
 * The sources after the wizard: settings it changed are `interactive`, settings it
 * cleared are gone, the rest keep theirs.
 */
export function sourcesAfterWizard(
  before: BenchmarkInput,
  after: BenchmarkInput,
  sources: Readonly<Record<string, SettingSource>>,
): Record<string, SettingSource> {
  const result: Record<string, SettingSource> = { ...sources };
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]) as Set<keyof BenchmarkInput & string>;
  for (const key of keys) {
    const name = kebabCase(key);
    const was = before[key];
    const now = after[key];
    if (now === undefined) delete result[name];
    else if (was === undefined || String(was) !== String(now)) result[name] = { kind: 'interactive' };
  }
  return result;
}
