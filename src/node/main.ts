import { createServer } from 'node:http';

const port = Number(process.env.REFNODE_RPC_PORT ?? 26657);
const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ jsonrpc: '2.0', id: -1, result: {} }));
});
server.listen(port, '0.0.0.0');
const stop = (): void => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
