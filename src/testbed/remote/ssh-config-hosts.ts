/**
 * Applies the user's OpenSSH client config to the hosts of an inventory or env file, the way
 * `ssh HOST` would: the name given is looked up as a `Host` alias; HostName, User, Port,
 * IdentityFile and ProxyJump fill what the inventory left unset (what the inventory sets wins,
 * like options on ssh's command line); jump hosts (`jump:` or ProxyJump) are resolved hop by
 * hop through the same config, and a loop among them is refused.
 */
import { access } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { MeshbenchError } from '../../common/errors.js';
import type { HostsConfig, RemoteHost } from './hosts.js';
import {
  expandTokens,
  SSH_CONFIG_VARIABLE,
  SYSTEM_SSH_CONFIG,
  sshConfigResolver,
  type SshConfigResolver,
  type SshConfigValues,
} from './ssh-config.js';

/** At most this many jump hosts in front of one host (ProxyJump chains included). */
export const MAX_JUMP_HOPS = 8;

export interface ResolveHostsOptions {
  /** `--ssh-config`: a file, or `none` to read none. */
  readonly sshConfig?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly homeDir?: string;
  /** The system-wide file read after ~/.ssh/config when none is named (default /etc/ssh/ssh_config; tests point it elsewhere). */
  readonly systemConfig?: string;
  /** Force a resolver (tests compare both); default: `ssh -G` when the client is installed. */
  readonly prefer?: 'ssh -G' | 'built-in';
}

