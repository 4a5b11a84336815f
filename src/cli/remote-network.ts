/**
 * `remote-network`: deploy a node network to remote hosts over SSH (Docker
 * installed where missing, the image shipped or pulled), send transactions
 * from this machine through the shared generator, print the same summary as
 * `local-network`, and clean up. Also `--status`, `--show-logs`, `--down`.
 */
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { NETWORK_RUN_DEFAULTS } from '../common/defaults.js';
import { newRunId } from '../common/run-id.js';
import { loadHosts, type HostsConfig } from '../testbed/remote/hosts.js';
import { resolveHosts } from '../testbed/remote/ssh-config-hosts.js';
import { IMAGE_TRANSFER_VALUES, type ImageTransfer } from '../testbed/remote/image-transfer.js';
import {
  STRICT_HOST_KEY_CHECKING_VALUES,
  type StrictHostKeyChecking,
} from '../testbed/remote/known-hosts.js';
import {
  DEFAULT_IMAGE,
  DEFAULT_REMOTE_CONCURRENCY,
  RemoteMaintenance,
  RemoteTestbed,
  defaultKnownHostsPath,
  type HostProgress,
  type RemoteDeployment,
} from '../testbed/remote/remote-testbed.js';
import {
  addNetworkRunOptions,
  checkShowLogs,
  runNetworkCommand,
  validateNetworkRunArgs,
  type NetworkCommandSpec,
  type NetworkRunArgs,
} from './network-run.js';
import {
  SWARM_NETWORK_VALUES,
  SwarmTestbed,
  type SwarmDeployment,
  type SwarmNetworkChoice,
} from '../testbed/swarm/swarm-testbed.js';
import { ENGINE_VALUES, SwarmMaintenance } from '../testbed/swarm/maintenance.js';
import { badFlag, runCli, type CliContext, type CliDefinition } from './run-cli.js';
import { LoadClients } from '../clients/coordinator.js';
import { LOADCLIENT_IMAGE } from '../clients/image.js';
import { pickClientHosts, separateClientHosts } from '../testbed/remote/client-hosts.js';
import { parseLoadClients } from '../clients/mode.js';
import { loadSystemTemplate } from '../testbed/system-template.js';

export interface RemoteNetworkArgs extends NetworkRunArgs {
  readonly hostsFile?: string;
  readonly loadClients?: string;
  readonly nodesPerHost: number;
  /** `--system NAME|PATH`: what each node runs (its system.json); default the reference node. */
  readonly system?: string;
  readonly image?: string;
  readonly imageTransfer: string;
  readonly strictHostKeyChecking: string;
  readonly knownHosts?: string;
  readonly sshConfig?: string;
  readonly concurrency: number;
  readonly engine?: string;
  readonly swarmNetwork?: string;
  readonly dockerComposePath?: string | readonly string[];
  readonly maxClockOffset?: number;
  readonly allowClockOffset?: boolean;
  /** `--down` alone: '' (every run); `--down RUN_ID`: that run. */
  readonly down?: string;
  readonly status: boolean;
  readonly showLogs?: number;
}

