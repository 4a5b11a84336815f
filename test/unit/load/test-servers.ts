/**
 * Test servers on port 0 that count what they receive. A `reply` function decides
 * per request: status, body, delay, reset (destroy the socket) or hang (never answer).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';

export interface ReplyPlan {
  readonly status?: number;
  readonly body?: string;
  /** Answer this long after the request arrived (precise: timer, then setImmediate until due). */
  readonly delayMs?: number;
  /** Answer at this time (ms on the server's clock, `performance.now()` based), overrides delayMs. */
  readonly atMs?: number;
  readonly reset?: boolean;
  readonly hang?: boolean;
}

export interface ReceivedRequest {
  readonly index: number;
  readonly method: string;
  readonly url: string;
  /** Request headers (lower-case names, as node:http gives them). */
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly atMs: number;
}

export interface CountingServer {
  readonly url: string;
  /** Requests received (complete bodies). */
  readonly received: number;
  readonly requests: ReceivedRequest[];
  /** The server's clock (ms since it started), as used in ReceivedRequest.atMs. */
  nowMs(): number;
  readonly server: import('node:http').Server;
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
  let closed = false;
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
        headers: req.headers,
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
      const dueMs = plan.atMs ?? (plan.delayMs && plan.delayMs > 0 ? request.atMs + plan.delayMs : undefined);
      if (dueMs === undefined) {
        respond();
        return;
      }
      const spin = () => {
        if (closed) return;
        if (performance.now() - started >= dueMs) respond();
        else setImmediate(spin);
      };
      const coarseMs = dueMs - (performance.now() - started) - 2;
      if (coarseMs > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          spin();
        }, coarseMs);
        timers.add(timer);
      } else spin();
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
    nowMs: () => performance.now() - started,
    server,
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The latency a bare client measures against `url`: the reference a timing test holds the
 * generator to, run beside the generator (at the same moments, so on the same machine: a
 * reference measured before or after saw another load). It sends `warmup` requests, not
 * measured, then `count` CometBFT requests, `rate` per second evenly over `connections`
 * keep-alive connections, each sent at its due time (timer, then setImmediate until due).
 * No payload building, no histograms: what is left is this machine's own cost of a loopback
 * exchange with the server, which the generator cannot avoid either. Returns two medians, in
 * ms: from the moment the request went on the wire (`wire`, the reference for the
 * generator's uncorrected latency) and from its due time (`fromIntended`, the reference for
 * its corrected latency: a busy machine wakes a paced client late, and a correct open-loop
 * measurement counts that wait).
 */
export interface BareClientP50s {
  readonly wire: number;
  readonly fromIntended: number;
}

export interface BareClientOptions {
  readonly rate: number;
  readonly count: number;
  readonly connections: number;
  /** Paced requests sent first and not measured. */
  readonly warmup?: number;
}

const BARE_TX = Buffer.alloc(256, 0x61).toString('base64');
const BARE_BODY = `{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_async","params":{"tx":"${BARE_TX}"}}`;

/**
 * Sends `warmup + count` requests through `send` at their due times (undefined for a
 * warm-up), then waits for `settled` (every reply), at most 30 s.
 */
