/**
 * A CometBFT node's backlog: `num_unconfirmed_txs` (its mempool), which the sweep polls
 * between load levels until every mempool is empty (src/bench/settle.ts). A node may
 * serve it as a URI route (GET /num_unconfirmed_txs) or only as JSON-RPC at its root;
 * the reading says which, so the next one asks the same way.
 */
import type { Endpoint } from './endpoint.js';
import { BacklogUnavailableError } from './protocol.js';
import type { BacklogProbe, BacklogReadOptions } from './protocol.js';

/** How a node answered the backlog question: the URI form (GET) or JSON-RPC (POST to the root). */
export type BacklogForm = 'uri' | 'jsonrpc';

const METHOD = 'num_unconfirmed_txs';
/** HTTP statuses that mean "no such method here", not "try again". */
const NO_SUCH_ROUTE = new Set([404, 405, 501]);
/** JSON-RPC: method not found, invalid request. */
const NO_SUCH_METHOD = new Set([-32601, -32600]);

/**
 * Reads one node's backlog (`n_txs`, else `total`). Throws BacklogUnavailableError when
 * the node answers but cannot report one, and a plain Error when it cannot be reached
 * or fails in a way that may pass (timeouts, 5xx).
 */
export async function readUnconfirmed(
  endpoint: Endpoint,
  options: BacklogReadOptions = {},
): Promise<{ count: number; form: BacklogForm }> {
  const doFetch = options.fetch ?? fetch;
  const base = endpoint.rpcUrl.endsWith('/') ? endpoint.rpcUrl : `${endpoint.rpcUrl}/`;
  const ask = async (form: BacklogForm) => {
    const signals = [AbortSignal.timeout(options.timeoutMs ?? 2000)];
    if (options.signal) signals.push(options.signal);
    const signal = AbortSignal.any(signals);
    const url = form === 'uri' ? new URL(METHOD, base) : new URL(base);
    const response =
      form === 'uri'
        ? await doFetch(url, { signal })
        : await doFetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ jsonrpc: '2.0', id: -1, method: METHOD, params: {} }),
            signal,
          });
    return { form, url, status: response.status, text: await response.text() };
  };
  const known: BacklogForm | undefined =
    options.form === 'uri' || options.form === 'jsonrpc' ? options.form : undefined;
  let reply = await ask(known ?? 'uri');
  // A server that speaks JSON-RPC only at its root: ask there before giving up.
  if (known === undefined && NO_SUCH_ROUTE.has(reply.status)) reply = await ask('jsonrpc');

  const where = `${reply.form === 'uri' ? 'GET' : 'POST'} ${reply.url.href}`;
  let body: unknown;
  try {
    body = JSON.parse(reply.text);
  } catch {
    body = undefined;
  }
  const error = (body as { error?: unknown } | undefined)?.error;
  if (error !== undefined && error !== null) {
    const code = Number((error as { code?: unknown }).code);
    const message = String((error as { message?: unknown }).message ?? JSON.stringify(error));
    if (NO_SUCH_METHOD.has(code) || /method not found|unknown method/i.test(message)) {
      throw new BacklogUnavailableError(`${where}: ${METHOD} is unknown here (${message})`);
    }
    throw new Error(`${where}: JSON-RPC error ${Number.isFinite(code) ? `${code} ` : ''}${message}`);
  }
  if (NO_SUCH_ROUTE.has(reply.status)) {
    throw new BacklogUnavailableError(`${where}: HTTP ${reply.status} (${METHOD} is not served)`);
  }
  if (reply.status < 200 || reply.status >= 300) throw new Error(`${where}: HTTP ${reply.status}`);
  const result = (body as { result?: { n_txs?: unknown; total?: unknown } } | undefined)?.result;
  const value = result?.n_txs ?? result?.total;
  const count = typeof value === 'number' || typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isInteger(count) || count < 0) {
    throw new BacklogUnavailableError(
      `${where}: the reply has no n_txs or total count (${body === undefined ? 'not JSON' : 'another shape'})`,
    );
  }
  return { count, form: reply.form };
}

/** CometBFT's backlog probe. */
export const cometbftBacklog: BacklogProbe = { read: readUnconfirmed };

/** A CometBFT node's height: GET /status → result.sync_info.latest_block_height. */
export async function readHeight(
  endpoint: Endpoint,
  options: { readonly timeoutMs?: number; readonly signal?: AbortSignal; readonly fetch?: typeof fetch } = {},
): Promise<number> {
  const doFetch = options.fetch ?? fetch;
  const base = endpoint.rpcUrl.endsWith('/') ? endpoint.rpcUrl : `${endpoint.rpcUrl}/`;
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 1000)];
  if (options.signal) signals.push(options.signal);
  const response = await doFetch(new URL('status', base), { signal: AbortSignal.any(signals) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${base}status: HTTP ${response.status}`);
  const body = JSON.parse(text) as { result?: { sync_info?: { latest_block_height?: unknown } } };
  const height = Number(body.result?.sync_info?.latest_block_height);
  if (!Number.isInteger(height) || height < 0) throw new Error(`GET ${base}status: no latest_block_height`);
  return height;
}
