import { describe, expect, it } from 'vitest';
import { validateArgs as validateLocal, type LocalNetworkArgs } from '../../../src/cli/local-network.js';
import { validateArgs as validateRemote, type RemoteNetworkArgs } from '../../../src/cli/remote-network.js';
import { protocolOptions } from '../../../src/cli/network-run.js';

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
  down: false,
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
