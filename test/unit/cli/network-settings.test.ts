/**
 * local-network and remote-network read --config FILE and MESHBENCH_<FLAG> like benchmark:
 * flags given on the command line win, then the environment, then the file, then the
 * defaults; values are read as the flags are; a bad one names where it came from.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerSettings } from '../../../src/cli/config-pipeline.js';
import type { DeclaredOption } from '../../../src/cli/flag-values.js';
import { runBin } from '../../integration/run-bin.js';

const declared = new Map<string, DeclaredOption>([
  ['num-transactions', { type: 'number' }],
  ['transaction-rate', { type: 'number' }],
  ['confirm', { type: 'string', choices: ['none', 'commit'] }],
  ['cleanup', { type: 'boolean' }],
  ['docker-compose-path', { type: 'string' }],
  ['down', { type: 'string' }],
  ['config', { type: 'string' }],
]);
const defaults = {
  numTransactions: 1000,
  'num-transactions': 1000,
  transactionRate: 100,
  'transaction-rate': 100,
  confirm: 'commit',
  cleanup: false,
};

/** Each layer() call's folder is a folder of its own in here; removed after the file's tests. */
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshbench-network-settings-'));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function layer(argv: string[], env: Record<string, string>, file?: string) {
  const dir = await mkdtemp(join(root, 'network-settings-'));
  const config = file === undefined ? undefined : join(dir, 'net.yaml');
  if (config) await writeFile(config, file ?? '');
  return layerSettings(
    { ...defaults, ...(config ? { config } : {}), ...parsedFlags(argv) },
    {
      command: 'local-network',
      declared,
      argv: [...argv, ...(config ? ['--config', config] : [])],
      env,
      cwd: dir,
      flagsOnly: ['down'],
      lists: ['docker-compose-path'],
    },
  );
}

/** What yargs would have parsed from these flags (numbers only, for the test). */
function parsedFlags(argv: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = (argv[i] as string).slice(2);
    const value = Number(argv[i + 1]);
    out[name] = value;
    out[name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
  }
  return out;
}

describe('the network commands settings', () => {
  it('file < environment < flags, read as the flags are, each with its source', async () => {
    const { args, settings } = await layer(
      ['--num-transactions', '50'],
      { MESHBENCH_TRANSACTION_RATE: '25', MESHBENCH_CLEANUP: 'true' },
      'num-transactions: 300\ntransaction-rate: 10\nconfirm: none\ndocker-compose-path: [a.yml, b.yml]\n',
    );
    expect(args).toMatchObject({
      numTransactions: 50,
      transactionRate: 25,
      confirm: 'none',
      cleanup: true,
      dockerComposePath: ['a.yml', 'b.yml'],
    });
    expect(settings.sources['num-transactions']).toEqual({ kind: 'flag', flag: 'num-transactions' });
    expect(settings.sources['transaction-rate']).toEqual({ kind: 'env', name: 'MESHBENCH_TRANSACTION_RATE' });
    expect(settings.sources.confirm).toMatchObject({ kind: 'file', key: 'confirm' });
  });

  it.each([
    [
      { MESHBENCH_NUM_TRANSACTIONS: 'lots' },
      undefined,
      /^MESHBENCH_NUM_TRANSACTIONS="lots" is not valid \(--num-transactions\): a number/,
    ],
    [
      { MESHBENCH_CONFIRM: 'maybe' },
      undefined,
      /MESHBENCH_CONFIRM="maybe" is not valid \(--confirm\): one of none, commit/,
    ],
    [{}, 'cleanup: perhaps\n', /net.yaml: cleanup: "perhaps" is not valid \(--cleanup\): true or false/],
    [{}, 'num-transaction: 5\n', /unknown key "num-transaction" \(did you mean "num-transactions"\?\)/],
    [{}, 'down: run1\n', /"down" is not a setting/],
  ])('refuses %j / %j in one line naming its source', async (env, file, message) => {
    await expect(layer([], env as Record<string, string>, file)).rejects.toThrow(message);
  });

  it('local-network names the environment variable when a value it gave is out of range (exit 2, nothing started)', async () => {
    const run = await runBin('local-network', [], { MESHBENCH_TRANSACTION_RATE: '0' });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^local-network: error: MESHBENCH_TRANSACTION_RATE=0 is not valid \(--transaction-rate\): a number of tx\/s above 0/,
    );
  });
});
