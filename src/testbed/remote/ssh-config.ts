/**
 * The user's OpenSSH client config (`~/.ssh/config`, `--ssh-config FILE`) for the hosts of an
 * inventory: HostName, User, Port, IdentityFile and ProxyJump, as OpenSSH resolves them.
 *
 * Two resolvers give the same answer: `ssh -G` (OpenSSH's own resolution, the truth, used when
 * the ssh client is installed) and a small built-in one (Host and Match host/originalhost/all
 * blocks with wildcards and negation, Include, first obtained value wins, IdentityFile
 * accumulates) for machines without the client. test/unit/remote/ssh-config.test.ts checks that
 * they agree. Values come back unexpanded; `expandTokens` applies ~ and %h/%u/%r/%p/%n/%d/%%.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { MeshbenchError } from '../../common/errors.js';

/** What the config says for one host name; a field is absent when the config does not set it. */
export interface SshConfigValues {
  readonly hostName?: string;
  readonly user?: string;
  readonly port?: number;
  /** In order; OpenSSH tries each. */
  readonly identityFiles?: readonly string[];
  /** The ProxyJump chain (comma-separated in the file), or `none`. */
  readonly proxyJump?: readonly string[] | 'none';
}

export interface SshConfigResolver {
  /** `ssh -G` or `built-in`. */
  readonly kind: 'ssh -G' | 'built-in';
  /** The user's file (or the first file read). */
  readonly path: string;
  /** Every file read, in order: the user's, then the system-wide one when no file was named. */
  readonly paths: readonly string[];
  resolve(hostName: string): Promise<SshConfigValues>;
  /** Removes what the resolver wrote (the `ssh -G` wrapper file). */
  close(): Promise<void>;
}

export const SSH_CONFIG_VARIABLE = 'MESHBENCH_SSH_CONFIG';
/** The system-wide client config OpenSSH reads after the user's when no file is named (`-F`). */
export const SYSTEM_SSH_CONFIG = '/etc/ssh/ssh_config';

function configError(path: string, line: number | undefined, problem: string): MeshbenchError {
  return new MeshbenchError(
    'BAD_CONFIG',
    `ssh config ${path}${line !== undefined ? ` line ${line}` : ''}: ${problem}`,
    { hint: 'fix that line (ssh -G -F FILE HOST shows what OpenSSH makes of it), or pass --ssh-config none' },
  );
}

/** OpenSSH's pattern: `*` and `?` wildcards, whole-string match. */
export function matchPattern(name: string, pattern: string): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(name);
}

/** A pattern list (`a* !ab`): true when some pattern matches and no negated one does. */
export function matchPatternList(name: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) {
      if (matchPattern(name, pattern.slice(1))) return false;
    } else if (matchPattern(name, pattern)) {
      matched = true;
    }
  }
  return matched;
}

/** Splits a config line's arguments: whitespace-separated, double quotes group. */
function splitArguments(text: string, path: string, line: number): string[] {
  const out: string[] = [];
  let current = '';
  let inQuote = false;
  let has = false;
  for (const c of text) {
    if (c === '"') {
      inQuote = !inQuote;
      has = true;
    } else if (!inQuote && /\s/.test(c)) {
      if (has) out.push(current);
      current = '';
      has = false;
    } else {
      current += c;
      has = true;
    }
  }
  if (inQuote) throw configError(path, line, 'unterminated quote');
  if (has) out.push(current);
  return out;
}

interface ConfigLine {
  readonly path: string;
  readonly line: number;
  readonly keyword: string;
  readonly args: readonly string[];
}

function parseLines(text: string, path: string): ConfigLine[] {
  const lines: ConfigLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const match =
      /^([A-Za-z][A-Za-z0-9]*)(?:\s*=\s*|\s+)(.*)$/.exec(trimmed) ?? /^([A-Za-z][A-Za-z0-9]*)$/.exec(trimmed);
    if (!match) throw configError(path, index + 1, `cannot read ${JSON.stringify(trimmed)}`);
    const args = splitArguments(match[2] ?? '', path, index + 1);
    lines.push({ path, line: index + 1, keyword: match[1]!.toLowerCase(), args });
  });
  return lines;
}

