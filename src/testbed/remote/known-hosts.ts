/**
 * Host key checking against an OpenSSH known_hosts file: plain and hashed
 * (`|1|salt|hmac`) host patterns, `[host]:port` for non-22 ports, wildcards,
 * negations and `@revoked`. `accept-new` appends unknown hosts.
 */
import { createHmac } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeDirs } from '../../common/make-dirs.js';

export type StrictHostKeyChecking = 'yes' | 'accept-new' | 'no';
export const STRICT_HOST_KEY_CHECKING_VALUES: readonly StrictHostKeyChecking[] = ['yes', 'accept-new', 'no'];

export interface KnownHostEntry {
  readonly marker?: '@revoked' | '@cert-authority';
  readonly patterns: string;
  readonly keyType: string;
  readonly keyBase64: string;
}

export type HostKeyVerdict = 'match' | 'mismatch' | 'unknown' | 'revoked';

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields.shift() as KnownHostEntry['marker'];
    }
    const [patterns, keyType, keyBase64] = fields;
    if (!patterns || !keyType || !keyBase64) continue;
    entries.push({ ...(marker ? { marker } : {}), patterns, keyType, keyBase64 });
  }
  return entries;
}

/** The name OpenSSH looks up: `host`, or `[host]:port` when the port is not 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function hashedMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('|');
  // ['', '1', salt, hmac]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const expected = parts[3]!;
  return createHmac('sha1', salt).update(name).digest('base64') === expected;
}

/** True when the entry's host patterns select `name` (already in `[host]:port` form). */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatches(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    const glob = negated ? pattern.slice(1) : pattern;
    if (globToRegExp(glob).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** The key type named inside an SSH wire-format public key blob. */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return '';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** The entries that apply to host:port (any key type), cert authorities left out. */
export function entriesFor(entries: readonly KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  const name = knownHostsName(host, port);
  return entries.filter((entry) => entry.marker !== '@cert-authority' && patternsMatch(entry.patterns, name));
}

/**
 * Compares the key a server offered with the known entries for that host:
 * `match` (same key known), `mismatch` (the host is known with a different key),
 * `unknown` (not known at all), or `revoked`.
 */
export function checkHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  blob: Buffer,
): HostKeyVerdict {
  return verdictFor(entriesFor(entries, host, port), blob);
}

function verdictFor(applicable: readonly KnownHostEntry[], blob: Buffer): HostKeyVerdict {
  const offered = blob.toString('base64');
  if (applicable.some((entry) => entry.marker === '@revoked' && entry.keyBase64 === offered))
    return 'revoked';
  const plain = applicable.filter((entry) => entry.marker === undefined);
  if (plain.some((entry) => entry.keyBase64 === offered)) return 'match';
  return plain.length > 0 ? 'mismatch' : 'unknown';
}

/** ssh2 host key algorithm names that use a key of this type. */
export function algorithmsForKeyType(keyType: string): string[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [keyType];
}

/**
 * Entries ready for lookups by name: literal patterns (a plain host or `[host]:port`, the
 * form meshbench and `ssh-keyscan` write) in a map, so a lookup does not grow with the file;
 * wildcards, negations and hashed (`|1|`) entries are scanned, as OpenSSH does. With a
 * known_hosts that lists every host, a scan per host made connecting N hosts cost O(N²).
 */
export class KnownHostsIndex {
  private readonly literal = new Map<string, KnownHostEntry[]>();
  private readonly scanned: KnownHostEntry[] = [];

  constructor(entries: readonly KnownHostEntry[] = []) {
    for (const entry of entries) this.add(entry);
  }

  add(entry: KnownHostEntry): void {
    if (entry.marker === '@cert-authority') return;
    const patterns = entry.patterns.split(',');
    if (entry.patterns.startsWith('|') || patterns.some((p) => /[*?]/.test(p) || p.startsWith('!'))) {
      this.scanned.push(entry);
      return;
    }
    for (const pattern of new Set(patterns.map((p) => p.toLowerCase()))) {
      const list = this.literal.get(pattern);
      if (list) list.push(entry);
      else this.literal.set(pattern, [entry]);
    }
  }

  /** The entries that apply to host:port, like `entriesFor` over the same entries. */
  entriesFor(host: string, port: number): KnownHostEntry[] {
    const name = knownHostsName(host, port);
    const literal = this.literal.get(name.toLowerCase()) ?? [];
    if (this.scanned.length === 0) return literal;
    return [...literal, ...this.scanned.filter((entry) => patternsMatch(entry.patterns, name))];
  }

  check(host: string, port: number, blob: Buffer): HostKeyVerdict {
    return verdictFor(this.entriesFor(host, port), blob);
  }
}

export class KnownHostsFile {
  private index = new KnownHostsIndex();
  private loaded = false;
  /** The file as loaded does not end with a newline: the first append adds one. */
  private needsNewline = false;
  /** Appends are serialised so parallel connections never interleave lines. */
  private appending: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  async load(): Promise<this> {
    try {
      const text = await readFile(this.path, 'utf8');
      this.index = new KnownHostsIndex(parseKnownHosts(text));
      this.needsNewline = text.length > 0 && !text.endsWith('\n');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      this.index = new KnownHostsIndex();
    }
    this.loaded = true;
    return this;
  }

  check(host: string, port: number, blob: Buffer): HostKeyVerdict {
    if (!this.loaded) throw new Error('KnownHostsFile.load() was not called');
    return this.index.check(host, port, blob);
  }

  /** Key types already known for the host, to prefer those algorithms in the handshake. */
  knownKeyTypes(host: string, port: number): string[] {
    return [
      ...new Set(
        this.index
          .entriesFor(host, port)
          .filter((e) => e.marker === undefined)
          .map((e) => e.keyType),
      ),
    ];
  }

  /** Adds `host keytype base64` (what `accept-new` does). */
  async add(host: string, port: number, blob: Buffer): Promise<void> {
    const entry: KnownHostEntry = {
      patterns: knownHostsName(host, port),
      keyType: keyTypeOfBlob(blob),
      keyBase64: blob.toString('base64'),
    };
    this.index.add(entry);
    const line = `${entry.patterns} ${entry.keyType} ${entry.keyBase64}\n`;
    // No re-read of the whole file per append (that made accept-new O(N²) in hosts): the
    // missing final newline, if any, was seen at load time.
    const next = this.appending.then(async () => {
      await makeDirs(dirname(this.path), 0o700);
      const prefix = this.needsNewline ? '\n' : '';
      await appendFile(this.path, prefix + line, { mode: 0o600 });
      this.needsNewline = false;
    });
    this.appending = next.catch(() => undefined);
    await next;
  }
}
