/**
 * The benchmark plan: every setting of one `benchmark` invocation, validated once
 * (zod, including the cross-field rules), then frozen. The plan is stored in every
 * result file, so a result says exactly how it was produced.
 *
 * Input is loose (strings from yargs, numbers from the wizard or scripts); each
 * problem becomes one line naming the flag, the value given and what is allowed.
 */
import { mkdtemp, readFile, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { looseBoolean, looseNumber, wholeNumber } from '../common/loose-input.js';
import { pluginSettingKey, sweepPlugins } from './registry.js';
import type { KnownNetwork, PluginPlanView } from '../common/plugin.js';
import { BENCHMARK_DEFAULTS, MAX_TRANSACTION_SIZE_BYTES } from '../common/defaults.js';
import { checkedSteps, loadScenarioFile, type Scenario } from '../scenario/scenario.js';
import { refnodeNodeIds } from '../testbed/local/compose-generate.js';
import { parseTopology, topologyProblem, type TopologySpec } from '../testbed/topology.js';
import { badFlag } from '../common/errors.js';
import { parseDashboardInput } from './dashboard-input.js';
import { answersProtocol, REFNODE_TEMPLATE, type NodeTemplate } from '../testbed/node-template.js';
import { loadSystemTemplate, speakingFix } from '../testbed/system-template.js';
import type { ConfirmMode, FaultLoadMode, LoadMix, ProtocolOptions } from '../load/types.js';
import { FAULT_LOAD_MODES } from '../load/types.js';
import { loadMix } from '../load/mix.js';
import { PROTOCOL_LABEL } from '../common/labels.js';
import {
  checkProtocolNodes,
  committingKinds,
  DEFAULT_PROTOCOL,
  findProtocol,
  protocolDefinition,
  protocolKinds,
  protocolSettings,
} from '../protocols/registry.js';

export type NetworkKind = 'local' | 'remote';
export type NetworkType = NetworkKind | 'both' | 'endpoints';

/**
 * Whether network `kind` runs the user's compose file rather than nodes meshbench generates:
 * the local network does whenever one is given, the hosts only as a Swarm stack (./testbeds.ts,
 * ./remote-testbeds.ts). The plan's checks and the summary ask this one rule.
 */
export function runsComposeFile(
  plan: {
    readonly dockerComposePaths?: readonly string[] | undefined;
    readonly engine?: 'docker' | 'swarm' | undefined;
  },
  kind: NetworkKind | 'endpoints',
): boolean {
  if (plan.dockerComposePaths === undefined || kind === 'endpoints') return false;
  return kind === 'local' || plan.engine === 'swarm';
}

/** One network the benchmark runs on, with its own load levels. */
export type NetworkTarget =
  | { readonly kind: 'local'; readonly loads: readonly number[] }
  | { readonly kind: 'remote'; readonly loads: readonly number[] }
  | {
      readonly kind: 'endpoints';
      readonly loads: readonly number[];
      readonly urls: readonly string[];
      /** `--endpoints NAME=URL,…`: the nodes' names, in the order of `urls` (absent: endpoint0, …). */
      readonly names?: readonly string[];
      /** `--endpoint-metrics`: each endpoint's Prometheus page, in the order of `urls`. */
      readonly metricsUrls?: readonly string[];
    };

export interface LoadSearchPlan {
  /** First load probed, tx/s. */
  readonly startLoad: number;
  /** Never probe above this, tx/s. */
  readonly maxLoad: number;
  /** A load passes when efficiency >= this (0..1) … */
  readonly minEfficiency: number;
  /** … and its p99 latency (commit when confirming, else ack) is below this. */
  readonly p99BoundMs: number;
  /** Bisection stops when the bracket is narrower than this fraction of the lower bound. */
  readonly resolutionFraction: number;
}

export interface BenchmarkPlan {
  readonly planVersion: 1;
  readonly networkType: NetworkType;
  readonly networks: readonly NetworkTarget[];
  readonly outputDir: string;
  readonly consoleOutput: boolean;
  readonly fileOutput: boolean;
  readonly committee: number;
  /** `--committees 4,8,16`: the whole sweep once per committee size (local, generated); each its own network. */
  readonly committees?: readonly number[];
  /** `--host-counts 2,4`: the whole sweep once per number of remote hosts (the first k of the hosts file). */
  readonly hostCounts?: readonly number[];
  /** The number of remote hosts this network uses (the first k); set per network by the sweep from hostCounts. */
  readonly hostCount?: number;
  /** `--nodes-per-host N` (N > 1; absent: one): a remote network of containers runs N nodes on each host. */
  readonly nodesPerHost?: number;
  /** `--topology`: who connects to whom in a generated network (absent: a full mesh, no MESHBENCH_PEERS). */
  readonly topology?: TopologySpec;
  /** `--system NAME|PATH`: what a generated local network is made of (absent: the reference node). */
  readonly system?: NodeTemplate;
  /** `--dashboard [PORT]`: the report page served live while the run goes (src/report/dashboard/). */
  readonly dashboard?: { readonly port: number; readonly host: string };
  readonly durationSecs: number;
  readonly warmupSecs: number;
  readonly transactionSizeBytes: number;
  readonly runs: number;
  readonly protocol: ProtocolOptions;
  readonly confirm: ConfirmMode;
  readonly hostsFile: string | undefined;
  /** `--ssh-config FILE|none`: the OpenSSH client config for the hosts (absolute), or `none`; unset: MESHBENCH_SSH_CONFIG, the inventory's ssh_config:, else ~/.ssh/config and /etc/ssh/ssh_config. */
  readonly sshConfig?: string;
  /** The user's compose files for the local network (merged as compose merges several `-f`), absolute. */
  readonly dockerComposePaths: readonly string[] | undefined;
  /** `--engine swarm`: the remote hosts form (or are) a Docker Swarm and the network is a stack (src/testbed/swarm/); the compose files above are that stack when given. Absent: a container per node. */
  readonly engine?: 'swarm';
  /** `--swarm-network`: the stack's P2P network (absent: auto, the overlay else the hosts'). */
  readonly swarmNetwork?: 'overlay' | 'host';
  /** How the generator reaches local nodes (see src/testbed/local/node-access.ts). */
  readonly nodeAccess: 'auto' | 'direct' | 'published';
  readonly startupWaitSecs: number;
  readonly cleanup: boolean;
  readonly cleanupThorough: boolean;
  readonly freshNetwork: boolean;
  readonly loadSearch: LoadSearchPlan | undefined;
  /**
   * `--scenario FILE`, parsed (src/scenario/scenario.ts): the level's timeline of node faults
   * and network conditions, which the faults and conditions plug-ins act on.
   */
  readonly scenario?: Scenario;
  /** `--max-clock-offset MS`: a remote host whose clock is further off refuses the deploy (src/testbed/remote/clock-check.ts). */
  readonly maxClockOffsetMs?: number;
  /** `--allow-clock-offset`: above --max-clock-offset, warn instead of refusing. */
  readonly allowClockOffset?: boolean;
  /** `--mix FILE`: a weighted mix of transaction kinds, read and checked (src/load/mix.ts). */
  readonly mix?: LoadMix;
  /** Generator worker threads sharing the schedule. */
  readonly workers: number;
  /** HTTP connections per endpoint. */
  readonly connectionsPerEndpoint: number;
  /** The generator's HTTP client; undefined: its default (raw for http://, undici for https://). */
  readonly transport?: 'undici' | 'raw';
  /**
   * `--fault-load`: what a send due to a down node does (redirect: to the next live node;
   * drop: not made, and efficiency judged on the rest; keep: sent anyway). Default redirect.
   */
  readonly faultLoad: FaultLoadMode;
  /**
   * Send exactly this many transactions per level (at the level's rate) instead of running
   * for the duration: the network commands' --num-transactions. Absent for `benchmark`.
   */
  readonly transactionsPerLevel?: number;
  /** Longest wait for the mempools to drain after each load level (0 with settleSecs 0: no settle). */
  readonly settleTimeoutSecs: number;
  readonly settlePollMs: number;
  /** Fixed pause after each level for nodes that cannot report a backlog (no num_unconfirmed_txs). */
  readonly settleSecs: number;
  /**
   * Where each setting that is not the default came from, by flag name: `--duration` (a flag),
   * `MESHBENCH_DURATION` (the environment), `bench.yaml:duration` (a config file) or
   * `interactive`. Absent when a script built the plan without the config pipeline.
   */
  readonly configSources?: Readonly<Record<string, string>>;
  /**
   * Each active plug-in's section, by its name (src/bench/registry.ts): `plugins.ingest`…
   * A plug-in that is off has none. Absent in plans built by hand (tests, old scripts).
   */
  readonly plugins?: Readonly<Record<string, unknown>>;
}

/** The loose input: what yargs, the wizard or a script hands in. Keys are camelCase flags. */
export interface BenchmarkInput {
  readonly networkType?: string | undefined;
  readonly outputDir?: string | undefined;
  readonly consoleOutput?: boolean | string | undefined;
  readonly fileOutput?: boolean | string | undefined;
  readonly committee?: number | string | undefined;
  readonly committees?: string | number | readonly (string | number)[] | undefined;
  readonly hostCounts?: string | number | readonly (string | number)[] | undefined;
  readonly topology?: string | undefined;
  readonly topologySeed?: number | string | undefined;
  readonly system?: string | undefined;
  readonly dashboard?: boolean | number | string | undefined;
  readonly dashboardHost?: string | undefined;
  readonly duration?: number | string | undefined;
  readonly transactionSize?: number | string | undefined;
  readonly localLoads?: LoadListInput;
  readonly remoteLoads?: LoadListInput;
  readonly loads?: LoadListInput;
  readonly runs?: number | string | undefined;
  readonly warmup?: number | string | undefined;
  readonly protocol?: string | undefined;
  readonly confirm?: string | undefined;
  readonly endpoints?: string | readonly string[] | undefined;
  readonly endpointMetrics?: string | readonly string[] | undefined;
  readonly hostsFile?: string | undefined;
  readonly nodesPerHost?: number | string | undefined;
  readonly sshConfig?: string | undefined;
  readonly dockerComposePath?: string | readonly string[] | undefined;
  readonly engine?: string | undefined;
  readonly swarmNetwork?: string | undefined;
  readonly nodeAccess?: string | undefined;
  readonly startupWait?: number | string | undefined;
  readonly cleanup?: boolean | string | undefined;
  readonly cleanupThorough?: boolean | string | undefined;
  readonly freshNetwork?: boolean | string | undefined;
  readonly loadSearch?: boolean | string | undefined;
  readonly loadSearchStart?: number | string | undefined;
  readonly loadSearchMax?: number | string | undefined;
  readonly minEfficiency?: number | string | undefined;
  readonly p99BoundMs?: number | string | undefined;
  readonly scenario?: string | undefined;
  readonly maxClockOffset?: number | string | undefined;
  readonly allowClockOffset?: boolean | string | undefined;
  readonly mix?: string | undefined;
  readonly settleTimeout?: number | string | undefined;
  readonly settleSecs?: number | string | undefined;
  readonly workers?: number | string | undefined;
  readonly connections?: number | string | undefined;
  readonly transport?: string | undefined;
  readonly faultLoad?: string | undefined;
  /**
   * Each protocol's settings, keyed as its definition names them (`broadcastMode`,
   * `httpMethod`, `etcdKeyPattern`…: `settings` in src/protocols/), and each plug-in's, keyed
   * by its flags' camelCase names (`faults`, `zones`, `ingestPort`…: src/bench/registry.ts);
   * parsed by their owners.
   */
  readonly [protocolOrPluginSetting: string]: unknown;
}

type LoadListInput = string | number | readonly (string | number)[] | undefined;

/** The benchmark's defaults (src/common/defaults.ts), under the name this module always gave them. */
export const DEFAULTS = BENCHMARK_DEFAULTS;

/** Warm-up when none is given: 5 s for runs of 30 s or more, none for shorter ones. */
export function defaultWarmupSecs(durationSecs: number): number {
  return durationSecs >= 30 ? 5 : 0;
}

const MAX_LOAD = 1_000_000;
const LOAD_RULE = 'a comma-separated list of distinct loads in tx/s, each a number > 0 (e.g. 100,200,500)';

/** Parses `100,200,500` (or an array) into distinct positive loads; throws a one-line BAD_FLAG error. */
export function parseLoadList(flag: string, value: LoadListInput): number[] {
  const parts = (Array.isArray(value) ? value : [value])
    .flatMap((part) => String(part).split(','))
    .map((part) => part.trim());
  const shown = Array.isArray(value) ? value.join(',') : String(value);
  if (parts.length === 0 || parts.every((part) => part === '')) throw badFlag(flag, shown, LOAD_RULE);
  const loads: number[] = [];
  for (const part of parts) {
    const load = part === '' ? Number.NaN : Number(part);
    if (!Number.isFinite(load) || load <= 0 || load > MAX_LOAD) {
      throw badFlag(flag, shown, `${JSON.stringify(part)} is not a load; ${LOAD_RULE}, at most ${MAX_LOAD}`);
    }
    if (loads.includes(load)) throw badFlag(flag, shown, `load ${load} appears twice; ${LOAD_RULE}`);
    loads.push(load);
  }
  return loads;
}

// ---- field schemas (loose input → typed value, with the rule as the message) ----

function positiveNumber(max: number, unit: string) {
  return looseNumber.transform((value, ctx) => {
    const number = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
    if (!Number.isFinite(number) || number <= 0 || number > max) {
      ctx.addIssue({ code: 'custom', message: `a number of ${unit} > 0 and at most ${max}` });
      return z.NEVER;
    }
    return number;
  });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `one of ${values.join(', ')}` });
}