async function readConfigText(path: string, line?: { path: string; line: number }): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    if (line) throw configError(line.path, line.line, `cannot read included file ${path} (${code})`);
    throw new MeshbenchError('BAD_CONFIG', `cannot read ssh config ${path} (${code})`, {
      hint: 'check the path given to --ssh-config (or ssh_config: in the inventory), or pass --ssh-config none',
      cause: error,
    });
  }
}

function requireOne(entry: ConfigLine): string {
  if (entry.args.length !== 1)
    throw configError(
      entry.path,
      entry.line,
      `${entry.keyword} takes one argument, got ${entry.args.length}`,
    );
  return entry.args[0]!;
}

function parsePort(value: string, entry: { path: string; line: number }): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535)
    throw configError(entry.path, entry.line, `bad port '${value}'`);
  return port;
}

/** `a,b` or `none` → the chain. */
export function parseProxyJump(value: string): readonly string[] | 'none' {
  if (value.toLowerCase() === 'none') return 'none';
  return value.split(',').map((part) => part.trim());
}

/** The built-in resolver (used when the ssh client is missing, and to check it in tests). */
export class BuiltinSshConfig implements SshConfigResolver {
  readonly kind = 'built-in' as const;
  private files: Promise<ConfigLine[][]> | undefined;
  readonly paths: readonly string[];

  constructor(
    paths: string | readonly string[],
    private readonly homeDir: string = homedir(),
  ) {
    this.paths = typeof paths === 'string' ? [paths] : paths;
  }

