/**
 * Network conditions as a plug-in (src/common/plugin.ts): `--zones`, `--zone-of`, `--zones-on`,
 * `--delay-mechanism`, `--live-conditions`, `--shape-orchestrator`, `--capture`,
 * `--capture-max-mb` → `plan.plugins.conditions` → a NetworkConditioner, which applies the
 * network events of the plan's scenario (`--scenario`, the core's timeline) and the zones from
 * a helper container in each node's namespace and adds the `network` block to each run. It
 * shapes the network when there are zones or network events, `--live-conditions` or
 * `--capture`; then the network helper's image goes with the nodes. Records keep the settings
 * in their plan where they were (`zones`, `delayMechanism`, `zonesOn`, …).
 */
import { basename, resolve } from 'node:path';
import { z } from 'zod';
import { badFlag } from '../common/errors.js';
import { looseBoolean, wholeNumber } from '../common/loose-input.js';
import { NETHELPER_IMAGE } from '../common/net-shaping.js';
import { definePlugin, type PluginContext, type PluginPlanView } from '../common/plugin.js';
import {
  checkTimeline,
  hasNetworkConditions,
  networkEvents,
  scenarioError,
  type Scenario,
} from '../scenario/scenario.js';
import {
  loadZoneMatrix,
  ORCHESTRATOR,
  parseZoneAssign,
  ZoneProblem,
  zoneOfNodes,
  type ZonesSpec,
} from '../scenario/zones.js';

export const CONDITIONS_PLUGIN = 'conditions';

export interface ConditionsSection {
  /** `--zones FILE.csv` (with `--zone-of`): zone matrix and assignment, loaded. A scenario's own `zones:` stay in the scenario. */
  readonly zones?: ZonesSpec;
  /** `--zones-on`: the networks the zones apply to (all, or only local or remote with --network-type both). */
  readonly zonesOn: 'all' | 'local' | 'remote';
  /** `--delay-mechanism`: netem where the kernel has it, else nfq-delay (auto), or one forced. */
  readonly delayMechanism: 'auto' | 'netem' | 'nfqueue';
  /** `--live-conditions`: the network helpers start even without conditions, for `conditions set`. */
  readonly liveConditions?: boolean;
  /** `--shape-orchestrator`: the orchestrator's traffic with the nodes is shaped too, as the links of `client`. */
  readonly shapeOrchestrator?: boolean;
  /** `--capture`: the nodes whose traffic goes to a pcap per level ('all': every node). */
  readonly capture?: readonly string[] | 'all';
  /** `--capture-max-mb`: each pcap's size cap. */
  readonly captureMaxMb: number;
}

const DEFAULT_SECTION: ConditionsSection = { zonesOn: 'all', delayMechanism: 'auto', captureMaxMb: 20 };

/** The plan's condition settings (the defaults when the plug-in is off). */
export function conditionsOf(plan: {
  readonly plugins?: Readonly<Record<string, unknown>>;
}): ConditionsSection {
  return (plan.plugins?.[CONDITIONS_PLUGIN] as ConditionsSection | undefined) ?? DEFAULT_SECTION;
}

/** Whether the plan shapes the network (zones, network events, live changes or a capture): then each node gets a helper. */
export function shapesNetwork(section: ConditionsSection, scenario: Scenario | undefined): boolean {
  return (
    section.zones !== undefined ||
    section.liveConditions === true ||
    section.capture !== undefined ||
    (scenario !== undefined && hasNetworkConditions(scenario))
  );
}

const GROUP = 'Network conditions (docs/conditions.md):';

/**
 * The nodes a section names (the zones' assignment, from --zone-of or the scenario's `zones:`,
 * and --capture) against a network's nodes: one line (exit 2) for the first that is not one.
 * `given`: the loose input, to quote flags as they were given (absent: the section's values).
 */
function checkNodeNames(
  section: Omit<ConditionsSection, 'zones'> & { readonly zones?: ZonesSpec | undefined },
  scenario: Scenario | undefined,
  nodeIds: readonly string[],
  network: string,
  given?: Readonly<Record<string, unknown>>,
): void {
  const optional = section.shapeOrchestrator ? [ORCHESTRATOR] : [];
  const zones = section.zones ?? scenario?.zones;
  if (zones) {
    try {
      zoneOfNodes(zones, nodeIds, optional, network);
    } catch (error) {
      if (!(error instanceof ZoneProblem)) throw error;
      if (!section.zones)
        throw scenarioError(
          `${scenario?.source ?? 'the scenario'}: ${error.message}`,
          "name each of the network's nodes under zones: nodes, or leave nodes out to place them round robin",
        );
      const assign = zones.assign
        ? Object.entries(zones.assign)
            .map(([node, zone]) => `${node}=${zone}`)
            .join(',')
        : undefined;
      throw zones.assign
        ? badFlag('zone-of', given?.zoneOf ?? assign, error.message)
        : badFlag('zones', given?.zones ?? zones.matrix.source, error.message);
    }
  }
  const capture = section.capture;
  const unknown = Array.isArray(capture) ? capture.find((node) => !nodeIds.includes(node)) : undefined;
  if (unknown !== undefined)
    throw badFlag(
      'capture',
      given?.capture ?? (capture as readonly string[]).join(','),
      `no node ${unknown} in ${network} (nodes: ${nodeIds.join(', ')}); give node IDs or all`,
    );
}

