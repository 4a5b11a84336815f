/**
 * runCli refuses a word that is no flag for a command that takes flags only (yargs keeps it in
 * `_`): `remote-network --down RUN_ID` read `--down` alone and removed every run's containers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Argv } from 'yargs';
import { runCli, type CliDefinition } from '../../../src/cli/run-cli.js';

interface Args {
  readonly down: boolean;
  readonly name?: string;
}

function definition(ran: Args[], positionals = false): CliDefinition<Args> {
  return {
    name: 'demo',
    usage: '$0 [options]',
    ...(positionals ? { positionals: true } : {}),
    options: (argv) =>
      argv
        .option('down', { type: 'boolean', default: false, describe: 'remove everything' })
        .option('name', { type: 'string', describe: 'a name' }) as unknown as Argv<Args>,
    run: async (args) => {
      ran.push(args);
      return 0;
    },
  };
}

async function cli(argv: string[], positionals = false) {
  const ran: Args[] = [];
  const err: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  const code = await runCli(definition(ran, positionals), argv);
  vi.restoreAllMocks();
  return { code, ran, err: err.join('') };
}

afterEach(() => vi.restoreAllMocks());

describe('runCli and words that are no flag', () => {
  it('refuses a value after a flag that takes none, naming both, and runs nothing', async () => {
    const result = await cli(['--down', '20261128-211339-1cded1']);
    expect(result.code).toBe(2);
    expect(result.ran).toEqual([]);
    expect(result.err).toBe(
      'demo: error: unexpected argument "20261128-211339-1cded1": --down takes no value, and this command takes flags only (see demo --help)\n',
    );
  });

  it('refuses any other stray word', async () => {
    const result = await cli(['--name', 'a', 'extra']);
    expect(result.code).toBe(2);
    expect(result.ran).toEqual([]);
    expect(result.err).toBe(
      'demo: error: unexpected argument "extra": this command takes flags only (see demo --help)\n',
    );
  });

  it('runs flags alone, and leaves positionals to a command that reads them', async () => {
    expect((await cli(['--down', '--name', 'a'])).code).toBe(0);
    const taking = await cli(['show', '--down'], true);
    expect(taking.code).toBe(0);
    expect(taking.ran).toHaveLength(1);
  });
});
