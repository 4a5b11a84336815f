/**
 * `local-network`: start a node network on this machine's Docker engine (the seed
 * compose file, your own compose file, or a generated committee), wait until every
 * node is ready, send transactions through the shared generator, print the summary
 * and write the result JSON. `--down` removes a network an earlier call left.
 */
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { BENCHMARK_DEFAULTS, NETWORK_RUN_DEFAULTS } from '../common/defaults.js';
import { MeshbenchError } from '../common/errors.js';
import { DEFAULT_PROTOCOL, protocolChoices } from '../protocols/registry.js';
import { newRunId } from '../common/run-id.js';
import { EngineApi } from '../testbed/docker/engine-reads.js';
import { checkEngine } from '../testbed/local/engine-checks.js';
import {
  DEFAULT_COMPOSE_PATH,
  defaultComposePath,
  DEFAULT_RUNS_DIR,
  LocalTestbed,
  type LocalDeployment,
} from '../testbed/local/local-testbed.js';
import { NODE_ACCESS_MODES, type NodeAccessMode } from '../testbed/local/node-access.js';
import { composeProtocol } from '../testbed/local/user-compose.js';
import { LocalMaintenance } from '../testbed/local/maintenance.js';
import { answersProtocol, REFNODE_TEMPLATE, type NodeTemplate } from '../testbed/node-template.js';
import { describeRemoval } from '../testbed/testbed.js';
import { trace } from '../common/trace.js';
import {
  addNetworkRunOptions,
  checkShowLogs,
  networkConfirm,
  runNetworkCommand,
  validateNetworkRunArgs,
  type NetworkCommandSpec,
  type NetworkRunArgs,
} from './network-run.js';
import { runCli, type CliContext, type CliDefinition } from './run-cli.js';

export interface LocalNetworkArgs extends NetworkRunArgs {
  readonly dockerComposePath?: string | readonly string[];
  readonly nodeAccess: NodeAccessMode;
  readonly committee?: number;
  /** `--system NAME|PATH`: what the generated committee is made of (its system.json). */
  readonly system?: string;
  readonly protocol: string;
  readonly down?: string;
  readonly status?: boolean;
  readonly showLogs?: number;
}

function options(argv: Argv): Argv<LocalNetworkArgs> {
  return addNetworkRunOptions(
    argv
      .option('docker-compose-path', {
        type: 'string',
        requiresArg: true,
        describe: `Compose file of the network (default ${DEFAULT_COMPOSE_PATH} here, else meshbench's own); repeat it to merge several, as compose -f does. Nodes are its services labelled meshbench.role=node, else those publishing port 26657`,
      })
      .option('node-access', {
        type: 'string',
        choices: NODE_ACCESS_MODES,
        default: BENCHMARK_DEFAULTS.nodeAccess as NodeAccessMode,
        describe:
          'How the generator reaches the nodes: direct (container addresses on the compose network, no docker-proxy), published (host ports), auto (direct where this host routes to the network)',
      })
      .option('committee', {
        type: 'number',
        describe:
          'Generate a network of N reference nodes (free ports from 26657 up) instead of reading a compose file',
      })
      .option('system', {
        type: 'string',
        describe:
          "With --committee: the system the nodes run, a folder of meshbench's systems/ (libp2p-gossipsub, crdt-sync) or of yours with a system.json; its protocol is the default (docs/local-network.md)",
        defaultDescription: 'refnode',
      })
      .option('protocol', {
        type: 'string',
        default: DEFAULT_PROTOCOL,
        defaultDescription: "the meshbench.protocol label of the compose file's nodes, else cometbft",
        choices: protocolChoices(),
        describe: 'The protocol the load speaks to every node (or ./module.mjs: docs/protocols.md)',
      })
      .option('down', {
        type: 'string',
        requiresArg: false,
        describe:
          'Tear down the network of run ID left by an earlier call (all local-network runs when no ID)',
      })
      .option('status', {
        type: 'boolean',
        describe: 'List local-network containers on this engine and exit',
      })
      .option('show-logs', {
        type: 'number',
        describe: 'Print the last N log lines of every local-network container and exit',
      }),
    {
      startupWaitSeconds: NETWORK_RUN_DEFAULTS.localStartupWaitSecs,
      startupWait:
        'Longest wait for readiness after the containers started, seconds (goes on as soon as every node is ready)',
      cleanup: "Remove the run's containers, networks and volumes (anonymous and named) at the end",
      cleanupThorough: 'Like --cleanup, and also the run folder (.meshbench/runs/<id>)',
      output: 'Folder for the result JSON (written to OUTPUT/run-<id>/local-benchmark-1.json)',
    },
  ) as unknown as Argv<LocalNetworkArgs>;
}

