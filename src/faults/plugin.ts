/**
 * Node faults as a plug-in (src/common/plugin.ts): `--faults`, `--fault-nodes`,
 * `--crash-recovery`, `--crash-interval` → `plan.plugins.faults` → a FaultInjector, which runs
 * the node events of the plan's scenario (`--scenario`, the core's timeline) or the scenario
 * these flags make once the nodes are known, and adds the `faults` block to each run. Active
 * when `--faults` is above 0 or the scenario has node events. Records keep `faults`,
 * `crash_recovery` and `crash_interval` in their parameters and the four settings in their plan.
 */
import { z } from 'zod';
import { badFlag } from '../common/errors.js';
import { BENCHMARK_DEFAULTS } from '../common/defaults.js';
import { looseBoolean, wholeNumber } from '../common/loose-input.js';
import { definePlugin, type PluginContext, type PluginPlanView } from '../common/plugin.js';
import type { ProtocolOptions } from '../load/types.js';
import { createProtocol } from '../protocols/registry.js';
import {
  crashRecoveryScenario,
  faultsScenario,
  hasNodeEvents,
  SCENARIO_VERSION,
  scenarioError,
  type Scenario,
} from '../scenario/scenario.js';

export const FAULTS_PLUGIN = 'faults';

export interface FaultsSection {
  /** `--faults f`: crash f nodes when the measured window starts (with crashRecovery: at most f down at once); 0: the scenario's node events only. */
  readonly faults: number;
  readonly crashRecovery: boolean;
  readonly crashIntervalSecs: number;
  /** `--fault-nodes`: the indices of the nodes --faults takes (default: the last f). */
  readonly faultNodes?: readonly number[];
}

/** The plan's fault settings (the defaults when the plug-in is off). */
export function faultsOf(plan: { readonly plugins?: Readonly<Record<string, unknown>> }): FaultsSection {
  return (
    (plan.plugins?.[FAULTS_PLUGIN] as FaultsSection | undefined) ?? {
      faults: BENCHMARK_DEFAULTS.faults,
      crashRecovery: BENCHMARK_DEFAULTS.crashRecovery,
      crashIntervalSecs: BENCHMARK_DEFAULTS.crashIntervalSecs,
    }
  );
}

/** The `--help` group of its flags (the core's `--fault-load` joins it). */
export const FAULTS_GROUP = 'Faults (docs/faults.md):';

/** What the injector takes from the core plan. */
interface FaultsCorePlan {
  readonly protocol: ProtocolOptions;
  readonly confirm: string;
  readonly durationSecs: number;
  readonly warmupSecs: number;
  readonly scenario?: Scenario;
}

export const faultsPlugin = definePlugin({
  name: FAULTS_PLUGIN,
  group: FAULTS_GROUP,
  flags: [
    {
      name: 'faults',
      type: 'string',
      describe:
        'Crash f nodes when the measured window starts (more than (committee-1)/3: a warning, the network is expected to stall)',
      defaultDescription: String(BENCHMARK_DEFAULTS.faults),
    },
    {
      name: 'fault-nodes',
      type: 'string',
      describe: 'Which nodes --faults takes, by index: 1,3 (default: the last f)',
    },
    {
      name: 'crash-recovery',
      type: 'boolean',
      describe:
        "Crash and restart up to --faults nodes every --crash-interval (Mysten's schedule, docs/faults.md)",
      defaultDescription: String(BENCHMARK_DEFAULTS.crashRecovery),
    },
    {
      name: 'crash-interval',
      type: 'string',
      describe: 'Seconds between crashes',
      defaultDescription: String(BENCHMARK_DEFAULTS.crashIntervalSecs),
    },
  ],
  settings: z.object({
    // fewer than the network's nodes: judged against each network (section, checkNetwork)
    faults: wholeNumber(0, Infinity, 'nodes').default(BENCHMARK_DEFAULTS.faults),
    crashRecovery: looseBoolean.default(BENCHMARK_DEFAULTS.crashRecovery),
    crashInterval: wholeNumber(1, 24 * 3600, 'seconds').default(BENCHMARK_DEFAULTS.crashIntervalSecs),
    faultNodes: z.unknown().optional(),
  }),
  section: (settings, core: PluginPlanView<Scenario>, given) => {
    const { faults } = settings;
    // the plan's first generated committee (its other networks: checkNetwork)
    if (core.nodeIds !== undefined && faults >= core.nodeIds.length) {
      throw badFlag('faults', given.faults, `fewer than the committee (${core.nodeIds.length} nodes)`);
    }
    const faultNodes =
      given.faultNodes === undefined
        ? undefined
        : parseFaultNodes(given.faultNodes, faults, core.nodeIds?.length ?? Infinity);
    if (settings.crashRecovery && faults === 0) {
      throw badFlag('crash-recovery', true, 'needs --faults f (how many nodes go down at most)');
    }
    if (core.scenario !== undefined && (faults > 0 || settings.crashRecovery)) {
      throw badFlag(
        'scenario',
        core.scenario.source,
        'give --scenario or --faults/--crash-recovery, not both (a scenario can hold both)',
      );
    }
    if (core.networkType === 'endpoints' && faults > 0) {
      throw badFlag(
        'faults',
        given.faults,
        'node faults need control of the nodes, which attach mode (--endpoints) does not have; run the network with --network-type local or remote',
      );
    }
    const section: FaultsSection = {
      faults,
      crashRecovery: settings.crashRecovery,
      crashIntervalSecs: settings.crashInterval,
      ...(faultNodes ? { faultNodes } : {}),
    };
    const acts = faults > 0 || (core.scenario !== undefined && hasNodeEvents(core.scenario));
    // off, unless a setting other than the default was given (then it is recorded as given)
    return acts || Object.keys(given).length > 0 ? section : undefined;
  },
  // --faults and --fault-nodes against the later --committees, a `both` run's local network and
  // each generated remote network (a local plan's first committee: the section above; a compose
  // file's nodes: once up)
  checkNetwork: (section, network) => {
    const problem = faultsProblem(section, network.nodeIds.length, `the ${network.kind} network`);
    if (problem) throw badFlag(problem.flag, problem.value, `${problem.message}; ${problem.hint}`);
  },
  observer: async (section, context: PluginContext<FaultsCorePlan>) => {
    const scenario = scenarioFor(section, context.plan);
    if (!scenario) return undefined;
    const { FaultInjector } = await import('./injector.js');
    return new FaultInjector({
      scenario,
      protocol: createProtocol(context.plan.protocol, 'faults'),
      confirmCommit: context.plan.confirm === 'commit',
      levelMs: context.plan.durationSecs * 1000,
      warn: context.warn,
      ...(context.onForce ? { onForce: context.onForce } : {}),
    });
  },
  record: {
    parameters: (section) => {
      const settings = section ?? faultsOf({});
      return {
        faults: settings.faults,
        crash_recovery: settings.crashRecovery,
        crash_interval: settings.crashIntervalSecs,
      };
    },
    plan: (section) => {
      const { faults, crashRecovery, crashIntervalSecs, faultNodes } = section ?? faultsOf({});
      return { faults, crashRecovery, crashIntervalSecs, ...(faultNodes ? { faultNodes } : {}) };
    },
  },
});

