import { describe, expect, it } from 'vitest';
import { ConfigError, envName, parseConfig, parsePeers, usage } from '../src/config.js';

const PEERS = 'node1@10.0.0.2:26656,node0@10.0.0.1:26656,node2@h2:1';

describe('refnode config', () => {
  it('reads flags, with env twins and defaults; flags win', () => {
    const cfg = parseConfig(['--id', 'node0', '--peers', PEERS, '--rpc-port', '9000'], {
      REFNODE_RPC_PORT: '9999',
      REFNODE_FSYNC: 'false',
      REFNODE_BLOCK_INTERVAL_MS: '25',
    });
    if (cfg === 'help') throw new Error('help');
    expect(cfg.rpcPort).toBe(9000);
    expect(cfg.fsync).toBe(false);
    expect(cfg.blockIntervalMs).toBe(25);
    expect(cfg.p2pPort).toBe(26656);
    expect(cfg.metricsPort).toBe(26660);
    expect(cfg.committee).toEqual(['node0', 'node1', 'node2']);
    expect(cfg.peers.map((p) => p.id)).toEqual(['node1', 'node2']);
    expect(cfg.dataDir).toMatch(/refnode-data\/node0$/);
  });

  it('takes everything from the environment', () => {
    const cfg = parseConfig([], {
      REFNODE_ID: 'node3',
      REFNODE_PEERS: 'node0@a:1',
      REFNODE_DATA_DIR: '/data',
    });
    if (cfg === 'help') throw new Error('help');
    expect(cfg.committee).toEqual(['node0', 'node3']);
    expect(cfg.dataDir).toBe('/data');
  });

  it('reports bad values in one line naming the flag or variable', () => {
    const bad: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [[], {}, /--id \(or REFNODE_ID\) is required/],
      [['--id', 'a b'], {}, /node id 'a b'/],
      [['--id', 'n', '--rpc-port', '70000'], {}, /--rpc-port is 70000, outside 0\.\.65535/],
      [['--id', 'n'], { REFNODE_VIEW_TIMEOUT_MS: 'soon' }, /REFNODE_VIEW_TIMEOUT_MS must be a whole number/],
      [['--id', 'n', '--fsync', 'maybe'], {}, /--fsync must be true or false/],
      [['--id', 'n', '--peers', 'node1:26656'], {}, /is not id@host:port/],
      [['--id', 'n', '--peers', 'a@h:1,a@g:1'], {}, /lists 'a' twice/],
      [['--id', 'n', '--nope'], {}, /Unknown option '--nope'/],
      [['--id', 'n', '--log-level', 'loud'], {}, /log level 'loud'/],
    ];
    for (const [argv, env, re] of bad) {
      let err: unknown;
      try {
        parseConfig(argv, env);
      } catch (e) {
        err = e;
      }
      expect(err, argv.join(' ')).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('parses peers (IPv6 in brackets too) and documents every env twin', () => {
    expect(parsePeers('a@[::1]:5, b@host:6')).toEqual([
      { id: 'a', host: '::1', port: 5 },
      { id: 'b', host: 'host', port: 6 },
    ]);
    expect(envName('max-block-txs')).toBe('REFNODE_MAX_BLOCK_TXS');
    expect(usage()).toContain('REFNODE_MEMPOOL_MAX_BYTES');
    expect(parseConfig(['--help'], {})).toBe('help');
  });
});