const EPILOGUE = `Examples:
  local-network --cleanup                                  the 4-node seed network, 1000 tx at 100 tx/s
  local-network --committee 7 --num-transactions 300 --cleanup
  local-network --docker-compose-path my-compose.yml --protocol http --confirm none
  local-network --docker-compose-path base.yml --docker-compose-path ci.yml
  local-network --down                                     remove networks earlier runs left
See docs/local-network.md.`;

/** Validates flag values (yargs checks the types and choices). */
export function validateArgs(args: LocalNetworkArgs): void {
  validateNetworkRunArgs(args);
  if (args.committee !== undefined) {
    if (!Number.isInteger(args.committee) || args.committee < 1) {
      throw new MeshbenchError(
        'BAD_FLAG',
        `--committee ${args.committee} is not valid: a committee needs at least 1 node`,
        {
          hint: 'use --committee 4 for the seed layout',
          setting: { flag: 'committee', value: args.committee, rule: 'a committee needs at least 1 node' },
        },
      );
    }
    if (args.dockerComposePath !== undefined) {
      throw new MeshbenchError('BAD_FLAG', '--committee and --docker-compose-path were both given', {
        hint: 'use one: --committee generates the compose project, --docker-compose-path runs yours',
      });
    }
  }
  if (args.system !== undefined && args.committee === undefined) {
    const rule = 'it says what a generated network is made of; a compose file names its own images';
    throw new MeshbenchError('BAD_FLAG', `--system ${args.system} needs --committee N`, {
      hint: rule,
      setting: { flag: 'system', value: args.system, rule: `needs --committee N (${rule})` },
    });
  }
  networkConfirm(args.confirm, args.protocol);
}

/** The generated committee's system, and the protocol it speaks (the default --protocol then). */
async function systemOf(args: LocalNetworkArgs): Promise<{ system?: NodeTemplate; protocol: string }> {
  if (args.system === undefined) return { protocol: args.protocol };
  // loaded on use: its schema library is not on the seed network's start-up path
  const { loadSystemTemplate } = await import('../testbed/system-template.js');
  const system = loadSystemTemplate(args.system.trim());
  if (args.protocol !== DEFAULT_PROTOCOL && args.protocol !== system.protocol) {
    throw new MeshbenchError(
      'BAD_FLAG',
      `--protocol ${args.protocol}: --system ${args.system} speaks ${system.protocol}`,
      {
        hint: 'drop --protocol (the system says it)',
        setting: {
          flag: 'protocol',
          value: args.protocol,
          rule: `--system ${args.system} speaks ${system.protocol}; drop the protocol (the system says it)`,
        },
      },
    );
  }
  return { system, protocol: system.protocol };
}

/** Refuses a protocol that reference nodes do not answer, naming nodes that speak it. */
async function checkReferenceNodes(protocol: string, generated: boolean): Promise<void> {
  if (answersProtocol(REFNODE_TEMPLATE, protocol)) return;
  const { speakingFix } = await import('../testbed/system-template.js');
  const fix = await speakingFix(protocol, { systemNeeds: ' with --committee N' });
  const problem = `${generated ? 'the generated network runs' : "meshbench's seed network runs"} reference nodes (${REFNODE_TEMPLATE.protocol}), which do not answer ${protocol}`;
  throw new MeshbenchError('BAD_FLAG', `--protocol ${protocol}: ${problem}`, {
    hint: fix,
    setting: { flag: 'protocol', value: protocol, rule: `${problem}; ${fix}` },
  });
}

/** `--down`, `--status`, `--show-logs`: the same maintenance as remote-network's. */
async function runMaintenance(args: LocalNetworkArgs, context: CliContext): Promise<number> {
  await checkEngine(EngineApi.fromEnv());
  const maintenance = await LocalMaintenance.connect({ runsDir: DEFAULT_RUNS_DIR });
  try {
    if (args.status) {
      const statuses = await maintenance.status();
      if (statuses.length === 0) context.stdout('no local-network containers on this engine');
      for (const s of statuses)
        context.stdout(`${s.host}\t${s.node}\t${s.state}\t${s.status}\trun ${s.runId}\t${s.name}`);
      return 0;
    }
    if (args.showLogs !== undefined) {
      const logs = await maintenance.logs(args.showLogs);
      if (logs.length === 0) context.stdout('no local-network containers on this engine');
      for (const entry of logs) {
        context.stdout(`==> ${entry.host} ${entry.name} <==`);
        context.stdout(entry.text.trimEnd());
      }
      return 0;
    }
    // The run's volumes and folder (generated compose files) go too.
    const removed = await maintenance.down({ ...(args.down ? { runId: args.down } : {}), thorough: true });
    if (removed.length === 0) {
      context.stdout('no local-network runs left to remove');
      return 0;
    }
    let failed = false;
    for (const report of removed) {
      const nothing =
        report.containers + report.networks + report.volumes === 0 && report.errors.length === 0;
      context.stdout(
        nothing
          ? // a mistyped or already removed run: say so rather than "removed 0 containers"
            `run ${report.runId}: nothing of it on this engine (local-network --status lists the runs left)`
          : `run ${report.runId}: ${describeRemoval(report)}`,
      );
      for (const error of report.errors) {
        failed = true;
        context.stderr(`local-network: error: ${error}`);
      }
    }
    return failed ? 1 : 0;
  } finally {
    await maintenance.close();
  }
}

