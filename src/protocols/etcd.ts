/**
 * etcd v3 through its JSON gateway: `POST /v3/kv/put {"key": b64, "value": b64}`.
 * The value is the transaction (its size is --transaction-size); the key follows the
 * key pattern (etcd-keys.ts: by default unique per run, level and send).
 * The gateway answers errors as `{"error"|"message": …, "code": <grpc code>}` with a non-2xx status.
 */
import { badFlag } from '../common/errors.js';
import {
  ETCD_KEY_DEFAULTS,
  ETCD_KEY_PATTERNS,
  MAX_ETCD_KEY_SIZE_BYTES,
  MAX_ETCD_KEY_SPACE,
  MAX_ZIPF_EXPONENT,
  checkEtcdKeyPattern,
  etcdKeyMaker,
  summarizeEtcdKeys,
} from './etcd-keys.js';
import type { EtcdKeyPattern, EtcdKeyPatternKind } from './etcd-keys.js';
import type { Endpoint } from './endpoint.js';
import type { Protocol, ProtocolDefinition, ReplyOutcome } from './protocol.js';
import { joinUrl, parseJson, probeRequest } from './protocol.js';
import { etcdTransactionWatcher } from './etcd-watch.js';
import { httpProbe } from './readiness.js';
import { oneOf, positiveNumber, settingFlag, text, wholeNumber } from './settings.js';

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

export function parseEtcdReply(statusCode: number, body: string): ReplyOutcome {
  const json = parseJson(body);
  if (json === undefined || json === null || typeof json !== 'object') {
    return statusCode >= 200 && statusCode < 300
      ? { kind: 'badResponse' }
      : { kind: 'httpError', status: statusCode };
  }
  const code = (json as { code?: unknown }).code;
  const hasError =
    (json as { error?: unknown }).error !== undefined ||
    (json as { message?: unknown }).message !== undefined;
  if (typeof code === 'number' && code !== 0 && hasError) return { kind: 'rejected', code: `grpc:${code}` };
  if (statusCode < 200 || statusCode >= 300) return { kind: 'httpError', status: statusCode };
  if ((json as { header?: unknown }).header === undefined) return { kind: 'badResponse' };
  return { kind: 'ok' };
}

export interface EtcdProtocolOptions {
  /** Default `meshbench/`. */
  readonly keyPrefix?: string;
  /** Which key each put writes; default `unique` (per run, level and send). */
  readonly keys?: EtcdKeyPattern;
}

export type EtcdOptions = {
  readonly kind: 'etcd';
  /** Default `meshbench/`. */
  readonly keyPrefix?: string;
  /** Which key each put writes; default `unique` (per run, level and send). */
  readonly keys?: EtcdKeyPattern;
};

/** `runId` is part of every unique key and seeds the random key choices. */
export function createEtcdProtocol(options: EtcdProtocolOptions, runId: string): Protocol {
  const keys = summarizeEtcdKeys(options.keys, options.keyPrefix, runId);
  const keyOf = etcdKeyMaker(keys, runId);
  return {
    kind: 'etcd',
    repliesConfirmCommit: false,
    faultModel: 'crash',
    request: { method: 'POST', path: '/v3/kv/put', headers: JSON_HEADERS, asciiBodies: true },
    keys,
    body: (tx, seq) => {
      const key = Buffer.from(keyOf(seq), 'utf8').toString('base64');
      return `{"key":"${key}","value":"${tx.base64}"}`;
    },
    parseReply: parseEtcdReply,
    height: readEtcdRaftIndex,
    watchTransactions: etcdTransactionWatcher(keys.prefix),
    probe: (endpoint, timeoutMs) =>
      probeRequest(
        joinUrl(endpoint.rpcUrl, '/v3/maintenance/status'),
        { method: 'POST', body: '{}', headers: JSON_HEADERS },
        timeoutMs,
        (status) => status === 200,
      ),
  };
}

/**
 * A member's raft index, its height for the resync time after a restart:
 * `POST /v3/maintenance/status {}` → `raftIndex` (the member's committed index, what
 * `etcdctl endpoint status` shows as RAFT INDEX; a uint64, as a string in the gateway's JSON).
 * Every member numbers the one log alike, so a restarted member has caught up when its
 * index reaches the others'.
 */