function options(argv: Argv): Argv<RemoteNetworkArgs> {
  return addNetworkRunOptions(
    argv.option('hosts-file', {
      type: 'string',
      describe:
        'Hosts: an env file (MYSTICETI_NODE{n}_HOST…, see hosts.example.env) or a YAML inventory; default: the environment',
    }),
    {
      startupWaitSeconds: NETWORK_RUN_DEFAULTS.remoteStartupWaitSecs,
      startupWait: 'Longest wait for readiness after start, seconds',
      cleanup: "Remove the run's containers and their volumes at the end",
      cleanupThorough: 'Also remove the shipped image',
      output: 'Folder for the result JSON (written to OUTPUT/run-<id>/remote-benchmark-1.json)',
    },
  )
    .option('nodes-per-host', {
      type: 'number',
      default: 1,
      describe: 'Nodes on each host (each gets its own ports, +10 per node)',
    })
    .option('system', {
      type: 'string',
      describe:
        "The system each node runs: a folder of meshbench's systems/ (libp2p-gossipsub, crdt-sync) or of yours with a system.json; its image is shipped and its protocol is the load's (docs/remote-network.md)",
    })
    .option('image', {
      type: 'string',
      describe: 'Node image',
      defaultDescription: `${DEFAULT_IMAGE}, or the system's`,
    })
    .option('load-clients', {
      type: 'string',
      default: 'local',
      describe:
        'Where the load runs: local (this process) | colocated (one client beside each node, on its host; its image goes with the node image) | dedicated:N (one client on each of the first N hosts marked role: client; no node runs there)',
    })
    .option('image-transfer', {
      type: 'string',
      default: 'ship',
      choices: IMAGE_TRANSFER_VALUES,
      describe:
        'ship: docker save | gzip over SSH | docker load (only where the image ID is missing); pull: docker pull on each host',
    })
    .option('strict-host-key-checking', {
      type: 'string',
      default: 'accept-new',
      choices: STRICT_HOST_KEY_CHECKING_VALUES,
      describe:
        'Host keys vs known_hosts: yes (must be known), accept-new (add unknown hosts, refuse changed keys), no',
    })
    .option('known-hosts', {
      type: 'string',
      describe: 'known_hosts file (default MESHBENCH_SSH_KNOWN_HOSTS or ~/.ssh/known_hosts)',
    })
    .option('ssh-config', {
      type: 'string',
      describe:
        "OpenSSH client config for the hosts (Host aliases, HostName, User, Port, IdentityFile, ProxyJump), or none; default MESHBENCH_SSH_CONFIG, the inventory's ssh_config:, else ~/.ssh/config and /etc/ssh/ssh_config",
    })
    .option('concurrency', {
      type: 'number',
      default: DEFAULT_REMOTE_CONCURRENCY,
      describe: 'Hosts worked on at once (SSH connects, checks, image, start; see docs/scaling.md)',
    })
    .option('engine', {
      type: 'string',
      default: 'docker',
      choices: ENGINE_VALUES,
      describe:
        'docker: a container per node on each host; swarm: the hosts form (or are) a Docker Swarm and the nodes run as a stack, one per host (docs/remote-network.md)',
    })
    .option('swarm-network', {
      type: 'string',
      default: 'auto',
      choices: SWARM_NETWORK_VALUES,
      describe:
        "With --engine swarm, the nodes' P2P network: overlay, host (the hosts' own), or auto (overlay, else host)",
    })
    .option('docker-compose-path', {
      type: 'string',
      array: true,
      describe:
        'With --engine swarm, your compose file(s) as the stack (resolved by compose; nodes found as in local-network), one node per host; default: the generated network',
    })
    .option('max-clock-offset', {
      type: 'number',
      describe:
        "Refuse to deploy when a host's clock is further off than this many ms (measured over SSH; recorded always)",
    })
    .option('allow-clock-offset', {
      type: 'boolean',
      default: false,
      describe: 'Above --max-clock-offset, warn instead of refusing',
    })
    .option('down', {
      type: 'string',
      requiresArg: false,
      describe:
        "Remove what the run RUN_ID left on the hosts (its containers and volumes; its swarm stack), or with no id every remote-network run's, meshbench's swarm stacks first and a swarm it formed last (with --cleanup-thorough: images too)",
    })
    .option('status', {
      type: 'boolean',
      default: false,
      describe: 'List remote-network containers on the hosts and exit',
    })
    .option('show-logs', {
      type: 'number',
      describe: 'Print the last N log lines of every remote-network container and exit',
    }) as unknown as Argv<RemoteNetworkArgs>;
}

