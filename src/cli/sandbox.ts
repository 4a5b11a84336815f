/**
 * `sandbox`: emulated SSH hosts on this machine for remote mode without a cloud.
 *   sandbox up --hosts N [--without-docker]   start N hosts, write .meshbench/sandbox/hosts.env
 *   sandbox down                              remove them
 *   sandbox status                            show the hosts of the current sandbox
 */
import type { Argv } from 'yargs';
import {
  DEFAULT_SANDBOX_DIR,
  INNER_STORAGE_VALUES,
  readSandboxState,
  sandboxDown,
  sandboxUp,
  type InnerStorage,
} from '../testbed/sandbox/sandbox.js';
import { badFlag, runCli, type CliContext, type CliDefinition } from './run-cli.js';
import { MeshbenchError } from '../common/errors.js';

export interface SandboxArgs {
  readonly _: (string | number)[];
  readonly hosts: number;
  readonly withoutDocker: boolean;
  readonly user: string;
  readonly dir: string;
  readonly all: boolean;
  readonly dockerDiskMb?: number;
  readonly innerStorage: string;
  readonly bastion: boolean;
}

function options(argv: Argv): Argv<SandboxArgs> {
  return argv
    .command('up', 'Start emulated SSH hosts (each with sshd and its own Docker engine)')
    .command('down', 'Remove the sandbox hosts')
    .command('status', 'Show the sandbox hosts')
    .demandCommand(1, 'say up, down or status')
    .option('hosts', { type: 'number', default: 4, describe: 'Number of hosts (up)' })
    .option('without-docker', {
      type: 'boolean',
      default: false,
      describe: 'Hosts without Docker, so remote-network installs it (up)',
    })
    .option('user', {
      type: 'string',
      default: 'root',
      choices: ['root', 'meshbench', 'nosudo'],
      describe: 'SSH user in hosts.env: root, meshbench (password-less sudo) or nosudo',
    })
    .option('docker-disk-mb', {
      type: 'number',
      describe: "Limit each host's /var/lib/docker to this many MB (emulates a small disk)",
    })
    .option('inner-storage', {
      type: 'string',
      default: 'overlay2',
      choices: INNER_STORAGE_VALUES,
      describe:
        "Storage of the hosts' Docker engines: overlay2 on tmpfs (fast, ~300 MB RAM per host) or vfs on disk (slow)",
    })
    .option('bastion', {
      type: 'boolean',
      default: false,
      describe:
        'Hosts on an internal network behind a bastion (sshd only); writes inventory.yaml (jump:) and ssh_config (ProxyJump) (up)',
    })
    .option('dir', {
      type: 'string',
      default: DEFAULT_SANDBOX_DIR,
      describe: 'Folder for the key pair, known_hosts and hosts.env',
    })
    .option('all', {
      type: 'boolean',
      default: false,
      describe: 'down: remove every sandbox host on this engine, not only this folder’s',
    }) as unknown as Argv<SandboxArgs>;
}

async function run(args: SandboxArgs, context: CliContext): Promise<number> {
  const command = String(args._[0]);
  if (command === 'up') {
    if (!Number.isInteger(args.hosts) || args.hosts < 1 || args.hosts > 64)
      throw badFlag('hosts', args.hosts, 'a whole number from 1 to 64');
    const started = Date.now();
    const state = await sandboxUp({
      hosts: args.hosts,
      withoutDocker: args.withoutDocker ? args.hosts : 0,
      user: args.user,
      dir: args.dir,
      innerStorage: args.innerStorage as InnerStorage,
      bastion: args.bastion,
      ...(args.dockerDiskMb !== undefined ? { dockerDiskMb: args.dockerDiskMb } : {}),
      log: (line) => context.stderr(`sandbox: ${line}`),
      signal: context.shutdown.signal,
    });
    context.stderr(
      `sandbox: ${state.hosts.length} host(s) up in ${((Date.now() - started) / 1000).toFixed(1)} s (run ${state.runId})`,
    );
    if (state.bastion) {
      context.stderr(
        `sandbox: the hosts answer only through the bastion; also ${state.bastion.sshConfigPath} (ProxyJump) and ${state.bastion.sshConfigInventoryPath}`,
      );
      context.stdout(state.bastion.inventoryPath);
    } else {
      context.stdout(state.hostsEnvPath);
    }
    return 0;
  }
  if (command === 'down') {
    const removed = await sandboxDown({ dir: args.dir, all: args.all });
    context.stderr(`sandbox: removed ${removed} host(s)`);
    return 0;
  }
  if (command === 'status') {
    const state = await readSandboxState(args.dir);
    if (!state) {
      context.stdout(`no sandbox in ${args.dir}`);
      return 0;
    }
    for (const host of state.hosts)
      context.stdout(
        `${host.name}\t${host.address}\t${host.docker ? 'docker' : 'no docker'}\t${host.container}`,
      );
    if (state.bastion) {
      context.stdout(`bastion\t${state.bastion.address}\t${state.bastion.container}`);
      context.stdout(`inventory: ${state.bastion.inventoryPath}`);
      context.stdout(`ssh config: ${state.bastion.sshConfigPath}`);
    } else {
      context.stdout(`hosts file: ${state.hostsEnvPath}`);
    }
    return 0;
  }
  throw new MeshbenchError('BAD_FLAG', `sandbox ${JSON.stringify(command)}: no such command`, {
    hint: 'say up, down or status (see sandbox --help)',
  });
}

export const sandboxCommand: CliDefinition<SandboxArgs> = {
  positionals: true,
  name: 'sandbox',
  usage:
    '$0 <up|down|status> [options]\n\nEmulated SSH hosts on this machine, for remote-network without a cloud.',
  epilogue:
    'Example: npm run sandbox -- up --hosts 4 && remote-network --hosts-file .meshbench/sandbox/hosts.env --cleanup',
  options,
  run,
};

export function main(argv: string[]): Promise<number> {
  return runCli(sandboxCommand, argv);
}