interface ConditionsCorePlan {
  readonly confirm: string;
  readonly scenario?: Scenario;
}

export const conditionsPlugin = definePlugin({
  name: CONDITIONS_PLUGIN,
  group: GROUP,
  flags: [
    {
      name: 'zones',
      type: 'string',
      describe:
        'CSV matrix of one-way delays between zones; nodes go round robin over its zones (docs/conditions.md, examples/zones/)',
    },
    {
      name: 'zone-of',
      type: 'string',
      describe: 'Which zone each node is in: node0=us-east-1,node1=eu-west-1',
    },
    {
      name: 'zones-on',
      type: 'string',
      describe:
        'The networks the zones apply to: all, or with --network-type both only remote (a WAN beside a plain local network) or local',
      defaultDescription: 'all',
    },
    {
      name: 'delay-mechanism',
      type: 'string',
      describe:
        'How delay is applied: auto (netem where the kernel has it, else the nfq-delay helper), netem or nfqueue',
      defaultDescription: 'auto',
    },
    {
      name: 'live-conditions',
      type: 'boolean',
      describe:
        'Start the network helpers even without conditions, so `conditions set` can change links while the run goes',
      defaultDescription: 'false',
    },
    {
      name: 'shape-orchestrator',
      type: 'boolean',
      describe:
        "Shape the orchestrator's traffic with the nodes too (load, RPC, metrics), as the links of `client`; never shaped otherwise",
      defaultDescription: 'false',
    },
    {
      name: 'capture',
      type: 'string',
      describe:
        'Write a pcap per node and level into the run folder (tcpdump in its namespace): node0,node2 or all',
    },
    {
      name: 'capture-max-mb',
      type: 'string',
      describe: "Each pcap's size cap: tcpdump keeps the last this many MB",
      defaultDescription: '20',
    },
  ],
  settings: z.object({
    zones: z.string().trim().min(1, { message: 'a non-empty path' }).optional(),
    zoneOf: z.string().optional(),
    zonesOn: z.enum(['all', 'local', 'remote']).default('all'),
    delayMechanism: z.enum(['auto', 'netem', 'nfqueue']).default('auto'),
    liveConditions: looseBoolean.default(false),
    shapeOrchestrator: looseBoolean.default(false),
    capture: z.string().min(1).optional(),
    captureMaxMb: wholeNumber(1, 2000, 'MB').default(20),
  }),
  shapesNetwork: (settings, core: PluginPlanView<Scenario>) =>
    settings.zones !== undefined || (core.scenario !== undefined && hasNetworkConditions(core.scenario)),
  section: async (settings, core: PluginPlanView<Scenario>, given) => {
    const { scenario, nodeIds } = core;
    if (given.zonesOn !== undefined && settings.zones === undefined && !scenario?.zones) {
      throw badFlag('zones-on', given.zonesOn, 'needs zones (--zones FILE.csv, or zones: in the scenario)');
    }
    if (settings.zoneOf !== undefined && settings.zones === undefined) {
      throw badFlag('zone-of', given.zoneOf, 'needs --zones FILE.csv (the matrix the zones come from)');
    }
    if (settings.zones !== undefined && scenario?.zones) {
      throw badFlag(
        'zones',
        given.zones,
        `${settings.zones}: the scenario has zones of its own; give them in one place`,
      );
    }
    if (core.networkType === 'endpoints' && settings.zones !== undefined) {
      throw badFlag(
        'zones',
        given.zones,
        "network conditions need the nodes' network namespaces, which attach mode (--endpoints) does not have; run the network with --network-type local or remote",
      );
    }
    const capture =
      settings.capture === undefined
        ? undefined
        : settings.capture.trim() === 'all'
          ? ('all' as const)
          : settings.capture
              .split(',')
              .map((node) => node.trim())
              .filter(Boolean);
    if (capture && core.networkType === 'endpoints') {
      throw badFlag(
        'capture',
        given.capture,
        "a capture runs in the nodes' network namespaces, which attach mode (--endpoints) does not have",
      );
    }
    // remote nodes run on their host's network: N to a host share one namespace, which no
    // condition can tell apart (refused here rather than after the deploy)
    if ((core.nodesPerHost ?? 1) > 1) {
      const shaping =
        settings.zones !== undefined
          ? '--zones'
          : capture !== undefined
            ? '--capture'
            : settings.liveConditions
              ? '--live-conditions'
              : scenario && hasNetworkConditions(scenario)
                ? "the scenario's network events"
                : undefined;
      if (shaping !== undefined)
        throw badFlag(
          'nodes-per-host',
          core.nodesPerHost,
          `${shaping} need${shaping.startsWith('the') ? '' : 's'} each node in its own network namespace, and remote nodes on one host share the host's; run one node per host (more hosts), or leave out ${shaping.startsWith('the') ? 'the scenario' : shaping}`,
        );
    }
    // a scenario's `client` links need --shape-orchestrator (the core checked the rest of its timeline)
    if (scenario) checkTimeline(scenario, [], nodeIds, core.durationSecs * 1000, settings.shapeOrchestrator);
    let zones: ZonesSpec | undefined;
    if (settings.zones !== undefined) {
      try {
        const matrix = await loadZoneMatrix(resolve(core.cwd, settings.zones), settings.zones);
        zones = {
          matrix,
          ...(settings.zoneOf !== undefined ? { assign: parseZoneAssign(settings.zoneOf) } : {}),
        };
      } catch (error) {
        if (error instanceof ZoneProblem)
          throw settings.zoneOf !== undefined && /--zone-of/.test(error.message)
            ? badFlag('zone-of', given.zoneOf, error.message)
            : badFlag('zones', given.zones, error.message);
        throw error;
      }
    }
    const section: ConditionsSection = {
      ...(zones ? { zones } : {}),
      zonesOn: settings.zonesOn,
      delayMechanism: settings.delayMechanism,
      ...(settings.liveConditions ? { liveConditions: true } : {}),
      ...(settings.shapeOrchestrator ? { shapeOrchestrator: true } : {}),
      ...(capture ? { capture } : {}),
      captureMaxMb: settings.captureMaxMb,
    };
    // a generated local committee's names are known now (other networks': checkNetwork, or once up)
    if (nodeIds) checkNodeNames(section, scenario, nodeIds, 'this network', given);
    // off when it shapes nothing and no setting was given (a given one is recorded as given)
    return shapesNetwork(section, scenario) || Object.keys(given).length > 0 ? section : undefined;
  },
  checkNetwork: (section, network, plan: ConditionsCorePlan) => {
    const applies = section.zonesOn === 'all' || section.zonesOn === network.kind;
    checkNodeNames(
      applies ? section : { ...section, zones: undefined },
      applies ? plan.scenario : plan.scenario && { ...plan.scenario, zones: undefined },
      network.nodeIds,
      `the ${network.kind} network`,
    );
  },
  observer: async (section, context: PluginContext<ConditionsCorePlan>) => {
    const file = context.plan.scenario;
    if (!shapesNetwork(section, file)) return undefined;
    const zones = section.zones ?? file?.zones;
    const { NetworkConditioner } = await import('./conditioner.js');
    return new NetworkConditioner({
      conditions: {
        events: file ? networkEvents(file) : [],
        ...(zones ? { zones } : {}),
        ...(file?.mobility ? { mobility: file.mobility } : {}),
      },
      source: file?.source ?? `--zones ${zones?.matrix.source ?? ''}`,
      indices: file ? file.events.flatMap((event, index) => (event.kind === 'network' ? [index] : [])) : [],
      delayMechanism: section.delayMechanism,
      zonesOn: section.zonesOn,
      ...(section.liveConditions ? { live: true } : {}),
      ...(section.shapeOrchestrator ? { orchestrator: true } : {}),
      ...(section.capture ? { capture: section.capture, captureMaxMb: section.captureMaxMb } : {}),
      confirmCommit: context.plan.confirm === 'commit',
      ...(context.runId ? { benchmarkRunId: context.runId } : {}),
      warn: context.warn,
      ...(context.onForce ? { onForce: context.onForce } : {}),
    });
  },
  describe: (section, plan: ConditionsCorePlan) => {
    const zones = section.zones ?? plan.scenario?.zones;
    const lines: [string, string][] = [];
    if (zones) {
      const source = basename(zones.matrix.source);
      const where = section.zonesOn === 'all' ? '' : `, on the ${section.zonesOn} network only`;
      const assigned = zones.assign ? 'nodes as assigned' : 'nodes round robin';
      lines.push(['zones', `${source} (${zones.matrix.zones.length} zones, ${assigned}${where})`]);
    }
    if (section.liveConditions)
      lines.push(['live conditions', 'on (`conditions set` changes the links mid-level)']);
    if (section.shapeOrchestrator) lines.push(['shaped', "the orchestrator's links too (as client)"]);
    if (section.capture)
      lines.push([
        'capture',
        `${section.capture === 'all' ? 'every node' : section.capture.join(', ')}, up to ${section.captureMaxMb} MB a pcap`,
      ]);
    return lines;
  },
  sidecarImages: (section, plan: ConditionsCorePlan) =>
    shapesNetwork(section, plan.scenario) ? [NETHELPER_IMAGE] : [],
  record: {
    plan: (section) => {
      const { zones, zonesOn, delayMechanism, liveConditions, shapeOrchestrator, capture, captureMaxMb } =
        section ?? DEFAULT_SECTION;
      return {
        ...(zones ? { zones } : {}),
        delayMechanism,
        zonesOn,
        ...(liveConditions ? { liveConditions } : {}),
        ...(shapeOrchestrator ? { shapeOrchestrator } : {}),
        ...(capture ? { capture } : {}),
        captureMaxMb,
      };
    },
  },
});
