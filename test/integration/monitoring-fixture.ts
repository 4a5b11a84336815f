/**
 * A real Prometheus (Debian's `prometheus`, 2.42) and a real InfluxDB (Debian's `influxdb`,
 * 1.6) for the monitoring tests: each on loopback, on free ports, with its own config and
 * data in a temp folder, stopped (and its folder removed) by `stop()`. scripts/setup.sh
 * installs both (scripts/ensure-monitoring.sh).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

export interface Started {
  readonly url: string;
  readonly dir: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

async function waitFor(url: string, ok: (status: number) => boolean, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`exited (${child.exitCode}) before answering ${url}\n${log()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (ok(response.status)) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within 30 s\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function startProcess(command: string, args: readonly string[], dir: string) {
  const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  return { child, log: () => output, stop };
}

/** Prometheus scraping the generator's --metrics-port and, through its /sd/nodes, the nodes. */
export async function startPrometheus(generatorPort: number): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'meshbench-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 900ms',
    'scrape_configs:',
    '  - job_name: meshbench',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${generatorPort}']`,
    '  - job_name: nodes',
    '    http_sd_configs:',
    `      - url: http://127.0.0.1:${generatorPort}/sd/nodes`,
    '        refresh_interval: 1s',
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  const process = startProcess(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    dir,
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${url}/-/ready`, (status) => status === 200, process.child, process.log);
  } catch (error) {
    await process.stop();
    throw error;
  }
  return { url, dir, log: process.log, stop: process.stop };
}

/** InfluxDB 1.x with the database `meshbench` created. */
export async function startInflux(
  database = 'meshbench',
): Promise<Started & { query(q: string): Promise<unknown> }> {
  const dir = await mkdtemp(join(tmpdir(), 'meshbench-influx-'));
  const [port, rpcPort] = [await freePort(), await freePort()];
  const config = [
    'reporting-disabled = true',
    `bind-address = "127.0.0.1:${rpcPort}"`,
    '[meta]',
    `  dir = "${join(dir, 'meta')}"`,
    '[data]',
    `  dir = "${join(dir, 'data')}"`,
    `  wal-dir = "${join(dir, 'wal')}"`,
    '  query-log-enabled = false',
    '[http]',
    '  enabled = true',
    `  bind-address = "127.0.0.1:${port}"`,
    '  log-enabled = false',
    '[monitor]',
    '  store-enabled = false',
    '[continuous_queries]',
    '  enabled = false',
    '[subscriber]',
    '  enabled = false',
    '',
  ].join('\n');
  await writeFile(join(dir, 'influxdb.conf'), config);
  const process = startProcess('influxd', ['-config', join(dir, 'influxdb.conf')], dir);
  const url = `http://127.0.0.1:${port}`;
  const query = async (q: string): Promise<unknown> => {
    const response = await fetch(
      `${url}/query?${new URLSearchParams({ db: database, q, epoch: 'ms' }).toString()}`,
      {
        method: 'POST',
      },
    );
    return response.json();
  };
  try {
    await waitFor(`${url}/ping`, (status) => status === 204, process.child, process.log);
    await query(`CREATE DATABASE "${database}"`);
  } catch (error) {
    await process.stop();
    throw error;
  }
  return { url, dir, log: process.log, stop: process.stop, query };
}
