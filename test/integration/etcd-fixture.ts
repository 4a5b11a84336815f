/**
 * Real etcd for the etcd tests: a member started from Debian's etcd-server on
 * 127.0.0.1 (free ports, a temporary data dir), and counts read with etcdctl from
 * etcd-client, a client not written here. scripts/ensure-etcd.sh installs both.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A port nothing listens on now (the kernel's pick for port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** What etcd says about a key prefix: how many keys, and the store's revision. */
export interface KeyCount {
  readonly count: number;
  readonly revision: number;
}

/**
 * `etcdctl get --prefix P --keys-only --limit 1 -w json`: the reply's `count` is every
 * key under the prefix (etcdctl 3.4 has no --count-only), `header.revision` the store's.
 * `etcdctl` runs the given way: on this machine, or in a container (`docker exec`).
 */
export async function countKeys(
  etcdctl: (args: readonly string[]) => Promise<string>,
  prefix: string,
): Promise<KeyCount> {
  const out = await etcdctl(['get', '--prefix', prefix, '--keys-only', '--limit', '1', '-w', 'json']);
  // count is left out when 0; the cluster and member ids are 64-bit (read as strings here).
  const reply = JSON.parse(out.replace(/"(cluster_id|member_id)":(\d+)/g, '"$1":"$2"')) as {
    header: { revision: number };
    count?: number;
  };
  return { count: reply.count ?? 0, revision: reply.header.revision };
}

/** etcdctl on this machine against `clientUrl`. */
export function localEtcdctl(clientUrl: string): (args: readonly string[]) => Promise<string> {
  return async (args) =>
    (await run('etcdctl', ['--endpoints', clientUrl, ...args], { env: { ...process.env, ETCDCTL_API: '3' } }))
      .stdout;
}

/** etcdctl inside a container of the meshbench/etcd image. */
export function containerEtcdctl(container: string): (args: readonly string[]) => Promise<string> {
  return async (args) =>
    (await run('docker', ['exec', container, 'etcdctl', '--endpoints', 'http://127.0.0.1:2379', ...args]))
      .stdout;
}

export interface EtcdMember {
  readonly clientUrl: string;
  readonly etcdctl: (args: readonly string[]) => Promise<string>;
  /** The running process's id (undefined when it is not running). */
  pid(): number | undefined;
  /** Kills the process (SIGKILL: a crash, nothing flushed on the way out). */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data dir. */
  restart(): Promise<void>;
  /** Stops it and removes its data dir. */
  close(): Promise<void>;
}

/** One etcd member on 127.0.0.1, ready (GET /health says true) within `readyTimeoutMs`. */
export async function startEtcdMember(readyTimeoutMs = 20_000): Promise<EtcdMember> {
  const dataDir = await mkdtemp(join(tmpdir(), 'meshbench-etcd-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name=m0',
    `--data-dir=${join(dataDir, 'data')}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=m0=${peerUrl}`,
    '--log-level=error',
  ];
  let child: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    child = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    });
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${log}`);
      try {
        const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
        if (((await response.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline)
        throw new Error(`etcd at ${clientUrl} not healthy after ${readyTimeoutMs} ms: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stop = async (signal: NodeJS.Signals) => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill(signal);
    await exited;
  };
  try {
    await start();
  } catch (error) {
    // no caller holds the member to close it
    await stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    clientUrl,
    etcdctl: localEtcdctl(clientUrl),
    pid: () => (child && child.exitCode === null ? child.pid : undefined),
    kill: () => stop('SIGKILL'),
    restart: start,
    close: async () => {
      await stop('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
