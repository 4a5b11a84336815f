/**
 * Refnode configuration: flags win over environment variables (REFNODE_<UPPER_SNAKE>), which
 * win over defaults. Every problem is reported as one ConfigError line; main exits 2.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LogLevel } from './log.js';
import type { PeerAddress } from './p2p.js';

export interface NodeConfig {
  readonly id: string;
  /** Other committee members (self excluded). */
  readonly peers: readonly PeerAddress[];
  /**
   * The members this node connects to (`--connect`, a topology's edges); every peer by default.
   * With `--connect` given, consensus messages and new txs are relayed (`relay`).
   */
  readonly neighbours: readonly string[];
  /** A topology (--connect given): forward consensus messages and new txs to the other neighbours. */
  readonly relay: boolean;
  /** All member ids, self included, sorted (leader rotation order). */
  readonly committee: readonly string[];
  readonly listen: string;
  readonly rpcPort: number;
  readonly p2pPort: number;
  /** 0 = no separate metrics listener (`/metrics` is also on the RPC port). */
  readonly metricsPort: number;
  readonly dataDir: string;
  readonly blockIntervalMs: number;
  readonly emptyBlockIntervalMs: number;
  readonly viewTimeoutMs: number;
  readonly maxBlockTxs: number;
  readonly maxBlockBytes: number;
  readonly fsync: boolean;
  readonly mempoolMaxTxs: number;
  readonly mempoolMaxBytes: number;
  readonly maxBodyBytes: number;
  readonly maxBatchSize: number;
  readonly maxTxBytes: number;
  readonly commitTimeoutMs: number;
  /** Sign votes with the node's ed25519 key and verify the peers' (off: unsigned, for comparison). */
  readonly signing: boolean;
  readonly logLevel: LogLevel;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Kind = 'string' | 'int' | 'bool';

interface FlagSpec {
  readonly kind: Kind;
  readonly help: string;
  readonly default?: string;
}

export const FLAGS = {
  id: { kind: 'string', help: 'node id, also its moniker (e.g. node0)' },
  peers: { kind: 'string', help: 'committee as id@host:p2pPort,... (self may be included)', default: '' },
  connect: {
    kind: 'string',
    help: 'ids of the peers to connect to (a topology; the others are reached through relays); empty: every peer',
    default: '',
  },
  listen: { kind: 'string', help: 'address the RPC, P2P and metrics listeners bind', default: '0.0.0.0' },
  'rpc-port': {
    kind: 'int',
    help: 'CometBFT-compatible RPC (HTTP + /websocket + /metrics)',
    default: '26657',
  },
  'p2p-port': { kind: 'int', help: 'P2P (consensus, tx gossip, block sync)', default: '26656' },
  'metrics-port': { kind: 'int', help: 'Prometheus /metrics listener (0 = off)', default: '26660' },
  'data-dir': { kind: 'string', help: 'block store and consensus WAL (default ./refnode-data/<id>)' },
  'block-interval-ms': {
    kind: 'int',
    help: 'minimum time from one commit to the next proposal',
    default: '50',
  },
  'empty-block-interval-ms': {
    kind: 'int',
    help: 'with an empty mempool, wait this long before an empty block',
    default: '500',
  },
  'view-timeout-ms': {
    kind: 'int',
    help: 'propose timeout of round 0 (later rounds wait longer)',
    default: '1000',
  },
  'max-block-txs': { kind: 'int', help: 'most txs in a block', default: '2000' },
  'max-block-bytes': { kind: 'int', help: 'most tx bytes in a block', default: String(2 * 1024 * 1024) },
  fsync: { kind: 'bool', help: 'fdatasync the block store and WAL on every write', default: 'true' },
  'mempool-max-txs': { kind: 'int', help: 'mempool capacity in txs', default: '20000' },
  'mempool-max-bytes': { kind: 'int', help: 'mempool capacity in bytes', default: String(32 * 1024 * 1024) },
  'max-body-bytes': { kind: 'int', help: 'largest RPC request body', default: '1000000' },
  'max-batch-size': { kind: 'int', help: 'most requests in one JSON-RPC batch', default: '100' },
  'max-tx-bytes': { kind: 'int', help: 'largest tx', default: '1048576' },
  'commit-timeout-ms': {
    kind: 'int',
    help: 'broadcast_tx_commit gives up after this long',
    default: '10000',
  },
  signing: {
    kind: 'bool',
    help: "sign votes (ed25519) and verify peers' signatures; off for comparison (all nodes alike)",
    default: 'true',
  },
  'log-level': { kind: 'string', help: 'debug | info | warn | error', default: 'info' },
} as const satisfies Record<string, FlagSpec>;

type FlagName = keyof typeof FLAGS;

