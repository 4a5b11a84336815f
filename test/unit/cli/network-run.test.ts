import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yargs from 'yargs';
import {
  localNetworkCommand,
  validateArgs as validateLocal,
  type LocalNetworkArgs,
} from '../../../src/cli/local-network.js';
import { MeshbenchError } from '../../../src/common/errors.js';
import { validateArgs as validateRemote, type RemoteNetworkArgs } from '../../../src/cli/remote-network.js';
import { networkPlan, protocolOptions } from '../../../src/cli/network-run.js';
import type { SweepObserver } from '../../../src/bench/observer.js';
import type { Deployment } from '../../../src/testbed/testbed.js';

const shared = {
  numTransactions: 1000,
  transactionSize: 512,
  transactionRate: 100,
  startupWait: 30,
  cleanup: false,
  cleanupThorough: false,
  broadcastMode: 'async',
  confirm: 'commit',
  json: false,
  output: 'benchmarks',
  verbose: false,
};
const local: LocalNetworkArgs = { ...shared, protocol: 'cometbft', nodeAccess: 'auto' };
const remote: RemoteNetworkArgs = {
  ...shared,
  nodesPerHost: 1,
  image: 'meshbench/refnode:latest',
  imageTransfer: 'ship',
  strictHostKeyChecking: 'accept-new',
  concurrency: 16,

  status: false,
};

describe('the flags local-network and remote-network share', () => {
  it.each([
    [{ transactionSize: 0 }, /--transaction-size 0 is not valid: a whole number of bytes from 1 to 16777216/],
    [{ transactionSize: 16 * 1024 * 1024 + 1 }, /--transaction-size 16777217 is not valid/],
    [{ numTransactions: 0 }, /--num-transactions 0 is not valid/],
    [{ numTransactions: 2.5 }, /--num-transactions 2.5 is not valid/],
    [{ transactionRate: 0 }, /--transaction-rate 0 is not valid: a number of tx\/s above 0/],
    [{ transactionRate: -5 }, /--transaction-rate -5 is not valid/],
    [{ startupWait: 0 }, /--startup-wait 0 is not valid/],
    [{ dashboard: 'abc' }, /--dashboard "abc" is not valid: a port from 0 to 65535/],
    [{ dashboardHost: '0.0.0.0' }, /--dashboard-host "0.0.0.0" is not valid: needs --dashboard/],
  ])('refuses %o in both commands, naming the flag', (bad, message) => {
    expect(() => validateLocal({ ...local, ...bad })).toThrow(message);
    expect(() => validateRemote({ ...remote, ...bad })).toThrow(message);
  });

  it('accepts the defaults and the largest transaction', () => {
    expect(() => validateLocal(local)).not.toThrow();
    expect(() => validateRemote({ ...remote, transactionSize: 16 * 1024 * 1024 })).not.toThrow();
  });

  it('maps the protocol flags onto the generator options, CometBFT async by default', () => {
    expect(protocolOptions({ protocol: 'cometbft', broadcastMode: 'async' })).toEqual({
      kind: 'cometbft',
      broadcastMode: 'async',
    });
    expect(protocolOptions({ protocol: 'etcd', broadcastMode: 'async' })).toEqual({ kind: 'etcd' });
    expect(protocolOptions({ protocol: 'http', broadcastMode: 'async' }).kind).toBe('http');
  });
});

