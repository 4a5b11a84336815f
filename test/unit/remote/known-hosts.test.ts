import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KnownHostsFile,
  KnownHostsIndex,
  checkHostKey,
  keyTypeOfBlob,
  parseKnownHosts,
  patternsMatch,
} from '../../../src/testbed/remote/known-hosts.js';

/** The tests' folders, each a folder of its own in here; removed after the file's tests. */
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshbench-kh-'));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function makeKey(dir: string, name: string): Promise<{ line: string; blob: Buffer }> {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  const line = (await readFile(`${path}.pub`, 'utf8')).trim();
  return { line, blob: Buffer.from(line.split(' ')[1]!, 'base64') };
}

describe('known_hosts', () => {
  it('matches plain, [host]:port, wildcard and negated patterns', () => {
    expect(patternsMatch('10.0.0.1,box', 'box')).toBe(true);
    expect(patternsMatch('[10.0.0.1]:2222', '[10.0.0.1]:2222')).toBe(true);
    expect(patternsMatch('10.0.0.1', '[10.0.0.1]:2222')).toBe(false);
    expect(patternsMatch('*.example.org', 'a.example.org')).toBe(true);
    expect(patternsMatch('*.example.org,!bad.example.org', 'bad.example.org')).toBe(false);
    expect(patternsMatch('10.0.0.?', '10.0.0.7')).toBe(true);
  });

  it('matches hashed entries written by ssh-keygen -H, and tells match, mismatch, unknown and revoked apart', async () => {
    const dir = await mkdtemp(join(root, 'kh-'));
    const a = await makeKey(dir, 'a');
    const b = await makeKey(dir, 'b');
    const file = join(dir, 'known_hosts');
    const [type, key] = a.line.split(' ');
    await writeFile(file, `10.9.8.7 ${type} ${key}\n[10.9.8.7]:2222 ${type} ${key}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const entries = parseKnownHosts(await readFile(file, 'utf8'));
    expect(entries.every((entry) => entry.patterns.startsWith('|1|'))).toBe(true);
    expect(keyTypeOfBlob(a.blob)).toBe('ssh-ed25519');
    expect(checkHostKey(entries, '10.9.8.7', 22, a.blob)).toBe('match');
    expect(checkHostKey(entries, '10.9.8.7', 2222, a.blob)).toBe('match');
    expect(checkHostKey(entries, '10.9.8.7', 22, b.blob)).toBe('mismatch');
    expect(checkHostKey(entries, '10.9.8.8', 22, a.blob)).toBe('unknown');
    const revoked = parseKnownHosts(`@revoked * ${b.line}\n`);
    expect(checkHostKey(revoked, 'any', 22, b.blob)).toBe('revoked');
  });

  it('appends new hosts (accept-new), readable by ssh-keygen -F, without interleaving', async () => {
    const dir = await mkdtemp(join(root, 'kh-'));
    const file = join(dir, 'sub', 'known_hosts');
    const keys = await Promise.all([makeKey(dir, 'k1'), makeKey(dir, 'k2'), makeKey(dir, 'k3')]);
    const known = await new KnownHostsFile(file).load();
    await Promise.all(keys.map((k, i) => known.add(`10.0.0.${i}`, i === 2 ? 2200 : 22, k.blob)));
    const reread = await new KnownHostsFile(file).load();
    keys.forEach((k, i) => expect(reread.check(`10.0.0.${i}`, i === 2 ? 2200 : 22, k.blob)).toBe('match'));
    expect(reread.knownKeyTypes('10.0.0.0', 22)).toEqual(['ssh-ed25519']);
    const found = execFileSync('ssh-keygen', ['-F', '[10.0.0.2]:2200', '-f', file], { encoding: 'utf8' });
    expect(found).toContain(keys[2]!.line.split(' ')[1]);
  });

  it('looks hosts up through the index exactly as a scan of every entry does', () => {
    const hostArb = fc.constantFrom('10.0.0.1', '10.0.0.2', 'box', 'Box', 'a.example.org');
    const portArb = fc.constantFrom(22, 2222);
    const keyArb = fc.constantFrom('AAAA', 'BBBB', 'CCCC');
    const hashed = (name: string) => {
      const salt = Buffer.from('0123456789abcdef0123');
      return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
    };
    const patternsArb = fc.oneof(
      fc.tuple(hostArb, portArb).map(([h, p]) => (p === 22 ? h : `[${h}]:${p}`)),
      fc.tuple(hostArb, hostArb).map(([a, b]) => `${a},${b}`),
      fc.constantFrom('10.0.0.*', '*.example.org', '*,!box', '10.0.0.?', '[10.0.0.1]:*'),
      fc.tuple(hostArb, portArb).map(([h, p]) => hashed(p === 22 ? h : `[${h}]:${p}`)),
    );
    const entryArb = fc.record({
      marker: fc.constantFrom(undefined, '@revoked', '@cert-authority'),
      patterns: patternsArb,
      keyBase64: keyArb,
    });
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 12 }), hostArb, portArb, keyArb, (raw, host, port, key) => {
        const entries = raw.map(({ marker, patterns, keyBase64 }) => ({
          ...(marker ? { marker: marker as '@revoked' | '@cert-authority' } : {}),
          patterns,
          keyType: 'ssh-ed25519',
          keyBase64,
        }));
        const blob = Buffer.from(key, 'base64');
        expect(new KnownHostsIndex(entries).check(host, port, blob)).toBe(
          checkHostKey(entries, host, port, blob),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('adds the missing final newline once when appending to a file that lacks it', async () => {
    const dir = await mkdtemp(join(root, 'kh-'));
    const file = join(dir, 'known_hosts');
    const [a, b, c] = await Promise.all([makeKey(dir, 'a'), makeKey(dir, 'b'), makeKey(dir, 'c')]);
    const [type, key] = a.line.split(' ');
    await writeFile(file, `10.1.1.1 ${type} ${key}`);
    const known = await new KnownHostsFile(file).load();
    await known.add('10.1.1.2', 22, b.blob);
    await known.add('10.1.1.3', 22, c.blob);
    const text = await readFile(file, 'utf8');
    expect(text.split('\n')).toHaveLength(4);
    const reread = await new KnownHostsFile(file).load();
    expect(reread.check('10.1.1.1', 22, a.blob)).toBe('match');
    expect(reread.check('10.1.1.2', 22, b.blob)).toBe('match');
    expect(reread.check('10.1.1.3', 22, c.blob)).toBe('match');
  });
});
