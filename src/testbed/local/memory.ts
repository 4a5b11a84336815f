/**
 * The memory check before a committee starts: refuse a committee the machine
 * cannot hold, naming what it needs and what is free.
 */
import { readFile } from 'node:fs/promises';
import { freemem } from 'node:os';
import { MeshbenchError } from '../../common/errors.js';

/**
 * Memory one reference node needs, with headroom: measured resident set of an idle node is
 * about 60 MiB and grows with its mempool and block store under load (see
 * `npm run bench:local`). Override with MESHBENCH_NODE_MEMORY_MB.
 */
export const DEFAULT_NODE_MEMORY_BYTES = 256 * 1024 * 1024;
/** Kept free for the engine, the load generator and the rest of the machine. */
export const RESERVED_MEMORY_BYTES = 1024 * 1024 * 1024;

/** MemAvailable from /proc/meminfo (what can be used without swapping), else os.freemem(). */
export async function availableMemoryBytes(): Promise<number> {
  try {
    const text = await readFile('/proc/meminfo', 'utf8');
    const match = /^MemAvailable:\s+(\d+)\s+kB/m.exec(text);
    if (match?.[1]) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

export function nodeMemoryBytes(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const mb = Number(env.MESHBENCH_NODE_MEMORY_MB);
  return Number.isFinite(mb) && mb > 0 ? mb * 1024 * 1024 : DEFAULT_NODE_MEMORY_BYTES;
}

const mib = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MiB`;

/** The largest committee that fits in `availableBytes`. */
export function maxCommittee(availableBytes: number, perNodeBytes: number): number {
  return Math.max(0, Math.floor((availableBytes - RESERVED_MEMORY_BYTES) / perNodeBytes));
}

/** Throws RESOURCES when `nodes` nodes do not fit in the available memory. */
export function checkMemory(nodes: number, availableBytes: number, perNodeBytes: number): void {
  const needBytes = nodes * perNodeBytes + RESERVED_MEMORY_BYTES;
  if (needBytes <= availableBytes) return;
  const fits = maxCommittee(availableBytes, perNodeBytes);
  throw new MeshbenchError(
    'RESOURCES',
    `a committee of ${nodes} nodes needs about ${mib(needBytes)} of memory (${mib(perNodeBytes)} per node + ${mib(RESERVED_MEMORY_BYTES)} reserve) but only ${mib(availableBytes)} is available`,
    { hint: `use --committee ${fits} or less, or free memory` },
  );
}
