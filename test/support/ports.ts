/**
 * Loopback ports for tests that must know a port before something listens on it (a node
 * restarted on its own port, a peer list, a dead endpoint). A port the kernel hands out with
 * listen(0) is an ephemeral one (32768-60999 here): closed and listened on again later, it may
 * meanwhile be the local port of some outgoing connection, and the unit tier runs 4 files at a
 * time, each connecting on loopback (EADDRINUSE, seen in CI). These come from below the
 * ephemeral range instead, from a band of their own per vitest worker, each checked free by
 * binding it.
 */
import { isPortFree } from '../../src/testbed/local/ports.js';

const BASE = 20_000;
const BAND = 1_500;
const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1) % 8;
let next = BASE + worker * BAND;

/** `count` ports free now on 127.0.0.1, outside the ephemeral range, not handed out before by this worker. */
export async function reservePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  const end = BASE + (worker + 1) * BAND;
  while (ports.length < count) {
    if (next >= end) next = BASE + worker * BAND; // wrapped: the band's early ports are long closed
    const port = next++;
    if (await isPortFree(port, '127.0.0.1')) ports.push(port);
  }
  return ports;
}