const nonEmptyPath = z.string().trim().min(1, { message: 'a non-empty path' });

/** Schema of the raw fields; defaults are applied here, once. */
const fieldsSchema = z.object({
  networkType: oneOf(['local', 'remote', 'both'] as const).optional(),
  outputDir: nonEmptyPath.default(DEFAULTS.outputDir),
  consoleOutput: looseBoolean.default(DEFAULTS.consoleOutput),
  fileOutput: looseBoolean.default(DEFAULTS.fileOutput),
  committee: wholeNumber(1, 100, 'nodes').default(DEFAULTS.committee),
  topology: z.string().optional(),
  system: z.string().min(1).optional(),
  topologySeed: wholeNumber(0, 2 ** 32 - 1, 'seed').optional(),
  duration: wholeNumber(1, 7 * 24 * 3600, 'seconds').default(DEFAULTS.durationSecs),
  transactionSize: wholeNumber(1, MAX_TRANSACTION_SIZE_BYTES, 'bytes').default(DEFAULTS.transactionSizeBytes),
  runs: wholeNumber(1, 100, 'runs').default(DEFAULTS.runs),
  warmup: wholeNumber(0, 24 * 3600, 'seconds').optional(),
  protocol: z
    .unknown()
    .transform((value, ctx) => {
      if (typeof value === 'string' && findProtocol(value)) return value;
      ctx.addIssue({ code: 'custom', message: `one of ${protocolKinds().join(', ')}` });
      return z.NEVER;
    })
    .default(DEFAULT_PROTOCOL),
  confirm: oneOf(['none', 'commit'] as const).optional(),
  hostsFile: nonEmptyPath.optional(),
  nodesPerHost: wholeNumber(1, 50, 'nodes').default(1),
  sshConfig: nonEmptyPath.optional(),
  dockerComposePath: z
    .union([nonEmptyPath.transform((path) => [path]), z.array(nonEmptyPath).min(1)])
    .optional(),
  engine: oneOf(['docker', 'swarm'] as const).default('docker'),
  swarmNetwork: oneOf(['auto', 'overlay', 'host'] as const).optional(),
  nodeAccess: oneOf(['auto', 'direct', 'published'] as const).default(DEFAULTS.nodeAccess),
  startupWait: wholeNumber(1, 3600, 'seconds').default(DEFAULTS.startupWaitSecs),
  cleanup: looseBoolean.default(DEFAULTS.cleanup),
  cleanupThorough: looseBoolean.default(DEFAULTS.cleanupThorough),
  freshNetwork: looseBoolean.default(DEFAULTS.freshNetwork),
  loadSearch: looseBoolean.default(DEFAULTS.loadSearch),
  loadSearchStart: positiveNumber(MAX_LOAD, 'tx/s').default(DEFAULTS.loadSearchStart),
  loadSearchMax: positiveNumber(MAX_LOAD, 'tx/s').default(DEFAULTS.loadSearchMax),
  minEfficiency: positiveNumber(100, 'percent').default(DEFAULTS.minEfficiencyPercent),
  p99BoundMs: positiveNumber(3_600_000, 'milliseconds').default(DEFAULTS.p99BoundMs),
  scenario: nonEmptyPath.optional(),
  maxClockOffset: positiveNumber(3_600_000, 'milliseconds').optional(),
  allowClockOffset: looseBoolean.default(false),
  mix: nonEmptyPath.optional(),
  settleTimeout: wholeNumber(0, 3600, 'seconds').default(DEFAULTS.settleTimeoutSecs),
  settleSecs: wholeNumber(0, 600, 'seconds').default(DEFAULTS.settleSecs),
  workers: wholeNumber(1, 64, 'worker threads').default(DEFAULTS.workers),
  connections: wholeNumber(1, 10_000, 'connections').default(DEFAULTS.connectionsPerEndpoint),
  transport: oneOf(['undici', 'raw'] as const).optional(),
  faultLoad: oneOf(FAULT_LOAD_MODES).default(DEFAULTS.faultLoad),
});

