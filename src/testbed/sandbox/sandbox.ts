/**
 * The sandbox: emulated remote hosts on this machine's Docker engine, each a
 * container running sshd and (optionally) its own dockerd, so remote mode runs
 * for real with no cloud account. `up` writes a hosts env file that
 * `remote-network --hosts-file` accepts; `down` removes everything by label.
 */
import { execFile } from 'node:child_process';
import { access, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { MeshbenchError } from '../../common/errors.js';
import { runInOwnGroup } from '../../common/group-child.js';
import type { ExecResult } from '../../common/exec-result.js';
import { RUN_LABEL, SANDBOX_LABEL } from '../../common/labels.js';
import { newRunId } from '../../common/run-id.js';
import { sleep } from '../../common/sleep.js';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { packageRoot } from '../../common/package-root.js';
import { firstFailure, mapSettled } from '../../common/concurrency.js';
import { makeDirs } from '../../common/make-dirs.js';

export { SANDBOX_LABEL } from '../../common/labels.js';
export const SANDBOX_IMAGE = process.env.MESHBENCH_SANDBOX_IMAGE ?? 'meshbench/sandbox-host:latest';
export const SANDBOX_NODOCKER_IMAGE =
  process.env.MESHBENCH_SANDBOX_NODOCKER_IMAGE ?? 'meshbench/sandbox-host-nodocker:latest';
export const DEFAULT_SANDBOX_DIR = '.meshbench/sandbox';
/** Hosts started (docker run, sshd up, host keys read) at once. */
export const SANDBOX_START_CONCURRENCY = 8;

/** Docker flags that let a container run its own sshd and dockerd without --privileged (DESIGN.md). */
export const HOST_CONTAINER_FLAGS = [
  '--cap-add',
  'ALL',
  '--cap-drop',
  'SYS_RESOURCE',
  '--security-opt',
  'seccomp=unconfined',
  '--security-opt',
  'apparmor=unconfined',
  '--cgroupns',
  'host',
  '-v',
  '/sys/fs/cgroup:/sys/fs/cgroup:rw',
  '--tmpfs',
  '/run',
  '--tmpfs',
  '/tmp',
];

export interface SandboxHost {
  readonly name: string;
  readonly container: string;
  readonly address: string;
  readonly docker: boolean;
}

export interface SandboxState {
  readonly runId: string;
  readonly network: string;
  readonly hosts: readonly SandboxHost[];
  readonly keyPath: string;
  readonly knownHostsPath: string;
  readonly hostsEnvPath: string;
  /** An address on the sandbox network that no host uses (for "unreachable host" tests). */
  readonly unusedAddress: string;
  /** With `--bastion`: the jump host in front of the hosts, which sit on an internal network. */
  readonly bastion?: SandboxBastion;
}

export interface SandboxBastion {
  readonly container: string;
  /** Its address on the edge network, the one this machine reaches. */
  readonly address: string;
  /** The edge network (this machine ↔ bastion); `network` is then internal (bastion ↔ hosts). */
  readonly edgeNetwork: string;
  /** A YAML inventory reaching the hosts through the bastion with `jump:` (a group). */
  readonly inventoryPath: string;
  /** An OpenSSH client config (`ssh -F` it) with aliases sandbox-host{n} and ProxyJump sandbox-bastion. */
  readonly sshConfigPath: string;
  /** A YAML inventory naming the hosts by those aliases, reading that ssh config. */
  readonly sshConfigInventoryPath: string;
}

export interface SandboxUpOptions {
  readonly hosts: number;
  /** How many of the hosts start without Docker (the last ones). Default 0. */
  readonly withoutDocker?: number;
  readonly dir?: string;
  /** SSH user written to hosts.env: root (default), `meshbench` (password-less sudo) or `nosudo`. */
  readonly user?: string;
  /** Size limit of each host's /var/lib/docker, to emulate a small disk. */
  readonly dockerDiskMb?: number;
  /**
   * Storage of the hosts' own Docker engines: `overlay2` (default) on a tmpfs, fast, about
   * 300 MB of RAM per host with the refnode image; or `vfs` on a volume on disk, slow
   * (every container copies the whole image) but needing no overlay support.
   */
  readonly innerStorage?: InnerStorage;
  /**
   * Put the hosts on an internal Docker network this machine has no route to, behind a bastion
   * (sshd only) on both networks; writes an inventory with `jump:` and an ssh config with ProxyJump.
   */
  readonly bastion?: boolean;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export type InnerStorage = 'overlay2' | 'vfs';
export const INNER_STORAGE_VALUES: readonly InnerStorage[] = ['overlay2', 'vfs'];

export type CommandResult = ExecResult;

export function docker(
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      'docker',
      [...args],
      { maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000 },
      (error, stdout, stderr) => {
        if (error && typeof (error as NodeJS.ErrnoException).code === 'string') {
          reject(
            new MeshbenchError('DOCKER_UNAVAILABLE', `cannot run docker: ${error.message}`, {
              hint: 'install Docker and make sure the docker CLI is on PATH',
            }),
          );
          return;
        }
        resolvePromise({ exitCode: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

async function dockerOk(args: readonly string[], what: string): Promise<string> {
  const result = await docker(args);
  if (result.exitCode !== 0) {
    throw new MeshbenchError(
      'DOCKER_UNAVAILABLE',
      `sandbox: ${what} failed: ${result.stderr.trim().split('\n').at(-1) ?? ''}`,
      {
        hint: 'check that the Docker engine runs (npm run setup)',
      },
    );
  }
  return result.stdout.trim();
}

/** The project root (where scripts/ lives). */
function projectRoot(): string {
  return packageRoot() ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

async function imageExists(image: string): Promise<boolean> {
  return (await docker(['image', 'inspect', '--format', '{{.Id}}', image])).exitCode === 0;
}

/** Builds the sandbox host images from Debian packages when they are missing. */
export async function ensureSandboxImages(options: {
  withDocker: boolean;
  withoutDocker: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
}): Promise<void> {
  const wanted: string[] = [];
  if (options.withDocker && !(await imageExists(SANDBOX_IMAGE))) wanted.push('host');
  if (options.withoutDocker && !(await imageExists(SANDBOX_NODOCKER_IMAGE))) wanted.push('nodocker');
  if (wanted.length === 0) return;
  const script = join(projectRoot(), 'scripts', 'build-sandbox-image.sh');
  for (const set of wanted) {
    options.log?.(`building sandbox image (${set}) with ${script}`);
    // its own process group: Ctrl-C ends the script and the build under it, and says so
    const { code, interrupted } = await runInOwnGroup('bash', [script, set], {
      cwd: projectRoot(),
      stdio: 'inherit',
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (interrupted)
      throw new MeshbenchError(
        'INTERRUPTED',
        `interrupted while building the sandbox host image (${set}): it was not built`,
      );
    if (code !== 0) {
      throw new MeshbenchError('IMAGE_MISSING', `building the sandbox host image (${set}) failed`, {
        hint: `run bash ${script} ${set} and fix what it reports`,
      });
    }
  }
}

/** sshd of a host this machine cannot reach, asked from the bastion: its banner read there. */
async function waitForSshVia(bastion: string, address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await docker(
      ['exec', bastion, 'timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${address}/22 && head -c 4 <&3`],
      { timeoutMs: 10_000 },
    );
    if (result.stdout.startsWith('SSH-')) return;
    if (Date.now() > deadline)
      throw new MeshbenchError(
        'NOT_READY',
        `sandbox host ${address}: sshd did not answer the bastion within ${timeoutMs} ms`,
        { hint: 'see docker logs of the sandbox container' },
      );
    await sleep(200);
  }
}

function waitForSsh(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolvePromise, reject) => {
    const tryOnce = () => {
      const socket = connect({ host: address, port: 22 });
      let banner = '';
      const retry = () => {
        socket.destroy();
        if (Date.now() > deadline) {
          reject(
            new MeshbenchError(
              'NOT_READY',
              `sandbox host ${address}: sshd did not answer within ${timeoutMs} ms`,
              { hint: 'see docker logs of the sandbox container' },
            ),
          );
        } else {
          setTimeout(tryOnce, 200);
        }
      };
      socket.setTimeout(2000, retry);
      socket.on('error', retry);
      socket.on('data', (chunk) => {
        banner += chunk.toString('latin1');
        if (banner.startsWith('SSH-')) {
          socket.destroy();
          resolvePromise();
        }
      });
    };
    tryOnce();
  });
}

async function waitForDockerd(container: string, timeoutMs: number, storage: InnerStorage): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const result = await docker(['exec', container, 'docker', 'version', '--format', '{{.Server.Version}}']);
    if (result.exitCode === 0) return;
    const alive = attempt < 4 || (await docker(['exec', container, 'pgrep', '-x', 'dockerd'])).exitCode === 0;
    if (!alive || Date.now() > deadline) {
      const log = await docker(['exec', container, 'tail', '-n', '3', '/var/log/dockerd.log']);
      throw new MeshbenchError(
        'NOT_READY',
        `sandbox ${container}: inner dockerd did not answer within ${timeoutMs} ms: ${log.stdout.trim().split('\n').at(-1) ?? ''}`,
        {
          hint:
            storage === 'overlay2'
              ? 'try --inner-storage vfs (slower, on disk), and check that this machine allows nested Docker (DESIGN.md)'
              : 'check that this machine allows nested Docker (see DESIGN.md)',
        },
      );
    }
    await sleep(500);
  }
}

function statePath(dir: string): string {
  return join(dir, 'state.json');
}

export async function readSandboxState(dir = DEFAULT_SANDBOX_DIR): Promise<SandboxState | undefined> {
  try {
    return JSON.parse(await readFile(statePath(dir), 'utf8')) as SandboxState;
  } catch {
    return undefined;
  }
}

/** Writes an env file for `remote-network --hosts-file` covering the given sandbox hosts. */
export async function writeHostsEnv(
  path: string,
  state: Pick<SandboxState, 'keyPath' | 'knownHostsPath'>,
  hosts: readonly Pick<SandboxHost, 'address' | 'name'>[],
  options: { user?: string; sshTimeoutSeconds?: number; keyPath?: string | null } = {},
): Promise<string> {
  const lines = [
    '# Written by `npm run sandbox -- up`: emulated SSH hosts on this machine.',
    `# Use: remote-network --hosts-file ${path}`,
  ];
  hosts.forEach((host, n) => {
    lines.push(
      `# ${host.name}`,
      `MYSTICETI_NODE${n}_HOST=${host.address}`,
      `MYSTICETI_NODE${n}_SSH_PORT=22`,
      `MYSTICETI_NODE${n}_SSH_USER=${options.user ?? 'root'}`,
    );
    // keyPath null: no key line, so the default key and ssh-agent are used
    if (options.keyPath !== null)
      lines.push(`MYSTICETI_NODE${n}_SSH_KEY=${resolve(options.keyPath ?? state.keyPath)}`);
  });
  lines.push(
    `SSH_TIMEOUT=${options.sshTimeoutSeconds ?? 15}`,
    `MESHBENCH_SSH_KNOWN_HOSTS=${resolve(state.knownHostsPath)}`,
    '',
  );
  await writeFileAtomic(path, lines.join('\n'));
  return path;
}

/** Starts N emulated hosts. Fails if this folder already has a sandbox up. */
export async function sandboxUp(options: SandboxUpOptions): Promise<SandboxState> {
  const log = options.log ?? (() => undefined);
  const dir = resolve(options.dir ?? DEFAULT_SANDBOX_DIR);
  const count = options.hosts;
  const withoutDocker = Math.min(options.withoutDocker ?? 0, count);
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new MeshbenchError('BAD_FLAG', `--hosts ${count} is not valid`, {
      hint: 'use a whole number from 1 to 64',
    });
  }
  const existing = await readSandboxState(dir);
  if (existing) {
    throw new MeshbenchError('BAD_FLAG', `a sandbox (run ${existing.runId}) is already up in ${dir}`, {
      hint: 'run `npm run sandbox -- down` first',
    });
  }
  await ensureSandboxImages({
    withDocker: withoutDocker < count,
    withoutDocker: withoutDocker > 0,
    log,
    ...(options.signal ? { signal: options.signal } : {}),
  });

  const runId = newRunId();
  const labels = ['--label', `${RUN_LABEL}=${runId}`, '--label', `${SANDBOX_LABEL}=1`];
  await makeDirs(dir);
  const keyPath = join(dir, 'id_ed25519');
  const keys = ed25519KeyPair(`meshbench-sandbox-${runId}`);
  await writeFile(keyPath, keys.private, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(`${keyPath}.pub`, `${keys.public}\n`, { mode: 0o644 });
  const innerStorage = options.innerStorage ?? 'overlay2';
  const daemonJson = join(dir, 'daemon.json');
  await writeFile(daemonJson, `${JSON.stringify({ 'storage-driver': innerStorage })}\n`);
  const network = `meshbench-sandbox-${runId}`;
  const state: SandboxState = {
    runId,
    network,
    hosts: [],
    keyPath,
    knownHostsPath: join(dir, 'known_hosts'),
    hostsEnvPath: join(dir, 'hosts.env'),
    unusedAddress: '',
  };
  // Record the run before creating anything, so `down` can always clean up.
  await writeFileAtomic(statePath(dir), JSON.stringify(state, null, 2));
  try {
    // --bastion: no route from here to the hosts (internal, and no address for this machine on it)
    await dockerOk(
      [
        'network',
        'create',
        ...labels,
        ...(options.bastion ? ['--internal', '-o', 'com.docker.network.bridge.inhibit_ipv4=true'] : []),
        network,
      ],
      'creating the sandbox network',
    );
    const bastion = options.bastion ? await startBastion(runId, network, labels, keyPath) : undefined;
    if (bastion)
      log(`bastion: ${bastion.address} (edge network ${bastion.edgeNetwork}); hosts on internal ${network}`);
    const knownHostsLines: string[] = new Array(count);
    // Under a limit: 64 `docker run`s and sshd key generations at once starve a small machine
    // (sshd then misses its 30 s), and every start must settle before a failure cleans up.
    const started = await mapSettled(
      Array.from({ length: count }, (_, index) => index),
      SANDBOX_START_CONCURRENCY,
      async (index): Promise<SandboxHost> => {
        const name = `host${index}`;
        const container = `meshbench-sandbox-${runId}-${name}`;
        const hasDocker = index < count - withoutDocker;
        const storage =
          innerStorage === 'overlay2' || options.dockerDiskMb !== undefined
            ? [
                '--tmpfs',
                `/var/lib/docker:exec${options.dockerDiskMb !== undefined ? `,size=${options.dockerDiskMb}m` : ''}`,
              ]
            : [
                '--mount',
                `type=volume,source=${container}-docker,target=/var/lib/docker,volume-label=${RUN_LABEL}=${runId},volume-label=${SANDBOX_LABEL}=1`,
              ];
        const hostKey = await writeHostKey(dir, name, runId);
        await dockerOk(
          [
            'run',
            '-d',
            '--name',
            container,
            '--hostname',
            `sandbox-${name}`,
            ...labels,
            '--network',
            network,
            ...HOST_CONTAINER_FLAGS,
            ...storage,
            '-v',
            `${resolve(keyPath)}.pub:/etc/ssh/meshbench_authorized_keys:ro`,
            '-v',
            `${daemonJson}:/etc/docker/daemon.json:ro`,
            '-v',
            `${hostKey.dir}:${HOST_KEY_MOUNT}:ro`,
            '--entrypoint',
            '/bin/sh',
            hasDocker ? SANDBOX_IMAGE : SANDBOX_NODOCKER_IMAGE,
            '-c',
            INSTALL_HOST_KEY,
          ],
          `starting sandbox ${name}`,
        );
        const address = await dockerOk(
          ['inspect', '--format', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container],
          `reading the address of ${name}`,
        );
        if (bastion) await waitForSshVia(bastion.container, address, 30_000);
        else await waitForSsh(address, 30_000);
        if (hasDocker) await waitForDockerd(container, 90_000, innerStorage);
        log(`${name}: ${address} (${hasDocker ? 'with' : 'without'} Docker)`);
        knownHostsLines[index] = `${address} ${hostKey.publicKey}`;
        return { name, container, address, docker: hasDocker };
      },
    );
    const { values: hosts, error: startError } = firstFailure(started);
    if (startError !== undefined) throw startError;
    if (bastion) knownHostsLines.push(...(await hostKeyLines(bastion.container, bastion.address)));
    await writeFileAtomic(state.knownHostsPath, `${knownHostsLines.join('\n')}\n`);
    const subnet = await dockerOk(
      ['network', 'inspect', '--format', '{{(index .IPAM.Config 0).Subnet}}', network],
      'reading the sandbox subnet',
    );
    const finalState: SandboxState = {
      ...state,
      hosts,
      unusedAddress: lastUsableAddress(subnet),
      ...(bastion
        ? { bastion: await writeBastionFiles(dir, state, bastion, hosts, options.user ?? 'root') }
        : {}),
    };
    await writeHostsEnv(
      state.hostsEnvPath,
      finalState,
      hosts.filter((h) => h.docker || withoutDocker === count),
      {
        ...(options.user ? { user: options.user } : {}),
      },
    );
    await writeFileAtomic(statePath(dir), JSON.stringify(finalState, null, 2));
    return finalState;
  } catch (error) {
    await sandboxDown({ dir }).catch(() => undefined);
    throw error;
  }
}

/** Where a host's pre-made host key is mounted; INSTALL_HOST_KEY copies it into /etc/ssh. */
const HOST_KEY_MOUNT = '/etc/meshbench-host-key';
/**
 * The hosts' command: install the host key made here, then the image's entrypoint, which
 * generates keys only when /etc/ssh has no ed25519 key. `ssh-keygen -A` (RSA 3072 above all)
 * in 64 containers at once took minutes of CPU on a small machine; an ed25519 key made here
 * takes well under a millisecond, and its public half goes into known_hosts with no
 * `docker exec`. The copy is an ordinary file, so a test may still replace a host's keys.
 */
const INSTALL_HOST_KEY = [
  `cp ${HOST_KEY_MOUNT}/ssh_host_ed25519_key ${HOST_KEY_MOUNT}/ssh_host_ed25519_key.pub /etc/ssh/`,
  'chmod 600 /etc/ssh/ssh_host_ed25519_key',
  'exec /usr/local/sbin/sandbox-entrypoint',
].join(' && ');

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generator writes a public key whose first byte
 * is 0 as 31 bytes (it drops the leading zero), which neither ssh2 nor OpenSSH can read back
 * ("Malformed OpenSSH private key", "error in libcrypto"): 1 key in 256. Such a pair is made
 * again; the pair returned is one ssh2 parses.
 */
export function ed25519KeyPair(comment: string): { readonly private: string; readonly public: string } {
  for (let attempt = 0; ; attempt++) {
    const keys = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    if (!(ssh2.utils.parseKey(keys.private) instanceof Error) || attempt >= 20) return keys;
  }
}

/** Makes one host's ed25519 host key in `dir/host-keys/<name>/`; returns that folder and `type base64`. */
async function writeHostKey(
  dir: string,
  name: string,
  runId: string,
): Promise<{ dir: string; publicKey: string }> {
  const keyDir = join(dir, 'host-keys', name);
  await makeDirs(keyDir);
  const keys = ed25519KeyPair(`sandbox-${name}-${runId}`);
  await writeFile(join(keyDir, 'ssh_host_ed25519_key'), keys.private, { mode: 0o600 });
  await writeFile(join(keyDir, 'ssh_host_ed25519_key.pub'), `${keys.public}\n`, { mode: 0o644 });
  const [type, key] = keys.public.trim().split(/\s+/);
  return { dir: keyDir, publicKey: `${type} ${key}` };
}

/** `address type key` lines for a running container's host keys. */
async function hostKeyLines(container: string, address: string): Promise<string[]> {
  const keysText = await dockerOk(
    ['exec', container, 'sh', '-c', 'cat /etc/ssh/ssh_host_*_key.pub'],
    `reading host keys of ${container}`,
  );
  return keysText
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [type, key] = line.trim().split(/\s+/);
      return `${address} ${type} ${key}`;
    });
}

/** The bastion: sshd only (the no-Docker host image), on an edge network and on the hosts' internal one. */
async function startBastion(
  runId: string,
  internalNetwork: string,
  labels: readonly string[],
  keyPath: string,
): Promise<{ container: string; address: string; edgeNetwork: string }> {
  const edgeNetwork = `meshbench-sandbox-${runId}-edge`;
  const container = `meshbench-sandbox-${runId}-bastion`;
  await dockerOk(['network', 'create', ...labels, edgeNetwork], 'creating the bastion network');
  await dockerOk(
    [
      'run',
      '-d',
      '--name',
      container,
      '--hostname',
      'sandbox-bastion',
      ...labels,
      '--network',
      edgeNetwork,
      ...HOST_CONTAINER_FLAGS,
      '-v',
      `${resolve(keyPath)}.pub:/etc/ssh/meshbench_authorized_keys:ro`,
      SANDBOX_NODOCKER_IMAGE,
    ],
    'starting the sandbox bastion',
  );
  await dockerOk(['network', 'connect', internalNetwork, container], 'connecting the bastion to the hosts');
  const address = await dockerOk(
    ['inspect', '--format', `{{(index .NetworkSettings.Networks "${edgeNetwork}").IPAddress}}`, container],
    'reading the address of the bastion',
  );
  await waitForSsh(address, 30_000);
  return { container, address, edgeNetwork };
}

/** The inventory with `jump:`, the ssh config with ProxyJump, and an inventory that reads that config. */
async function writeBastionFiles(
  dir: string,
  state: Pick<SandboxState, 'keyPath' | 'knownHostsPath'>,
  bastion: { container: string; address: string; edgeNetwork: string },
  hosts: readonly SandboxHost[],
  user: string,
): Promise<SandboxBastion> {
  const key = resolve(state.keyPath);
  const knownHosts = resolve(state.knownHostsPath);
  const inventoryPath = join(dir, 'inventory.yaml');
  const sshConfigPath = join(dir, 'ssh_config');
  const sshConfigInventoryPath = join(dir, 'ssh-config-inventory.yaml');
  const withDocker = hosts.filter((host) => host.docker);
  const listed = withDocker.length > 0 ? withDocker : hosts;
  await writeFileAtomic(
    inventoryPath,
    [
      '# Written by `sandbox up --bastion`: hosts on an internal network, reached through the bastion.',
      `# Use: remote-network --hosts-file ${inventoryPath}`,
      'ssh_timeout: 15',
      `known_hosts: ${knownHosts}`,
      'ssh_config: none',
      'defaults:',
      `  user: ${user}`,
      `  key: ${key}`,
      'groups:',
      '  private:',
      `    jump: root@${bastion.address}:22`,
      'hosts:',
      ...listed.flatMap((host) => [
        `  - name: ${host.name}`,
        `    host: ${host.address}`,
        '    group: private',
      ]),
      '',
    ].join('\n'),
  );
  await writeFileAtomic(
    sshConfigPath,
    [
      '# Written by `sandbox up --bastion`. Try: ssh -F THIS_FILE sandbox-host0',
      'Host sandbox-bastion',
      `  HostName ${bastion.address}`,
      '  User root',
      '',
      ...hosts.flatMap((host) => [`Host sandbox-${host.name}`, `  HostName ${host.address}`, '']),
      'Host sandbox-host*',
      `  User ${user}`,
      '  ProxyJump sandbox-bastion',
      '',
      'Host sandbox-*',
      '  Port 22',
      `  IdentityFile ${key}`,
      `  UserKnownHostsFile ${knownHosts}`,
      '  StrictHostKeyChecking yes',
      '',
    ].join('\n'),
  );
  await writeFileAtomic(
    sshConfigInventoryPath,
    [
      '# Written by `sandbox up --bastion`: the hosts by their aliases in ssh_config (HostName, User, key, ProxyJump there).',
      `# Use: remote-network --hosts-file ${sshConfigInventoryPath}`,
      'ssh_timeout: 15',
      `known_hosts: ${knownHosts}`,
      `ssh_config: ${sshConfigPath}`,
      'hosts:',
      ...listed.flatMap((host) => [`  - name: ${host.name}`, `    host: sandbox-${host.name}`]),
      '',
    ].join('\n'),
  );
  return { ...bastion, inventoryPath, sshConfigPath, sshConfigInventoryPath };
}

/** Writes a known_hosts file with every host key of the given sandbox hosts (also after a host's keys change). */
export async function writeKnownHosts(path: string, hosts: readonly SandboxHost[]): Promise<void> {
  const perHost = await mapSettled(hosts, SANDBOX_START_CONCURRENCY, async (host) => {
    const keysText = await dockerOk(
      ['exec', host.container, 'sh', '-c', 'cat /etc/ssh/ssh_host_*_key.pub'],
      `reading host keys of ${host.name}`,
    );
    return keysText
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((line) => {
        const [type, key] = line.trim().split(/\s+/);
        return `${host.address} ${type} ${key}`;
      });
  });
  const { values, error } = firstFailure(perHost);
  if (error !== undefined) throw error;
  await writeFileAtomic(path, `${values.flat().join('\n')}\n`);
}

/** The last usable IPv4 address of a CIDR subnet (never handed out first by Docker). */
export function lastUsableAddress(cidr: string): string {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const parts = (base ?? '').split('.').map(Number);
  const value =
    (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
  const host = bits >= 32 ? 0 : 2 ** (32 - bits) - 2;
  const last = (value + host) >>> 0;
  return [last >>> 24, (last >>> 16) & 255, (last >>> 8) & 255, last & 255].join('.');
}

/** Removes the sandbox recorded in `dir` (or, with `all`, every sandbox on this engine). */
export async function sandboxDown(
  options: { dir?: string; all?: boolean; log?: (line: string) => void } = {},
): Promise<number> {
  const dir = resolve(options.dir ?? DEFAULT_SANDBOX_DIR);
  const state = await readSandboxState(dir);
  const filters = options.all
    ? ['--filter', `label=${SANDBOX_LABEL}=1`]
    : state
      ? ['--filter', `label=${RUN_LABEL}=${state.runId}`, '--filter', `label=${SANDBOX_LABEL}=1`]
      : undefined;
  let removed = 0;
  if (filters) {
    const ids = (await dockerOk(['ps', '-aq', ...filters], 'listing sandbox hosts'))
      .split('\n')
      .filter(Boolean);
    if (ids.length > 0) {
      await docker(['rm', '-f', '-v', ...ids], { timeoutMs: 300_000 });
      removed = ids.length;
    }
    const volumes = (await dockerOk(['volume', 'ls', '-q', ...filters], 'listing sandbox volumes'))
      .split('\n')
      .filter(Boolean);
    if (volumes.length > 0) await docker(['volume', 'rm', '-f', ...volumes]);
    const networks = (await dockerOk(['network', 'ls', '-q', ...filters], 'listing sandbox networks'))
      .split('\n')
      .filter(Boolean);
    // Said with the command when one stays (a busy engine has kept a removed container's
    // endpoint, "network has active endpoints"), not dropped: leaked networks use up the
    // engine's address pools.
    for (const network of networks) {
      const result = await docker(['network', 'rm', network]);
      if (result.exitCode !== 0 && !/not found/i.test(result.stderr))
        (options.log ?? ((line: string) => void process.stderr.write(`sandbox: ${line}\n`)))(
          `sandbox network ${network} was not removed (${result.stderr.trim().split('\n')[0]}); remove it with: docker network rm ${network}`,
        );
    }
  }
  for (const file of [
    'state.json',
    'hosts.env',
    'known_hosts',
    'id_ed25519',
    'id_ed25519.pub',
    'daemon.json',
    'inventory.yaml',
    'ssh_config',
    'ssh-config-inventory.yaml',
  ]) {
    await rm(join(dir, file), { force: true });
  }
  await rm(join(dir, 'host-keys'), { recursive: true, force: true });
  options.log?.(`removed ${removed} sandbox host(s)`);
  return removed;
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
