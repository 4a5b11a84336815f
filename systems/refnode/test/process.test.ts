/** The refnode entry point as a real process: config errors, serving, graceful SIGTERM. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePorts, sleep } from './helpers.js';

const root = resolve(import.meta.dirname, '../../..');
const MAIN = ['--import', 'tsx', join(root, 'systems/refnode/src/main.ts')];

describe('refnode process', () => {
  it('exits 2 with one line on bad config', () => {
    const r = spawnSync(process.execPath, [...MAIN, '--id', 'node0', '--p2p-port', 'x'], {
      encoding: 'utf8',
      cwd: root,
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      "refnode: error: --p2p-port must be a whole number, got 'x'",
    ]);
    const missing = spawnSync(process.execPath, MAIN, {
      encoding: 'utf8',
      cwd: root,
      env: { ...process.env, REFNODE_ID: '' },
    });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--id (or REFNODE_ID) is required');
  });

  it('serves /health and /metrics and stops within 2 s on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'refnode-proc-'));
    const [rpc, p2p, metrics] = await freePorts(3);
    const child = spawn(process.execPath, [...MAIN, '--listen', '127.0.0.1', '--data-dir', dir], {
      cwd: root,
      env: {
        ...process.env,
        REFNODE_ID: 'solo',
        REFNODE_RPC_PORT: String(rpc),
        REFNODE_P2P_PORT: String(p2p),
        REFNODE_METRICS_PORT: String(metrics),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let health: Response | undefined;
      for (let i = 0; i < 100 && health === undefined; i++) {
        health = await fetch(`http://127.0.0.1:${rpc}/health`).catch(() => undefined);
        if (health === undefined) await sleep(100);
      }
      expect(health?.status).toBe(200);
      expect(await health?.json()).toEqual({ jsonrpc: '2.0', id: -1, result: {} });
      const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      for (const name of [
        'refnode_height',
        'refnode_committed_txs_total',
        'refnode_mempool_txs',
        'refnode_mempool_bytes',
        'refnode_block_interval_seconds',
        'refnode_peers',
        'refnode_view_changes_total',
      ]) {
        expect(text).toContain(name);
      }
      expect(await (await fetch(`http://127.0.0.1:${rpc}/metrics`)).text()).toContain('refnode_height');
      const started = Date.now();
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