/**
 * Each registered plug-in's settings (its flags' camelCase keys in the input), validated by
 * its schema (a rejection names the flag as the core's do), then its section; off: none.
 */
async function pluginSections(
  raw: Readonly<Record<string, unknown>>,
  base: Omit<PluginPlanView<Scenario>, 'shapesNetworkConditions'>,
): Promise<Record<string, unknown>> {
  const settings = sweepPlugins().map((plugin) => {
    const given: Record<string, unknown> = {};
    for (const flag of plugin.flags) {
      const key = pluginSettingKey(flag.name);
      if (raw[key] !== undefined) given[key] = raw[key];
    }
    const parsed = plugin.settings.safeParse(given);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const key = String(issue?.path[0] ?? plugin.name);
      throw badFlag(flagName(key), given[key], issue?.message ?? 'see --help');
    }
    return { plugin, given, values: parsed.data as Record<string, unknown> };
  });
  // the facts every plug-in may judge its defaults by, from all of them, before any section
  const core: PluginPlanView<Scenario> = {
    ...base,
    shapesNetworkConditions: settings.some(
      ({ plugin, values }) => plugin.shapesNetwork?.(values, base as PluginPlanView<Scenario>) ?? false,
    ),
  };
  const sections: Record<string, unknown> = {};
  for (const { plugin, given, values } of settings) {
    const section = await plugin.section(values, core, given);
    if (section !== undefined) sections[plugin.name] = section;
  }
  return sections;
}

