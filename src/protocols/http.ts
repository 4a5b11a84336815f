/**
 * A generic HTTP adapter: method, path, headers and a body template with `{{tx}}`
 * (the base64 tx) and `{{seq}}` (the sequence number). Success is a 2xx status and,
 * when `successJsonField` is set, that JSON field (dot path) being truthy.
 */
import { badFlag } from '../common/errors.js';
import type { Protocol, ProtocolDefinition, ReplyOutcome, RequestTemplate } from './protocol.js';
import { joinUrl, parseJson, probeRequest, readPath } from './protocol.js';
import { httpProbe } from './readiness.js';
import { text } from './settings.js';

export interface HttpProtocolOptions {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly bodyTemplate: string;
  readonly successJsonField?: string;
}

export type HttpOptions = {
  readonly kind: 'http';
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Body template; `{{tx}}` becomes the base64 tx, `{{seq}}` the sequence number. */
  readonly bodyTemplate: string;
  /** Success is 2xx, and, when set, this JSON field (dot path) being truthy. */
  readonly successJsonField?: string;
};

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** What an http run sends when its settings do not say. */
export const HTTP_DEFAULTS = {
  method: 'POST',
  path: '/',
  bodyTemplate: '{"tx":"{{tx}}","seq":{{seq}}}',
} as const;

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
    repliesConfirmCommit: false,
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

/** `Name: value` headers (from repeated --http-header) → a header map, names lower-cased. */
function parseHeaders(given: unknown): Record<string, string> {
  const headers: Record<string, string> = {};
  const list = given === undefined ? [] : Array.isArray(given) ? (given as unknown[]) : [given];
  for (const header of list.map(String)) {
    const colon = header.indexOf(':');
    const name = colon > 0 ? header.slice(0, colon).trim() : '';
    if (name === '' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw badFlag('http-header', header, 'a header as "Name: value" (repeat the flag for more)');
    }
    headers[name.toLowerCase()] = header.slice(colon + 1).trim();
  }
  return headers;
}

/** Any HTTP service, described by method, path, headers and a body template. */
export const http: ProtocolDefinition<HttpOptions> = {
  kind: 'http',
  settings: [
    {
      key: 'httpMethod',
      describe: 'http: request method (GET, POST, PUT, PATCH, DELETE)',
      defaultDescription: HTTP_DEFAULTS.method,
      parse: text(
        `one of ${METHODS.join(', ')}`,
        (value) => (METHODS as readonly string[]).includes(value),
        (value) => value.trim().toUpperCase(),
      ),
    },
    {
      key: 'httpPath',
      describe: 'http: request path',
      defaultDescription: HTTP_DEFAULTS.path,
      parse: text('a request path starting with /', (value) => value.startsWith('/')),
    },
    {
      key: 'httpBody',
      describe: 'http: body template with {{tx}} (base64 tx) and {{seq}}',
      defaultDescription: HTTP_DEFAULTS.bodyTemplate,
      parse: text('a non-empty body template ({{tx}}, {{seq}})', (value) => value.length > 0),
    },
    {
      key: 'httpHeader',
      describe: 'http: extra header "Name: value" (repeatable)',
      repeatable: true,
      // Judged as a whole by `options` (each header names itself in the error).
      parse: (value) => ({ value }),
    },
    {
      key: 'httpSuccessField',
      describe: 'http: JSON field (dot path) that must be truthy, besides 2xx',
      parse: text(
        'a JSON field (dot path)',
        (value) => value.length > 0,
        (value) => value.trim(),
      ),
    },
  ],
  options: (values) => {
    const successJsonField = values.httpSuccessField as string | undefined;
    return {
      kind: 'http',
      method: (values.httpMethod as string | undefined) ?? HTTP_DEFAULTS.method,
      path: (values.httpPath as string | undefined) ?? HTTP_DEFAULTS.path,
      headers: parseHeaders(values.httpHeader),
      bodyTemplate: (values.httpBody as string | undefined) ?? HTTP_DEFAULTS.bodyTemplate,
      ...(successJsonField ? { successJsonField } : {}),
    };
  },
  create: (options) => createHttpProtocol(options),
  mixFields: {
    fields: { method: `one of ${METHODS.join(', ')}`, route: 'a request path starting with /' },
    apply: (base, fields) => {
      const method = fields.method === undefined ? base.method : String(fields.method).trim().toUpperCase();
      if (!(METHODS as readonly string[]).includes(method))
        return { field: 'method', rule: `one of ${METHODS.join(', ')}` };
      const route = fields.route === undefined ? base.path : fields.route;
      if (typeof route !== 'string' || !route.startsWith('/'))
        return { field: 'route', rule: 'a request path starting with /' };
      return { ...base, method, path: route };
    },
  },
  confirmsCommits: false,
  readiness: () => httpProbe('/'),
  defaultRpcPort: 80,
  anyService: true,
};
