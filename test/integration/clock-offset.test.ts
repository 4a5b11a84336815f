/**
 * Clock offsets over SSH against real sandbox hosts: one host's clock source (its `date`) is
 * shifted on purpose by a wrapper earlier in sshd's PATH; the record shows that host's offset,
 * and --max-clock-offset refuses the deploy before any node starts.
 */
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, type SandboxHost } from '../../src/testbed/sandbox/sandbox.js';
import { errorLines, hostsFile, leftovers, runCliModule, sandboxSuite } from './sandbox-fixture.js';

const SHIFT_SECONDS = 7;
const WRAPPER = '/usr/local/bin/date';

const suite = sandboxSuite('clock');
let shifted: SandboxHost;

async function rootShell(host: SandboxHost, script: string): Promise<void> {
  const result = await docker(['exec', host.container, 'sh', '-c', script]);
  if (result.exitCode !== 0) throw new Error(`${host.name}: ${script}: ${result.stderr}`);
}

beforeAll(async () => {
  shifted = suite.sandbox.hosts[1]!;
  // /usr/local/bin comes before /usr/bin in sshd's PATH: this `date` reads every input date as
  // that date plus SHIFT_SECONDS (the clock command meshbench uses is `date -f -`).
  const wrapper = `#!/bin/sh\nsed -u 's/$/ + ${SHIFT_SECONDS} seconds/' | /usr/bin/date "$@"\n`;
  await rootShell(shifted, `printf '%s' '${wrapper}' > ${WRAPPER} && chmod 755 ${WRAPPER}`);
});

afterAll(async () => {
  if (shifted) await rootShell(shifted, `rm -f ${WRAPPER}`);
});

interface HostRecord {
  name: string;
  clock: { offsetMs: number; rttMs: number; samples: number; method: string; errorBoundMs: number };
}

describe('clock offsets of remote hosts', () => {
  it('records each host offset; the shifted host shows its shift and a warning (allowed above the limit)', async () => {
    const file = await hostsFile(suite.sandbox, 'clock', suite.sandbox.hosts.slice(0, 2));
    const output = await mkdtemp(join(suite.dir, 'output-'));
    const run = await runCliModule('remote-network', [
      '--hosts-file',
      file,
      '--num-transactions',
      '20',
      '--transaction-rate',
      '20',
      '--max-clock-offset',
      '1000',
      '--allow-clock-offset',
      '--cleanup',
      '--output',
      output,
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /clock: warning: host1 clock offset (?:69[89]\d|70[01]\d)\.\d{3} ms .*above --max-clock-offset 1000 ms \(allowed\)/,
    );
    const [runDir] = await readdir(output);
    const record = JSON.parse(await readFile(join(output, runDir!, 'remote-benchmark-1.json'), 'utf8'));
    const testbed = record.environment.testbed as {
      hosts: HostRecord[];
      clockCheck: { warnMs: number; maxOffsetMs: number; warnings: string[] };
    };
    const [plain, ahead] = testbed.hosts as [HostRecord, HostRecord];
    // the shift within the measurement's own bound (plus a little for a busy machine)
    expect(Math.abs(ahead.clock.offsetMs - SHIFT_SECONDS * 1000)).toBeLessThanOrEqual(
      ahead.clock.rttMs / 2 + 5,
    );
    // host0 shares this machine's kernel clock: no offset beyond the round trip
    expect(Math.abs(plain.clock.offsetMs)).toBeLessThanOrEqual(plain.clock.rttMs / 2 + 5);
    expect(plain.clock.samples).toBeGreaterThan(1);
    expect(plain.clock.method).toBe('ssh-date-batch');
    expect(testbed.clockCheck.maxOffsetMs).toBe(1000);
    expect(
      testbed.clockCheck.warnings.some((w) => /^host1 clock offset (?:69[89]\d|70[01]\d)\./.test(w)),
    ).toBe(true);
    expect(record.remote_network.environment.hosts[1].clock.offsetMs).toBe(ahead.clock.offsetMs);
  });

  it('--max-clock-offset refuses the deploy in one line, exit 2, before any node starts', async () => {
    const file = await hostsFile(suite.sandbox, 'clock', suite.sandbox.hosts.slice(0, 2));
    const run = await runCliModule('remote-network', [
      '--hosts-file',
      file,
      '--num-transactions',
      '20',
      '--max-clock-offset',
      '1000',
    ]);
    expect(run.exitCode, run.stderr).toBe(2);
    const errors = errorLines(run);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /clock check refused the deploy: host1 clock offset (?:69[89]\d|70[01]\d)\.\d{3} ms .*above --max-clock-offset 1000 ms/,
    );
    expect(errors[0]).not.toMatch(/host0 clock/);
    expect(run.stderr).not.toMatch(/\] (docker|image|start): /);
    for (const host of suite.sandbox.hosts.slice(0, 2))
      expect((await leftovers(host)).containers).toEqual([]);
  });
});