const EPILOGUE = `Examples:
  npm run sandbox -- up --hosts 4                      four emulated SSH hosts on this machine
  remote-network --hosts-file .meshbench/sandbox/hosts.env --num-transactions 200 --transaction-rate 50 --cleanup
  remote-network --hosts-file inventory.yaml --nodes-per-host 2 --cleanup-thorough
  remote-network --hosts-file hosts.env --system libp2p-gossipsub --num-transactions 500 --transaction-rate 100 --cleanup
  remote-network --hosts-file hosts.env --status | --show-logs 20 | --down [RUN_ID]
Environment: MYSTICETI_NODE{n}_HOST|SSH_PORT|SSH_USER|SSH_KEY, SSH_TIMEOUT, MESHBENCH_SSH_KEY_PASSPHRASE, SSH_AUTH_SOCK.
See docs/remote-network.md.`;

export function validateArgs(args: RemoteNetworkArgs): void {
  validateNetworkRunArgs(args);
  const positiveInteger = (flag: string, value: number | undefined, max: number) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > max))
      throw badFlag(flag, value, `a whole number from 1 to ${max}`);
  };
  positiveInteger('nodes-per-host', args.nodesPerHost, 50);
  positiveInteger('concurrency', args.concurrency, 256);
  const clients = parseLoadClients(args.loadClients ?? 'local');
  if (clients.kind !== 'local' && args.engine === 'swarm')
    throw badFlag(
      'load-clients',
      args.loadClients,
      `local with --engine swarm (${clients.kind} clients need --engine docker)`,
    );
  if (args.dockerComposePath !== undefined && args.engine !== 'swarm')
    throw badFlag(
      'docker-compose-path',
      [args.dockerComposePath].flat().join(' '),
      'applies to --engine swarm (plain hosts run the generated network; for your compose file on this machine use local-network)',
    );
  if (args.system !== undefined && args.engine === 'swarm')
    throw badFlag(
      'system',
      args.system,
      `--engine docker (with --engine swarm, give the system's compose file: --docker-compose-path systems/${args.system}/docker-compose.yml)`,
    );
  if (args.engine === 'swarm' && args.nodesPerHost !== 1)
    throw badFlag(
      'nodes-per-host',
      args.nodesPerHost,
      '1 with --engine swarm (one node per host, by placement)',
    );
  checkShowLogs(args.showLogs);
  if (
    args.maxClockOffset !== undefined &&
    !(Number.isFinite(args.maxClockOffset) && args.maxClockOffset > 0 && args.maxClockOffset <= 3_600_000)
  )
    throw badFlag('max-clock-offset', args.maxClockOffset, 'milliseconds, a number > 0 and up to 3600000');
}

function progressPrinter(context: CliContext): (progress: HostProgress) => void {
  return (progress) => context.stderr(`[${progress.host}] ${progress.stage}: ${progress.message}`);
}

function knownHostsFor(args: RemoteNetworkArgs, hosts: HostsConfig): string {
  return args.knownHosts ?? hosts.knownHostsPath ?? defaultKnownHostsPath();
}

