import { describe, expect, it } from 'vitest';
import { MeshbenchError } from '../../../../src/common/errors.js';
import { demuxDockerBuffer } from '../../../../src/testbed/local/docker-engine.js';
import { statsFromEngine } from '../../../../src/testbed/docker/stats.js';
import { checkMemory, maxCommittee, RESERVED_MEMORY_BYTES } from '../../../../src/testbed/local/memory.js';
import { isPortFree } from '../../../../src/testbed/local/ports.js';
import { createServer } from 'node:net';

const MiB = 1024 * 1024;

describe('memory check', () => {
  it('lets a committee through that fits and refuses one that does not, naming need and free memory', () => {
    expect(() => checkMemory(4, 8192 * MiB, 256 * MiB)).not.toThrow();
    let caught: unknown;
    try {
      checkMemory(100, 4096 * MiB, 256 * MiB);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MeshbenchError);
    const error = caught as MeshbenchError;
    expect(error.code).toBe('RESOURCES');
    expect(error.message).toBe(
      'a committee of 100 nodes needs about 26624 MiB of memory (256 MiB per node + 1024 MiB reserve) but only 4096 MiB is available',
    );
    expect(error.hint).toBe('use --committee 12 or less, or free memory');
    expect(maxCommittee(RESERVED_MEMORY_BYTES - 1, 256 * MiB)).toBe(0);
  });
});

describe('engine helpers', () => {
  it('splits a multiplexed log buffer into stdout and stderr', () => {
    const frame = (kind: number, text: string) => {
      const body = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = kind;
      header.writeUInt32BE(body.length, 4);
      return Buffer.concat([header, body]);
    };
    expect(
      demuxDockerBuffer(Buffer.concat([frame(1, 'out1\n'), frame(2, 'err\n'), frame(1, 'out2\n')])),
    ).toEqual({
      stdout: 'out1\nout2\n',
      stderr: 'err\n',
    });
    expect(demuxDockerBuffer(Buffer.from('plain tty output\n'))).toEqual({
      stdout: 'plain tty output\n',
      stderr: '',
    });
  });

  it('computes CPU and memory like docker stats', () => {
    const stats = statsFromEngine('n0', {
      cpu_stats: { cpu_usage: { total_usage: 3_000 }, system_cpu_usage: 20_000, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 1_000 }, system_cpu_usage: 10_000 },
      memory_stats: { usage: 100 * MiB, limit: 1000 * MiB, stats: { inactive_file: 20 * MiB } },
      networks: { eth0: { rx_bytes: 5, tx_bytes: 7 }, eth1: { rx_bytes: 1, tx_bytes: 1 } },
    });
    expect(stats).toEqual({
      nodeId: 'n0',
      cpuPercent: 40,
      memoryBytes: 80 * MiB,
      memoryLimitBytes: 1000 * MiB,
      networkRxBytes: 6,
      networkTxBytes: 8,
    });
  });

  it('sees a port held by a listener', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    expect(await isPortFree(port, '127.0.0.1')).toBe(false);
    expect(await isPortFree(port, '')).toBe(false);
    await new Promise((resolve) => server.close(resolve));
    expect(await isPortFree(port, '127.0.0.1')).toBe(true);
  });
});
