/**
 * Remote hosts for `remote-network`: from the original `MYSTICETI_NODE{n}_*`
 * environment variables, from an env file with the same variables
 * (`hosts.example.env`), or from a YAML inventory with per-host fields and
 * optional region/labels. Parsed and validated once, here.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { MeshbenchError } from '../../common/errors.js';

export interface RemoteHost {
  /** Display name: `host{n}` for env hosts, or the inventory's `name`. */
  readonly name: string;
  /** Address used for SSH and for reaching the nodes (IP or DNS name). */
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** Absolute path of the private key. */
  readonly keyPath: string;
  /** False when the key path is the default (`~/.ssh/id_rsa`): then a missing file is fine if an agent runs. */
  readonly keyPathExplicit: boolean;
  readonly region?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The name the inventory or env gave, when `~/.ssh/config` mapped it to another address (HostName). */
  readonly alias?: string;
  /** Which of port, user and key the inventory or env set (they win over `~/.ssh/config`). */
  readonly explicit?: { readonly port?: boolean; readonly user?: boolean; readonly key?: boolean };
  /** `jump:` as the inventory gave it (a chain of `[user@]host[:port]`, or `none`), before resolution. */
  readonly jumpSpec?: readonly string[] | 'none';
  /** The jump hosts this host is reached through, first to last (resolved: ssh-config-hosts.ts). */
  readonly jumps?: readonly RemoteHost[];
  /** `role: client` in the inventory: it runs a load client (--load-clients dedicated:N), never a node. */
  readonly role?: 'client';
}

export interface HostsConfig {
  readonly hosts: readonly RemoteHost[];
  readonly sshTimeoutMs: number;
  /** known_hosts file to check host keys against (default `~/.ssh/known_hosts`). */
  readonly knownHostsPath?: string;
  /** Where the hosts came from: `environment` or a file path. */
  readonly source: string;
  /** `ssh_config:` from the inventory (absolute), or `none`. */
  readonly sshConfigPath?: string;
  /**
   * The hosts marked `role: client`, once separated from the node hosts (client-hosts.ts,
   * `separateClientHosts`); before that they are in `hosts` with their role.
   */
  readonly clientHosts?: readonly RemoteHost[];
  /** The OpenSSH client config files applied to the hosts, in the order read (set by resolveHosts). */
  readonly sshConfigPaths?: readonly string[];
}

export const DEFAULT_SSH_PORT = 22;
export const DEFAULT_SSH_USER = 'ubuntu';
export const DEFAULT_SSH_KEY = '~/.ssh/id_rsa';
export const DEFAULT_SSH_TIMEOUT_SECONDS = 30;
/** Optional: a known_hosts file for these hosts (the sandbox writes its own). */
export const KNOWN_HOSTS_VARIABLE = 'MESHBENCH_SSH_KNOWN_HOSTS';

const HOST_VARIABLE = /^MYSTICETI_NODE(\d+)_(HOST|SSH_PORT|SSH_USER|SSH_KEY)$/;

export interface PathContext {
  readonly homeDir?: string;
  /** Relative paths resolve against this folder (the hosts file's folder). */
  readonly baseDir?: string;
}

export function expandPath(path: string, context: PathContext = {}): string {
  const home = context.homeDir ?? homedir();
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  if (isAbsolute(path)) return path;
  return resolve(context.baseDir ?? process.cwd(), path);
}

function parsePort(value: string, variable: string, where: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new MeshbenchError(
      'BAD_ENV',
      `${variable}=${JSON.stringify(value)} in ${where} is not a TCP port`,
      {
        hint: 'use a whole number from 1 to 65535',
      },
    );
  }
  return port;
}

function parseTimeoutMs(value: string | undefined, where: string): number {
  if (value === undefined || value.trim() === '') return DEFAULT_SSH_TIMEOUT_SECONDS * 1000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
    throw new MeshbenchError('BAD_ENV', `SSH_TIMEOUT=${JSON.stringify(value)} in ${where} is not a timeout`, {
      hint: 'use seconds, more than 0 and at most 3600',
    });
  }
  return Math.round(seconds * 1000);
}

function checkAddress(address: string, variable: string, where: string): string {
  const trimmed = address.trim();
  if (trimmed === '' || /\s/.test(trimmed)) {
    throw new MeshbenchError(
      'BAD_ENV',
      `${variable}=${JSON.stringify(address)} in ${where} is not a host name or IP`,
      {
        hint: 'set it to the address you would give ssh',
      },
    );
  }
  return trimmed;
}

/**
 * Hosts from `MYSTICETI_NODE{n}_HOST|SSH_PORT|SSH_USER|SSH_KEY`, n = 0..N-1, and `SSH_TIMEOUT`.
 * A gap in the numbering is an error naming the missing variable.
 */
