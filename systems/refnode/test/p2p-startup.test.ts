/**
 * P2P start-up: a member announces itself to the members that dial it (one UDP datagram
 * with its id to their p2p port); a member that dials a peer not up yet keeps redialling
 * until it is, then connects both ways.
 */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { P2P } from '../src/p2p.js';
import { reservePorts } from '../../../test/support/ports.js';

const started: P2P[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p2p) => p2p.stop()));
});

function member(selfId: string, port: number, peers: { id: string; port: number }[], up: string[] = []) {
  const p2p = new P2P({
    selfId,
    peers: peers.map((peer) => ({ id: peer.id, host: '127.0.0.1', port: peer.port })),
    listenHost: '127.0.0.1',
    port,
    log: createLogger(selfId, 'error', () => undefined),
    onFrame: () => undefined,
    onPeerUp: (id) => up.push(id),
    onPeerDown: () => undefined,
  });
  started.push(p2p);
  return p2p;
}

/** A TCP port nobody listens on now. */
async function freePort(): Promise<number> {
  const [port] = await reservePorts(1);
  return port as number;
}

describe('P2P start-up', () => {
  it('announces itself with one datagram to each member with a smaller id, none to the others', async () => {
    const udp = createSocket('udp4');
    const received: string[] = [];
    udp.on('message', (message, from) => received.push(`${message.toString()} from ${from.address}`));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const smallerPort = udp.address().port;
    const biggerPort = await freePort();
    const self = member('n1', 0, [
      { id: 'n0', port: smallerPort },
      { id: 'n2', port: biggerPort },
    ]);
    await self.start();
    for (let tries = 0; tries < 100 && received.length === 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    udp.close();
    expect(received).toEqual(['n1 from 127.0.0.1']);
  });

  it('a dialler started before its peer connects once the peer listens', async () => {
    const portA = await freePort();
    const portB = await freePort();
    const peers = [
      { id: 'a', port: portA },
      { id: 'b', port: portB },
    ];
    const upA: string[] = [];
    const upB: string[] = [];
    await member('a', portA, peers, upA).start();
    // b comes up later; a dials it (a < b) and must keep trying meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await member('b', portB, peers, upB).start();
    for (let tries = 0; tries < 300 && (upA.length === 0 || upB.length === 0); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(upA).toEqual(['b']);
    expect(upB).toEqual(['a']);
  });
});
