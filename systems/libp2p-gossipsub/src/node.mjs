// js-libp2p gossipsub behind meshbench's mesh protocol (docs/mesh-protocol.md):
// POST /publish → gossipsub publish on one topic; every message received on the topic, and
// every one published here, is an event on GET /deliveries; GET /health is 200 once its
// neighbours are in its gossip mesh (up to Dlo);
// GET /metrics is libp2p's Prometheus registry. Peers: MESHBENCH_PEERS (host:port, …) are
// dialled, with MESHBENCH_BOOTSTRAP as a fallback; each node's key is derived from its id, so
// a neighbour's peer id is known from its name (the host part of host:port, e.g. node1).
// A neighbour whose connection closes (libp2p's ping found it dead, or it restarted) is dialled
// again until it answers. MESH_PING_INTERVAL_MS / MESH_PING_TIMEOUT_MS set libp2p's connection
// monitor (defaults: libp2p's own, a ping every 10 s, at least 5 s to answer).
import './polyfill.mjs';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub } from '@chainsafe/libp2p-gossipsub';
import { identify } from '@libp2p/identify';
import { prometheusMetrics } from '@libp2p/prometheus-metrics';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { register } from 'prom-client';

const env = process.env;
const me = env.MESHBENCH_NODE_ID ?? env.REFNODE_ID ?? 'node0';
const rpcPort = Number(env.MESH_RPC_PORT ?? 8080);
const p2pPort = Number(env.MESH_P2P_PORT ?? 26656);
const TOPIC = env.MESH_TOPIC ?? 'meshbench';
const seedOf = (name) => createHash('sha256').update(`meshbench-libp2p/${name}`).digest();
const keyOf = (name) => generateKeyPairFromSeed('Ed25519', seedOf(name));
const list = (value) =>
  (value || '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
const peers = list(env.MESHBENCH_PEERS || env.MESHBENCH_BOOTSTRAP).filter(
  (peer) => !peer.startsWith(`${me}:`),
);
// MESHBENCH_PEER_IDS names the neighbours in MESHBENCH_PEERS' order; each edge is then dialled
// from the end whose id sorts first only (when both ends dialled, every edge was two
// connections: a hub of 32 leaves held 64). Without it, every neighbour is dialled.
const listed = list(env.MESHBENCH_PEERS);
const ids = list(env.MESHBENCH_PEER_IDS);
const idOf = new Map(ids.length === listed.length ? listed.map((peer, index) => [peer, ids[index]]) : []);
const dialsFromHere = (peer) => {
  const id = idOf.get(peer);
  return id === undefined || me < id;
};

/** A number from the environment, or undefined. */
const ms = (name) => (env[name] === undefined || env[name] === '' ? undefined : Number(env[name]));
const pingIntervalMs = ms('MESH_PING_INTERVAL_MS');
const pingTimeoutMs = ms('MESH_PING_TIMEOUT_MS');

const node = await createLibp2p({
  privateKey: await keyOf(me),
  addresses: { listen: [`/ip4/0.0.0.0/tcp/${p2pPort}`] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  metrics: prometheusMetrics(),
  connectionMonitor: {
    ...(pingIntervalMs !== undefined ? { pingInterval: pingIntervalMs } : {}),
    ...(pingTimeoutMs !== undefined
      ? { pingTimeout: { minTimeout: pingTimeoutMs, maxTimeout: pingTimeoutMs } }
      : {}),
  },
  services: {
    identify: identify(),
    // gossipsub's mesh degree: 6 (4-12) by default, but never pruning a neighbour meshbench told
    // it to dial, so a star's hub keeps every leaf in its mesh (with Dhi 12, a hub of 16 leaves
    // pruned 4 of them, which then got messages only by lazy gossip: 2 % delivered everywhere)
    pubsub: gossipsub({
      emitSelf: false,
      allowPublishToZeroTopicPeers: true,
      D: ms('MESH_GOSSIP_D') ?? 6,
      Dlo: ms('MESH_GOSSIP_DLO') ?? 4,
      Dhi: ms('MESH_GOSSIP_DHI') ?? Math.max(12, peers.length),
    }),
  },
});
const pubsub = node.services.pubsub;
pubsub.subscribe(TOPIC);
/**
 * /health's bar: every neighbour in the topic's mesh, up to Dlo (gossipsub grafts more at
 * each heartbeat while its mesh is below Dlo, and no more above it: a bar of D could be
 * reached never).
 */
const meshNeeded = Math.min(Math.max(peers.length, 1), ms('MESH_GOSSIP_DLO') ?? 4);

const subscribers = new Set();
/** A delivery event (docs/mesh-protocol.md), with this node's time of it: ms since the epoch, fractions kept. */
const deliver = (id, origin) => {
  const at = (performance.timeOrigin + performance.now()).toFixed(3);
  const line = `data: {"id":${JSON.stringify(id)},"origin":${JSON.stringify(origin)},"at":${at}}\n\n`;
  for (const response of subscribers) response.write(line);
};
// A message on the wire: origin length (1 byte), origin, id length (2 bytes), id, payload.
pubsub.addEventListener('message', ({ detail }) => {
  if (detail.topic !== TOPIC) return;
  const data = Buffer.from(detail.data);
  const originLength = data[0];
  const origin = data.subarray(1, 1 + originLength).toString('utf8');
  const idLength = data.readUInt16BE(1 + originLength);
  const id = data.subarray(3 + originLength, 3 + originLength + idLength).toString('utf8');
  deliver(id, origin);
});

// Neighbours by peer id; each is dialled (by one end: dialsFromHere) until it answers, and again
// whenever its last connection closes. A peer is `host:port` (a compose service, or a remote
// host's address) or `id@host:port`; the peer id is learnt from the handshake, so any address works.
const neighbours = new Map();
const dialling = new Set();
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
async function dial(peer) {
  if (dialling.has(peer)) return;
  dialling.add(peer);
  const address = peer.slice(peer.lastIndexOf('@') + 1);
  const colon = address.lastIndexOf(':');
  const host = env.MESH_DIAL_HOST ?? address.slice(0, colon);
  const port = address.slice(colon + 1);
  const target = multiaddr(`/${IPV4.test(host) ? 'ip4' : 'dns4'}/${host}/tcp/${port}`);
  try {
    while (node.status === 'started') {
      try {
        const connection = await node.dial(target);
        neighbours.set(connection.remotePeer.toString(), peer);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    dialling.delete(peer);
  }
}
node.addEventListener('peer:disconnect', ({ detail }) => {
  const peer = neighbours.get(detail.toString());
  if (peer !== undefined) void dial(peer);
});
for (const peer of peers) if (dialsFromHere(peer)) void dial(peer);

const readBody = (request) =>
  new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

http
  .createServer(async (request, response) => {
    if (request.url === '/health') {
      // Ready once its neighbours are in its gossip mesh for the topic (up to Dlo): a message
      // published before that reached only the peers whose subscription this node had heard
      // of, and was relayed by none (with ≥ 1 peer as the bar, 4 nodes missed 3 to 43 of the
      // first 200 publishes at some node).
      const connected = node.getPeers().length;
      const mesh = pubsub.getMeshPeers(TOPIC).length;
      const ready = connected > 0 && mesh >= meshNeeded;
      response
        .writeHead(ready ? 200 : 503)
        .end(JSON.stringify({ peers: connected, mesh, mesh_needed: meshNeeded }));
    } else if (request.url === '/deliveries') {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      response.write(': meshbench libp2p-gossipsub\n\n');
      subscribers.add(response);
      request.on('close', () => subscribers.delete(response));
    } else if (request.url === '/publish' && request.method === 'POST') {
      try {
        const { id, payload } = JSON.parse(await readBody(request));
        const origin = Buffer.from(me, 'utf8');
        const idBytes = Buffer.from(String(id), 'utf8');
        const head = Buffer.alloc(3 + origin.length + idBytes.length);
        head[0] = origin.length;
        origin.copy(head, 1);
        head.writeUInt16BE(idBytes.length, 1 + origin.length);
        idBytes.copy(head, 3 + origin.length);
        await pubsub.publish(TOPIC, Buffer.concat([head, Buffer.from(String(payload), 'base64')]));
        response.writeHead(202).end();
        deliver(String(id), me);
      } catch (error) {
        response.writeHead(500).end(String(error?.message ?? error));
      }
    } else if (request.url === '/metrics') {
      response.writeHead(200, { 'content-type': register.contentType }).end(await register.metrics());
    } else response.writeHead(404).end('not found');
  })
  .listen(rpcPort, '0.0.0.0');

const stop = async () => {
  for (const response of subscribers) response.end();
  await node.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