export function hostsFromVariables(
  variables: Readonly<Record<string, string | undefined>>,
  options: PathContext & { readonly where?: string } = {},
): HostsConfig {
  const where = options.where ?? 'the environment';
  const indices = new Set<number>();
  for (const [key, value] of Object.entries(variables)) {
    const match = HOST_VARIABLE.exec(key);
    if (match && value !== undefined) indices.add(Number(match[1]));
  }
  if (indices.size === 0) {
    throw new MeshbenchError('BAD_ENV', `no remote hosts in ${where}`, {
      hint: 'set MYSTICETI_NODE0_HOST (and NODE1, NODE2…) or pass --hosts-file (see hosts.example.env)',
    });
  }
  const last = Math.max(...indices);
  const hosts: RemoteHost[] = [];
  for (let n = 0; n <= last; n++) {
    const hostVariable = `MYSTICETI_NODE${n}_HOST`;
    const address = variables[hostVariable];
    if (address !== undefined && address.trim() === '') {
      throw new MeshbenchError('BAD_ENV', `${hostVariable} is empty in ${where}`, {
        hint: `set it to the host's address or name (e.g. ${hostVariable}=10.0.0.5)`,
      });
    }
    if (address === undefined) {
      const later = [...indices].filter((i) => i > n).sort((a, b) => a - b)[0] ?? n;
      throw new MeshbenchError(
        'BAD_ENV',
        `${hostVariable} is missing in ${where} but MYSTICETI_NODE${later}_* is set`,
        {
          hint: `set ${hostVariable}, or number the hosts from 0 with no gap`,
        },
      );
    }
    const portValue = variables[`MYSTICETI_NODE${n}_SSH_PORT`];
    const user = variables[`MYSTICETI_NODE${n}_SSH_USER`]?.trim() || DEFAULT_SSH_USER;
    const keyValue = variables[`MYSTICETI_NODE${n}_SSH_KEY`]?.trim();
    hosts.push({
      explicit: {
        port: portValue !== undefined && portValue.trim() !== '',
        user: Boolean(variables[`MYSTICETI_NODE${n}_SSH_USER`]?.trim()),
        key: Boolean(keyValue),
      },
      name: `host${n}`,
      address: checkAddress(address, hostVariable, where),
      port:
        portValue === undefined || portValue.trim() === ''
          ? DEFAULT_SSH_PORT
          : parsePort(portValue, `MYSTICETI_NODE${n}_SSH_PORT`, where),
      user,
      keyPath: expandPath(keyValue || DEFAULT_SSH_KEY, options),
      keyPathExplicit: Boolean(keyValue),
      labels: {},
    });
  }
  const knownHosts = variables[KNOWN_HOSTS_VARIABLE]?.trim();
  return {
    hosts,
    sshTimeoutMs: parseTimeoutMs(variables.SSH_TIMEOUT, where),
    ...(knownHosts ? { knownHostsPath: expandPath(knownHosts, options) } : {}),
    source: where,
  };
}

/**
 * Parses an env file: `KEY=VALUE` lines, optional `export `, `#` comments,
 * single-quoted (literal) or double-quoted (with \n \" \\ escapes) values.
 */
export function parseEnvFile(text: string, where = 'the hosts file'): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      throw new MeshbenchError(
        'BAD_CONFIG',
        `line ${index + 1} of ${where} is not KEY=VALUE: ${JSON.stringify(raw)}`,
        {
          hint: 'write one KEY=VALUE per line (see hosts.example.env)',
        },
      );
    }
    const key = match[1]!;
    let value = match[2]!;
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      if (end < 0) throw unterminated(where, index);
      value = value.slice(1, end);
    } else if (value.startsWith('"')) {
      let out = '';
      let i = 1;
      for (; i < value.length && value[i] !== '"'; i++) {
        if (value[i] === '\\' && i + 1 < value.length) {
          i++;
          out += value[i] === 'n' ? '\n' : value[i];
        } else {
          out += value[i];
        }
      }
      if (i >= value.length) throw unterminated(where, index);
      value = out;
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    result[key] = value;
  });
  return result;
}

function unterminated(where: string, index: number): MeshbenchError {
  return new MeshbenchError('BAD_CONFIG', `line ${index + 1} of ${where} has an unterminated quote`, {
    hint: 'close the quote on the same line',
  });
}

const labelSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

/** `jump:` — `[user@]host[:port]`, a comma-separated chain (like ProxyJump), a list, or `none`. */
const jumpSchema = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((value): readonly string[] | 'none' => {
    const parts = (Array.isArray(value) ? value : value.split(',')).map((part) => part.trim());
    return parts.length === 1 && parts[0]!.toLowerCase() === 'none' ? 'none' : parts;
  })
  .refine((value) => value === 'none' || value.every((part) => /^\S+$/.test(part)), {
    message: 'each jump host is [user@]host[:port] with no spaces',
  });

const connectionFields = {
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  jump: jumpSchema.optional(),
};

/** `role:` of a host or a group: `node` (the default) or `client` (a dedicated load client host). */
const roleSchema = z.enum(['node', 'client']);

const inventoryHostSchema = z.strictObject({
  name: z.string().min(1).optional(),
  host: z.string().min(1).regex(/^\S+$/, 'must not contain spaces'),
  ...connectionFields,
  /** A key of `groups:`: the host takes that group's port, user, key and jump. */
  group: z.string().min(1).optional(),
  region: z.string().min(1).optional(),
  labels: labelSchema.optional(),
  role: roleSchema.optional(),
});

