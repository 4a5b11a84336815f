/**
 * etcd v3 through its JSON gateway: `POST /v3/kv/put {"key": b64, "value": b64}`.
 * The value is the transaction (its size is --transaction-size); the key follows the
 * key pattern (etcd-keys.ts: by default unique per run, level and send).
 * The gateway answers errors as `{"error"|"message": …, "code": <grpc code>}` with a non-2xx status.
 */
import { etcdKeyMaker, summarizeEtcdKeys } from './etcd-keys.js';
import type { EtcdKeyPattern } from './etcd-keys.js';
import type { Protocol, ReplyOutcome } from './protocol.js';
import { joinUrl, parseJson, probeRequest } from './protocol.js';

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
  /** Default `unique`. */
  readonly keys?: EtcdKeyPattern;
}

/** `runId` is part of every unique key and seeds the random key choices. */
export function createEtcdProtocol(options: EtcdProtocolOptions, runId: string): Protocol {
  const keys = summarizeEtcdKeys(options.keys, options.keyPrefix, runId);
  const keyOf = etcdKeyMaker(keys, runId);
  return {
    kind: 'etcd',
    request: { method: 'POST', path: '/v3/kv/put', headers: JSON_HEADERS, asciiBodies: true },
    keys,
    body: (tx, seq) => {
      const key = Buffer.from(keyOf(seq), 'utf8').toString('base64');
      return `{"key":"${key}","value":"${tx.base64}"}`;
    },
    parseReply: parseEtcdReply,
    probe: (endpoint, timeoutMs) =>
      probeRequest(
        joinUrl(endpoint.rpcUrl, '/v3/maintenance/status'),
        { method: 'POST', body: '{}', headers: JSON_HEADERS },
        timeoutMs,
        (status) => status === 200,
      ),
  };
}
