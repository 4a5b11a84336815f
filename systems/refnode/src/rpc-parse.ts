/**
 * Parsing of CometBFT-style RPC requests: JSON-RPC 2.0 bodies (single or batch) and URI
 * query arguments. Pure functions: no I/O, never throw on any input (fuzzed in tests).
 */
export const RPC_CODES = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
} as const;

const MESSAGES: Record<number, string> = {
  [-32700]: 'Parse error. Invalid JSON',
  [-32600]: 'Invalid Request',
  [-32601]: 'Method not found',
  [-32602]: 'Invalid params',
  [-32603]: 'Internal error',
};

export type RpcId = string | number | null;

export class RpcError extends Error {
  readonly code: number;
  readonly data: string;

  constructor(code: number, data: string) {
    super(MESSAGES[code] ?? 'Server error');
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }

  toJSON(): { code: number; message: string; data: string } {
    return { code: this.code, message: this.message, data: this.data };
  }
}

export interface RpcRequest {
  readonly id: RpcId;
  readonly method: string;
  /** Named params (positional ones are mapped by the method's parameter names). */
  readonly params: Readonly<Record<string, unknown>> | readonly unknown[];
}

/** One entry of a parsed body: a request, or an error to answer with that id. */
export type ParsedEntry = { ok: true; request: RpcRequest } | { ok: false; id: RpcId; error: RpcError };

export type ParsedBody =
  | { kind: 'single'; entry: ParsedEntry }
  | { kind: 'batch'; entries: ParsedEntry[] }
  | { kind: 'error'; error: RpcError };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validId(value: unknown): value is RpcId {
  return value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

export function parseRequestObject(value: unknown): ParsedEntry {
  if (!isRecord(value))
    return {
      ok: false,
      id: null,
      error: new RpcError(RPC_CODES.invalidRequest, 'request must be a JSON object'),
    };
  const id: RpcId = validId(value.id) ? value.id : null;
  if (value.id !== undefined && !validId(value.id)) {
    return {
      ok: false,
      id: null,
      error: new RpcError(RPC_CODES.invalidRequest, 'id must be a string, a number or null'),
    };
  }
  if (value.jsonrpc !== undefined && value.jsonrpc !== '2.0') {
    return { ok: false, id, error: new RpcError(RPC_CODES.invalidRequest, `jsonrpc must be "2.0"`) };
  }
  if (typeof value.method !== 'string' || value.method === '') {
    return {
      ok: false,
      id,
      error: new RpcError(RPC_CODES.invalidRequest, 'method must be a non-empty string'),
    };
  }
  const params = value.params;
  if (params !== undefined && params !== null && !isRecord(params) && !Array.isArray(params)) {
    return {
      ok: false,
      id,
      error: new RpcError(RPC_CODES.invalidParams, 'params must be an object or an array'),
    };
  }
  return { ok: true, request: { id, method: value.method, params: (params ?? {}) as RpcRequest['params'] } };
}

export function parseJsonRpcBody(text: string, maxBatchSize: number): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return {
      kind: 'error',
      error: new RpcError(RPC_CODES.parseError, `error unmarshaling request: ${(err as Error).message}`),
    };
  }
  if (Array.isArray(value)) {
    if (value.length === 0)
      return { kind: 'error', error: new RpcError(RPC_CODES.invalidRequest, 'empty batch') };
    if (value.length > maxBatchSize) {
      return {
        kind: 'error',
        error: new RpcError(
          RPC_CODES.invalidRequest,
          `batch of ${value.length} requests exceeds the maximum of ${maxBatchSize}`,
        ),
      };
    }
    return { kind: 'batch', entries: value.map(parseRequestObject) };
  }
  return { kind: 'single', entry: parseRequestObject(value) };
}

