import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main, validateArgs, type LocalNetworkArgs } from '../../../../src/cli/local-network.js';
import {
  describeFailures,
  failedCount,
  noneAcceptedMessage,
  renderSummary,
} from '../../../../src/report/summary.js';
import type { LatencySummary, LoadResult } from '../../../../src/load/types.js';
import { sumOutcomes } from '../../../../src/measure/figures.js';

const base: LocalNetworkArgs = {
  numTransactions: 1000,
  nodeAccess: 'auto',
  transactionSize: 512,
  transactionRate: 100,
  startupWait: 30,
  cleanup: false,
  cleanupThorough: false,
  protocol: 'cometbft',
  broadcastMode: 'sync',
  confirm: 'commit',
  json: false,
  verbose: false,
  output: 'benchmarks',
};

function summary(mean: number): LatencySummary {
  return {
    count: 300,
    mean,
    stddev: 1.5,
    min: 1,
    p50: mean - 1,
    p90: mean + 1,
    p99: mean + 5,
    p999: mean + 6,
    max: mean + 7,
  };
}

describe('local-network flags', () => {
  it('accepts the defaults and refuses bad values with BAD_FLAG', () => {
    expect(() => validateArgs(base)).not.toThrow();
    for (const [change, pattern] of [
      [{ committee: 0 }, /--committee 0 is not valid: a committee needs at least 1 node/],
      [{ committee: 2.5 }, /--committee 2.5/],
      [{ committee: 4, dockerComposePath: 'x.yml' }, /both given/],
      [{ numTransactions: 0 }, /--num-transactions 0 is not valid/],
      [{ transactionRate: -1 }, /--transaction-rate -1/],
      [{ startupWait: 0 }, /--startup-wait 0/],
      [{ protocol: 'http' }, /--confirm commit is not available for --protocol http/],
    ] as const) {
      expect(() => validateArgs({ ...base, ...change })).toThrow(pattern);
    }
  });
});

