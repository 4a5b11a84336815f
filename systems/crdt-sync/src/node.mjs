// A Ditto-like offline-first sync mesh on Yjs, behind meshbench's mesh protocol
// (docs/mesh-protocol.md). Every node holds one shared Yjs document; a publish writes an entry
// (its id → origin and payload) into the document's map, and a delivery is that entry appearing
// here, whether written here or merged from a neighbour. Neighbours (MESHBENCH_PEERS, else
// MESHBENCH_BOOTSTRAP: host:port, …) sync over TCP with the y-protocols sync protocol: on each
// connection both sides send their state vector (step 1) and answer with what the other lacks
// (step 2); after that every change goes to every neighbour as an update, and a node relays what
// it merges (Yjs drops what it already has, so the flood ends). A neighbour silent for 3 s is
// taken for gone (a partition does not close a TCP connection); the dialler redials every 0.5 s,
// and the next step 2 carries only what was missed: the resync, counted in /metrics against the
// size of the whole state (what a resend of everything would cost).
//
// HTTP on MESH_RPC_PORT (8080): POST /publish {"id","payload"} → 202 once written; GET /deliveries
// → one Server-Sent Event per entry that appears (those already held first, on connect); GET /health → 200 with ≥ 1 neighbour;
// GET /metrics → Prometheus text (entries, neighbours, sync bytes, resyncs, process figures).
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';

const env = process.env;
const me = env.MESHBENCH_NODE_ID ?? 'node0';
const rpcPort = Number(env.MESH_RPC_PORT ?? 8080);
const p2pPort = Number(env.MESH_P2P_PORT ?? 26656);
const SILENT_MS = Number(env.CRDT_SILENT_MS ?? 3000);
const peers = (env.MESHBENCH_PEERS || env.MESHBENCH_BOOTSTRAP || '')
  .split(',')
  .map((peer) => peer.trim())
  .filter((peer) => peer !== '' && !peer.startsWith(`${me}:`));

const doc = new Y.Doc();
const entries = doc.getMap('entries');

// Channels of a frame (4-byte length, then the channel byte, then its body).
const SYNC = 0;
const HEARTBEAT = 1;
const KINDS = ['step1', 'step2', 'update'];

const stats = {
  sent: { step1: 0, step2: 0, update: 0 },
  received: { step1: 0, step2: 0, update: 0 },
  resyncs: 0,
  resyncBytes: 0,
  resyncFullStateBytes: 0,
  lastResyncBytes: 0,
  lastResyncFullStateBytes: 0,
};

/** Bytes of an unsigned integer in lib0's variable-length encoding (7 bits a byte). */
function varUintBytes(value) {
  let bytes = 1;
  while (value > 127) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}

/**
 * The size of the whole state as one update (`Y.encodeStateAsUpdate(doc).length`), kept as the
 * document grows instead of encoding it: that encode walks every entry (88 ms at 20,000 entries
 * here) and ran at every /metrics scrape and every catch-up, stalling the node it measured. Each
 * count encodes only what changed since the last one (an update from the last state vector,
 * about 1 ms) and adds its entries' bytes; the client headers (struct count, client id, first
 * clock) and the delete set, which the whole state holds once, are computed, not summed. Exact
 * while every struct is one clock long, as each map entry is (checked against the whole encode at
 * every count over 11,800 entries from 4 clients merged in batches); an overwritten entry shrinks
 * its old struct, so a changed delete set counts once from the whole state.
 */
const stateSize = {
  /** The state vector at the last count, encoded and as client → clock. */
  encoded: Y.encodeStateVector(new Y.Doc()),
  vector: new Map(),
  /** The delete set at the last count, as the whole state writes it. */
  deletes: Buffer.from([0]),
  itemBytes: 0,
  bytes() {
    const encoded = Y.encodeStateVector(doc);
    const now = Y.decodeStateVector(encoded);
    // [0 clients][the delete set]: the delete set as the whole state writes it
    const deletes = Y.encodeStateAsUpdate(doc, encoded);
    const deleteSetBytes = deletes.length - 1;
    const changed = [...now].filter(([client, clock]) => clock > (this.vector.get(client) ?? 0));
    if (!Buffer.from(deletes).equals(this.deletes)) {
      // An entry was overwritten: its old struct shrank (Yjs keeps a deleted struct's length, not its
      // content), so count again from the whole state. Publishes of new ids never do this.
      this.deletes = Buffer.from(deletes);
      this.itemBytes = Y.encodeStateAsUpdate(doc).length - this.headerBytesOf(now) - deleteSetBytes;
    } else if (changed.length > 0) {
      const update = Y.encodeStateAsUpdate(doc, this.encoded);
      let headers = varUintBytes(changed.length);
      for (const [client, clock] of changed) {
        const from = this.vector.get(client) ?? 0;
        headers += varUintBytes(clock - from) + varUintBytes(client) + varUintBytes(from);
      }
      this.itemBytes += update.length - headers - deleteSetBytes;
    }
    this.encoded = encoded;
    this.vector = now;
    return this.headerBytesOf(now) + this.itemBytes + deleteSetBytes;
  },
  /** The whole state's client headers: how many clients; per client its struct count, id and first clock (0). */
  headerBytesOf(vector) {
    let bytes = varUintBytes(vector.size);
    for (const [client, clock] of vector) bytes += varUintBytes(clock) + varUintBytes(client) + 1;
    return bytes;
  },
};

