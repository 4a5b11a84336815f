/**
 * The `benchmark` flags: yargs definitions, and the mapping of parsed argv onto
 * the loose input that `buildBenchmarkPlan` validates once (zod, cross-field rules)
 * into a frozen BenchmarkPlan. Numeric flags are read as strings so an error can
 * quote exactly what the user typed; defaults live in the plan schema, in one place.
 */
import type { Argv } from 'yargs';
import {
  buildBenchmarkPlan,
  DEFAULTS,
  type BenchmarkInput,
  type BenchmarkPlan,
  type PlanContext,
} from '../bench/plan.js';
import {
  committingKinds,
  DEFAULT_PROTOCOL,
  protocolKinds,
  protocolSettings,
  type ProtocolDefinition,
  type ProtocolSetting,
} from '../protocols/index.js';
import { settingFlag } from '../protocols/settings.js';
import { pluginSettingKey, sweepPlugins } from '../bench/registry.js';
import { FAULTS_GROUP } from '../faults/plugin.js';
import {
  DASHBOARD_DEFAULT_HOST,
  DASHBOARD_DEFAULT_PORT,
  DASHBOARD_DESCRIBE,
  DASHBOARD_HOST_DESCRIBE,
} from '../bench/dashboard-input.js';

export type { BenchmarkPlan } from '../bench/plan.js';

/** What yargs hands back for the benchmark flags (all optional: defaults are applied by the plan). */
export interface BenchmarkArgs {
  readonly 'network-type'?: string;
  readonly 'output-dir'?: string;
  readonly 'console-output'?: boolean;
  readonly 'file-output'?: boolean;
  readonly png?: boolean;
  readonly committee?: string;
  readonly committees?: string | string[];
  readonly 'host-counts'?: string | string[];
  readonly topology?: string;
  readonly 'topology-seed'?: string;
  readonly system?: string;
  readonly duration?: string;
  readonly 'transaction-size'?: string;
  readonly 'local-loads'?: string | string[];
  readonly 'remote-loads'?: string | string[];
  readonly loads?: string | string[];
  readonly runs?: string;
  readonly warmup?: string;
  readonly protocol?: string;
  readonly confirm?: string;
  readonly endpoints?: string | string[];
  readonly 'endpoint-metrics'?: string | string[];
  readonly 'hosts-file'?: string;
  readonly 'nodes-per-host'?: string;
  readonly engine?: string;
  readonly 'swarm-network'?: string;
  readonly 'ssh-config'?: string;
  readonly 'docker-compose-path'?: string | string[];
  readonly 'node-access'?: string;
  readonly 'startup-wait'?: string;
  readonly 'max-clock-offset'?: string;
  readonly mix?: string;
  readonly 'allow-clock-offset'?: boolean;
  readonly cleanup?: boolean;
  readonly 'cleanup-thorough'?: boolean;
  readonly 'fresh-network'?: boolean;
  readonly 'load-search'?: boolean;
  readonly 'load-search-start'?: string;
  readonly 'load-search-max'?: string;
  readonly 'min-efficiency'?: string;
  readonly 'p99-bound-ms'?: string;
  readonly 'fault-load'?: string;
  readonly scenario?: string;
  readonly 'settle-timeout'?: string;
  readonly 'settle-secs'?: string;
  readonly workers?: string;
  readonly connections?: string;
  readonly transport?: string;
  readonly dashboard?: string | boolean;
  readonly 'dashboard-host'?: string;
  readonly interactive?: boolean;
  readonly config?: string;
  /** Each protocol's settings as flags (`--broadcast-mode`, `--http-method`…: src/protocols/). */
  readonly [protocolFlag: string]: unknown;
}

const GROUP_NETWORK = 'Network:';
const GROUP_LOAD = 'Load:';
/** The protocols' settings as flags: the default protocol's under Load, the others' in their own group. */
function protocolFlagGroups(): { readonly group: string; readonly settings: readonly ProtocolSetting[] }[] {
  const byProtocol = (test: (protocol: ProtocolDefinition) => boolean) =>
    protocolSettings().filter(({ protocol }) => test(protocol));
  const others = byProtocol((protocol) => protocol.kind !== DEFAULT_PROTOCOL);
  const kinds = [...new Set(others.map(({ protocol }) => protocol.kind))];
  return [
    { group: GROUP_LOAD, settings: byProtocol((p) => p.kind === DEFAULT_PROTOCOL).map((s) => s.setting) },
    { group: `Protocol (${kinds.join(', ')}):`, settings: others.map(({ setting }) => setting) },
  ];
}