describe('main', () => {
  let stderr: string[];
  beforeEach(() => {
    stderr = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('exits 2 with one line for a committee below 1, starting nothing', async () => {
    expect(await main(['--committee', '0'])).toBe(2);
    expect(stderr.join('')).toBe(
      'local-network: error: --committee 0 is not valid: a committee needs at least 1 node; use --committee 4 for the seed layout\n',
    );
  });

  it('exits 2 before anything starts when reference nodes cannot answer the protocol, naming nodes that can', async () => {
    expect(await main(['--committee', '3', '--protocol', 'mesh'])).toBe(2);
    expect(stderr.join('')).toBe(
      'local-network: error: --protocol mesh: the generated network runs reference nodes (cometbft), which do not answer mesh; run nodes that speak mesh: --system crdt-sync or libp2p-gossipsub with --committee N, a compose file of them (--docker-compose-path)\n',
    );
    stderr.length = 0;
    // meshbench's seed network (no compose/docker-compose.yml here): etcd's compose file is named
    expect(await main(['--protocol', 'etcd'])).toBe(2);
    expect(stderr.join('')).toMatch(
      /^local-network: error: --protocol etcd: meshbench's seed network runs reference nodes \(cometbft\), which do not answer etcd; run nodes that speak etcd: --docker-compose-path \S*systems\/etcd\/docker-compose.yml \(or a compose file of yours\)\n$/,
    );
  });

  it('names the config file or environment variable a refused setting came from', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshbench-ln-'));
    try {
      const file = join(dir, 'settings.yaml');
      await writeFile(file, 'committee: 3\nprotocol: mesh\n');
      expect(await main(['--config', file])).toBe(2);
      expect(stderr.join('')).toMatch(
        /^local-network: error: .*settings\.yaml: protocol: "mesh" is not valid \(--protocol\): the generated network runs reference nodes \(cometbft\), which do not answer mesh; run nodes that speak mesh: .*; fix protocol in .*settings\.yaml, or override it with --protocol\n$/,
      );
      stderr.length = 0;
      await writeFile(file, 'committee: 0\n');
      expect(await main(['--config', file])).toBe(2);
      expect(stderr.join('')).toMatch(
        /settings\.yaml: committee: 0 is not valid \(--committee\): a committee needs at least 1 node;/,
      );
      stderr.length = 0;
      await writeFile(file, 'protocol: http\nconfirm: commit\n');
      expect(await main(['--config', file])).toBe(2);
      expect(stderr.join('')).toMatch(
        /settings\.yaml: confirm: "commit" is not valid \(--confirm\): not available for --protocol http/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 for an unknown flag, naming the nearest known one', async () => {
    expect(await main(['--no-such-flag'])).toBe(2);
    expect(stderr.join('')).toBe(
      'local-network: error: unknown flag --no-such-flag (see local-network --help)\n',
    );
    stderr.length = 0;
    expect(await main(['--comittee', '3'])).toBe(2);
    expect(stderr.join('')).toMatch(
      /^local-network: error: unknown flag --comittee; did you mean --committee\?/,
    );
  });

  it('exits 2 for a number flag without its number, instead of running what it would do without the flag', async () => {
    // yargs read `--show-logs` alone as absent: the command started a whole network.
    expect(await main(['--show-logs'])).toBe(2);
    expect(stderr.join('')).toBe(
      'local-network: error: --show-logs needs a number after it (--show-logs N); see --help\n',
    );
    stderr.length = 0;
    // and `--logs` alone as ""
    expect(await main(['--logs'])).toBe(2);
    expect(stderr.join('')).toBe(
      'local-network: error: --logs needs a value after it (see local-network --help)\n',
    );
    stderr.length = 0;
    // a number, but not a count of lines (remote-network refused it already)
    expect(await main(['--show-logs', '-5'])).toBe(2);
    expect(stderr.join('')).toBe(
      'local-network: error: --show-logs -5 is not valid: a whole number of lines from 1 up; see --help\n',
    );
    stderr.length = 0;
    expect(await main(['--committee', 'abc'])).toBe(2);
    expect(stderr.join('')).toMatch(/^local-network: error: --committee "abc" is not valid: a number/);
  });
});

describe('renderSummary', () => {
  it('prints the original summary plus latency', () => {
    const result = {
      runId: 'r1',
      protocol: 'cometbft',
      startedAt: '',
      endedAt: '',
      durationSecs: 3,
      warmupSecs: 0,
      cooldownSecs: 0,
      transactionSizeBytes: 512,
      inputRate: 100,
      achievedRate: 99.67,
      acceptedThroughput: 98,
      committedThroughput: 97,
      efficiency: 0.97,
      scheduled: 300,
      sent: 300,
      outcomes: {
        ok: 297,
        rejected: { '-32000': 1 },
        httpError: { '503': 1 },
        badResponse: 0,
        timeout: 1,
        connectionError: 0,
        dropped: 0,
        committed: 291,
        commitTimeout: 6,
      },
      latency: {
        ack: { corrected: summary(5), uncorrected: summary(4) },
        commit: { corrected: summary(40), uncorrected: summary(39) },
      },
      scheduleLag: summary(0.1),
      perNode: [],
      timeSeries: [],
      interrupted: false,
    } satisfies LoadResult;
    expect(failedCount(result)).toBe(3);
    expect(renderSummary(result, { nodes: 4, readyAfterMs: 2345 })).toBe(
      [
        'RESULT: run r1, 4 nodes, ready after 2.35 s',
        '  Transactions sent:        300 of 300 scheduled, 512 bytes each, input rate 100.0 tx/s',
        '  Successful:               297',
        '  Failed:                   3',
        '  Failed by kind:           1 HTTP 503, 1 rejected (-32000), 1 timeout',
        '  Actual rate:              99.7 tx/s',
        '  Committed:                291 (97.0 tx/s, 6 commit timeouts)',
        '  Latency submit→commit:    mean 40.00 ms, stddev 1.50 ms, p50 39.00 ms, p99 45.00 ms (300 tx)',
        '  Latency submit→ack:       mean 5.00 ms, stddev 1.50 ms, p50 4.00 ms, p99 10.00 ms (300 tx)',
      ].join('\n'),
    );
    expect(renderSummary({ ...result, interrupted: true }, { nodes: 4, readyAfterMs: 0 })).toMatch(
      /^PARTIAL RESULT/,
    );
    // one node is one node; a run with no failure has no kinds line
    const clean = { ...result, outcomes: { ...result.outcomes, rejected: {}, httpError: {}, timeout: 0 } };
    const text = renderSummary(clean, { nodes: 1, readyAfterMs: 0 });
    expect(text).toMatch(/^RESULT: run r1, 1 node, /);
    expect(text).not.toMatch(/Failed by kind/);
    expect(describeFailures(clean.outcomes)).toBe('');
  });

  it('says why no transaction was accepted, and what to do', () => {
    // nothing counted (the sum of no loads), then the counts of the case
    const none = (outcomes: Partial<LoadResult['outcomes']>): LoadResult['outcomes'] => ({
      ...sumOutcomes([]),
      ...outcomes,
    });
    const fix = 'give the protocol they speak with --protocol';
    // the nodes answered, with errors: the protocol is the likely cause
    expect(noneAcceptedMessage(none({ httpError: { '400': 100 } }), 'cometbft', fix)).toBe(
      'no transaction was accepted (100 HTTP 400): the nodes refused what the load sent as cometbft; give the protocol they speak with --protocol',
    );
    expect(noneAcceptedMessage(none({ badResponse: 7, timeout: 1 }), 'http', fix)).toMatch(
      /^no transaction was accepted \(7 replies not understood, 1 timeout\): the nodes refused what the load sent as http;/,
    );
    // they did not answer at all: their logs, not the protocol
    expect(noneAcceptedMessage(none({ connectionError: 3, dropped: 2 }), 'http', fix)).toBe(
      "no transaction was accepted (3 connection errors, 2 not sent on time): the nodes did not answer; see their logs (--logs DIR saves each node's log)",
    );
  });
});
