/**
 * The sweep's plug-ins for a plan: each capability that acts during a level (faults,
 * conditions, monitors, load clients…) is one folder with an observer, registered by one line
 * in src/bench/registry.ts. The command passes these to runBenchmark before its reporters.
 */
import type { PluginContext } from '../common/plugin.js';
import type { SweepObserver } from './observer.js';
import { sweepPlugins } from './registry.js';
import type { BenchmarkPlan } from './plan.js';

export async function pluginObservers(
  plan: BenchmarkPlan,
  /** What each observer factory gets but the plan (src/common/plugin.ts). */
  context: Omit<PluginContext, 'plan'>,
): Promise<SweepObserver[]> {
  const observers: SweepObserver[] = [];
  // In the registry's order (src/bench/registry.ts): the fault injector first, the conditioner
  // after the others (their load end comes while conditions still hold).
  for (const plugin of sweepPlugins()) {
    const section = plan.plugins?.[plugin.name];
    if (section === undefined || !plugin.observer) continue;
    const made = await plugin.observer(section, { ...context, plan });
    if (Array.isArray(made)) observers.push(...(made as readonly SweepObserver[]));
    else if (made) observers.push(made as SweepObserver);
  }
  return observers;
}

/** The images the plan's active plug-ins need beside each node (the network helper…), each once. */
export function pluginSidecarImages(plan: BenchmarkPlan): string[] {
  const images = sweepPlugins().flatMap((plugin) => {
    const section = plan.plugins?.[plugin.name];
    return section === undefined || !plugin.sidecarImages ? [] : plugin.sidecarImages(section, plan);
  });
  return [...new Set(images)];
}
