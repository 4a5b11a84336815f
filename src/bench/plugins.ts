/**
 * The sweep's plug-ins for a plan: each capability that acts during a level (faults now;
 * monitors, remote load clients next) is one folder with an observer, registered here by
 * one line. The command passes these to runBenchmark before its reporters.
 */
import { FaultInjector } from '../faults/injector.js';
import { NetworkConditioner } from '../conditions/conditioner.js';
import { createProtocol } from '../protocols/registry.js';
import {
  crashRecoveryScenario,
  faultsScenario,
  hasNetworkConditions,
  hasNodeEvents,
  networkEvents,
  SCENARIO_VERSION,
  scenarioError,
  type Scenario,
} from '../scenario/scenario.js';
import type { SweepObserver } from './observer.js';
import { sweepPlugins } from './registry.js';
import type { BenchmarkPlan } from './plan.js';

export function pluginObservers(
  plan: BenchmarkPlan,
  context: {
    readonly warn: (line: string) => void;
    /** A progress line (the generator's metrics address). */
    readonly say?: (line: string) => void;
    /** Registers a cleanup for a forced exit (the CLI's shutdown.onForce). */
    readonly onForce?: (cleanup: () => Promise<void>) => () => void;
  },
): SweepObserver[] {
  const observers: SweepObserver[] = [];
  const scenario = scenarioFor(plan);
  if (scenario && (typeof scenario === 'function' || hasNodeEvents(scenario))) {
    observers.push(
      new FaultInjector({
        scenario,
        protocol: createProtocol(plan.protocol, 'faults'),
        confirmCommit: plan.confirm === 'commit',
        levelMs: plan.durationSecs * 1000,
        warn: context.warn,
        ...(context.onForce ? { onForce: context.onForce } : {}),
      }),
    );
  }
  // The registered plug-ins (src/bench/registry.ts). Propagation's comes before the conditioner: its load end
  // (the last probes, the round trips) comes while conditions still hold. All come before the outputs:
  // their blocks are in place by the outputs' load end.
  for (const plugin of sweepPlugins()) {
    const section = plan.plugins?.[plugin.name];
    if (section === undefined || !plugin.observer) continue;
    const made = plugin.observer(section, { ...context, plan });
    if (Array.isArray(made)) observers.push(...(made as readonly SweepObserver[]));
    else if (made) observers.push(made as SweepObserver);
  }
  const file = plan.scenario;
  const zones = plan.zones ?? file?.zones;
  const events = file ? networkEvents(file) : [];
  if (shapesNetwork(plan)) {
    observers.push(
      new NetworkConditioner({
        conditions: {
          events,
          ...(zones ? { zones } : {}),
          ...(file?.mobility ? { mobility: file.mobility } : {}),
        },
        source: file?.source ?? `--zones ${zones?.matrix.source ?? ''}`,
        indices: file ? file.events.flatMap((event, index) => (event.kind === 'network' ? [index] : [])) : [],
        delayMechanism: plan.delayMechanism,
        zonesOn: plan.zonesOn,
        ...(plan.liveConditions ? { live: true } : {}),
        ...(plan.shapeOrchestrator ? { orchestrator: true } : {}),
        ...(plan.capture ? { capture: plan.capture, captureMaxMb: plan.captureMaxMb } : {}),
        confirmCommit: plan.confirm === 'commit',
        warn: context.warn,
        ...(context.onForce ? { onForce: context.onForce } : {}),
      }),
    );
  }
  return observers;
}

/** Whether the plan shapes the network (conditions, zones, mobility, or live changes): then each node gets a helper. */
export function shapesNetwork(plan: BenchmarkPlan): boolean {
  return (
    plan.zones !== undefined ||
    plan.liveConditions === true ||
    plan.capture !== undefined ||
    (plan.scenario !== undefined && hasNetworkConditions(plan.scenario))
  );
}

/** The plan's scenario: its file, or `--faults` / `--crash-recovery` expanded once the nodes are known. */
export function scenarioFor(
  plan: BenchmarkPlan,
): Scenario | ((nodeIds: readonly string[]) => Scenario) | undefined {
  if (plan.scenario) return plan.scenario;
  if (plan.faults === 0) return undefined;
  return (nodeIds) => {
    if (plan.faults >= nodeIds.length) {
      throw scenarioError(
        `--faults ${plan.faults}: this network has ${nodeIds.length} nodes`,
        `give --faults below ${nodeIds.length}`,
      );
    }
    const outside = plan.faultNodes?.find((index) => index >= nodeIds.length);
    if (outside !== undefined) {
      throw scenarioError(
        `--fault-nodes: node ${outside} is not in this network of ${nodeIds.length} nodes (0 to ${nodeIds.length - 1})`,
        'give indices of its nodes',
      );
    }
    const nodes = plan.faultNodes
      ? plan.faultNodes.map((index) => nodeIds[index] as string)
      : nodeIds.slice(nodeIds.length - plan.faults);
    const source = plan.crashRecovery
      ? `--faults ${plan.faults} --crash-recovery --crash-interval ${plan.crashIntervalSecs}`
      : `--faults ${plan.faults}`;
    return {
      version: SCENARIO_VERSION,
      source: plan.faultNodes ? `${source} --fault-nodes ${plan.faultNodes.join(',')}` : source,
      events: [
        plan.crashRecovery
          ? crashRecoveryScenario({ faults: plan.faults, nodes, everyMs: plan.crashIntervalSecs * 1000 })
          : faultsScenario({ nodes, atMs: plan.warmupSecs * 1000 }),
      ],
    };
  };
}
