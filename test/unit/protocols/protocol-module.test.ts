/**
 * `--protocol ./module.mjs`: a user's protocol module, loaded by path (docs/protocols.md).
 * The shipped example speaks etcd's native gRPC API (examples/protocols/etcd-grpc.mjs); it is
 * checked against the built-in `etcd` protocol (the JSON gateway) on the same real member
 * (Debian's etcd-server on 127.0.0.1), with etcdctl, a client not written here, counting
 * the keys each wrote. Broken modules are one line naming the file and what is missing.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/benchmark.js';
import { countKeys, startEtcdMember, type EtcdMember } from '../../integration/etcd-fixture.js';

const EXAMPLE = resolve('examples/protocols/etcd-grpc.mjs');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => {
    stdout += `${parts.join(' ')}\n`;
  });
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    log.mockRestore();
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-protocol-module-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a broken protocol module is one line naming the file and what is wrong', () => {
  const cases: readonly (readonly [string, string | undefined, RegExp])[] = [
    ['missing.mjs', undefined, /protocol module .*missing\.mjs: no such file/],
    ['syntax.mjs', 'export default {', /protocol module .*syntax\.mjs: failed to load: .*; run `node /],
    ['empty.mjs', 'export const x = 1;', /protocol module .*empty\.mjs: exports no protocol definition/],
    [
      'no-create.mjs',
      "export default { kind: 'nocreate' };",
      /no-create\.mjs: create\(options, runId\) is missing/,
    ],
    [
      'bad-kind.mjs',
      "export default { kind: 'Bad Kind', create() {} };",
      /bad-kind\.mjs: kind "Bad Kind" is not a protocol name/,
    ],
    [
      'taken.mjs',
      "export default { kind: 'etcd', create() {} };",
      /taken\.mjs: kind etcd is already a protocol; give the module a kind of its own/,
    ],
    [
      'bad-setting.mjs',
      "export default { kind: 'badsetting', settings: [{ key: 'other', describe: 'x', parse: (v) => v }], create() {} };",
      /bad-setting\.mjs: settings\[0\]\.key "other" does not start with the protocol's kind/,
    ],
    [
      'no-probe.mjs',
      "export default { kind: 'noprobe', create: () => ({ body: () => '', send: async () => ({ kind: 'ok' }) }) };",
      /no-probe\.mjs: the adapter's probe\(endpoint, timeoutMs\) is missing/,
    ],
    [
      'no-send.mjs',
      "export default { kind: 'nosend', create: () => ({ body: () => '', probe: async () => {} }) };",
      /no-send\.mjs: the adapter's parseReply\(status, body\) is missing; add parseReply, or send/,
    ],
  ];
  for (const [file, source, message] of cases) {
    it(file, async () => {
      if (source !== undefined) await writeFile(join(dir, file), source);
      const { code, stderr } = await cli([
        '--protocol',
        join(dir, file),
        '--endpoints',
        'http://127.0.0.1:9',
        '--loads',
        '10',
        '--duration',
        '1',
        '--output-dir',
        dir,
      ]);
      expect(stderr).toMatch(message);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(code).toBe(2);
    });
  }
});

describe('the etcd gRPC example against the built-in etcd protocol on one real member', () => {
  let member: EtcdMember;
  beforeAll(async () => {
    member = await startEtcdMember();
  });
  afterAll(async () => {
    await member?.close();
  });

  const run = async (protocol: string[], prefix: string, extra: string[] = []) => {
    const output = await mkdtemp(join(dir, 'run-'));
    const result = await cli([
      '--endpoints',
      member.clientUrl,
      ...protocol,
      '--loads',
      '100',
      '--duration',
      '2',
      '--output-dir',
      output,
      ...extra,
    ]);
    const [folder] = await readdir(output);
    if (folder === undefined) throw new Error(`no run folder; the command said: ${result.stderr}`);
    const record = JSON.parse(
      await readFile(join(output, folder as string, 'endpoints-benchmark-1.json'), 'utf8'),
    ) as {
      parameters: { protocol: string };
      results: { successful_transactions: number; failed_transactions: number };
      generator?: unknown;
    };
    return { ...result, record, keys: await countKeys(member.etcdctl, prefix) };
  };

  it('writes every put through gRPC, as the JSON gateway does, with workers loading the module too', async () => {
    const grpc = await run(['--protocol', EXAMPLE, '--etcd-grpc-key-prefix', 'grpc/'], 'grpc/', [
      '--workers',
      '2',
    ]);
    expect(grpc.stderr).not.toMatch(/error/i);
    expect(grpc.code).toBe(0);
    expect(grpc.record.parameters.protocol).toBe('etcd-grpc');
    expect(grpc.record.results).toMatchObject({ successful_transactions: 200, failed_transactions: 0 });
    expect(JSON.stringify(grpc.record)).toContain('"module":"examples/protocols/etcd-grpc.mjs"');
    expect(grpc.keys.count).toBe(200);

    const http = await run(['--protocol', 'etcd', '--etcd-key-prefix', 'http/'], 'http/');
    expect(http.code).toBe(0);
    expect(http.record.results).toMatchObject({ successful_transactions: 200, failed_transactions: 0 });
    expect(http.keys.count).toBe(200);
    // Both wrote to the same store: its revision counts every put of both.
    expect(http.keys.revision).toBeGreaterThanOrEqual(grpc.keys.revision + 200);
    // two commands, one with two workers that each load the gRPC module: beside two CPU burners
    // they took longer than the unit tier's 30 s (a bound against a hang, not a timing)
  }, 120_000);

  it('a stopped member is a connection error through gRPC, not an ok or a hang', async () => {
    await member.kill();
    try {
      const { code, stderr } = await cli([
        '--endpoints',
        member.clientUrl,
        '--protocol',
        EXAMPLE,
        '--loads',
        '10',
        '--duration',
        '1',
        '--output-dir',
        dir,
      ]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/etcd at http:\/\/127\.0\.0\.1:\d+ does not answer gRPC/);
    } finally {
      await member.restart();
    }
  });
});