/** camelCase input key → the flag users typed. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

export interface PlanContext {
  /** Environment (for MYSTICETI_NODE{n}_HOST); defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Base for relative paths; defaults to process.cwd(). */
  readonly cwd?: string;
  /** Skip the file-system checks (used by pure unit tests of the rules). */
  readonly skipFileChecks?: boolean;
  /** Where the settings came from (src/cli/config-pipeline.ts), stored in the plan as configSources. */
  readonly configSources?: Readonly<Record<string, string>>;
  /**
   * The protocol the nodes of these compose files name with `meshbench.protocol`, undefined
   * when none does (src/testbed/local/user-compose.ts). Given it, a run with a compose file and
   * no --protocol loads the nodes with their labelled protocol; without it, the default.
   */
  readonly composeProtocol?: (files: readonly string[]) => Promise<string | undefined>;
}

/**
 * Validates the input and returns the frozen plan, or throws one BAD_FLAG error
 * (exit 2) naming the flag, the value and what is allowed. Nothing is deployed or
 * written here; the output folder is only checked for writability.
 */
export async function buildBenchmarkPlan(
  input: BenchmarkInput,
  context: PlanContext = {},
): Promise<BenchmarkPlan> {
  const env = context.env ?? process.env;
  const cwd = context.cwd ?? process.cwd();
  const given = stripUndefined(input);
  // --system: its nodes speak its protocol, which is the default protocol then.
  const system = typeof given.system === 'string' ? loadSystemTemplate(given.system.trim(), cwd) : undefined;
  if (system && given.protocol !== undefined && given.protocol !== system.protocol) {
    throw badFlag('protocol', given.protocol, `--system ${given.system} speaks ${system.protocol}`);
  }
  // A compose file given without --protocol: the protocol its nodes' labels name is the default.
  const composeFiles =
    given.dockerComposePath === undefined || given.endpoints !== undefined || system
      ? undefined
      : [given.dockerComposePath].flat().map((path) => resolve(cwd, String(path)));
  const labelled =
    composeFiles && given.protocol === undefined ? await context.composeProtocol?.(composeFiles) : undefined;
  const raw =
    system && given.protocol === undefined
      ? { ...given, protocol: system.protocol }
      : labelled !== undefined
        ? { ...given, protocol: labelled }
        : given;
  const parsed = fieldsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? 'input');
    throw badFlag(flagName(key), (raw as Record<string, unknown>)[key], issue?.message ?? 'see --help');
  }
  const fields = parsed.data;
  const settings = parseProtocolSettings(raw);

  // Load lists (parsed by hand: the rule for a list is easier to state per item).
  const loads = raw.loads === undefined ? undefined : parseLoadList('loads', raw.loads);
  const localLoads =
    raw.localLoads === undefined ? [...DEFAULTS.localLoads] : parseLoadList('local-loads', raw.localLoads);
  const remoteLoads =
    raw.remoteLoads === undefined
      ? [...DEFAULTS.remoteLoads]
      : parseLoadList('remote-loads', raw.remoteLoads);

  const attached = raw.endpoints === undefined ? undefined : parseEndpoints(raw.endpoints);
  const endpointUrls = attached?.urls;
  const endpointMetrics =
    raw.endpointMetrics === undefined
      ? undefined
      : parseEndpointMetrics(raw.endpointMetrics, endpointUrls?.length);
  const committees =
    raw.committees === undefined ? undefined : parseSizeList('committees', raw.committees, 1, 100, 'nodes');
  const hostCounts =
    raw.hostCounts === undefined ? undefined : parseSizeList('host-counts', raw.hostCounts, 1, 1000, 'hosts');

  // ---- cross-field rules ----
  if (endpointUrls && fields.networkType !== undefined && fields.networkType !== 'local') {
    throw badFlag(
      'network-type',
      fields.networkType,
      '--endpoints attaches to a running network; leave out --network-type (or use local)',
    );
  }
  const networkType: NetworkType = endpointUrls ? 'endpoints' : (fields.networkType ?? DEFAULTS.networkType);
  const warmupSecs = fields.warmup ?? defaultWarmupSecs(fields.duration);
  if (fields.duration <= warmupSecs) {
    throw badFlag(
      'duration',
      raw.duration ?? fields.duration,
      `must be longer than the warm-up (--warmup ${warmupSecs} s); give a longer --duration or a shorter --warmup`,
    );
  }
  if ((networkType === 'remote' || networkType === 'both') && fields.hostsFile === undefined) {
    if (!env.MYSTICETI_NODE0_HOST) {
      throw badFlag(
        'network-type',
        networkType,
        'remote needs hosts: give --hosts-file FILE (env or YAML inventory) or set MYSTICETI_NODE0_HOST…',
      );
    }
  }
  if (networkType === 'endpoints' && fields.freshNetwork) {
    throw badFlag('fresh-network', true, 'cannot redeploy an attached network (--endpoints); leave it out');
  }
  if (fields.loadSearch && loads !== undefined) {
    throw badFlag('loads', raw.loads, '--load-search chooses the loads itself; give one or the other');
  }
  if (fields.loadSearch && fields.loadSearchMax < fields.loadSearchStart) {
    throw badFlag(
      'load-search-max',
      raw.loadSearchMax,
      `must be at least --load-search-start ${fields.loadSearchStart}`,
    );
  }
  // Protocol-specific flags only where they apply (a silently ignored flag is a wrong benchmark).
  const protocolDef = protocolDefinition(fields.protocol);
  for (const { protocol: owner, setting } of protocolSettings()) {
    if (raw[setting.key] !== undefined && owner !== protocolDef) {
      throw badFlag(
        flagName(setting.key),
        raw[setting.key],
        `applies to --protocol ${owner.kind} only (got ${fields.protocol})`,
      );
    }
  }
  const confirm: ConfirmMode = fields.confirm ?? (protocolDef.confirmsCommits ? 'commit' : 'none');
  if (confirm === 'commit' && !protocolDef.confirmsCommits) {
    throw badFlag(
      'confirm',
      'commit',
      `commit confirmation needs --protocol ${committingKinds().join(' or ')} (got ${fields.protocol}); use none`,
    );
  }
  const sizes = checkNetworkSizes(raw, fields, networkType, { committees, hostCounts });
  checkSwarmInput(raw, fields, networkType);
  checkNodesPerHostInput(raw, fields, networkType);
  checkComposeNetworks(raw, fields, networkType);
  // A generated committee's size is known now; a compose file's or the hosts' once deployed.
  const committeeKnown = networkType === 'local' && fields.dockerComposePath === undefined;
  // the generated local networks' sizes, in the order they run
  const localSizes = committees ?? [fields.committee];
  if (networkType === 'endpoints' && raw.scenario !== undefined) {
    throw badFlag(
      'scenario',
      raw.scenario,
      'node faults need control of the nodes, which attach mode (--endpoints) does not have; run the network with --network-type local or remote',
    );
  }

  // ---- file-system checks: before anything is deployed ----
  const outputDir = resolve(cwd, fields.outputDir);
  const hostsFile = fields.hostsFile === undefined ? undefined : resolve(cwd, fields.hostsFile);
  const sshConfig =
    fields.sshConfig === undefined || fields.sshConfig.toLowerCase() === 'none'
      ? fields.sshConfig
      : resolve(cwd, fields.sshConfig);
  const dockerComposePaths = fields.dockerComposePath?.map((path) => resolve(cwd, path));
  if (
    system &&
    (networkType === 'endpoints' || dockerComposePaths !== undefined || fields.engine === 'swarm')
  ) {
    throw badFlag(
      'system',
      given.system,
      dockerComposePaths !== undefined
        ? 'it makes the generated network; your compose file already names its images (drop one of the two)'
        : networkType === 'endpoints'
          ? 'it makes the network; --endpoints runs against nodes already running (drop one of the two)'
          : `with --engine swarm, give the system's compose file as the stack (--docker-compose-path systems/${system.name}/docker-compose.yml)`,
    );
  }
  // several nodes on a host share its network: each port of the system must move (one line if not)
  if (system && fields.nodesPerHost > 1)
    (await import('../testbed/remote/remote-nodes.js')).checkNodesPerHost(system, fields.nodesPerHost);
  if (!context.skipFileChecks) {
    if (fields.fileOutput) await checkWritableDir(outputDir, fields.outputDir);
    if (hostsFile) await checkReadableFile('hosts-file', hostsFile, fields.hostsFile ?? '');
    if (sshConfig && sshConfig.toLowerCase() !== 'none')
      await checkReadableFile('ssh-config', sshConfig, fields.sshConfig ?? '');
    for (const [index, path] of (dockerComposePaths ?? []).entries())
      await checkReadableFile('docker-compose-path', path, fields.dockerComposePath?.[index] ?? '');
  }
  // The node IDs of a local plan's (first) generated committee, known before deploying (its later
  // --committees, a `both` run's and the remote networks': the known networks at the end; a
  // compose file's: once it is up).
  const nodeIds = committeeKnown ? refnodeNodeIds(localSizes[0] as number) : undefined;
  const scenario =
    fields.scenario === undefined
      ? undefined
      : await loadScenarioFile(resolve(cwd, fields.scenario), fields.scenario);
  const levelMs = fields.duration * 1000;
  // What can be checked before deploying: times within the level, and the node names of a
  // generated committee. Whether `client` links may be shaped is the conditions plug-in's.
  if (scenario) checkedSteps(scenario, nodeIds, levelMs);

  const dashboard = parseDashboardInput(raw.dashboard, raw.dashboardHost);
  const plugins = await pluginSections(raw, {
    networkType,
    committee: committees?.[0] ?? fields.committee,
    durationSecs: fields.duration,
    warmupSecs,
    confirm,
    engine: fields.engine,
    ...(fields.nodesPerHost > 1 ? { nodesPerHost: fields.nodesPerHost } : {}),
    protocol: protocolDef.kind,
    endpointMetrics: endpointMetrics !== undefined,
    ...(scenario ? { scenario } : {}),
    ...(nodeIds ? { nodeIds } : {}),
    cwd,
  });

  const loadsFor = (kind: NetworkKind): readonly number[] =>
    loads ?? (kind === 'local' ? localLoads : remoteLoads);
  const networks: NetworkTarget[] =
    networkType === 'endpoints'
      ? [
          {
            kind: 'endpoints',
            loads: loads ?? localLoads,
            urls: endpointUrls ?? [],
            ...(attached?.names ? { names: attached.names } : {}),
            ...(endpointMetrics ? { metricsUrls: endpointMetrics } : {}),
          },
        ]
      : networkType === 'both'
        ? [
            { kind: 'local', loads: loadsFor('local') },
            { kind: 'remote', loads: loadsFor('remote') },
          ]
        : [{ kind: networkType, loads: loadsFor(networkType) }];

  // The protocol's options from its settings (defaults applied here, once).
  const protocol: ProtocolOptions = protocolDef.options(
    Object.fromEntries(
      protocolDef.settings.map((setting) => [setting.key, settings[setting.key] ?? setting.default]),
    ),
    raw,
  );
  const mix =
    fields.mix === undefined
      ? undefined
      : await loadMix(resolve(cwd, fields.mix), { protocol, transactionSizeBytes: fields.transactionSize });

  // last, so that a protocol's own settings are judged first: both are the user's to mend
  if (!system) await checkReferenceNodes(raw, fields, networkType, labelled, cwd);
  const plan: BenchmarkPlan = {
    planVersion: 1,
    networkType,
    networks,
    outputDir,
    consoleOutput: fields.consoleOutput,
    fileOutput: fields.fileOutput,
    committee: committees?.[0] ?? fields.committee,
    ...(committees ? { committees } : {}),
    ...(hostCounts ? { hostCounts } : {}),
    ...(fields.nodesPerHost > 1 ? { nodesPerHost: fields.nodesPerHost } : {}),
    ...(sizes.topology ? { topology: sizes.topology } : {}),
    ...(system ? { system } : {}),
    ...(dashboard ? { dashboard } : {}),
    plugins,
    durationSecs: fields.duration,
    warmupSecs,
    transactionSizeBytes: fields.transactionSize,
    runs: fields.runs,
    protocol,
    confirm,
    hostsFile,
    ...(sshConfig !== undefined ? { sshConfig } : {}),
    dockerComposePaths,
    ...(fields.engine === 'swarm' ? { engine: 'swarm' as const } : {}),
    ...(fields.swarmNetwork !== undefined && fields.swarmNetwork !== 'auto'
      ? { swarmNetwork: fields.swarmNetwork }
      : {}),
    nodeAccess: fields.nodeAccess,
    startupWaitSecs: fields.startupWait,
    cleanup: fields.cleanup || fields.cleanupThorough,
    cleanupThorough: fields.cleanupThorough,
    freshNetwork: fields.freshNetwork,
    loadSearch: fields.loadSearch
      ? {
          startLoad: fields.loadSearchStart,
          maxLoad: fields.loadSearchMax,
          minEfficiency: fields.minEfficiency / 100,
          p99BoundMs: fields.p99BoundMs,
          resolutionFraction: 0.05,
        }
      : undefined,
    ...(scenario ? { scenario } : {}),
    ...(fields.maxClockOffset !== undefined ? { maxClockOffsetMs: fields.maxClockOffset } : {}),
    ...(fields.allowClockOffset ? { allowClockOffset: true } : {}),
    ...(mix ? { mix } : {}),
    workers: fields.workers,
    connectionsPerEndpoint: fields.connections,
    ...(fields.transport ? { transport: fields.transport } : {}),
    faultLoad: fields.faultLoad,
    settleTimeoutSecs: fields.settleTimeout,
    settlePollMs: DEFAULTS.settlePollMs,
    settleSecs: fields.settleSecs,
    ...(context.configSources || labelled !== undefined
      ? {
          configSources: {
            ...context.configSources,
            ...(labelled !== undefined ? { protocol: `the compose file's ${PROTOCOL_LABEL} labels` } : {}),
          },
        }
      : {}),
  };
  // The networks whose nodes are known before they are deployed, besides a local plan's first
  // committee (which the scenario and the sections were judged by above): its later --committees,
  // a `both` run's generated local networks, and each remote network read from the hosts file
  // (judged against it too), now rather than after the networks before them ran.
  const known: KnownNetwork[] = [];
  if (dockerComposePaths === undefined && (networkType === 'local' || networkType === 'both'))
    for (const size of networkType === 'local' ? localSizes.slice(1) : localSizes)
      known.push({ kind: 'local', nodeIds: refnodeNodeIds(size) });
  if (!context.skipFileChecks && (networkType === 'remote' || networkType === 'both')) {
    const remoteSizes = await (await import('./remote-testbeds.js')).checkRemoteHosts(plan, env);
    // generated (node0…) unless the compose file is the swarm stack
    if (dockerComposePaths === undefined || fields.engine !== 'swarm')
      for (const size of remoteSizes) known.push({ kind: 'remote', nodeIds: refnodeNodeIds(size) });
  }
  for (const network of known) {
    if (scenario) checkedSteps(scenario, network.nodeIds, levelMs, `the ${network.kind} network`);
    for (const plugin of sweepPlugins()) {
      const section = plugins[plugin.name];
      if (section !== undefined) plugin.checkNetwork?.(section, network, plan);
    }
  }
  // the protocol's rules on a network's size (mesh delivery to K nodes), on every size known now
  const sizesKnown: (readonly [string, number])[] = [
    ...(nodeIds ? [['this network', nodeIds.length] as const] : []),
    ...known.map((network) => [`the ${network.kind} network`, network.nodeIds.length] as const),
    ...(endpointUrls ? [['the attached network', endpointUrls.length] as const] : []),
  ];
  for (const [network, nodes] of sizesKnown) checkProtocolNodes(protocol, nodes, network);
  return deepFreeze(plan);
}