function addProtocolFlags<T>(argv: Argv<T>, group: string, settings: readonly ProtocolSetting[]): Argv<T> {
  let withFlags = argv;
  for (const setting of settings) {
    withFlags = withFlags.option(settingFlag(setting.key), {
      type: 'string',
      describe: setting.describe,
      group,
      requiresArg: true,
      ...(setting.defaultDescription === undefined ? {} : { defaultDescription: setting.defaultDescription }),
      ...(setting.repeatable ? { array: true } : {}),
    }) as Argv<T>;
  }
  return withFlags;
}
const GROUP_OUTPUT = 'Output:';
const GROUP_SEARCH = 'Saturation search:';
/** `--scenario`: the level's timeline, which the faults and conditions plug-ins act on. */
const GROUP_SCENARIO = 'Scenario (docs/faults.md, docs/conditions.md):';
const GROUP_CONFIG = 'Configuration:';
const GROUP_MONITORING = 'Monitoring (docs/monitoring.md):';

/** Adds the benchmark flags to a yargs instance (the CLI module wires this in). */
export function addBenchmarkOptions<T>(argv: Argv<T>): Argv<T & BenchmarkArgs> {
  const text = (describe: string, group: string, defaultDescription?: string) =>
    ({
      type: 'string',
      describe,
      group,
      requiresArg: true,
      ...(defaultDescription ? { defaultDescription } : {}),
    }) as const;
  const flag = (describe: string, group: string, defaultDescription: string) =>
    ({ type: 'boolean', describe, group, defaultDescription }) as const;
  const [defaultProtocolFlags, otherProtocolFlags] = protocolFlagGroups();
  const upToProtocol = argv
    .option('network-type', text('Where to run: local | remote | both', GROUP_NETWORK, DEFAULTS.networkType))
    .option('committee', text('Number of nodes (local)', GROUP_NETWORK, String(DEFAULTS.committee)))
    .option(
      'committees',
      text(
        'Repeat the whole sweep per committee size, each on its own local network: 4,8,16 (not with --committee)',
        GROUP_NETWORK,
      ),
    )
    .option(
      'host-counts',
      text(
        'Repeat the whole sweep per number of remote hosts (the first k of the hosts file): 2,4',
        GROUP_NETWORK,
      ),
    )
    .option(
      'topology',
      text(
        'Who connects to whom in a generated network: full | star (node0 the hub) | ring | random:K (K peers each, seeded, connected)',
        GROUP_NETWORK,
        'full',
      ),
    )
    .option(
      'topology-seed',
      text('Seed of --topology random:K (recorded either way)', GROUP_NETWORK, 'random'),
    )
    .option(
      'system',
      text(
        "What a generated network is made of, locally and on the remote hosts: a folder of meshbench's systems/ (libp2p-gossipsub, crdt-sync) or of yours with a system.json; its protocol is the default",
        GROUP_NETWORK,
        'refnode',
      ),
    )
    .option(
      'docker-compose-path',
      text(
        'Your own compose file for the local network, and with --engine swarm the remote stack (repeat it to merge several, as compose -f does)',
        GROUP_NETWORK,
      ),
    )
    .option(
      'node-access',
      text(
        'How the generator reaches local nodes: auto | direct (container addresses, no docker-proxy) | published (host ports)',
        GROUP_NETWORK,
        DEFAULTS.nodeAccess,
      ),
    )
    .option(
      'hosts-file',
      text('Hosts for remote: env file (MYSTICETI_NODE{n}_HOST…) or YAML inventory', GROUP_NETWORK),
    )
    .option(
      'nodes-per-host',
      text(
        'Remote nodes per host with --engine docker (node i on host i mod H): a network of hosts × N nodes; the system must let its ports move (the reference node does)',
        GROUP_NETWORK,
        '1',
      ),
    )
    .option(
      'engine',
      text(
        'How remote nodes run: docker (a container per node on each host) | swarm (the hosts form or are a Docker Swarm; the network is a stack, one node per host; --docker-compose-path is the stack when given)',
        GROUP_NETWORK,
        'docker',
      ),
    )
    .option(
      'swarm-network',
      text(
        "With --engine swarm, the nodes' P2P network: auto (overlay, else the hosts') | overlay | host",
        GROUP_NETWORK,
        'auto',
      ),
    )
    .option(
      'ssh-config',
      text(
        'OpenSSH client config for the remote hosts (Host aliases, HostName, User, Port, IdentityFile, ProxyJump), or none',
        GROUP_NETWORK,
        "MESHBENCH_SSH_CONFIG, the inventory's ssh_config:, else ~/.ssh/config and /etc/ssh/ssh_config",
      ),
    )
    .option(
      'startup-wait',
      text(
        'Longest wait for every node to be ready, seconds',
        GROUP_NETWORK,
        String(DEFAULTS.startupWaitSecs),
      ),
    )
    .option(
      'max-clock-offset',
      text(
        "Refuse to deploy when a remote host's clock is further off than this many ms (measured over SSH; recorded always)",
        GROUP_NETWORK,
        'no limit',
      ),
    )
    .option(
      'allow-clock-offset',
      flag('Above --max-clock-offset, warn instead of refusing', GROUP_NETWORK, 'false'),
    )
    .option(
      'endpoints',
      text(
        "Attach to a running network: RPC [NAME=]URL[,…] (no deploy, no cleanup; NAME: the node's own name, e.g. node0=http://…)",
        GROUP_NETWORK,
      ),
    )
    .option(
      'endpoint-metrics',
      text(
        "With --endpoints: each endpoint's Prometheus page, URL[,URL…] in the same order (per-node CPU and memory)",
        GROUP_NETWORK,
      ),
    )
    .option(
      'fresh-network',
      flag('Redeploy the network for every load level', GROUP_NETWORK, String(DEFAULTS.freshNetwork)),
    )
    .option(
      'cleanup',
      flag(
        'Remove the network when done (and on Ctrl-C): its containers, networks and volumes',
        GROUP_NETWORK,
        String(DEFAULTS.cleanup),
      ),
    )
    .option(
      'cleanup-thorough',
      flag(
        'Also remove the run folder and, on remote hosts, the shipped image',
        GROUP_NETWORK,
        String(DEFAULTS.cleanupThorough),
      ),
    )
    .option(
      'duration',
      text('Seconds of load per level (warm-up included)', GROUP_LOAD, String(DEFAULTS.durationSecs)),
    )
    .option(
      'warmup',
      text(
        'Seconds at the start of each level left out of the figures',
        GROUP_LOAD,
        '5 (0 if duration < 30)',
      ),
    )
    .option(
      'transaction-size',
      text('Transaction size in bytes', GROUP_LOAD, String(DEFAULTS.transactionSizeBytes)),
    )
    .option(
      'mix',
      text(
        'Workload mix: a YAML/JSON file of transaction kinds (name, weight, size, and per protocol method/route or mode); per-kind figures in the record',
        GROUP_LOAD,
      ),
    )
    .option('loads', text('Load levels in tx/s for the chosen network type(s), e.g. 100,200', GROUP_LOAD))
    .option(
      'local-loads',
      text('Load levels in tx/s on the local network', GROUP_LOAD, DEFAULTS.localLoads.join(',')),
    )
    .option(
      'remote-loads',
      text('Load levels in tx/s on the remote network', GROUP_LOAD, DEFAULTS.remoteLoads.join(',')),
    )
    .option(
      'runs',
      text('Repeat each level R times; figures are mean ± stddev', GROUP_LOAD, String(DEFAULTS.runs)),
    )
    .option(
      'protocol',
      text(
        `${protocolKinds().join(' | ')} | ./module.mjs (docs/protocols.md)`,
        GROUP_LOAD,
        `${DEFAULT_PROTOCOL}, or the meshbench.protocol label of --docker-compose-path's nodes`,
      ),
    );
  const upToTransport = addProtocolFlags(
    upToProtocol,
    defaultProtocolFlags?.group ?? GROUP_LOAD,
    defaultProtocolFlags?.settings ?? [],
  )
    .option(
      'confirm',
      text(
        'none | commit (wait for each tx to commit)',
        GROUP_LOAD,
        `commit for ${committingKinds().join(', ')}`,
      ),
    )
    .option(
      'settle-timeout',
      text(
        'Longest wait for mempools to drain between levels, seconds',
        GROUP_LOAD,
        String(DEFAULTS.settleTimeoutSecs),
      ),
    )
    .option(
      'settle-secs',
      text(
        'Pause between levels where a node reports no backlog, seconds',
        GROUP_LOAD,
        String(DEFAULTS.settleSecs),
      ),
    )
    .option(
      'workers',
      text('Generator worker threads sharing the schedule', GROUP_LOAD, String(DEFAULTS.workers)),
    )
    .option(
      'connections',
      text('HTTP connections per endpoint', GROUP_LOAD, String(DEFAULTS.connectionsPerEndpoint)),
    )
    .option(
      'transport',
      text(
        'HTTP client of the generator: raw (least CPU, http:// only) | undici',
        GROUP_LOAD,
        'raw for http://',
      ),
    );
  const upToMonitoring = addProtocolFlags(
    upToTransport,
    otherProtocolFlags?.group ?? GROUP_LOAD,
    otherProtocolFlags?.settings ?? [],
  )
    .option('output-dir', text('Folder for the run folders', GROUP_OUTPUT, DEFAULTS.outputDir))
    .option(
      'console-output',
      flag('Print results to the console', GROUP_OUTPUT, String(DEFAULTS.consoleOutput)),
    )
    .option('file-output', flag('Write JSON and text results', GROUP_OUTPUT, String(DEFAULTS.fileOutput)))
    .option(
      'png',
      flag(
        'benchmark report RUN_DIR --png: also draw the figures against network size (a run of --committees or --host-counts) as scaling.png, with headless Chromium',
        GROUP_OUTPUT,
        'false',
      ),
    )
    .option('interactive', flag('Ask for the settings step by step', GROUP_OUTPUT, 'false'))
    .option(
      'load-search',
      flag(
        'Find the highest load with efficiency ≥ --min-efficiency and p99 < --p99-bound-ms',
        GROUP_SEARCH,
        String(DEFAULTS.loadSearch),
      ),
    )
    .option(
      'load-search-start',
      text('First load probed, tx/s', GROUP_SEARCH, String(DEFAULTS.loadSearchStart)),
    )
    .option(
      'load-search-max',
      text('Highest load probed, tx/s', GROUP_SEARCH, String(DEFAULTS.loadSearchMax)),
    )
    .option(
      'min-efficiency',
      text('Percent of the input rate that must commit', GROUP_SEARCH, String(DEFAULTS.minEfficiencyPercent)),
    )
    .option('p99-bound-ms', text('p99 latency bound, ms', GROUP_SEARCH, String(DEFAULTS.p99BoundMs)))
    .option(
      'scenario',
      text(
        'YAML/JSON file of timed events: node faults and network conditions (examples/scenarios/)',
        GROUP_SCENARIO,
      ),
    )
    .option(
      'fault-load',
      text(
        'A send due to a down node: redirect (to the next live node; the schedule stays exact) | drop (not made; efficiency judged on the rest) | keep (sent anyway, as a client pinned to it)',
        FAULTS_GROUP,
        DEFAULTS.faultLoad,
      ),
    )
    .option('dashboard', {
      type: 'string',
      requiresArg: false,
      describe: DASHBOARD_DESCRIBE,
      group: GROUP_MONITORING,
      defaultDescription: `off; alone: ${DASHBOARD_DEFAULT_PORT}`,
    })
    .option('dashboard-host', text(DASHBOARD_HOST_DESCRIBE, GROUP_MONITORING, DASHBOARD_DEFAULT_HOST));
  return addPluginFlags(upToMonitoring).option(
    'config',
    text(
      'YAML or JSON file of settings named like these flags, e.g. "duration: 30" (or MESHBENCH_CONFIG=FILE); MESHBENCH_<FLAG_NAME> variables override it, flags override both',
      GROUP_CONFIG,
    ),
  ) as Argv<T & BenchmarkArgs>;
}