/** Maps positional params onto names, or returns the named params as they are. */
export function namedParams(params: RpcRequest['params'], names: readonly string[]): Record<string, unknown> {
  if (!Array.isArray(params)) return params as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  names.forEach((name, i) => {
    if (i < params.length) out[name] = params[i];
  });
  return out;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** A JSON-RPC []byte argument: standard base64, as CometBFT's JSON encoding of bytes. */
export function decodeBase64Param(name: string, value: unknown): Buffer {
  if (typeof value !== 'string')
    throw new RpcError(RPC_CODES.invalidParams, `${name} must be a base64 string`);
  if (!BASE64.test(value)) throw new RpcError(RPC_CODES.invalidParams, `${name} is not valid base64`);
  return Buffer.from(value, 'base64');
}

/**
 * A URI []byte argument as CometBFT reads it: `0x`-prefixed hex, or a "quoted string"
 * (its UTF-8 bytes, JSON escapes allowed).
 */
export function decodeUriBytes(name: string, raw: string): Buffer {
  if (raw.startsWith('0x') || raw.startsWith('0X')) {
    const hex = raw.slice(2);
    if (!HEX.test(hex))
      throw new RpcError(
        RPC_CODES.invalidParams,
        `${name}: '0x' must be followed by an even number of hex digits`,
      );
    return Buffer.from(hex, 'hex');
  }
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
    let text: unknown;
    try {
      text = JSON.parse(raw);
    } catch {
      throw new RpcError(RPC_CODES.invalidParams, `${name}: bad quoted string`);
    }
    return Buffer.from(String(text), 'utf8');
  }
  throw new RpcError(RPC_CODES.invalidParams, `${name} must be 0x-prefixed hex or a "quoted string"`);
}

/** A tx hash argument: 64 hex digits (optionally 0x-prefixed) or base64 of 32 bytes. Returns uppercase hex. */
export function decodeHashParam(value: unknown, form: 'json' | 'uri'): string {
  if (typeof value !== 'string') throw new RpcError(RPC_CODES.invalidParams, 'hash must be a string');
  let text = value;
  if (form === 'uri' && text.length >= 2 && text.startsWith('"') && text.endsWith('"'))
    text = text.slice(1, -1);
  const hex = text.startsWith('0x') || text.startsWith('0X') ? text.slice(2) : text;
  if (/^[0-9a-fA-F]{64}$/.test(hex)) return hex.toUpperCase();
  if (BASE64.test(text)) {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length === 32) return bytes.toString('hex').toUpperCase();
  }
  throw new RpcError(
    RPC_CODES.invalidParams,
    'hash must be 64 hex digits (0x optional) or base64 of 32 bytes',
  );
}

/** Parses a URL query string into raw (percent-decoded) values; never throws. */
export function parseQuery(search: string): Map<string, string> {
  const out = new Map<string, string>();
  const text = search.startsWith('?') ? search.slice(1) : search;
  if (text === '') return out;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = safeDecode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : safeDecode(part.slice(eq + 1));
    if (key !== undefined && value !== undefined && !out.has(key)) out.set(key, value);
  }
  return out;
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

/**
 * Event query (`tm.event='Tx' AND tx.hash='AB…'`): conditions `key = 'value'`, `key = number` or
 * `key CONTAINS 'text'`, joined by AND (CometBFT's query language, in part).
 */
export type EventQuery = readonly EventCondition[];

export interface EventCondition {
  readonly key: string;
  readonly value: string;
  /** `key CONTAINS 'value'`: a substring of one of the key's values (absent: equal to one). */
  readonly contains?: true;
}

export function parseEventQuery(query: unknown): EventQuery {
  if (typeof query !== 'string' || query.trim() === '')
    throw new RpcError(RPC_CODES.invalidParams, 'query must be a non-empty string');
  if (query.length > 512) throw new RpcError(RPC_CODES.invalidParams, 'query longer than 512 characters');
  const conditions: EventCondition[] = [];
  for (const part of query.split(/\s+AND\s+/i)) {
    const m = /^\s*([A-Za-z0-9_.]+)\s*(?:=\s*(?:'([^']*)'|(-?\d+))|\s+CONTAINS\s+'([^']*)')\s*$/i.exec(part);
    if (m === null)
      throw new RpcError(
        RPC_CODES.invalidParams,
        `failed to parse query: unsupported condition '${part.trim()}'`,
      );
    const key = m[1] as string;
    if (m[4] !== undefined) conditions.push({ key, value: m[4], contains: true });
    else conditions.push({ key, value: (m[2] ?? m[3]) as string });
  }
  return conditions;
}

export function matchesQuery(
  query: EventQuery,
  events: Readonly<Record<string, readonly string[]>>,
): boolean {
  for (const { key, value, contains } of query) {
    const values = events[key];
    if (values === undefined) return false;
    if (contains ? !values.some((v) => v.includes(value)) : !values.includes(value)) return false;
  }
  return true;
}