/** The rules of `--nodes-per-host`, one line each: remote containers only. */
function checkNodesPerHostInput(
  raw: BenchmarkInput,
  fields: { readonly nodesPerHost: number; readonly engine: 'docker' | 'swarm' },
  networkType: NetworkType,
): void {
  if (raw.nodesPerHost === undefined) return;
  if (networkType !== 'remote' && networkType !== 'both')
    throw badFlag(
      'nodes-per-host',
      raw.nodesPerHost,
      networkType === 'endpoints'
        ? 'places the nodes of a network meshbench deploys, which attach mode (--endpoints) does not'
        : 'places nodes on remote hosts; use --network-type remote or both (the local network has --committee)',
    );
  if (fields.engine === 'swarm' && fields.nodesPerHost !== 1)
    throw badFlag(
      'nodes-per-host',
      raw.nodesPerHost,
      '1 with --engine swarm (one node per host, by placement)',
    );
}

/** The rules of `--engine swarm` and `--swarm-network`, one line each. */
function checkSwarmInput(
  raw: BenchmarkInput,
  fields: {
    readonly engine: 'docker' | 'swarm';
    readonly swarmNetwork?: 'auto' | 'overlay' | 'host' | undefined;
    readonly dockerComposePath?: readonly string[] | undefined;
    readonly topology?: string | undefined;
  },
  networkType: NetworkType,
): void {
  if (fields.engine !== 'swarm') {
    if (fields.swarmNetwork !== undefined)
      throw badFlag('swarm-network', raw.swarmNetwork, 'needs --engine swarm');
    return;
  }
  if (networkType !== 'remote' && networkType !== 'both')
    throw badFlag(
      'engine',
      raw.engine,
      `swarm runs the remote network on the hosts; use --network-type remote (or both), got ${networkType}`,
    );
  if (fields.dockerComposePath !== undefined && fields.swarmNetwork === 'host')
    throw badFlag(
      'swarm-network',
      raw.swarmNetwork,
      "overlay (or auto) with --docker-compose-path: a compose file's nodes find each other by service name, which only the overlay resolves",
    );
  if (fields.dockerComposePath !== undefined && fields.topology !== undefined)
    throw badFlag(
      'topology',
      raw.topology,
      'shapes a generated network; your compose file (--docker-compose-path) sets its own peers',
    );
}

