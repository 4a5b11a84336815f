/**
 * A mesh of HTTP nodes in this process that serve the mesh contract (docs/mesh-protocol.md):
 * a publish on one node is delivered on every node's `/deliveries` stream, except on `deaf`
 * nodes; `noStream` nodes answer 404 there. With `stamp`, each event carries the delivery's
 * time (`at`), on a clock `clockSkewMs` ahead; with `lagMs`, events reach the streams that long after it (a slow link between
 * node and reader). For the protocol's and the mesh figures' tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackMeshOptions {
  readonly deaf?: number[];
  readonly noStream?: number[];
  /** Each event carries its delivery's time, `at` (this process's clock, ms since the epoch). */
  readonly stamp?: boolean;
  /** With `stamp`: the nodes' clock runs this far ahead of this process's (ms). */
  readonly clockSkewMs?: number;
  /** Events are written this long after the delivery. */
  readonly lagMs?: number;
  /** A new subscriber first gets every event the node wrote before (as crdt-sync replays its entries). */
  readonly replay?: boolean;
}

/** A mesh of `size` HTTP nodes in this process: a publish is delivered on every node except `deaf` ones. */
export class LoopbackMesh {
  readonly servers: http.Server[] = [];
  readonly streams = new Map<number, Set<http.ServerResponse>>();
  /** Each node's events so far (with `replay`). */
  readonly written = new Map<number, string[]>();
  published = 0;
  options: LoopbackMeshOptions = {};

  static async start(size: number, options: LoopbackMeshOptions = {}): Promise<LoopbackMesh> {
    const loop = new LoopbackMesh();
    loop.options = options;
    for (let index = 0; index < size; index++) {
      loop.streams.set(index, new Set());
      const server = http.createServer((request, response) => loop.handle(index, request, response, options));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      loop.servers.push(server);
    }
    return loop;
  }

  endpoints() {
    return this.servers.map((server, index) => ({
      nodeId: `node${index}`,
      rpcUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    }));
  }

  handle(
    index: number,
    request: http.IncomingMessage,
    response: http.ServerResponse,
    options: LoopbackMeshOptions,
  ): void {
    if (request.url === '/health') {
      response.end('ok');
      return;
    }
    if (request.url === '/deliveries' && !options.noStream?.includes(index)) {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      response.write(': hello\n\n');
      if (options.replay) for (const line of this.written.get(index) ?? []) response.write(line);
      this.streams.get(index)!.add(response);
      request.on('close', () => this.streams.get(index)!.delete(response));
      return;
    }
    if (request.url === '/publish' && request.method === 'POST') {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const { id } = JSON.parse(body) as { id: string };
        this.published++;
        response.writeHead(202).end();
        setImmediate(() => {
          const at = options.stamp
            ? `,"at":${(performance.timeOrigin + performance.now() + (options.clockSkewMs ?? 0)).toFixed(3)}`
            : '';
          const write = () => {
            const line = `data: {"id":"${id}","origin":"node${index}"${at}}\n\n`;
            for (const [node, subscribers] of this.streams) {
              if (options.deaf?.includes(node)) continue;
              if (options.replay) {
                const written = this.written.get(node) ?? [];
                written.push(line);
                this.written.set(node, written);
              }
              for (const subscriber of subscribers) subscriber.write(line);
            }
          };
          if (options.lagMs) setTimeout(write, options.lagMs);
          else write();
        });
      });
      return;
    }
    response.writeHead(404).end('not found');
  }

  async close(): Promise<void> {
    for (const subscribers of this.streams.values()) for (const response of subscribers) response.destroy();
    await Promise.all(this.servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
