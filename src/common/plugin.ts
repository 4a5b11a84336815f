/**
 * The contract of a sweep plug-in (docs/architecture.md, "How to add a plug-in"): one
 * folder declares its flags, its settings (a zod schema over the flags' camelCase keys),
 * how those become its typed plan section (`plan.plugins.<name>`), when it is active, its
 * observer and its record block's schema. One line in src/bench/registry.ts registers it;
 * the CLI, the config pipeline, the plan and `npm run schema` read the registry.
 *
 * It sits in common/ because a plug-in folder (faults, conditions, monitor, clients) may
 * not import the sweep's layer: the observer is typed by the registry, which checks it
 * against the sweep's `SweepObserver`.
 */
import type { z } from 'zod';

/** One flag: also a config-file key (kebab- or camelCase) and `MESHBENCH_<NAME>`. */
export interface PluginFlag {
  /** The long flag, kebab-case (`ingest-port`); its camelCase form is the settings key. */
  readonly name: string;
  readonly type: 'string' | 'boolean';
  readonly describe: string;
  /** What `--help` shows as the default. */
  readonly defaultDescription?: string;
  /** Takes a list (a YAML sequence, or a comma-separated string); every value is kept. */
  readonly list?: boolean;
}

/**
 * The core plan's settings a plug-in may judge its own by (cross-field rules). `Timeline` is
 * the scenario's type (src/scenario/, above this folder): the registry fixes it.
 */
export interface PluginPlanView<Timeline = unknown> {
  readonly networkType: string;
  readonly committee: number;
  readonly durationSecs: number;
  readonly warmupSecs: number;
  readonly confirm: string;
  /** The plan shapes the network with conditions (--zones, or a scenario with network events). */
  readonly shapesNetworkConditions: boolean;
  /** `--engine`: how remote nodes run (a container each, or a swarm stack). */
  readonly engine: 'docker' | 'swarm';
  /** `--nodes-per-host N` above one: remote nodes share their host's network, N to a host (absent: one). */
  readonly nodesPerHost?: number;
  /** The protocol's kind (`cometbft`, `mesh`, a module's own…). */
  readonly protocol: string;
  /** `--endpoint-metrics`: attach mode reads Prometheus pages of the endpoints. */
  readonly endpointMetrics: boolean;
  /** `--scenario FILE`, loaded and checked: the level's timeline, which plug-ins act on (faults, conditions). */
  readonly scenario?: Timeline;
  /** The node IDs of a generated network, known before it is deployed (absent: a compose file's or the hosts'). */
  readonly nodeIds?: readonly string[];
  /** Base of relative paths in settings (a file a plug-in reads). */
  readonly cwd: string;
}

/**
 * A network the plan will make whose node names are known before it is deployed, other than a
 * local plan's first committee (which `PluginPlanView.nodeIds` gives the sections): its later
 * `--committees`, a `both` run's generated local networks, and each generated remote network (its
 * hosts × nodes per host, read from the hosts file). A compose file's nodes are known only once
 * it is up.
 */
export interface KnownNetwork {
  readonly kind: 'local' | 'remote';
  readonly nodeIds: readonly string[];
}

/** What the command hands each observer factory. */
export interface PluginContext<CorePlan = unknown> {
  /** The whole frozen plan (core fields and every plug-in's section). */
  readonly plan: CorePlan;
  /** The benchmark run's id (each network it deploys has an id of its own). */
  readonly runId?: string;
  readonly warn: (line: string) => void;
  /** A progress line (the generator's metrics address). */
  readonly say?: (line: string) => void;
  /** Registers a cleanup for a forced exit (the CLI's shutdown.onForce). */
  readonly onForce?: (cleanup: () => Promise<void>) => () => void;
}

export interface PluginDefinition<
  Schema extends z.ZodObject = z.ZodObject,
  Section = unknown,
  Observer = unknown,
  CorePlan = unknown,
  Timeline = unknown,
> {
  /** The plan section's key (`plan.plugins.<name>`); unique. */
  readonly name: string;
  /** The `--help` group its flags are listed under. */
  readonly group: string;
  readonly flags: readonly PluginFlag[];
  /**
   * The settings, keyed by the flags' camelCase names; a rejected value becomes one line
   * naming the flag, its value and the schema's message (and the file or variable it came from).
   */
  readonly settings: Schema;
  /**
   * The validated settings → the plan section, or undefined when the plug-in is off for this
   * plan. Cross-field rules throw `badFlag` here. `given` is the loose input (to tell a flag
   * given from its default). May read a file the settings name (asynchronously).
   */
  readonly section: (
    settings: z.output<Schema>,
    core: PluginPlanView<Timeline>,
    given: Readonly<Record<string, unknown>>,
  ) => Section | undefined | Promise<Section | undefined>;
  /**
   * Whether these settings shape the nodes' network with conditions (delay, loss, cuts): the
   * plan view's `shapesNetworkConditions`, which other plug-ins judge their defaults by. Asked of
   * every plug-in before any section is made.
   */
  readonly shapesNetwork?: (settings: z.output<Schema>, core: PluginPlanView<Timeline>) => boolean;
  /**
   * Judges an active section against a network the plan will make whose nodes are known before
   * it is deployed (KnownNetwork): throws one line (exit 2) when the section names a node that
   * network does not have, so no network is found wanting after the ones before it ran (a `both`
   * run's local part, an earlier committee size), nor a remote one after its deploy. The observer
   * still judges every network once it is up.
   */
  readonly checkNetwork?: (section: Section, network: KnownNetwork, plan: CorePlan) => void;
  /** Images an active section needs on the nodes' hosts beside each node (a helper container): shipped with the nodes. */
  readonly sidecarImages?: (section: Section, plan: CorePlan) => readonly string[];
  /**
   * What each record written under the plan carries of this plug-in outside its block: fields of
   * `parameters` and of `plan` (where records had them before the plug-in owned them, so readers
   * of old and new records find them in one place). Called with the section, or undefined when off.
   */
  readonly record?: {
    readonly parameters?: (section: Section | undefined) => Readonly<Record<string, unknown>>;
    readonly plan?: (section: Section | undefined) => Readonly<Record<string, unknown>>;
  };
  /**
   * The observer (or observers, in order) for an active section (absent: the plug-in only shapes
   * the plan). It may load its implementation on use (`await import(...)`), so commands and runs
   * that leave the plug-in off never load it (start-up: issue 31).
   */
  readonly observer?: (
    section: Section,
    context: PluginContext<CorePlan>,
  ) => PluginObservers<Observer> | Promise<PluginObservers<Observer>>;
  /**
   * What the run summary's Plan says of an active section: `[label, value]` pairs, e.g.
   * `['zones', 'aws-4-regions.csv (4 zones)']` (absent or empty: nothing worth a line).
   */
  readonly describe?: (section: Section, plan: CorePlan) => readonly (readonly [string, string])[];
  /** The block it adds to each run of a record (`runs[].blocks.<name>`), for result.schema.json. */
  readonly runBlock?: { readonly name: string; readonly schema: z.ZodType };
}

/** What an observer factory makes: one observer, several in order, or none. */
export type PluginObservers<Observer> = Observer | readonly Observer[] | undefined;

/** Types a plug-in's definition (its section's type follows from `section`). */
export function definePlugin<
  Schema extends z.ZodObject,
  Section,
  Observer,
  CorePlan = unknown,
  Timeline = unknown,
>(
  definition: PluginDefinition<Schema, Section, Observer, CorePlan, Timeline>,
): PluginDefinition<Schema, Section, Observer, CorePlan, Timeline> {
  return definition;
}