async function run(args: LocalNetworkArgs, context: CliContext): Promise<number> {
  const startedAtMs = performance.now();
  trace('local-network: run');
  checkShowLogs(args.showLogs);
  if (args.down !== undefined || args.status || args.showLogs !== undefined)
    return runMaintenance(args, context);
  const { system, protocol } = await systemOf(args);
  args = { ...args, protocol };
  validateArgs(args);
  const composePaths = [args.dockerComposePath ?? defaultComposePath()].flat();
  // Given no --protocol, the user's compose file whose nodes are labelled meshbench.protocol
  // decides what the load speaks (readiness follows each node's label either way). meshbench's
  // seed file is not read for it: its nodes are reference nodes, which speak the default.
  const usersFile = args.dockerComposePath !== undefined || composePaths[0] === DEFAULT_COMPOSE_PATH;
  if (args.committee === undefined && usersFile && context.settings?.sources.protocol === undefined) {
    const labelled = await composeProtocol({ files: composePaths });
    if (labelled !== undefined && labelled !== args.protocol) {
      context.stderr(
        `the compose file's nodes are labelled meshbench.protocol=${labelled}: the load speaks ${labelled}`,
      );
      args = { ...args, protocol: labelled };
      networkConfirm(args.confirm, args.protocol);
    }
  }
  // A generated committee without --system, and meshbench's seed file, run reference nodes: a
  // protocol they do not answer (etcd, mesh) is refused now, not after the deploy.
  if (system === undefined && (args.committee !== undefined || !usersFile))
    await checkReferenceNodes(args.protocol, args.committee !== undefined);
  const runId = newRunId();
  const testbed = new LocalTestbed({
    runId,
    ...(args.committee !== undefined ? { committee: args.committee } : { composePath: composePaths }),
    ...(system ? { system } : {}),
    nodeAccess: args.nodeAccess,
    protocol: args.protocol,
    startupTimeoutMs: args.startupWait * 1000,
    startedAtMs,
    log: (line) => context.stderr(line),
  });
  const spec: NetworkCommandSpec<LocalDeployment> = {
    command: 'local-network',
    networkType: 'local',
    runId,
    protocol: args.protocol,
    testbed,
    plan: {
      nodeAccess: args.nodeAccess,
      ...(args.committee !== undefined
        ? { committee: args.committee }
        : { dockerComposePaths: composePaths.map((path) => resolve(path)) }),
    },
    startLine: `run ${runId}: starting the local network`,
    readyLine: (deployment) =>
      `all ${deployment.nodes.length} node${deployment.nodes.length === 1 ? '' : 's'} ready after ${(deployment.readyAfterMs / 1000).toFixed(2)} s (${deployment.endpoints.map((e) => `${e.nodeId} ${e.rpcUrl}`).join(', ')})`,
    extension: (deployment) => ({
      local_network: {
        compose_file: args.committee !== undefined ? null : composePaths.join(','),
        committee: args.committee ?? null,
        num_transactions: args.numTransactions,
        broadcast_mode: args.broadcastMode,
        ready_after_ms: deployment.readyAfterMs,
        phases_ms: deployment.phasesMs,
        endpoints: deployment.endpoints,
        environment: deployment.environment,
      },
    }),
    async remove(deployment, thorough) {
      const report = await deployment.destroyWithReport({ thorough });
      if (report.errors.length > 0) throw new Error(`left ${report.errors.join('; ')}`);
      return `cleanup: ${describeRemoval(report)}${thorough ? ` and ${deployment.project.runDir}` : ''}`;
    },
    downCommand: `local-network --down ${runId}`,
    protocolFix: 'give the protocol they speak with --protocol, or label their services meshbench.protocol',
  };
  return runNetworkCommand(args, context, spec);
}

export const localNetworkCommand: CliDefinition<LocalNetworkArgs> = {
  name: 'local-network',
  usage:
    '$0 [options]\n\nStart a node network on this Docker engine, send transactions, print and save the result.',
  epilogue: EPILOGUE,
  options,
  run,
  settings: { flagsOnly: ['down', 'status', 'show-logs'], lists: ['docker-compose-path'] },
  protocolModules: true,
};

export function main(argv: string[]): Promise<number> {
  return runCli(localNetworkCommand, argv);
}
