/**
 * Test servers on port 0 that count what they receive. A `reply` function decides
 * per request: status, body, delay, reset (destroy the socket) or hang (never answer).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReplyPlan {
  readonly status?: number;
  readonly body?: string;
  readonly delayMs?: number;
  readonly reset?: boolean;
  readonly hang?: boolean;
}

export interface ReceivedRequest {
  readonly index: number;
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly atMs: number;
}

export interface CountingServer {
  readonly url: string;
  /** Requests received (complete bodies). */
  readonly received: number;
  readonly requests: ReceivedRequest[];
  close(): Promise<void>;
}

export async function startCountingServer(
  reply: (request: ReceivedRequest) => ReplyPlan,
  options: { keepRequests?: boolean; ignorePaths?: readonly string[] } = {},
): Promise<CountingServer> {
  const requests: ReceivedRequest[] = [];
  let received = 0;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const started = performance.now();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      if (options.ignorePaths?.some((p) => path.startsWith(p))) {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"jsonrpc":"2.0","id":-1,"result":{}}');
        return;
      }
      const request: ReceivedRequest = {
        index: received,
        method: req.method ?? 'GET',
        url: path,
        body,
        atMs: performance.now() - started,
      };
      received++;
      if (options.keepRequests !== false) requests.push(request);
      const plan = reply(request);
      const respond = () => {
        if (plan.hang) return;
        if (plan.reset) {
          req.socket.destroy();
          return;
        }
        res.writeHead(plan.status ?? 200, { 'content-type': 'application/json' }).end(plan.body ?? '');
      };
      if (plan.delayMs && plan.delayMs > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          respond();
        }, plan.delayMs);
        timers.add(timer);
      } else respond();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get received() {
      return received;
    },
    requests,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A CometBFT-style reply to broadcast_tx_async/sync for the JSON-RPC request `body`. */
export function cometbftOk(body: string, code = 0): string {
  const id = /"id":(\d+)/.exec(body)?.[1] ?? '0';
  return `{"jsonrpc":"2.0","id":${id},"result":{"code":${code},"data":"","log":"","codespace":"","hash":"00"}}`;
}

/** The base64 tx inside a cometbft or etcd request body. */
export function txOf(body: string): Buffer {
  const json = JSON.parse(body) as { params?: { tx?: string }; value?: string };
  return Buffer.from(json.params?.tx ?? json.value ?? '', 'base64');
}