/** Maps parsed argv onto the plan input (kebab-case flags → camelCase keys). */
export function benchmarkInputFromArgs(args: BenchmarkArgs): BenchmarkInput {
  return {
    networkType: last(args['network-type']),
    outputDir: last(args['output-dir']),
    consoleOutput: last(args['console-output']),
    fileOutput: last(args['file-output']),
    committee: last(args.committee),
    committees: args.committees,
    hostCounts: args['host-counts'],
    topology: last(args.topology),
    topologySeed: last(args['topology-seed']),
    system: last(args.system),
    duration: last(args.duration),
    transactionSize: last(args['transaction-size']),
    localLoads: args['local-loads'],
    remoteLoads: args['remote-loads'],
    loads: args.loads,
    runs: last(args.runs),
    warmup: last(args.warmup),
    protocol: last(args.protocol),
    confirm: last(args.confirm),
    endpoints: args.endpoints,
    endpointMetrics: args['endpoint-metrics'],
    hostsFile: last(args['hosts-file']),
    nodesPerHost: last(args['nodes-per-host']),
    engine: last(args.engine),
    swarmNetwork: last(args['swarm-network']),
    sshConfig: last(args['ssh-config']),
    dockerComposePath: args['docker-compose-path'],
    nodeAccess: last(args['node-access']),
    startupWait: last(args['startup-wait']),
    maxClockOffset: last(args['max-clock-offset']),
    mix: last(args.mix),
    allowClockOffset: last(args['allow-clock-offset']),
    cleanup: last(args.cleanup),
    cleanupThorough: last(args['cleanup-thorough']),
    freshNetwork: last(args['fresh-network']),
    loadSearch: last(args['load-search']),
    loadSearchStart: last(args['load-search-start']),
    loadSearchMax: last(args['load-search-max']),
    minEfficiency: last(args['min-efficiency']),
    p99BoundMs: last(args['p99-bound-ms']),
    faultLoad: last(args['fault-load']),
    scenario: last(args.scenario),
    settleTimeout: last(args['settle-timeout']),
    settleSecs: last(args['settle-secs']),
    workers: last(args.workers),
    connections: last(args.connections),
    transport: last(args.transport),
    dashboard: last(args.dashboard),
    dashboardHost: last(args['dashboard-host']),
    ...protocolInputFromArgs(args),
    ...pluginInputFromArgs(args),
  };
}