export function envName(flag: string): string {
  return `REFNODE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function usage(): string {
  const lines = ['usage: refnode --id ID --peers id@host:port,... [options]', ''];
  for (const [name, spec] of Object.entries(FLAGS) as [FlagName, FlagSpec][]) {
    const def = spec.default === undefined ? '' : ` (default ${spec.default === '' ? '""' : spec.default})`;
    lines.push(`  --${name.padEnd(24)} ${spec.help}${def}; env ${envName(name)}`);
  }
  return lines.join('\n');
}

export function parsePeers(value: string): PeerAddress[] {
  const peers: PeerAddress[] = [];
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const m = /^([A-Za-z0-9._-]+)@(\[[^\]]+\]|[^:@\s]+):(\d+)$/.exec(item);
    if (m === null)
      throw new ConfigError(`--peers entry '${item}' is not id@host:port (e.g. node1@10.0.0.2:26656)`);
    const port = Number(m[3]);
    if (port < 1 || port > 65535)
      throw new ConfigError(`--peers entry '${item}' has port ${port} outside 1..65535`);
    const host = (m[2] as string).replace(/^\[|\]$/g, '');
    peers.push({ id: m[1] as string, host, port });
  }
  return peers;
}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): NodeConfig | 'help' {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const name of Object.keys(FLAGS)) options[name] = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message.split('\n')[0]}; see --help`);
  }
  if (parsed.values.help === true) return 'help';

  const raw = (name: FlagName): { value: string | undefined; source: string } => {
    const flag = parsed.values[name];
    if (typeof flag === 'string') return { value: flag, source: `--${name}` };
    const fromEnv = env[envName(name)];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: envName(name) };
    return { value: (FLAGS[name] as FlagSpec).default, source: `default of --${name}` };
  };
  const str = (name: FlagName): string => {
    const { value } = raw(name);
    if (value === undefined) throw new ConfigError(`--${name} (or ${envName(name)}) is required`);
    return value;
  };
  const int = (name: FlagName, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const { value, source } = raw(name);
    if (value === undefined || !/^\d+$/.test(value.trim()))
      throw new ConfigError(`${source} must be a whole number, got '${value ?? ''}'`);
    const n = Number(value);
    if (n < min || n > max) throw new ConfigError(`${source} is ${n}, outside ${min}..${max}`);
    return n;
  };
  const bool = (name: FlagName): boolean => {
    const { value, source } = raw(name);
    const v = (value ?? '').trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    throw new ConfigError(`${source} must be true or false, got '${value ?? ''}'`);
  };

  const id = str('id').trim();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id))
    throw new ConfigError(`node id '${id}' must be 1-64 letters, digits, '.', '_' or '-'`);
  const listed = parsePeers(str('peers'));
  const byId = new Map<string, PeerAddress>();
  for (const p of listed) {
    const prev = byId.get(p.id);
    if (prev !== undefined && (prev.host !== p.host || prev.port !== p.port)) {
      throw new ConfigError(`--peers lists '${p.id}' twice with different addresses`);
    }
    byId.set(p.id, p);
  }
  const committee = [...new Set([id, ...byId.keys()])].sort();
  if (committee.length > 255) throw new ConfigError(`committee of ${committee.length} nodes exceeds 255`);
  const peers = [...byId.values()].filter((p) => p.id !== id);
  const connectRaw = str('connect')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '' && item !== id);
  for (const item of connectRaw) {
    if (!byId.has(item))
      throw new ConfigError(`--connect names '${item}', which is not in --peers; give ids listed in --peers`);
  }
  const neighbours = connectRaw.length === 0 ? peers.map((p) => p.id) : [...new Set(connectRaw)];

  const logLevel = str('log-level');
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new ConfigError(`log level '${logLevel}' is not one of debug, info, warn, error`);
  }
  const viewTimeoutMs = int('view-timeout-ms', 10, 600_000);
  const emptyBlockIntervalMs = Math.min(
    int('empty-block-interval-ms', 0, 600_000),
    Math.floor(viewTimeoutMs / 2),
  );
  const dataDirRaw = raw('data-dir').value;

  return {
    id,
    peers,
    neighbours,
    // Relay whenever a topology is given: a hub connected to every member must still pass on
    // what its leaves send (their txs, their votes) to the others.
    relay: connectRaw.length > 0,
    committee,
    listen: str('listen'),
    rpcPort: int('rpc-port', 0, 65535),
    p2pPort: int('p2p-port', 0, 65535),
    metricsPort: int('metrics-port', 0, 65535),
    dataDir: resolve(dataDirRaw ?? `refnode-data/${id}`),
    blockIntervalMs: int('block-interval-ms', 0, 600_000),
    emptyBlockIntervalMs,
    viewTimeoutMs,
    maxBlockTxs: int('max-block-txs', 1, 1_000_000),
    maxBlockBytes: int('max-block-bytes', 1, 64 * 1024 * 1024),
    fsync: bool('fsync'),
    mempoolMaxTxs: int('mempool-max-txs', 1),
    mempoolMaxBytes: int('mempool-max-bytes', 1),
    maxBodyBytes: int('max-body-bytes', 64),
    maxBatchSize: int('max-batch-size', 1, 100_000),
    maxTxBytes: int('max-tx-bytes', 1, 64 * 1024 * 1024),
    commitTimeoutMs: int('commit-timeout-ms', 1, 3_600_000),
    signing: bool('signing'),
    logLevel: logLevel as LogLevel,
  };
}