/**
 * A compose file is the local network (and, with --engine swarm, the stack on the hosts); a
 * remote network of containers runs reference nodes. So without swarm a remote-only run would
 * leave the file unused.
 */
function checkComposeNetworks(
  raw: BenchmarkInput,
  fields: { readonly engine: 'docker' | 'swarm'; readonly dockerComposePath?: readonly string[] | undefined },
  networkType: NetworkType,
): void {
  if (fields.dockerComposePath === undefined || fields.engine === 'swarm') return;
  if (networkType === 'remote')
    throw badFlag(
      'docker-compose-path',
      raw.dockerComposePath,
      'a remote network of containers runs reference nodes, not your compose file; add --engine swarm to run the file on the hosts as a stack, or use --network-type local',
    );
}

/**
 * The networks meshbench generates run reference nodes unless --system names others (whose own
 * rule is above), and those speak cometbft. A protocol they do not answer (etcd, mesh) would have
 * every transaction refused, and only after the deploy: as an etcd load got HTTP 404 from the
 * remote side of `both`. Refused here instead, naming how to run nodes that speak it.
 */
async function checkReferenceNodes(
  raw: BenchmarkInput,
  fields: {
    readonly protocol: string;
    readonly engine: 'docker' | 'swarm';
    readonly dockerComposePath?: readonly string[] | undefined;
  },
  networkType: NetworkType,
  labelled: string | undefined,
  cwd: string,
): Promise<void> {
  if (answersProtocol(REFNODE_TEMPLATE, fields.protocol)) return;
  const composed = fields.dockerComposePath !== undefined;
  const files = { dockerComposePaths: fields.dockerComposePath, engine: fields.engine };
  const local = (networkType === 'local' || networkType === 'both') && !runsComposeFile(files, 'local');
  const remote = (networkType === 'remote' || networkType === 'both') && !runsComposeFile(files, 'remote');
  if (!local && !remote) return;
  const which = local && remote ? 'both networks run' : `the ${local ? 'local' : 'remote'} network runs`;
  const generated = `${which} reference nodes (${REFNODE_TEMPLATE.protocol})`;
  const fix = composed
    ? 'add --engine swarm to run your compose file on the hosts too, so both networks run it'
    : await speakingFix(fields.protocol, {
        cwd,
        ...(remote ? { composeNeeds: ' with --engine swarm' } : {}),
        endpoints: networkType === 'local',
      });
  if (labelled !== undefined)
    throw badFlag(
      'docker-compose-path',
      raw.dockerComposePath,
      `its nodes are labelled meshbench.protocol=${labelled}, and ${generated}; ${fix}`,
    );
  throw badFlag('protocol', raw.protocol, `${generated}, which do not answer ${fields.protocol}; ${fix}`);
}