export async function readEtcdRaftIndex(
  endpoint: Endpoint,
  options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
): Promise<number> {
  const url = joinUrl(endpoint.rpcUrl, '/v3/maintenance/status');
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 1000)];
  if (options.signal) signals.push(options.signal);
  const response = await fetch(url, {
    method: 'POST',
    body: '{}',
    headers: JSON_HEADERS,
    signal: AbortSignal.any(signals),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST ${url}: HTTP ${response.status}`);
  const index = Number((parseJson(text) as { raftIndex?: unknown } | undefined)?.raftIndex);
  if (!Number.isSafeInteger(index) || index < 0) throw new Error(`POST ${url}: no raftIndex`);
  return index;
}

/** --etcd-key-pattern and its settings; a setting the pattern does not use is an error. */
function etcdKeysFrom(
  values: Readonly<Record<string, unknown>>,
  given: Readonly<Record<string, unknown>>,
): EtcdKeyPattern {
  const kind = values.etcdKeyPattern as EtcdKeyPatternKind;
  const usedBy: readonly (readonly [string, readonly string[]])[] = [
    ['etcdKeySpace', ['sequential', 'uniform', 'zipfian']],
    ['etcdKeySize', ['sequential', 'uniform', 'zipfian']],
    ['etcdZipfExponent', ['zipfian']],
  ];
  for (const [key, patterns] of usedBy) {
    if (values[key] !== undefined && !patterns.includes(kind)) {
      throw badFlag(
        settingFlag(key),
        given[key],
        `applies to --etcd-key-pattern ${patterns.join('|')} only (got ${kind}); ` +
          (kind === 'unique' ? 'unique keys are <prefix><run id>/<seq>; ' : '') +
          'leave it out or choose such a pattern',
      );
    }
  }
  if (kind === 'unique') return { kind };
  const keySpace = values.etcdKeySpace as number | undefined;
  const keySizeBytes = values.etcdKeySize as number | undefined;
  const exponent = values.etcdZipfExponent as number | undefined;
  const pattern: EtcdKeyPattern = {
    kind,
    ...(keySpace === undefined ? {} : { keySpace }),
    ...(keySizeBytes === undefined ? {} : { keySizeBytes }),
    ...(kind === 'zipfian' && exponent !== undefined ? { exponent } : {}),
  };
  const problem = checkEtcdKeyPattern(pattern);
  if (problem?.setting === 'keySizeBytes') throw badFlag('etcd-key-size', given.etcdKeySize, problem.rule);
  if (problem) throw new Error(`etcd key pattern not caught by the settings: ${problem.rule}`);
  return pattern;
}

/** etcd v3 through its JSON gateway. */
export const etcd: ProtocolDefinition<EtcdOptions> = {
  kind: 'etcd',
  settings: [
    {
      key: 'etcdKeyPrefix',
      describe: 'etcd: key prefix',
      defaultDescription: ETCD_KEY_DEFAULTS.prefix,
      parse: text('a non-empty key prefix', (value) => value.length > 0),
    },
    {
      key: 'etcdKeyPattern',
      describe:
        'etcd: unique (<prefix><run id>/<seq>: every put a new key) | sequential | uniform | zipfian (over --etcd-key-space keys)',
      defaultDescription: ETCD_KEY_DEFAULTS.pattern,
      default: ETCD_KEY_DEFAULTS.pattern,
      parse: oneOf(ETCD_KEY_PATTERNS),
    },
    {
      key: 'etcdKeySpace',
      describe: 'etcd: number of keys for sequential|uniform|zipfian',
      defaultDescription: String(ETCD_KEY_DEFAULTS.keySpace),
      parse: wholeNumber(1, MAX_ETCD_KEY_SPACE, 'keys'),
    },
    {
      key: 'etcdKeySize',
      describe: 'etcd: bytes of each key after the prefix (zero-padded index), sequential|uniform|zipfian',
      defaultDescription: `${ETCD_KEY_DEFAULTS.keySizeBytes}, or the digits of N-1`,
      parse: wholeNumber(1, MAX_ETCD_KEY_SIZE_BYTES, 'bytes'),
    },
    {
      key: 'etcdZipfExponent',
      describe: 'etcd: zipfian s, P(key k) ∝ (k+1)^-s',
      defaultDescription: String(ETCD_KEY_DEFAULTS.zipfExponent),
      parse: positiveNumber(MAX_ZIPF_EXPONENT, 'the exponent s'),
    },
  ],
  options: (values, given = values) => {
    const keyPrefix = values.etcdKeyPrefix as string | undefined;
    return {
      kind: 'etcd',
      ...(keyPrefix ? { keyPrefix } : {}),
      ...(values.etcdKeyPattern === undefined ? {} : { keys: etcdKeysFrom(values, given) }),
    };
  },
  check: (options) => {
    const problem = checkEtcdKeyPattern(options.keys, options.keyPrefix);
    if (!problem) return undefined;
    const name = problem.setting === 'pattern' ? 'key pattern' : `key ${problem.setting}`;
    return {
      message: `etcd ${name} ${JSON.stringify(problem.value)} is not allowed`,
      hint: `use ${problem.rule}`,
    };
  },
  create: (options, runId) => createEtcdProtocol(options, runId),
  confirmsCommits: false,
  readiness: () => httpProbe('/health'),
  defaultRpcPort: 2379,
};