async function runMaintenance(
  args: RemoteNetworkArgs,
  hosts: HostsConfig,
  context: CliContext,
): Promise<number> {
  // --down takes meshbench's swarm stacks too, whatever --engine says: a stack's network
  // cannot go before its services, and plain --down failed on it, pointing at itself
  const maintenance = await (
    args.engine === 'swarm' || args.down !== undefined ? SwarmMaintenance : RemoteMaintenance
  ).connect({
    hosts,
    strictHostKeyChecking: args.strictHostKeyChecking as StrictHostKeyChecking,
    knownHostsPath: knownHostsFor(args, hosts),
    concurrency: args.concurrency,
    image:
      args.image ??
      (args.system === undefined ? DEFAULT_IMAGE : loadSystemTemplate(args.system.trim()).image),
    signal: context.shutdown.signal,
    onProgress: progressPrinter(context),
  });
  try {
    if (args.down !== undefined) {
      const runId = args.down.trim();
      const removed = await maintenance.down({
        thorough: args.cleanupThorough,
        ...(runId !== '' ? { runId } : {}),
      });
      const sum = (key: 'containers' | 'volumes' | 'images') =>
        removed.reduce((total, r) => total + r[key], 0);
      context.stdout(
        `down: removed ${sum('containers')} container(s), ${sum('volumes')} volume(s)${args.cleanupThorough ? `, ${sum('images')} image(s)` : ''}${runId !== '' ? ` of run ${runId}` : ''} on ${hosts.hosts.length} host(s)`,
      );
      return 0;
    }
    if (args.status) {
      const statuses = await maintenance.status();
      if (statuses.length === 0) context.stdout('no remote-network containers on these hosts');
      for (const s of statuses)
        context.stdout(`${s.host}\t${s.node}\t${s.state}\t${s.status}\trun ${s.runId}\t${s.name}`);
      return 0;
    }
    const logs = await maintenance.logs(args.showLogs ?? 50);
    if (logs.length === 0) context.stdout('no remote-network containers on these hosts');
    for (const entry of logs) {
      context.stdout(`==> ${entry.host} ${entry.name} <==`);
      context.stdout(entry.text.trimEnd());
    }
    return 0;
  } finally {
    await maintenance.close();
  }
}