/** `[user@]host[:port]` (also `[v6]:port`), as ProxyJump and `jump:` write a jump host. */
export function parseJumpSpec(spec: string): { user?: string; host: string; port?: number } {
  const match = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(spec.replace(/^ssh:\/\//, ''));
  const port = match?.[3] === undefined ? undefined : Number(match[3]);
  if (!match || (port !== undefined && (port < 1 || port > 65535))) {
    throw new MeshbenchError('BAD_CONFIG', `jump host ${JSON.stringify(spec)} is not [user@]host[:port]`, {
      hint: 'write a jump host like ProxyJump does: bastion, admin@bastion or admin@10.0.0.1:2222',
    });
  }
  const host = match[2]!.replace(/^\[(.*)\]$/, '$1');
  return { ...(match[1] ? { user: match[1] } : {}), host, ...(port !== undefined ? { port } : {}) };
}

/**
 * Which config files to read, as OpenSSH picks them: a file named by the flag, then
 * MESHBENCH_SSH_CONFIG, then `ssh_config:` is read alone (like `ssh -F FILE`); with none named,
 * ~/.ssh/config and then the system-wide /etc/ssh/ssh_config, each if it exists.
 */
async function configPaths(config: HostsConfig, options: ResolveHostsOptions): Promise<readonly string[]> {
  const env = options.env ?? process.env;
  const given = options.sshConfig ?? (env[SSH_CONFIG_VARIABLE] || undefined) ?? config.sshConfigPath;
  if (given !== undefined) return given.toLowerCase() === 'none' ? [] : [resolvePath(given)];
  const home = options.homeDir ?? env.HOME ?? homedir();
  const found: string[] = [];
  for (const path of [join(home, '.ssh', 'config'), options.systemConfig ?? SYSTEM_SSH_CONFIG]) {
    if (await firstExisting([path])) found.push(path);
  }
  return found;
}

async function firstExisting(paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) {
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return undefined;
}

/** The IdentityFile OpenSSH would offer first: the first that exists (a missing one is skipped, as ssh does). */
async function identityFrom(
  values: SshConfigValues,
  context: { alias: string; hostName: string; user: string; port: number; homeDir?: string },
): Promise<{ keyPath: string; keyPathExplicit: boolean } | undefined> {
  if (!values.identityFiles || values.identityFiles.length === 0) return undefined;
  const paths = values.identityFiles.map((file) => expandTokens(file, context));
  const found = await firstExisting(paths);
  // none exists: name the first (an agent may still have the key, as with ssh)
  return found ? { keyPath: found, keyPathExplicit: true } : { keyPath: paths[0]!, keyPathExplicit: false };
}

class Resolution {
  constructor(
    private readonly resolver: SshConfigResolver | undefined,
    private readonly homeDir: string | undefined,
  ) {}

  private readonly cache = new Map<string, Promise<SshConfigValues>>();

  /** Once per name: hundreds of hosts behind one bastion look it up once. */
  values(name: string): Promise<SshConfigValues> {
    let values = this.cache.get(name);
    if (!values) {
      values = this.resolver ? this.resolver.resolve(name) : Promise.resolve({});
      this.cache.set(name, values);
    }
    return values;
  }

  async host(host: RemoteHost): Promise<RemoteHost> {
    const alias = host.address;
    const values = await this.values(alias);
    const explicit = host.explicit ?? {};
    const address = values.hostName ?? alias;
    const user = explicit.user ? host.user : (values.user ?? host.user);
    const port = explicit.port ? host.port : (values.port ?? host.port);
    const identity = explicit.key
      ? undefined
      : await identityFrom(values, {
          alias,
          hostName: address,
          user,
          port,
          ...(this.homeDir ? { homeDir: this.homeDir } : {}),
        });
    const resolved: RemoteHost = {
      ...host,
      address,
      user,
      port,
      ...(identity ?? {}),
      ...(address !== alias ? { alias } : {}),
    };
    const chain = host.jumpSpec ?? values.proxyJump;
    if (chain === undefined || chain === 'none') return resolved;
    const jumps = await this.chain(chain, [alias], resolved);
    if (jumps.length > MAX_JUMP_HOPS)
      throw new MeshbenchError(
        'BAD_CONFIG',
        `${host.name}: ${jumps.length} jump hosts in front of it (at most ${MAX_JUMP_HOPS})`,
        { hint: 'shorten the ProxyJump / jump: chain' },
      );
    return { ...resolved, jumps };
  }

  /**
   * The hops of a ProxyJump chain, as OpenSSH makes them: `ssh -J a,b target` reaches b through a,
   * then target through b; only the first hop's own ProxyJump applies (a's own chain comes first).
   */
  private async chain(
    specs: readonly string[],
    seen: readonly string[],
    target: RemoteHost,
  ): Promise<RemoteHost[]> {
    const hops: RemoteHost[] = [];
    for (const [index, spec] of specs.entries()) {
      const parsed = parseJumpSpec(spec);
      if (seen.includes(parsed.host) && index === 0) {
        throw new MeshbenchError(
          'BAD_CONFIG',
          `${target.name}: ProxyJump loop ${[...seen, parsed.host].join(' → ')}`,
          { hint: 'set ProxyJump none on the jump host in the ssh config, or fix the chain' },
        );
      }
      if (seen.length + hops.length > MAX_JUMP_HOPS)
        throw new MeshbenchError(
          'BAD_CONFIG',
          `${target.name}: more than ${MAX_JUMP_HOPS} jump hosts (${[...seen, parsed.host].join(' → ')})`,
          { hint: 'shorten the ProxyJump chain, or look for a loop' },
        );
      const values = await this.values(parsed.host);
      const address = values.hostName ?? parsed.host;
      const user = parsed.user ?? values.user ?? target.user;
      const port = parsed.port ?? values.port ?? 22;
      const identity = await identityFrom(values, {
        alias: parsed.host,
        hostName: address,
        user,
        port,
        ...(this.homeDir ? { homeDir: this.homeDir } : {}),
      });
      if (index === 0 && Array.isArray(values.proxyJump))
        hops.push(...(await this.chain(values.proxyJump, [...seen, parsed.host], target)));
      hops.push({
        name: `jump host ${parsed.host}`,
        address,
        port,
        user,
        // the jump host's own IdentityFile, else the key of the host behind it
        keyPath: identity?.keyPath ?? target.keyPath,
        keyPathExplicit: identity?.keyPathExplicit ?? target.keyPathExplicit,
        labels: {},
        ...(address !== parsed.host ? { alias: parsed.host } : {}),
      });
    }
    return hops;
  }
}

/** The hosts as ssh would reach them: the ssh config applied, jump hosts resolved. */
export async function resolveHosts(
  config: HostsConfig,
  options: ResolveHostsOptions = {},
): Promise<HostsConfig> {
  const paths = await configPaths(config, options);
  const needsJumps = config.hosts.some((host) => host.jumpSpec !== undefined && host.jumpSpec !== 'none');
  if (paths.length === 0 && !needsJumps) return config;
  const resolver = paths.length === 0 ? undefined : await sshConfigResolver(paths, options);
  const resolution = new Resolution(resolver, options.homeDir);
  try {
    // `ssh -G` is a process per name: 16 at a time
    const hosts: RemoteHost[] = [];
    for (let start = 0; start < config.hosts.length; start += 16)
      hosts.push(
        ...(await Promise.all(config.hosts.slice(start, start + 16).map((host) => resolution.host(host)))),
      );
    return {
      ...config,
      hosts,
      ...(paths.length > 0 ? { sshConfigPaths: paths } : {}),
    };
  } finally {
    await resolver?.close();
  }
}

/** `bastion → 10.0.0.5`: how messages show a host's route. */
export function describeRoute(host: RemoteHost): string {
  return [...(host.jumps ?? []).map((hop) => hop.alias ?? hop.address), host.address].join(' → ');
}

/** The jump hosts in front of a host as the record keeps them (`user@host:port`, first to last), if any. */
export function jumpRoute(host: RemoteHost): readonly string[] | undefined {
  if (!host.jumps || host.jumps.length === 0) return undefined;
  return host.jumps.map((hop) => `${hop.user}@${hop.address}:${hop.port}`);
}