/** Each plug-in flag → its camelCase key (a list flag keeps every value). */
function pluginInputFromArgs(args: BenchmarkArgs): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const plugin of sweepPlugins()) {
    for (const flag of plugin.flags) {
      const value = args[flag.name];
      if (value !== undefined) input[pluginSettingKey(flag.name)] = flag.list ? value : last(value);
    }
  }
  return input;
}

/** The plug-ins' flags (src/bench/registry.ts), each under its plug-in's group in --help. */
function addPluginFlags<T>(argv: Argv<T>): Argv<T> {
  let withFlags = argv;
  for (const plugin of sweepPlugins()) {
    for (const flag of plugin.flags) {
      withFlags = withFlags.option(flag.name, {
        type: flag.type,
        describe: flag.describe,
        group: plugin.group,
        ...(flag.type === 'string' ? { requiresArg: true } : {}),
        ...(flag.list ? { array: true } : {}),
        ...(flag.defaultDescription !== undefined ? { defaultDescription: flag.defaultDescription } : {}),
      });
    }
  }
  return withFlags;
}

/** Each protocol setting's flag → its key (a repeatable one keeps every value). */
function protocolInputFromArgs(args: BenchmarkArgs): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const { setting } of protocolSettings()) {
    const value = args[settingFlag(setting.key)];
    if (value !== undefined) input[setting.key] = setting.repeatable ? value : last(value);
  }
  return input;
}

/** A flag given twice arrives as an array; like yargs' own options, the last one wins. */
function last<T>(value: T | readonly T[] | undefined): T | undefined {
  return Array.isArray(value) ? (value.at(-1) as T | undefined) : (value as T | undefined);
}

/**
 * Parsed argv → validated, frozen plan (throws one BAD_FLAG line, exit 2), from the flags
 * alone; the command itself also reads --config and MESHBENCH_* (src/cli/benchmark-config.ts).
 */
export function benchmarkPlanFromArgs(
  args: BenchmarkArgs,
  context: PlanContext = {},
): Promise<BenchmarkPlan> {
  return buildBenchmarkPlan(benchmarkInputFromArgs(args), context);
}