/** `--committees 4,8,16` / `--host-counts 2,4`: distinct whole numbers in a range, ascending as given. */
function parseSizeList(
  flag: string,
  value: string | number | readonly (string | number)[],
  min: number,
  max: number,
  unit: string,
): number[] {
  const shown = Array.isArray(value) ? value.join(',') : String(value);
  const rule = `a comma-separated list of distinct whole numbers of ${unit} from ${min} to ${max} (e.g. 4,8,16)`;
  const parts = (Array.isArray(value) ? value : [value]).flatMap((part) => String(part).split(','));
  const sizes: number[] = [];
  for (const part of parts.map((item) => item.trim())) {
    const size = /^\d+$/.test(part) ? Number(part) : Number.NaN;
    if (!Number.isInteger(size) || size < min || size > max)
      throw badFlag(flag, shown, `${JSON.stringify(part)} is not one; ${rule}`);
    if (sizes.includes(size)) throw badFlag(flag, shown, `${size} appears twice; ${rule}`);
    sizes.push(size);
  }
  if (sizes.length === 0) throw badFlag(flag, shown, rule);
  return sizes;
}

/** The rules of --committees, --host-counts and --topology (one line each), and the topology with its seed. */
function checkNetworkSizes(
  raw: BenchmarkInput,
  fields: {
    readonly committee: number;
    readonly dockerComposePath?: readonly string[] | undefined;
    readonly topology?: string | undefined;
    readonly topologySeed?: number | undefined;
  },
  networkType: NetworkType,
  sizes: {
    readonly committees: readonly number[] | undefined;
    readonly hostCounts: readonly number[] | undefined;
  },
): { readonly topology: TopologySpec | undefined } {
  const { committees, hostCounts } = sizes;
  if (raw.committee !== undefined && (networkType === 'remote' || networkType === 'endpoints'))
    throw badFlag(
      'committee',
      raw.committee,
      networkType === 'remote'
        ? 'sizes the local network; a remote network is its hosts (--hosts-file, the first k with --host-counts) times --nodes-per-host, or use --network-type both'
        : 'sizes a generated network, which attach mode (--endpoints) does not deploy',
    );
  if (committees) {
    if (raw.committee !== undefined)
      throw badFlag('committees', raw.committees, 'give --committees or --committee, not both');
    if (networkType !== 'local' && networkType !== 'both')
      throw badFlag(
        'committees',
        raw.committees,
        networkType === 'remote'
          ? 'sizes a generated local network; for remote hosts give --host-counts'
          : 'sizes a generated network, which attach mode (--endpoints) does not deploy',
      );
    if (fields.dockerComposePath !== undefined)
      throw badFlag(
        'committees',
        raw.committees,
        'sizes a generated network; leave out --docker-compose-path (your compose file fixes its nodes)',
      );
  }
  if (hostCounts && networkType !== 'remote' && networkType !== 'both')
    throw badFlag(
      'host-counts',
      raw.hostCounts,
      'applies to --network-type remote or both (the first k hosts)',
    );
  if (fields.topology === undefined) {
    if (fields.topologySeed !== undefined)
      throw badFlag('topology-seed', raw.topologySeed, 'needs --topology random:K');
    return { topology: undefined };
  }
  const parsed = parseTopology(fields.topology);
  if ('rule' in parsed) throw badFlag('topology', raw.topology, parsed.rule);
  if (networkType === 'endpoints')
    throw badFlag(
      'topology',
      raw.topology,
      'shapes a generated network, which attach mode (--endpoints) does not deploy',
    );
  if (fields.dockerComposePath !== undefined && networkType === 'local')
    throw badFlag(
      'topology',
      raw.topology,
      'shapes a generated network; your compose file (--docker-compose-path) sets its own peers',
    );
  if (fields.topologySeed !== undefined && parsed.kind !== 'random')
    throw badFlag('topology-seed', raw.topologySeed, `applies to --topology random:K (got ${parsed.kind})`);
  if (networkType === 'local' || networkType === 'both') {
    for (const size of committees ?? [fields.committee]) {
      const problem = topologyProblem(parsed, size);
      if (problem) throw badFlag('topology', raw.topology, problem);
    }
  }
  return {
    topology:
      parsed.kind === 'random'
        ? { ...parsed, seed: fields.topologySeed ?? Math.floor(Math.random() * 2 ** 32) }
        : parsed,
  };
}