describe('the network commands run through the sweep', () => {
  /** The runs' output folders, each a folder of its own in here; removed after these tests. */
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbench-network-run-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sends --num-transactions at the rate, gives the observers the level and writes the record with their blocks', async () => {
    const { readFile, readdir } = await import('node:fs/promises');
    const { startCometbftNode } = await import('../load/test-servers.js');
    const { runNetworkCommand } = await import('../../../src/cli/network-run.js');
    const { localEnvironment } = await import('../../support/environments.js');
    const node = await startCometbftNode({ blockIntervalMs: 20 });
    const output = await mkdtemp(join(dir, 'network-run-'));
    const events: string[] = [];
    const out: string[] = [];
    const deployment: Deployment = {
      runId: 'r1',
      kind: 'local',
      endpoints: [{ nodeId: 'node0', rpcUrl: node.url }],
      nodes: [],
      environment: localEnvironment(),
      readyAfterMs: 10,
      async destroy() {
        events.push('destroy');
      },
      async release() {
        events.push('release');
      },
      async [Symbol.asyncDispose]() {},
    };
    const observer: SweepObserver = {
      name: 'probe',
      onDeploy: () => void events.push('deploy'),
      onLevelStart(level, context) {
        events.push(`level ${level.load} tx/s`);
        context.block('probe', { seen: true });
      },
      onTeardown: () => void events.push('teardown'),
    };
    try {
      const code = await runNetworkCommand(
        { ...shared, numTransactions: 40, transactionRate: 200, cleanup: true, output },
        {
          shutdown: { signal: new AbortController().signal, onForce: () => () => {}, dispose() {} },
          stdout: (text) => out.push(text),
          stderr: (text) => out.push(text),
          verbose: false,
        },
        {
          command: 'local-network',
          protocolFix: 'give --protocol',
          networkType: 'local',
          runId: 'r1',
          protocol: 'cometbft',
          testbed: { kind: 'local', deploy: async () => deployment },
          plan: {},
          startLine: 'starting',
          readyLine: () => 'ready',
          extension: () => ({ local_network: { num_transactions: 40 } }),
          remove: async (d) => {
            await d.destroy();
            return 'cleanup: removed';
          },
          downCommand: 'local-network --down r1',
        },
        [observer],
      );
      expect(code).toBe(0);
      expect(events).toEqual(['deploy', 'level 200 tx/s', 'teardown', 'destroy']);
      expect(out).toContain('cleanup: removed');
      const [runDir] = await readdir(output);
      expect(runDir).toBe('run-r1');
      const record = JSON.parse(await readFile(join(output, 'run-r1', 'local-benchmark-1.json'), 'utf8'));
      expect(record.results.sent_transactions).toBe(40);
      expect(record.results.successful_transactions).toBe(40);
      expect(record.parameters).toMatchObject({ load: 200, duration: 0.2, endpoints: [node.url] });
      expect(record.runs[0].blocks).toEqual({ probe: { seen: true } });
      expect(record.runs[0].settle.rule).toBe('skipped');
      expect(record.local_network).toEqual({ num_transactions: 40 });
      expect(record.started_at).toBe(record.runs[0].started_at);
      expect(node.received).toBe(40);
      // report.html beside the record, as benchmark writes it, with the record's figures in it
      const html = await readFile(join(output, 'run-r1', 'report.html'), 'utf8');
      expect(html).toMatch(/^<!doctype html>/i);
      expect(html).toContain('local-benchmark-1.json');
      expect(out).toContain(`report: ${join(output, 'run-r1', 'report.html')}`);
    } finally {
      await node.close();
    }
  });

  it('--dashboard serves the level live and ends as the report.html it writes', async () => {
    const { readFile } = await import('node:fs/promises');
    const { get } = await import('node:http');
    const { startCometbftNode } = await import('../load/test-servers.js');
    const { runNetworkCommand } = await import('../../../src/cli/network-run.js');
    const { parseSse } = await import('../../../src/report/dashboard/sse.js');
    const { localEnvironment } = await import('../../support/environments.js');
    const node = await startCometbftNode({ blockIntervalMs: 20 });
    const output = await mkdtemp(join(dir, 'network-run-dashboard-'));
    const err: string[] = [];
    let stream = '';
    let streamEnded: Promise<void> | undefined;
    const deployment: Deployment = {
      runId: 'r2',
      kind: 'local',
      endpoints: [{ nodeId: 'node0', rpcUrl: node.url }],
      nodes: [],
      environment: localEnvironment(),
      readyAfterMs: 10,
      async destroy() {},
      async release() {},
      async [Symbol.asyncDispose]() {},
    };
    // Reads the stream from the deploy on (the URL is printed before it, in preflight).
    const reader: SweepObserver = {
      name: 'reader',
      onDeploy() {
        const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(err.join('\n'))?.[1];
        expect(url, err.join('\n')).toBeDefined();
        streamEnded = new Promise((done, fail) => {
          get(`${url}events`, (response) => {
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (stream += chunk));
            response.on('close', () => done());
          }).on('error', fail);
        });
      },
    };
    try {
      const code = await runNetworkCommand(
        { ...shared, numTransactions: 250, transactionRate: 100, cleanup: true, output, dashboard: '0' },
        {
          shutdown: { signal: new AbortController().signal, onForce: () => () => {}, dispose() {} },
          stdout: () => undefined,
          stderr: (text) => err.push(text),
          verbose: false,
        },
        {
          command: 'local-network',
          protocolFix: 'give --protocol',
          networkType: 'local',
          runId: 'r2',
          protocol: 'cometbft',
          testbed: { kind: 'local', deploy: async () => deployment },
          plan: {},
          startLine: 'starting',
          readyLine: () => 'ready',
          extension: () => ({ local_network: { num_transactions: 250 } }),
          remove: async () => 'cleanup: removed',
          downCommand: 'local-network --down r2',
        },
        [reader],
      );
      expect(code).toBe(0);
      expect(
        err.filter((line) => line.startsWith('local-network: dashboard: http://127.0.0.1:')),
      ).toHaveLength(1);
      await streamEnded;
      const events = parseSse(stream);
      const names = events.map((event) => event.event);
      expect(names.filter((name) => name === 'point').length, names.join(' ')).toBeGreaterThanOrEqual(1);
      expect(names).toContain('snapshot');
      expect(names.at(-1)).toBe('final');
      const final = JSON.parse(events.at(-1)?.data ?? '{}') as { main: string };
      const html = await readFile(join(output, 'run-r2', 'report.html'), 'utf8');
      expect(final.main).toContain('local-benchmark-1.json');
      expect(html).toContain(final.main);
    } finally {
      await node.close();
    }
  });
});