async function run(args: RemoteNetworkArgs, context: CliContext): Promise<number> {
  validateArgs(args);
  const inventory = await resolveHosts(
    await loadHosts({ ...(args.hostsFile ? { hostsFile: args.hostsFile } : {}) }),
    args.sshConfig !== undefined ? { sshConfig: args.sshConfig } : {},
  );
  // --down, --status, --show-logs: every host of the inventory, client hosts included
  if (args.down !== undefined || args.status || args.showLogs !== undefined)
    return runMaintenance(args, inventory, context);
  // hosts marked role: client never take a node; --load-clients dedicated:N uses the first N
  const hosts = separateClientHosts(inventory);
  const clientsMode = parseLoadClients(args.loadClients ?? 'local');
  const colocated = clientsMode.kind === 'colocated';
  const dedicated = clientsMode.kind === 'dedicated' ? pickClientHosts(hosts, clientsMode.count) : undefined;
  const runId = newRunId();
  const swarm = args.engine === 'swarm';
  const system = args.system === undefined ? undefined : loadSystemTemplate(args.system.trim());
  const image = args.image ?? system?.image ?? DEFAULT_IMAGE;
  const composePaths =
    swarm && args.dockerComposePath !== undefined
      ? [args.dockerComposePath].flat().map((path) => resolve(path))
      : undefined;
  // The stack's nodes labelled meshbench.protocol say what the load speaks (read by compose).
  const labelled = composePaths
    ? await (
        await import('../testbed/local/user-compose.js')
      ).composeProtocol({ files: [args.dockerComposePath ?? []].flat() })
    : undefined;
  const testbed: RemoteTestbed | SwarmTestbed = swarm
    ? new SwarmTestbed({
        hosts,
        runId,
        image,
        imageTransfer: args.imageTransfer as ImageTransfer,
        network: (args.swarmNetwork ?? 'auto') as SwarmNetworkChoice,
        ...(composePaths ? { composePaths } : {}),
        clock: {
          ...(args.maxClockOffset !== undefined ? { maxOffsetMs: args.maxClockOffset } : {}),
          ...(args.allowClockOffset ? { allowOffset: true } : {}),
        },
        startupWaitMs: args.startupWait * 1000,
        strictHostKeyChecking: args.strictHostKeyChecking as StrictHostKeyChecking,
        knownHostsPath: knownHostsFor(args, hosts),
        concurrency: args.concurrency,
        onProgress: progressPrinter(context),
      })
    : new RemoteTestbed({
        hosts,
        runId,
        ...(system ? { system } : {}),
        image,
        imageTransfer: args.imageTransfer as ImageTransfer,
        nodesPerHost: args.nodesPerHost,
        startupWaitMs: args.startupWait * 1000,
        strictHostKeyChecking: args.strictHostKeyChecking as StrictHostKeyChecking,
        knownHostsPath: knownHostsFor(args, hosts),
        concurrency: args.concurrency,
        ...(colocated ? { sidecarImages: [LOADCLIENT_IMAGE] } : {}),
        ...(dedicated ? { loadClientHosts: { hosts: dedicated, image: LOADCLIENT_IMAGE } } : {}),
        clock: {
          ...(args.maxClockOffset !== undefined ? { maxOffsetMs: args.maxClockOffset } : {}),
          ...(args.allowClockOffset ? { allowOffset: true } : {}),
        },
        onProgress: progressPrinter(context),
      });
  const spec: NetworkCommandSpec<RemoteDeployment | SwarmDeployment> = {
    command: 'remote-network',
    networkType: 'remote',
    runId,
    protocol: labelled ?? system?.protocol ?? 'cometbft',
    testbed,
    plan: { committee: hosts.hosts.length * args.nodesPerHost, hostsFile: args.hostsFile },
    startLine: `run ${runId}: deploying ${args.dockerComposePath !== undefined ? "the compose file's nodes" : `${hosts.hosts.length * args.nodesPerHost} node(s)`} to ${hosts.hosts.length} host(s) from ${hosts.source}${dedicated ? `, load clients on ${dedicated.length} client host(s) (${dedicated.map((h) => h.name).join(', ')})` : ''}`,
    readyLine: ({ nodes, readyAfterMs, environment }) =>
      `all ${nodes.length} node${nodes.length === 1 ? '' : 's'} ready after ${(readyAfterMs / 1000).toFixed(2)} s; image: ${(environment.imageBytesShipped / 1e6).toFixed(1)} MB shipped in ${(environment.imageTransferMs / 1000).toFixed(1)} s`,
    extension: (deployment) => ({
      remote_network: {
        hosts_source: hosts.source,
        hosts: hosts.hosts.length,
        nodes_per_host: args.nodesPerHost,
        num_transactions: args.numTransactions,
        image,
        ...(system ? { system: system.name } : {}),
        image_transfer: args.imageTransfer,
        broadcast_mode: args.broadcastMode,
        ready_after_ms: deployment.readyAfterMs,
        endpoints: deployment.endpoints,
        environment: deployment.environment,
      },
    }),
    async remove(deployment, thorough) {
      await deployment.destroy({ thorough });
      return `cleanup: removed run ${runId} from ${hosts.hosts.length + (dedicated?.length ?? 0)} host(s)`;
    },
    protocolFix: swarm
      ? "label the compose file's node services with the protocol they speak (meshbench.protocol)"
      : 'run nodes that speak it: --system names a system and its protocol (docs/remote-network.md)',
    downCommand: `remote-network --down ${runId}${swarm ? ' --engine swarm' : ''}${args.hostsFile ? ` --hosts-file ${args.hostsFile}` : ''}${args.sshConfig ? ` --ssh-config ${args.sshConfig}` : ''}`,
  };
  // --load-clients colocated|dedicated:N: the load runs beside the nodes or on the client hosts
  // (src/clients/); with --image-transfer pull the node hosts pull the client image like the node
  // image, and client hosts must have it already (checked at deploy)
  const observers =
    clientsMode.kind !== 'local'
      ? [
          new LoadClients({
            mode: clientsMode,
            warn: (line) => context.stderr(line),
            requireLocalImage: args.imageTransfer !== 'pull',
          }),
        ]
      : [];
  return runNetworkCommand(args, context, spec, observers);
}

export const remoteNetworkCommand: CliDefinition<RemoteNetworkArgs> = {
  name: 'remote-network',
  usage:
    '$0 [options]\n\nDeploy a node network to remote hosts over SSH, send transactions from here, print and save the result.',
  epilogue: EPILOGUE,
  options,
  run,
  settings: { flagsOnly: ['down', 'status', 'show-logs'] },
};

export function main(argv: string[]): Promise<number> {
  return runCli(remoteNetworkCommand, argv);
}