/** Open connections to neighbours: socket → state. */
const links = new Map();

function frame(channel, body) {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt32BE(1 + body.length, 0);
  out[4] = channel;
  out.set(body, 5);
  return out;
}

function sendSync(link, message) {
  if (link.socket.destroyed) return;
  const kind = KINDS[message[0]] ?? 'update';
  stats.sent[kind] += message.length;
  link.socket.write(frame(SYNC, message));
}

function open(socket, dialled) {
  const link = { socket, dialled, buffer: Buffer.alloc(0), lastSeen: Date.now(), live: false, synced: false };
  links.set(socket, link);
  socket.setNoDelay(true);
  socket.on('data', (chunk) => receive(link, chunk));
  socket.on('error', () => socket.destroy());
  socket.on('close', () => links.delete(socket));
  const encoder = encoding.createEncoder();
  syncProtocol.writeSyncStep1(encoder, doc);
  sendSync(link, encoding.toUint8Array(encoder));
}

function receive(link, chunk) {
  link.lastSeen = Date.now();
  link.buffer = link.buffer.length === 0 ? chunk : Buffer.concat([link.buffer, chunk]);
  while (link.buffer.length >= 4) {
    const length = link.buffer.readUInt32BE(0);
    if (link.buffer.length < 4 + length) return;
    const body = link.buffer.subarray(5, 4 + length);
    const channel = link.buffer[4];
    link.buffer = link.buffer.subarray(4 + length);
    if (channel === SYNC && body.length > 0) onSync(link, body);
  }
}

function onSync(link, body) {
  const kind = KINDS[body[0]] ?? 'update';
  stats.received[kind] += body.length;
  const reply = encoding.createEncoder();
  syncProtocol.readSyncMessage(decoding.createDecoder(body), reply, doc, link);
  if (encoding.length(reply) > 0) sendSync(link, encoding.toUint8Array(reply));
  // Its step 1 answered with all it lacked: from now on every change goes to it as an update.
  if (kind === 'step1') link.live = true;
  if (kind === 'step2' && !link.synced) {
    link.synced = true;
    // What this connection's catch-up carried, against resending the whole state.
    const full = stateSize.bytes();
    stats.resyncs += 1;
    stats.resyncBytes += body.length;
    stats.resyncFullStateBytes += full;
    stats.lastResyncBytes = body.length;
    stats.lastResyncFullStateBytes = full;
  }
}

// Every change, made here or merged from a neighbour, goes to every other neighbour.
doc.on('update', (update, origin) => {
  const encoder = encoding.createEncoder();
  syncProtocol.writeUpdate(encoder, update);
  const message = encoding.toUint8Array(encoder);
  for (const link of links.values()) if (link !== origin && link.live) sendSync(link, message);
});

function dial(peer) {
  const [name, port] = peer.split(':');
  const host = env.MESH_DIAL_HOST ?? name;
  const socket = net.connect({ host, port: Number(port) });
  let done = false;
  const again = () => {
    if (done) return;
    done = true;
    setTimeout(() => dial(peer), 500).unref();
  };
  socket.setTimeout(2000, () => socket.destroy());
  socket.once('connect', () => {
    socket.setTimeout(0);
    open(socket, true);
  });
  socket.once('close', again);
  socket.once('error', () => socket.destroy());
}

net
  .createServer((socket) => open(socket, false))
  .listen(p2pPort, '0.0.0.0', () => {
    for (const peer of peers) dial(peer);
  });

// Heartbeats: a partition drops packets and closes nothing, so silence ends a link.
setInterval(() => {
  const now = Date.now();
  for (const link of links.values()) {
    if (now - link.lastSeen > SILENT_MS) link.socket.destroy();
    else link.socket.write(frame(HEARTBEAT, Buffer.alloc(0)));
  }
}, 1000).unref();

