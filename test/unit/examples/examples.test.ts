/**
 * The example scripts, driven through a real pseudo-terminal (python3's pty
 * module: pty-driver.py answers each prompt in turn). MESHBENCH_DRY_RUN=1 makes
 * them print the final command instead of running it; the real run path is
 * covered by test/integration/benchmark-examples.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const driver = join(import.meta.dirname, 'pty-driver.py');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshbench-examples-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Session {
  readonly transcript: string;
  readonly exitCode: number;
  /** The dry-run command line (the last line before EXIT when one was printed). */
  readonly command: string | undefined;
}

/**
 * The scripts' environment in these tests: dry runs, no hosts from the environment, and no
 * sandbox (a checkout where one is up would give the scripts its hosts file).
 */
function scriptEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MESHBENCH_DRY_RUN: '1',
    MYSTICETI_NODE0_HOST: '',
    MESHBENCH_SANDBOX_HOSTS_FILE: '/nonexistent/hosts.env',
    ...env,
  };
}

async function drive(script: string, answers: string[], env: Record<string, string> = {}): Promise<Session> {
  const { stdout } = await run(
    'python3',
    [driver, JSON.stringify(answers), '--', 'bash', `examples/${script}`],
    {
      env: scriptEnv(env),
      timeout: 60_000,
    },
  );
  const match = /\nEXIT (\d+)\n$/.exec(stdout);
  const transcript = stdout.slice(0, match?.index ?? stdout.length);
  const lines = transcript.trimEnd().split('\n');
  const last = lines.at(-1) ?? '';
  return {
    transcript,
    exitCode: Number(match?.[1] ?? -1),
    command: last.startsWith('npx --no-install ') ? last : undefined,
  };
}

