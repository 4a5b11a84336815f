/**
 * What CometBFT's `/websocket` says, read: the hashes of the txs a NewBlock or Tx event
 * carries, and where an endpoint's event stream is. Shared by commit confirmation
 * (cometbft.ts) and the propagation probes (cometbft-watch.ts).
 */
import type { Endpoint } from './endpoint.js';
import { joinUrl, readPath } from './protocol.js';
import { txHash } from './transaction.js';

/** Hashes of the txs a `/websocket` event message carries (NewBlock or Tx), or undefined for other messages. */
export function committedHashes(message: unknown): string[] | undefined {
  const data = readPath(message, 'result.data');
  if (data === undefined || data === null || typeof data !== 'object') return undefined;
  const type = (data as { type?: unknown }).type;
  if (type === 'tendermint/event/NewBlock') {
    // CometBFT sends `data: {txs: […]}`; its OpenAPI document draws `data` as the array itself.
    const blockData = readPath(data, 'value.block.data');
    const txs = Array.isArray(blockData) ? blockData : readPath(blockData, 'txs');
    if (!Array.isArray(txs)) return [];
    return txs
      .filter((tx): tx is string => typeof tx === 'string')
      .map((tx) => txHash(Buffer.from(tx, 'base64')));
  }
  if (type === 'tendermint/event/Tx') {
    const hashes = readPath(message, 'result.events');
    const fromEvents =
      hashes && typeof hashes === 'object' ? (hashes as Record<string, unknown>)['tx.hash'] : undefined;
    if (Array.isArray(fromEvents) && fromEvents.length > 0)
      return fromEvents.map((h) => String(h).toUpperCase());
    const tx = readPath(data, 'value.TxResult.tx');
    return typeof tx === 'string' ? [txHash(Buffer.from(tx, 'base64'))] : [];
  }
  return undefined;
}

export function websocketUrlFor(endpoint: Endpoint): string {
  if (endpoint.wsUrl) return endpoint.wsUrl;
  const url = new URL(joinUrl(endpoint.rpcUrl, '/websocket'));
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** Closes a websocket, and terminates it when the close handshake takes over a second. */
export async function closeSocket(socket: import('ws').WebSocket | undefined): Promise<void> {
  if (!socket || socket.readyState === socket.CLOSED) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, 1000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close();
  });
}
