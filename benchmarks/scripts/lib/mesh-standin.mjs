// A stand-in mesh network in one process, for bench:mesh: N nodes on loopback ports, each
// serving the mesh protocol (docs/mesh-protocol.md) at the least cost a node can: POST /publish
// answers 202 and puts one delivery event on every node's GET /deliveries stream at once (so a
// publish makes exactly N deliveries); GET /health is 200. It runs apart from the orchestrator,
// so its CPU is not counted as the orchestrator's. Prints {"ports":[…]} once every node listens.
//   node benchmarks/scripts/lib/mesh-standin.mjs N
import http from 'node:http';

const count = Number(process.argv[2] ?? 8);
const streams = Array.from({ length: count }, () => new Set());

function deliver(id, origin) {
  // with the node's time of it (`at`), as meshbench's own P2P systems send it
  const at = (performance.timeOrigin + performance.now()).toFixed(3);
  const line = `data: {"id":${JSON.stringify(id)},"origin":"${origin}","at":${at}}\n\n`;
  for (const subscribers of streams) for (const response of subscribers) response.write(line);
}

const servers = streams.map(
  (subscribers, index) =>
    new Promise((listening) => {
      const server = http.createServer((request, response) => {
        if (request.url === '/publish' && request.method === 'POST') {
          const chunks = [];
          request.on('data', (chunk) => chunks.push(chunk));
          request.on('end', () => {
            let id;
            try {
              id = String(JSON.parse(Buffer.concat(chunks).toString('utf8')).id);
            } catch {
              response.writeHead(400).end('bad publish');
              return;
            }
            response.writeHead(202).end();
            deliver(id, `node${index}`);
          });
        } else if (request.url === '/deliveries') {
          response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          response.write(': stand-in\n\n');
          subscribers.add(response);
          request.on('close', () => subscribers.delete(response));
        } else if (request.url === '/health') response.writeHead(200).end('{}');
        else response.writeHead(404).end('not found');
      });
      server.keepAliveTimeout = 60_000;
      server.listen(0, '127.0.0.1', () => listening(server.address().port));
    }),
);
process.stdout.write(`${JSON.stringify({ ports: await Promise.all(servers) })}\n`);
process.on('SIGTERM', () => process.exit(0));