async function paced(
  name: string,
  options: BareClientOptions,
  send: (due: number | undefined) => void,
  settled: Promise<void>,
  answered: () => number,
): Promise<void> {
  const warmup = options.warmup ?? 0;
  const total = warmup + options.count;
  const intervalMs = 1000 / options.rate;
  const start = performance.now() + 5;
  for (let k = 0; k < total; k++) {
    const due = start + k * intervalMs;
    const coarse = due - performance.now() - 2;
    if (coarse > 0) await new Promise((resolve) => setTimeout(resolve, coarse));
    while (performance.now() < due) await new Promise((resolve) => setImmediate(resolve));
    send(k < warmup ? undefined : due);
  }
  let deadline: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      settled,
      new Promise<never>((_, reject) => {
        deadline = setTimeout(
          () => reject(new Error(`${name}: ${total - answered()} of ${total} replies missing after 30 s`)),
          30_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(deadline);
  }
}

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/**
 * Through plain sockets, for the raw transport: each request timed from just before its
 * `write` to the first bytes of its reply; no HTTP client.
 */
export async function bareClientP50s(url: string, options: BareClientOptions): Promise<BareClientP50s> {
  const { hostname, port } = new URL(url);
  const request =
    `POST / HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\n` +
    `content-length: ${BARE_BODY.length}\r\n\r\n${BARE_BODY}`;
  const sockets = await Promise.all(
    Array.from(
      { length: options.connections },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(Number(port), hostname, () => resolve(socket));
          socket.setNoDelay(true);
          socket.once('error', reject);
        }),
    ),
  );
  const total = (options.warmup ?? 0) + options.count;
  const latencies: number[] = [];
  const fromIntended: number[] = [];
  // Per socket, the send and due times of the requests not yet answered (oldest first; no due
  // time for a warm-up), and the text read since the last status line. A late reply lets the
  // next request on its socket go out first, and two replies can then arrive in one read: each
  // status line is one reply.
  const sentAt = sockets.map((): number[] => []);
  const dueAt = sockets.map((): (number | undefined)[] => []);
  const unread = sockets.map(() => '');
  let answered = 0;
  let allAnswered: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allAnswered = resolve));
  sockets.forEach((socket, i) =>
    socket.on('data', (chunk: Buffer) => {
      const now = performance.now();
      let text = (unread[i] as string) + chunk.toString('latin1');
      for (let at = text.indexOf('HTTP/1.1 '); at >= 0; at = text.indexOf('HTTP/1.1 ')) {
        const sent = (sentAt[i] as number[]).shift();
        const due = (dueAt[i] as (number | undefined)[]).shift();
        if (sent !== undefined && due !== undefined) {
          latencies.push(now - sent);
          fromIntended.push(now - due);
        }
        text = text.slice(at + 9);
        if (++answered === total) allAnswered();
      }
      unread[i] = text.slice(-8);
    }),
  );
  let k = 0;
  try {
    await paced(
      'bare client',
      options,
      (due) => {
        const i = k++ % sockets.length;
        (sentAt[i] as number[]).push(performance.now());
        (dueAt[i] as (number | undefined)[]).push(due);
        (sockets[i] as Socket).write(request, 'latin1');
      },
      done,
      () => answered,
    );
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  return { wire: median(latencies), fromIntended: median(fromIntended) };
}

/**
 * Through undici, for the undici transport: a `Pool` of `connections` keep-alive connections,
 * requests dispatched with undici's handler interface (as the transport does). `wire` is timed
 * from undici's `onRequestStart` (the transport's `onWire`). undici hands a dispatched request to
 * its socket in a later turn, and on a busy machine that handoff took 3 ms (CI, load 6-9): a cost
 * of the library, paid by any client that uses it, which this reference pays too.
 */
export async function bareUndiciP50s(url: string, options: BareClientOptions): Promise<BareClientP50s> {
  const pool = new Pool(url, { connections: options.connections, pipelining: 1 });
  const total = (options.warmup ?? 0) + options.count;
  const latencies: number[] = [];
  const fromIntended: number[] = [];
  let answered = 0;
  let failure: Error | undefined;
  let allAnswered: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allAnswered = resolve));
  try {
    await paced(
      'bare undici client',
      options,
      (due) => {
        let wiredAt = performance.now();
        pool.dispatch(
          { path: '/', method: 'POST', headers: ['content-type', 'application/json'], body: BARE_BODY },
          {
            onRequestStart: () => {
              wiredAt = performance.now();
            },
            onResponseEnd: () => {
              const now = performance.now();
              if (due !== undefined) {
                latencies.push(now - wiredAt);
                fromIntended.push(now - due);
              }
              if (++answered === total) allAnswered();
            },
            onResponseError: (_controller, error) => {
              failure ??= error;
              allAnswered();
            },
          } satisfies Dispatcher.DispatchHandler,
        );
      },
      done,
      () => answered,
    );
    if (failure) throw failure;
  } finally {
    await pool.destroy();
  }
  return { wire: median(latencies), fromIntended: median(fromIntended) };
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