  get path(): string {
    return this.paths[0]!;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Each file's lines: each starts a fresh top level, as OpenSSH reads its files one after another. */
  private load(): Promise<ConfigLine[][]> {
    this.files ??= Promise.all(
      this.paths.map((path) => readConfigText(path).then((text) => parseLines(text, path))),
    );
    return this.files;
  }

  private async includeFiles(entry: ConfigLine): Promise<string[]> {
    const files: string[] = [];
    // a relative Include is under ~/.ssh in the user's file, under /etc/ssh in the system one
    const base = entry.path === SYSTEM_SSH_CONFIG ? dirname(SYSTEM_SSH_CONFIG) : join(this.homeDir, '.ssh');
    for (const arg of entry.args) {
      const expanded = arg.startsWith('~/') ? join(this.homeDir, arg.slice(2)) : arg;
      const full = isAbsolute(expanded) ? expanded : join(base, expanded);
      if (/[*?]/.test(basename(full))) {
        const names = await readdir(dirname(full)).catch(() => [] as string[]);
        files.push(
          ...names
            .filter((name) => matchPattern(name, basename(full)))
            .sort()
            .map((name) => join(dirname(full), name)),
        );
      } else {
        files.push(full);
      }
    }
    return files;
  }

  async resolve(hostName: string): Promise<SshConfigValues> {
    const values: {
      hostName?: string;
      user?: string;
      port?: number;
      identityFiles?: string[];
      proxyJump?: readonly string[] | 'none';
    } = {};
    const walk = async (lines: readonly ConfigLine[], depth: number): Promise<void> => {
      let active = true;
      for (const entry of lines) {
        switch (entry.keyword) {
          case 'host':
            if (entry.args.length === 0) throw configError(entry.path, entry.line, 'Host needs a pattern');
            active = matchPatternList(hostName, entry.args);
            break;
          case 'match':
            active = this.matchBlock(entry, hostName, values.hostName);
            break;
          case 'include':
            if (!active) break;
            if (depth > 16) throw configError(entry.path, entry.line, 'Include nested too deeply');
            for (const file of await this.includeFiles(entry)) {
              const text = await readConfigText(file, entry);
              await walk(parseLines(text, file), depth + 1);
            }
            break;
          case 'hostname':
            if (active && values.hostName === undefined)
              values.hostName = requireOne(entry).replaceAll('%h', hostName);
            break;
          case 'user':
            if (active && values.user === undefined) values.user = requireOne(entry);
            break;
          case 'port': {
            const port = parsePort(requireOne(entry), entry);
            if (active && values.port === undefined) values.port = port;
            break;
          }
          case 'identityfile':
            if (active) (values.identityFiles ??= []).push(requireOne(entry));
            break;
          case 'proxyjump':
            if (active && values.proxyJump === undefined)
              values.proxyJump = parseProxyJump(requireOne(entry));
            break;
          default:
            if (entry.args.length === 0)
              throw configError(entry.path, entry.line, `${entry.keyword} needs an argument`);
        }
      }
    };
    for (const lines of await this.load()) await walk(lines, 0);
    // `ProxyJump none` stops later ProxyJump lines; like ssh -G, it then reports no chain
    if (values.proxyJump === 'none') delete values.proxyJump;
    return values;
  }

  private matchBlock(entry: ConfigLine, original: string, hostName: string | undefined): boolean {
    const args = entry.args;
    if (args.length === 1 && args[0]!.toLowerCase() === 'all') return true;
    let result = true;
    for (let i = 0; i < args.length; i++) {
      let criterion = args[i]!.toLowerCase();
      const negate = criterion.startsWith('!');
      if (negate) criterion = criterion.slice(1);
      if (criterion === 'all') continue;
      if (criterion !== 'host' && criterion !== 'originalhost')
        throw configError(
          entry.path,
          entry.line,
          `Match ${criterion} needs the OpenSSH client to evaluate (install openssh-client)`,
        );
      const list = args[++i];
      if (list === undefined) throw configError(entry.path, entry.line, `Match ${criterion} needs patterns`);
      const name = criterion === 'host' ? (hostName ?? original) : original;
      const matched = matchPatternList(name, list.split(','));
      if (matched === negate) result = false;
    }
    return result;
  }
}

function run(
  file: string,
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      file,
      [...args],
      { timeout: 10_000, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

/** Values no real config uses: what `ssh -G` prints when the user's file set nothing. */
const UNSET = 'meshbench-unset';
const UNSET_PORT = '1';
const UNSET_IDENTITY = '/meshbench-unset-identity';

/**
 * OpenSSH's own resolution: `ssh -G` over a config that includes the user's file and then sets
 * sentinel values for every host. First obtained value wins, so a sentinel shows exactly where
 * the user's file sets nothing (a comparison with ssh's defaults could not tell `User root`
 * from no User when the local user is root). The wrapper is a file in a temporary folder
 * (ssh cannot open /dev/stdin when it is Node's socket pair), removed by `close()`.
 */
export class OpenSshConfig implements SshConfigResolver {
  readonly kind = 'ssh -G' as const;
  private wrapperPath: Promise<string> | undefined;
  readonly paths: readonly string[];

  constructor(
    paths: string | readonly string[],
    private readonly sshBinary = 'ssh',
  ) {
    this.paths = typeof paths === 'string' ? [paths] : paths;
  }

  get path(): string {
    return this.paths[0]!;
  }

  private writeWrapper(): Promise<string> {
    this.wrapperPath ??= (async () => {
      const dir = await mkdtemp(join(tmpdir(), 'meshbench-ssh-config-'));
      const path = join(dir, 'config');
      await writeFile(path, this.wrapperText(), { mode: 0o600 });
      return path;
    })();
    return this.wrapperPath;
  }

  async close(): Promise<void> {
    const path = await this.wrapperPath?.catch(() => undefined);
    this.wrapperPath = undefined;
    if (path) await rm(dirname(path), { recursive: true, force: true });
  }

  private wrapperText(): string {
    // `Host *` after each file: a file that ends inside a Host block does not swallow what follows
    return [
      ...this.paths.flatMap((path) => [`Include "${path}"`, 'Host *']),
      `  HostName ${UNSET}`,
      `  User ${UNSET}`,
      `  Port ${UNSET_PORT}`,
      `  IdentityFile ${UNSET_IDENTITY}`,
      '',
    ].join('\n');
  }

  async resolve(hostName: string): Promise<SshConfigValues> {
    const result = await run(this.sshBinary, ['-G', '-F', await this.writeWrapper(), '--', hostName]);
    if (result.code !== 0) {
      const message = result.stderr
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('Pseudo-terminal'));
      const first = message[0] ?? `ssh -G exited with ${result.code}`;
      const located = /^(.*?):? line (\d+): (.*)$/.exec(first);
      if (located) throw configError(located[1]!, Number(located[2]), located[3]!.replace(/\.$/, ''));
      throw new MeshbenchError('BAD_CONFIG', `ssh config ${this.path}: ${first}`, {
        hint: 'fix the file, or pass --ssh-config none',
      });
    }
    const single = new Map<string, string>();
    const identityFiles: string[] = [];
    for (const line of result.stdout.split('\n')) {
      const space = line.indexOf(' ');
      if (space < 0) continue;
      const key = line.slice(0, space);
      const value = line.slice(space + 1).trim();
      if (key === 'identityfile') identityFiles.push(value);
      else if (!single.has(key)) single.set(key, value);
    }
    const hostNameValue = single.get('hostname');
    const user = single.get('user');
    const port = single.get('port');
    const jump = single.get('proxyjump');
    const files = identityFiles.slice(0, Math.max(0, identityFiles.indexOf(UNSET_IDENTITY)));
    return {
      ...(hostNameValue !== undefined && hostNameValue !== UNSET ? { hostName: hostNameValue } : {}),
      ...(user !== undefined && user !== UNSET ? { user } : {}),
      ...(port !== undefined && port !== UNSET_PORT ? { port: Number(port) } : {}),
      ...(files.length > 0 ? { identityFiles: files } : {}),
      ...(jump !== undefined ? { proxyJump: parseProxyJump(jump) } : {}),
    };
  }
}

let sshClientPresent: Promise<boolean> | undefined;

/** Whether `ssh -G` can be asked (the OpenSSH client is on PATH). */
export function hasOpenSshClient(): Promise<boolean> {
  sshClientPresent ??= run('ssh', ['-V']).then(
    (result) => result.code === 0 && /OpenSSH/i.test(result.stderr),
  );
  return sshClientPresent;
}

/**
 * The resolver for a config path: `ssh -G` when the OpenSSH client is installed, else the
 * built-in one. Checks that the file can be read first (so the error names it).
 */
export async function sshConfigResolver(
  paths: string | readonly string[],
  options: { readonly prefer?: 'ssh -G' | 'built-in'; readonly homeDir?: string } = {},
): Promise<SshConfigResolver> {
  for (const path of typeof paths === 'string' ? [paths] : paths) await readConfigText(path);
  if (options.prefer !== 'built-in' && (await hasOpenSshClient())) return new OpenSshConfig(paths);
  return new BuiltinSshConfig(paths, options.homeDir);
}

export interface TokenContext {
  /** The host name as given (alias): %n. */
  readonly alias: string;
  /** The address after HostName: %h. */
  readonly hostName: string;
  /** The remote user: %r. */
  readonly user: string;
  readonly port: number;
  readonly homeDir?: string;
}

/** `~` and the tokens OpenSSH expands in IdentityFile: %h %n %r %u %p %d %%. */
export function expandTokens(value: string, context: TokenContext): string {
  const home = context.homeDir ?? homedir();
  const withHome = value === '~' ? home : value.startsWith('~/') ? join(home, value.slice(2)) : value;
  return withHome.replace(/%(.)/g, (whole, token: string) => {
    switch (token) {
      case 'h':
        return context.hostName;
      case 'n':
        return context.alias;
      case 'r':
        return context.user;
      case 'p':
        return String(context.port);
      case 'u':
        return userInfo().username;
      case 'd':
        return home;
      case '%':
        return '%';
      default:
        return whole;
    }
  });
}
