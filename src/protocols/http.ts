/**
 * A generic HTTP adapter: method, path, headers and a body template with `{{tx}}`
 * (the base64 tx) and `{{seq}}` (the sequence number). Success is a 2xx status and,
 * when `successJsonField` is set, that JSON field (dot path) being truthy.
 */
import type { Protocol, ReplyOutcome, RequestTemplate } from './protocol.js';
import { joinUrl, parseJson, probeRequest, readPath } from './protocol.js';

export interface HttpProtocolOptions {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly bodyTemplate: string;
  readonly successJsonField?: string;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export function parseHttpReply(statusCode: number, body: string, successJsonField?: string): ReplyOutcome {
  if (statusCode < 200 || statusCode >= 300) return { kind: 'httpError', status: statusCode };
  if (successJsonField === undefined) return { kind: 'ok' };
  const json = parseJson(body);
  if (json === undefined) return { kind: 'badResponse' };
  return readPath(json, successJsonField)
    ? { kind: 'ok' }
    : { kind: 'rejected', code: `field:${successJsonField}` };
}

export function createHttpProtocol(options: HttpProtocolOptions): Protocol {
  const method = options.method.toUpperCase() as RequestTemplate['method'];
  if (!METHODS.includes(method))
    throw new RangeError(`HTTP method ${options.method} is not one of ${METHODS.join(', ')}`);
  // Split the template once; each tx then costs one join.
  const parts = options.bodyTemplate.split(/(\{\{tx\}\}|\{\{seq\}\})/);
  const headers = { 'content-type': 'application/json', ...(options.headers ?? {}) };
  return {
    kind: 'http',
    request: { method, path: options.path, headers },
    body: (tx, seq) => {
      let out = '';
      for (const part of parts)
        out += part === '{{tx}}' ? tx.base64 : part === '{{seq}}' ? String(seq) : part;
      return out;
    },
    parseReply: (statusCode, body) => parseHttpReply(statusCode, body, options.successJsonField),
    probe: (endpoint, timeoutMs) =>
      probeRequest(joinUrl(endpoint.rpcUrl, '/'), { method: 'GET' }, timeoutMs, () => true),
  };
}