describe('the network commands pick the confirmation as benchmark does', () => {
  const parse = (argv: string[]) =>
    localNetworkCommand.options(yargs(argv).exitProcess(false).strict()).parseSync() as LocalNetworkArgs;
  const planOf = (args: LocalNetworkArgs) =>
    networkPlan(args, { networkType: 'local', protocol: args.protocol, plan: {} });

  it('defaults to commit where the protocol confirms commits, else none', () => {
    const cometbft = parse([]);
    expect(cometbft.confirm).toBeUndefined();
    expect(() => validateLocal(cometbft)).not.toThrow();
    expect(planOf(cometbft).confirm).toBe('commit');
    const etcd = parse(['--docker-compose-path', 'systems/etcd/docker-compose.yml', '--protocol', 'etcd']);
    expect(() => validateLocal(etcd)).not.toThrow();
    expect(planOf(etcd).confirm).toBe('none');
    expect(planOf(parse(['--protocol', 'etcd', '--confirm', 'none'])).confirm).toBe('none');
    expect(planOf(parse(['--confirm', 'none'])).confirm).toBe('none');
  });

  it('refuses only an explicit --confirm commit the protocol cannot honour', () => {
    const etcd = parse(['--protocol', 'etcd', '--confirm', 'commit']);
    expect(() => validateLocal(etcd)).toThrow(/--confirm commit is not available for --protocol etcd/);
    expect(() => planOf(etcd)).toThrow(MeshbenchError);
    expect(planOf(parse(['--protocol', 'cometbft', '--confirm', 'commit'])).confirm).toBe('commit');
  });
});
