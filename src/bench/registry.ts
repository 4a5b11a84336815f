/**
 * The sweep's plug-ins, one line each (src/common/plugin.ts; docs/architecture.md, "How to
 * add a plug-in"). The CLI takes their flags from here (grouped in `--help` under each
 * plug-in's group), the config pipeline their settings, the plan their sections
 * (`plan.plugins.<name>`), pluginObservers their observers and `npm run schema` their
 * record blocks, the testbeds the sidecar images they need, and the record the fields they
 * keep outside their block. Order matters only for the observers: theirs run in this order
 * (the fault injector first, the propagation probes before the monitoring outputs so their
 * block is in place by the outputs' load end, the conditioner last), then those registered
 * at run time.
 */
import type { z } from 'zod';
import type { PluginDefinition } from '../common/plugin.js';
import { loadClientsPlugin } from '../clients/plugin.js';
import { conditionsPlugin } from '../conditions/plugin.js';
import { faultsPlugin } from '../faults/plugin.js';
import { ingestPlugin } from '../monitor/ingest/plugin.js';
import { meshPlugin } from '../monitor/mesh/plugin.js';
import { monitoringPlugin } from '../monitor/plugin.js';
import { propagationPlugin } from '../monitor/propagation-plugin.js';
import type { Scenario } from '../scenario/scenario.js';
import type { SweepObserver } from './observer.js';
import type { BenchmarkPlan } from './plan.js';

/** A registered plug-in: its observer is a sweep observer; the timeline it may act on is the scenario. */
export type SweepPlugin = PluginDefinition<z.ZodObject, unknown, SweepObserver, BenchmarkPlan, Scenario>;

/** Checks at compile time that a definition's observer is a SweepObserver. */
function plugin<Schema extends z.ZodObject, Section>(
  definition: PluginDefinition<Schema, Section, SweepObserver, BenchmarkPlan, Scenario>,
): SweepPlugin {
  return definition as unknown as SweepPlugin;
}

const BUILT_IN: readonly SweepPlugin[] = [
  // the fault injector first: its events are on the level's clock from the first moment
  plugin(faultsPlugin),
  plugin(propagationPlugin),
  plugin(ingestPlugin),
  plugin(loadClientsPlugin),
  plugin(meshPlugin),
  plugin(monitoringPlugin),
  // the conditioner last: the others' load end (propagation's last probes) comes while conditions still hold
  plugin(conditionsPlugin),
];

const registered: SweepPlugin[] = [];

/** Every plug-in: the built-in ones, then those registered at run time. */
export function sweepPlugins(): readonly SweepPlugin[] {
  return [...BUILT_IN, ...registered];
}

/**
 * Registers a plug-in at run time (a script's or a test's own; its flags reach the
 * command when registered before it parses). Returns a function that removes it.
 */
export function registerPlugin<Schema extends z.ZodObject, Section>(
  definition: PluginDefinition<Schema, Section, SweepObserver, BenchmarkPlan, Scenario>,
): () => void {
  const entry = plugin(definition);
  const taken = sweepPlugins().find((other) => other.name === entry.name);
  if (taken) throw new Error(`a plug-in named ${entry.name} is already registered`);
  const flags = new Set(sweepPlugins().flatMap((other) => other.flags.map((flag) => flag.name)));
  const clash = entry.flags.find((flag) => flags.has(flag.name));
  if (clash) throw new Error(`plug-in ${entry.name}: the flag --${clash.name} is already another plug-in's`);
  registered.push(entry);
  return () => {
    const index = registered.indexOf(entry);
    if (index >= 0) registered.splice(index, 1);
  };
}

/** camelCase settings key of a kebab-case flag. */
export function pluginSettingKey(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}