async function auto(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run('bash', ['examples/run_benchmark_auto.sh', ...args], {
      env: scriptEnv(env),
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('examples/run_benchmark.sh', () => {
  it('takes defaults, re-asks after invalid answers, summarises, confirms and builds the command', async () => {
    const session = await drive('run_benchmark.sh', [
      'mars',
      '',
      '0',
      '3',
      'abc',
      '100,100',
      '10,0',
      '10,20',
      '30',
      '',
      '2',
      '',
      'maybe',
      'n',
      'yes',
    ]);
    expect(session.exitCode).toBe(0);
    expect(session.transcript).toContain(
      '"mars" is not valid: one of local, remote, both. Please try again.',
    );
    expect(session.transcript).toContain('"0" is not valid: a whole number >= 1');
    expect(session.transcript).toContain('"abc" is not valid: distinct whole numbers >= 1');
    expect(session.transcript).toContain('"100,100" is not valid');
    expect(session.transcript).toContain('"10,0" is not valid');
    expect(session.transcript).toContain('Please answer yes or no (y/n).');
    expect(session.transcript).toContain('Configuration:');
    expect(session.transcript).toContain('local:              3 nodes, loads 10,20 tx/s');
    expect(session.transcript).toContain('cleanup:            no');
    expect(session.command).toBe(
      'npx --no-install benchmark --network-type local --duration 30 --transaction-size 512 --runs 2 --output-dir ./benchmarks --committee 3 --local-loads 10,20',
    );
  });

  it('cancels on "no" at the confirmation, starting nothing', async () => {
    const session = await drive('run_benchmark.sh', ['', '', '', '', '', '', '', '', 'no']);
    expect(session.exitCode).toBe(0);
    expect(session.transcript).toContain('Cancelled; nothing was started.');
    expect(session.command).toBeUndefined();
    expect(session.transcript).not.toContain('Command:');
  });

  it('cancels on Ctrl-C at a prompt', async () => {
    const session = await drive('run_benchmark.sh', ['', '^C']);
    expect(session.exitCode).toBe(130);
    expect(session.transcript).toContain('Cancelled; nothing was started.');
    expect(session.command).toBeUndefined();
  });

  it('cancels on Ctrl-D (end of input)', async () => {
    const session = await drive('run_benchmark.sh', ['^D']);
    expect(session.exitCode).toBe(130);
    expect(session.transcript).toContain('Cancelled (end of input); nothing was started.');
  });

  it('asks for hosts for both, checks them, and builds the both command', async () => {
    const hosts = join(dir, 'hosts.env');
    await writeFile(hosts, `MYSTICETI_NODE0_HOST=127.0.0.1\nMYSTICETI_NODE0_SSH_KEY=${hosts}\n`);
    const session = await drive('run_benchmark.sh', [
      'both',
      join(dir, 'missing.env'),
      hosts,
      '0',
      '2',
      '',
      '100',
      '100,200',
      '10',
      '',
      '',
      '',
      'y',
      'y',
    ]);
    expect(session.exitCode).toBe(0);
    expect(session.transcript).toMatch(/missing\.env" is not valid: give an existing, readable file/);
    expect(session.transcript).toMatch(/"0" is not valid: a whole number from 1 to 50/);
    expect(session.transcript).toContain('remote loads:       100,200 tx/s, 2 node(s) per host');
    expect(session.transcript).toContain(`check: hosts file ${hosts} ok`);
    expect(session.command).toBe(
      `npx --no-install benchmark --network-type both --duration 10 --transaction-size 512 --runs 1 --output-dir ./benchmarks --committee 4 --local-loads 100 --remote-loads 100,200 --hosts-file ${hosts} --nodes-per-host 2 --cleanup`,
    );
  });

  it('stops with a clear line when the hosts file names an unreadable key', async () => {
    const hosts = join(dir, 'bad-key.env');
    await writeFile(hosts, 'MYSTICETI_NODE0_HOST=127.0.0.1\nMYSTICETI_NODE0_SSH_KEY=/nonexistent/id_rsa\n');
    const session = await drive('run_benchmark.sh', ['remote', hosts, '', '', '', '', '', '', '']);
    expect(session.exitCode).toBe(1);
    expect(session.transcript).toContain(
      'check: MYSTICETI_NODE0_SSH_KEY=/nonexistent/id_rsa is not a readable key file',
    );
    expect(session.transcript).toContain('Fix the hosts file and run this script again.');
    expect(session.command).toBeUndefined();
  });
});

describe('examples/local_network.sh', () => {
  it('builds the local-network command from defaults and corrected answers', async () => {
    const session = await drive('local_network.sh', ['-1', '7', '', 'fast', '50', '', '', 'nope', 'no', 'y']);
    expect(session.exitCode).toBe(0);
    expect(session.transcript).toContain('"-1" is not valid: a whole number >= 1');
    expect(session.transcript).toContain('"fast" is not valid');
    expect(session.command).toBe(
      'npx --no-install local-network --committee 7 --num-transactions 1000 --transaction-rate 50 --transaction-size 512 --startup-wait 30',
    );
  });
});

describe('examples/remote_network.sh', () => {
  it('re-asks when "env" is chosen without the environment, then builds the command', async () => {
    const hosts = join(dir, 'hosts2.env');
    await writeFile(hosts, 'MYSTICETI_NODE0_HOST=10.0.0.1\n');
    const session = await drive('remote_network.sh', [
      'env',
      hosts,
      '51',
      '3',
      '200',
      '',
      '',
      '',
      'y',
      'y',
      'y',
    ]);
    expect(session.exitCode).toBe(0);
    expect(session.transcript).toContain('MYSTICETI_NODE0_HOST is not set in the environment');
    expect(session.transcript).toMatch(/"51" is not valid: a whole number from 1 to 50/);
    expect(session.command).toBe(
      `npx --no-install remote-network --num-transactions 200 --transaction-rate 100 --transaction-size 512 --startup-wait 60 --hosts-file ${hosts} --nodes-per-host 3 --cleanup --cleanup-thorough`,
    );
  });

  it('uses the MYSTICETI_NODE{n}_* environment when asked to', async () => {
    const session = await drive('remote_network.sh', ['env', '', '', '', '', '', 'n', 'y'], {
      MYSTICETI_NODE0_HOST: '10.0.0.9',
    });
    expect(session.exitCode).toBe(0);
    expect(session.command).toBe(
      'npx --no-install remote-network --num-transactions 1000 --transaction-rate 100 --transaction-size 512 --startup-wait 60',
    );
  });
});

describe('examples/run_benchmark_auto.sh', () => {
  it('--help prints the flags and exits 0', async () => {
    const result = await auto(['--help']);
    expect(result.code).toBe(0);
    for (const flag of [
      '--network-type',
      '--local-committee',
      '--duration',
      '--local-loads',
      '--remote-loads',
      '--help',
    ]) {
      expect(result.stdout).toContain(flag);
    }
  });

  it('maps its flags onto the benchmark command', async () => {
    const result = await auto([
      '--network-type',
      'local',
      '--local-committee',
      '7',
      '--duration=60',
      '--local-loads',
      '10,20',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(
      'npx --no-install benchmark --network-type local --duration 60 --output-dir ./benchmarks --console-output true --file-output true --runs 1 --committee 7 --local-loads 10,20 --cleanup',
    );
  });

  it('builds a both command with hosts', async () => {
    const hosts = join(dir, 'auto-hosts.env');
    await writeFile(hosts, 'MYSTICETI_NODE0_HOST=10.0.0.1\n');
    const result = await auto([
      '--network-type',
      'both',
      '--remote-loads',
      '5',
      '--local-loads',
      '5',
      '--duration',
      '9',
      '--hosts-file',
      hosts,
      '--nodes-per-host=2',
      '--no-cleanup',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(
      `npx --no-install benchmark --network-type both --duration 9 --output-dir ./benchmarks --console-output true --file-output true --runs 1 --committee 4 --local-loads 5 --remote-loads 5 --hosts-file ${hosts} --nodes-per-host 2`,
    );
  });

  const bad: [string[], RegExp][] = [
    [['--network-type', 'mars'], /--network-type "mars" is not valid: one of local, remote, both/],
    [['--local-committee', '0'], /--local-committee "0" is not valid/],
    [['--duration', 'abc'], /--duration "abc" is not valid/],
    [['--local-loads', '100,100'], /--local-loads "100,100" is not valid/],
    [['--remote-loads', '-5'], /--remote-loads "-5" is not valid/],
    [['--network-type', 'remote'], /needs hosts: give --hosts-file FILE or set MYSTICETI_NODE0_HOST/],
    [
      ['--network-type', 'remote', '--hosts-file', '/nonexistent'],
      /--hosts-file "\/nonexistent" is not valid/,
    ],
    [['--nodes-per-host', '51'], /--nodes-per-host "51" is not valid: a whole number from 1 to 50/],
    [['--nodes-per-host', '2'], /--nodes-per-host packs remote nodes; use --network-type remote or both/],
    [['--bogus'], /unknown option "--bogus"/],
    [['--duration'], /--duration needs a value/],
  ];
  for (const [args, pattern] of bad) {
    it(`rejects ${args.join(' ')} with exit 2 and one line`, async () => {
      const result = await auto(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(pattern);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stdout).toBe('');
    });
  }
});
