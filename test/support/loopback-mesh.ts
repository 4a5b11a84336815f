/**
 * A mesh of HTTP nodes in this process that serve the mesh contract (docs/mesh-protocol.md):
 * a publish on one node is delivered on every node's `/deliveries` stream, except on `deaf`
 * nodes; `noStream` nodes answer 404 there. For the protocol's and the mesh figures' tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A mesh of `size` HTTP nodes in this process: a publish is delivered on every node except `deaf` ones. */
export class LoopbackMesh {
  readonly servers: http.Server[] = [];
  readonly streams = new Map<number, Set<http.ServerResponse>>();
  published = 0;
  options: { deaf?: number[]; noStream?: number[] } = {};

  static async start(
    size: number,
    options: { deaf?: number[]; noStream?: number[] } = {},
  ): Promise<LoopbackMesh> {
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
    options: { deaf?: number[]; noStream?: number[] },
  ): void {
    if (request.url === '/health') {
      response.end('ok');
      return;
    }
    if (request.url === '/deliveries' && !options.noStream?.includes(index)) {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      response.write(': hello\n\n');
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
          for (const [node, subscribers] of this.streams) {
            if (options.deaf?.includes(node)) continue;
            for (const subscriber of subscribers) {
              subscriber.write(`data: {"id":"${id}","origin":"node${index}"}\n\n`);
            }
          }
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