/**
 * The scenario the injector runs: the plan's file when it has node events, else `--faults` /
 * `--crash-recovery` expanded once the nodes are known; undefined: nothing to inject.
 */
export function scenarioFor(
  section: FaultsSection,
  plan: Pick<FaultsCorePlan, 'scenario' | 'warmupSecs'>,
): Scenario | ((nodeIds: readonly string[]) => Scenario) | undefined {
  if (plan.scenario) return hasNodeEvents(plan.scenario) ? plan.scenario : undefined;
  if (section.faults === 0) return undefined;
  return (nodeIds) => {
    const problem = faultsProblem(section, nodeIds.length, 'this network');
    if (problem)
      throw scenarioError(
        `--${problem.flag}${problem.flag === 'faults' ? ` ${section.faults}` : ''}: ${problem.message}`,
        problem.hint,
      );
    const nodes = section.faultNodes
      ? section.faultNodes.map((index) => nodeIds[index] as string)
      : nodeIds.slice(nodeIds.length - section.faults);
    const source = section.crashRecovery
      ? `--faults ${section.faults} --crash-recovery --crash-interval ${section.crashIntervalSecs}`
      : `--faults ${section.faults}`;
    return {
      version: SCENARIO_VERSION,
      source: section.faultNodes ? `${source} --fault-nodes ${section.faultNodes.join(',')}` : source,
      events: [
        section.crashRecovery
          ? crashRecoveryScenario({
              faults: section.faults,
              nodes,
              everyMs: section.crashIntervalSecs * 1000,
            })
          : faultsScenario({ nodes, atMs: plan.warmupSecs * 1000 }),
      ],
    };
  };
}

/**
 * --faults and --fault-nodes against a network of `count` nodes (`network` names it): the flag at
 * fault, its value, what is wrong and the fix; undefined when they fit. The plan asks it of the
 * networks it knows, the injector of each network once it is up.
 */
function faultsProblem(
  section: FaultsSection,
  count: number,
  network: string,
): { flag: 'faults' | 'fault-nodes'; value: number | string; message: string; hint: string } | undefined {
  if (section.faults >= count)
    return {
      flag: 'faults',
      value: section.faults,
      message: `${network} has ${count} nodes`,
      hint: `give --faults below ${count}`,
    };
  const outside = section.faultNodes?.find((index) => index >= count);
  if (outside === undefined) return undefined;
  return {
    flag: 'fault-nodes',
    value: section.faultNodes?.join(',') ?? '',
    message: `node ${outside} is not in ${network} of ${count} nodes (0 to ${count - 1})`,
    hint: 'give indices of its nodes',
  };
}

/** `--fault-nodes 1,3`: distinct node indices, as many as --faults, each below the committee. */
function parseFaultNodes(raw: unknown, faults: number, committee: number): number[] {
  const items = (Array.isArray(raw) ? raw.map(String) : String(raw).split(',')).map((item) => item.trim());
  const indices = items.map(Number);
  if (items.some((item) => !/^\d+$/.test(item)) || new Set(indices).size !== indices.length) {
    throw badFlag('fault-nodes', raw, 'distinct node indices separated by commas, e.g. 1,3');
  }
  if (indices.length !== faults) {
    throw badFlag(
      'fault-nodes',
      raw,
      `${faults === 0 ? 'needs --faults' : `as many nodes as --faults (${faults})`}, got ${indices.length}`,
    );
  }
  const outside = indices.find((index) => index >= committee);
  if (outside !== undefined) {
    throw badFlag(
      'fault-nodes',
      raw,
      `node ${outside} is not in a committee of ${committee} (0 to ${committee - 1})`,
    );
  }
  return indices;
}