/** Every protocol's settings that were given, parsed (a bad value is one BAD_FLAG line). */
function parseProtocolSettings(raw: BenchmarkInput): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const { setting } of protocolSettings()) {
    const given = raw[setting.key];
    if (given === undefined) continue;
    const parsed = setting.parse(given);
    if ('rule' in parsed) throw badFlag(flagName(setting.key), given, parsed.rule);
    values[setting.key] = parsed.value;
  }
  return values;
}

/** `--endpoint-metrics URL,…`: one Prometheus page per `--endpoints` URL, in their order. */
function parseEndpointMetrics(value: string | readonly string[], endpoints: number | undefined): string[] {
  const shown = Array.isArray(value) ? value.join(',') : String(value);
  if (endpoints === undefined)
    throw badFlag(
      'endpoint-metrics',
      shown,
      "gives the metrics pages of attached endpoints; give --endpoints too (deployed networks' pages are known)",
    );
  const urls = (Array.isArray(value) ? value : [value])
    .flatMap((part) => String(part).split(','))
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (urls.length !== endpoints)
    throw badFlag(
      'endpoint-metrics',
      shown,
      `${urls.length} URL${urls.length === 1 ? '' : 's'} for ${endpoints} endpoint${endpoints === 1 ? '' : 's'}; give one metrics URL per --endpoints URL, in the same order (e.g. http://host:2379/metrics)`,
    );
  for (const url of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:')
      throw badFlag(
        'endpoint-metrics',
        shown,
        `${JSON.stringify(url)} is not an http(s) URL; give each endpoint's Prometheus page, e.g. http://host:2379/metrics`,
      );
  }
  return urls;
}

/** `NAME=` before an endpoint's URL: the node's name (as the app names it). */
const ENDPOINT_NAME = /^([A-Za-z0-9][A-Za-z0-9_.-]*)=(.*)$/;

/**
 * `--endpoints URL,…` or `NAME=URL,…`: the URLs, and the nodes' names when given (every
 * endpoint named, or none: then endpoint0, …).
 */
function parseEndpoints(value: string | readonly string[]): { urls: string[]; names?: string[] } {
  const shown = Array.isArray(value) ? value.join(',') : String(value);
  const parts = (Array.isArray(value) ? value : [value])
    .flatMap((part) => String(part).split(','))
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const named = ENDPOINT_NAME.exec(part);
      return named && /^https?:/i.test(named[2] as string)
        ? { name: named[1] as string, url: (named[2] as string).trim() }
        : { url: part };
    });
  const urls = parts.map((part) => part.url);
  if (urls.length === 0) throw badFlag('endpoints', shown, 'one or more http(s) URLs, comma-separated');
  const names = parts.flatMap((part) => (part.name === undefined ? [] : [part.name]));
  if (names.length > 0 && names.length < parts.length)
    throw badFlag('endpoints', shown, 'name every endpoint (node0=http://…,node1=http://…) or none');
  if (new Set(names).size !== names.length) throw badFlag('endpoints', shown, 'each name once');
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badFlag('endpoints', shown, `${JSON.stringify(url)} is not a URL; give http(s)://host:port URLs`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw badFlag(
        'endpoints',
        shown,
        `${JSON.stringify(url)} is not http(s); give http(s)://host:port URLs`,
      );
    }
  }
  if (new Set(urls).size !== urls.length) throw badFlag('endpoints', shown, 'each URL once');
  return names.length > 0 ? { urls, names } : { urls };
}

/**
 * The nearest existing ancestor must be a folder in which a folder can be made:
 * probed for real (access() says yes to root on /proc and read-only mounts), by
 * making and removing an empty folder. Nothing is left behind.
 */
async function checkWritableDir(path: string, shown: string): Promise<void> {
  let current = path;
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(current)).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && dirname(current) !== current) {
        current = dirname(current);
        continue;
      }
      if (code === 'ENOTDIR') {
        throw badFlag('output-dir', shown, 'a path under a file cannot be a folder; give a writable folder');
      }
      throw badFlag(
        'output-dir',
        shown,
        `cannot inspect ${current} (${code ?? 'error'}); give a writable folder`,
      );
    }
    if (!isDirectory)
      throw badFlag('output-dir', shown, `${current} is not a folder; give a writable folder`);
    try {
      await rmdir(await mkdtemp(join(current, '.meshbench-write-probe-')));
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw badFlag('output-dir', shown, `${current} is not writable (${code}); give a writable folder`);
    }
  }
}

async function checkReadableFile(flag: string, path: string, shown: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw badFlag(flag, shown, `${path} is not a file; give a readable file`);
    await readFile(path, { flag: 'r' }).then(() => undefined);
  } catch (error) {
    if (error instanceof Error && error.name === 'MeshbenchError') throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw badFlag(flag, shown, `cannot read ${path} (${code}); give an existing, readable file`);
  }
}

function stripUndefined<T extends object>(input: T): T {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as T;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
