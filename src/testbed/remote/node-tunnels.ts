/**
 * Nodes on a host behind a jump host cannot be reached from this machine: their RPC and metrics
 * ports are forwarded over the host's own SSH connection (like `ssh -L`), each from a listener
 * on 127.0.0.1 here, one `direct-tcpip` channel per TCP connection. The listeners close with the
 * SSH connection and never hold the process open.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Endpoint } from '../testbed.js';
import type { NodePlacement } from './placement.js';
import type { SshSession } from './ssh-session.js';

function listen(session: SshSession, address: string, port: number): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    socket.pause();
    session.forwardTcp(address, port).then(
      (channel) => {
        channel.on('error', () => socket.destroy());
        socket.on('close', () => channel.destroy());
        channel.on('close', () => socket.destroy());
        socket.pipe(channel).pipe(socket);
        socket.resume();
      },
      () => socket.destroy(),
    );
  });
  server.unref();
  session.onClose(() => {
    server.close();
    for (const socket of sockets) socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const bound = server.address();
      resolve(typeof bound === 'object' && bound ? bound.port : 0);
    });
  });
}

/**
 * The endpoint this machine uses for a node: unchanged for a host it reaches directly; for a host
 * behind a jump host, 127.0.0.1 ports forwarded over that host's SSH connection.
 */
export async function reachableEndpoint(
  session: SshSession,
  endpoint: Endpoint,
  placement: NodePlacement,
): Promise<Endpoint> {
  const host = session.host;
  if (!host.jumps?.length) return endpoint;
  const rpc = await listen(session, host.address, placement.ports.rpc);
  const metrics = await listen(session, host.address, placement.ports.metrics);
  return {
    ...endpoint,
    rpcUrl: `http://127.0.0.1:${rpc}`,
    wsUrl: `ws://127.0.0.1:${rpc}/websocket`,
    metricsUrl: `http://127.0.0.1:${metrics}/metrics`,
  };
}