const inventorySchema = z.strictObject({
  defaults: z.strictObject(connectionFields).optional(),
  /** Named groups of hosts with their own connection settings (e.g. one bastion per subnet). */
  groups: z
    .record(z.string().min(1), z.strictObject({ ...connectionFields, role: roleSchema.optional() }))
    .optional(),
  ssh_timeout: z.number().positive().max(3600).optional(),
  known_hosts: z.string().min(1).optional(),
  /** The OpenSSH client config to read for these hosts (default ~/.ssh/config), or `none`. */
  ssh_config: z.string().min(1).optional(),
  hosts: z.array(inventoryHostSchema).min(1),
});

export type Inventory = z.infer<typeof inventorySchema>;

/** A YAML inventory (see docs/remote-network.md). */
export function hostsFromInventory(
  text: string,
  options: PathContext & { readonly where: string },
): HostsConfig {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new MeshbenchError(
      'BAD_CONFIG',
      `${options.where} is not valid YAML: ${(error as Error).message.split('\n')[0]}`,
      {
        hint: 'fix the YAML syntax',
        cause: error,
      },
    );
  }
  const parsed = inventorySchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join('.') || '(top level)';
    throw new MeshbenchError('BAD_CONFIG', `${options.where}: ${path}: ${issue.message}`, {
      hint: 'see the inventory format in docs/remote-network.md',
    });
  }
  const inventory = parsed.data;
  const names = new Set<string>();
  const hosts = inventory.hosts.map((entry, index): RemoteHost => {
    const name = entry.name ?? `host${index}`;
    if (names.has(name)) {
      throw new MeshbenchError(
        'BAD_CONFIG',
        `${options.where}: host name ${JSON.stringify(name)} is used twice`,
        {
          hint: 'give every host a unique name',
        },
      );
    }
    names.add(name);
    const group = entry.group === undefined ? undefined : inventory.groups?.[entry.group];
    if (entry.group !== undefined && group === undefined) {
      throw new MeshbenchError(
        'BAD_CONFIG',
        `${options.where}: host ${JSON.stringify(name)} is in group ${JSON.stringify(entry.group)}, which groups: does not define`,
        { hint: `add ${entry.group}: under groups:, or fix the host's group` },
      );
    }
    // the host's own value, then its group's, then defaults:; all of them win over ~/.ssh/config
    const key = entry.key ?? group?.key ?? inventory.defaults?.key;
    const port = entry.port ?? group?.port ?? inventory.defaults?.port;
    const user = entry.user ?? group?.user ?? inventory.defaults?.user;
    const jump = entry.jump ?? group?.jump ?? inventory.defaults?.jump;
    return {
      name,
      address: entry.host,
      port: port ?? DEFAULT_SSH_PORT,
      user: user ?? DEFAULT_SSH_USER,
      keyPath: expandPath(key ?? DEFAULT_SSH_KEY, options),
      keyPathExplicit: key !== undefined,
      explicit: { port: port !== undefined, user: user !== undefined, key: key !== undefined },
      ...(jump !== undefined ? { jumpSpec: jump } : {}),
      ...(entry.region !== undefined ? { region: entry.region } : {}),
      labels: entry.labels ?? {},
      ...((entry.role ?? group?.role) === 'client' ? { role: 'client' as const } : {}),
    };
  });
  return {
    hosts,
    sshTimeoutMs: (inventory.ssh_timeout ?? DEFAULT_SSH_TIMEOUT_SECONDS) * 1000,
    ...(inventory.known_hosts ? { knownHostsPath: expandPath(inventory.known_hosts, options) } : {}),
    ...(inventory.ssh_config
      ? {
          sshConfigPath:
            inventory.ssh_config.toLowerCase() === 'none'
              ? 'none'
              : expandPath(inventory.ssh_config, options),
        }
      : {}),
    source: options.where,
  };
}

function looksLikeYaml(path: string, text: string): boolean {
  if (/\.ya?ml$/i.test(path)) return true;
  if (/\.env$/i.test(path)) return false;
  return /^\s*hosts\s*:/m.test(text);
}

/** Reads `--hosts-file`: an env file or a YAML inventory. Relative paths inside resolve against its folder. */
export async function loadHostsFile(
  path: string,
  options: { readonly homeDir?: string } = {},
): Promise<HostsConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MeshbenchError(
      'BAD_CONFIG',
      `cannot read hosts file ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      {
        hint: 'check the path given to --hosts-file',
        cause: error,
      },
    );
  }
  const context = { ...options, baseDir: dirname(resolve(path)), where: path };
  if (looksLikeYaml(path, text)) return hostsFromInventory(text, context);
  return hostsFromVariables(parseEnvFile(text, path), context);
}

/** `--hosts-file` when given, else the process environment. */
export async function loadHosts(options: {
  readonly hostsFile?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly homeDir?: string;
}): Promise<HostsConfig> {
  if (options.hostsFile) return loadHostsFile(options.hostsFile, options);
  return hostsFromVariables(options.env ?? process.env, options);
}