/**
 * A CometBFT-like node for commit confirmation: JSON-RPC broadcast on POST /, `/tx?hash=`
 * for polling, and (unless `websocket` is false) `/websocket` with NewBlock events that
 * carry every tx `includeInBlock` accepts, one block per `blockIntervalMs`.
 */
export async function startCometbftNode(options: {
  blockIntervalMs?: number;
  includeInBlock?: (tx: Buffer) => boolean;
  websocket?: boolean;
}): Promise<
  CountingServer & {
    blockCount(): number;
    committedHashes: Set<string>;
    /** Each committed tx: ms from the node reading it to the block that carried it (this process's clock). */
    inclusionMs: number[];
  }
> {
  const { createHash } = await import('node:crypto');
  const { WebSocketServer } = await import('ws');
  const hashOf = (tx: Buffer) => createHash('sha256').update(tx).digest('hex').toUpperCase();
  /** Txs read and not yet in a block, each with when the node read it. */
  const pendingTxs: { tx: Buffer; readAtMs: number }[] = [];
  const committedHashes = new Set<string>();
  const inclusionMs: number[] = [];
  const server = await startCountingServer(
    (request) => {
      if (request.url.startsWith('/tx?hash=0x')) {
        const hash = request.url.slice('/tx?hash=0x'.length).toUpperCase();
        return committedHashes.has(hash)
          ? { body: `{"jsonrpc":"2.0","id":-1,"result":{"hash":"${hash}","height":"1"}}` }
          : {
              status: 500,
              body: `{"jsonrpc":"2.0","id":-1,"error":{"code":-32603,"message":"tx not found"}}`,
            };
      }
      if (request.method !== 'POST') return { status: 404, body: 'not found' };
      pendingTxs.push({ tx: txOf(request.body), readAtMs: performance.now() });
      return { body: cometbftOk(request.body) };
    },
    { keepRequests: true },
  );
  let blocks = 0;
  const wss =
    options.websocket === false
      ? undefined
      : new WebSocketServer({ server: server.server, path: '/websocket' });
  const subscribers = new Set<import('ws').WebSocket>();
  wss?.on('connection', (socket) => {
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { id: number; params?: { query?: string } };
      if (message.params?.query === "tm.event='NewBlock'") {
        subscribers.add(socket);
        socket.send(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: {} }));
      } else
        socket.send(
          JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'unknown' } }),
        );
    });
    socket.on('close', () => subscribers.delete(socket));
  });
  const timer = setInterval(() => {
    const included = pendingTxs.splice(0).filter(({ tx }) => options.includeInBlock?.(tx) ?? true);
    blocks++;
    const blockAtMs = performance.now();
    for (const { tx, readAtMs } of included) {
      committedHashes.add(hashOf(tx));
      inclusionMs.push(blockAtMs - readAtMs);
    }
    const event = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      result: {
        query: "tm.event='NewBlock'",
        data: {
          type: 'tendermint/event/NewBlock',
          value: {
            block: {
              header: { height: String(blocks) },
              data: { txs: included.map(({ tx }) => tx.toString('base64')) },
            },
          },
        },
      },
    });
    for (const socket of subscribers) socket.send(event);
  }, options.blockIntervalMs ?? 100);
  const close = server.close.bind(server);
  return Object.assign(server, {
    blockCount: () => blocks,
    committedHashes,
    inclusionMs,
    async close() {
      clearInterval(timer);
      for (const socket of subscribers) socket.terminate();
      wss?.close();
      await close();
    },
  });
}