const subscribers = new Set();
/** When each entry reached this node: this clock's ms since the epoch, fractions kept. */
const deliveredAt = new Map();
const epochMs = () => (performance.timeOrigin + performance.now()).toFixed(3);
/** The delivery event of an entry (docs/mesh-protocol.md), with this node's time of it. */
const eventOf = (id, entry) => {
  const at = deliveredAt.get(id);
  return `data: {"id":${JSON.stringify(id)},"origin":${JSON.stringify(entry?.o ?? '')}${at === undefined ? '' : `,"at":${at}`}}\n\n`;
};
entries.observe((event) => {
  const at = epochMs();
  for (const [id, change] of event.changes.keys) {
    if (change.action !== 'add') continue;
    deliveredAt.set(id, at);
    const line = eventOf(id, entries.get(id));
    for (const response of subscribers) response.write(line);
  }
});

const readBody = (request) =>
  new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

function residentBytes() {
  try {
    const pages = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
    return pages * 4096;
  } catch {
    return process.memoryUsage().rss;
  }
}

function metrics() {
  const lines = [];
  const metric = (name, type, help, samples) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const connected = [...links.values()].filter((link) => link.synced).length;
  metric('crdt_entries', 'gauge', 'Entries in the shared document.', [['', entries.size]]);
  metric('crdt_peers', 'gauge', 'Neighbours synced with now.', [['', connected]]);
  metric('crdt_state_bytes', 'gauge', 'Size of the whole state as one update (what a full resend costs).', [
    ['', stateSize.bytes()],
  ]);
  const bytes = [];
  for (const direction of ['sent', 'received'])
    for (const kind of KINDS)
      bytes.push([`{direction="${direction}",kind="${kind}"}`, stats[direction][kind]]);
  metric('crdt_sync_bytes_total', 'counter', 'Sync protocol bytes by direction and message kind.', bytes);
  metric('crdt_resyncs_total', 'counter', 'Connections whose catch-up (step 2) was received.', [
    ['', stats.resyncs],
  ]);
  metric('crdt_resync_bytes_total', 'counter', 'Bytes of those catch-ups.', [['', stats.resyncBytes]]);
  metric('crdt_resync_full_state_bytes_total', 'counter', 'Size of the whole state at each catch-up.', [
    ['', stats.resyncFullStateBytes],
  ]);
  metric('crdt_last_resync_bytes', 'gauge', 'Bytes of the latest catch-up.', [['', stats.lastResyncBytes]]);
  metric('crdt_last_resync_full_state_bytes', 'gauge', 'Size of the whole state at the latest catch-up.', [
    ['', stats.lastResyncFullStateBytes],
  ]);
  const cpu = process.cpuUsage();
  metric('process_cpu_seconds_total', 'counter', 'User and system CPU time.', [
    ['', (cpu.user + cpu.system) / 1e6],
  ]);
  metric('process_resident_memory_bytes', 'gauge', 'Resident memory.', [['', residentBytes()]]);
  return `${lines.join('\n')}\n`;
}

http
  .createServer(async (request, response) => {
    if (request.url === '/health') {
      const count = [...links.values()].filter((link) => link.synced).length;
      response.writeHead(count > 0 ? 200 : 503).end(JSON.stringify({ peers: count }));
    } else if (request.url === '/deliveries') {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      response.write(': meshbench crdt-sync\n\n');
      // What this node already holds, first (the contract lets a node replay): a node that
      // restarted and caught up before meshbench's stream reconnected shows its catch-up.
      for (const [id, entry] of entries) response.write(eventOf(id, entry));
      subscribers.add(response);
      request.on('close', () => subscribers.delete(response));
    } else if (request.url === '/publish' && request.method === 'POST') {
      try {
        const { id, payload } = JSON.parse(await readBody(request));
        if (typeof id !== 'string' || id === '') throw new Error('"id" must be a non-empty string');
        doc.transact(() => entries.set(id, { o: me, p: typeof payload === 'string' ? payload : '' }));
        response.writeHead(202).end();
      } catch (error) {
        response.writeHead(400).end(String(error?.message ?? error));
      }
    } else if (request.url === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics());
    } else response.writeHead(404).end('not found');
  })
  .listen(rpcPort, '0.0.0.0');

const stop = () => {
  for (const response of subscribers) response.end();
  for (const link of links.values()) link.socket.destroy();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
