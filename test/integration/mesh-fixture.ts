/**
 * What the mesh integration files share: a system's image built before a file's tests and a
 * scratch folder, one system's compose file run by `benchmark --protocol mesh` as users run it,
 * its first record read back, and the check that a full mesh of 4 delivered every message
 * everywhere with a complete 4×4 matrix.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect } from 'vitest';
import type { MeshBlock } from '../../src/monitor/mesh/monitor.js';
import { ROOT, runBin, type BinResult } from './run-bin.js';

/**
 * For one test file: the system's image (`scripts/build-images.sh libp2p|crdt`: built when its
 * recipe changed, seconds when it did not) and a scratch folder, before its tests; the folder
 * is removed after them. Returns the folder (read it inside a test).
 */
export function useMeshSystem(images: 'libp2p' | 'crdt', name: string): () => string {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `meshbench-${name}-it-`));
    await promisify(execFile)('bash', ['scripts/build-images.sh', images], { cwd: ROOT, timeout: 180_000 });
  }, 200_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => dir;
}

export const MESH_NODES = ['node0', 'node1', 'node2', 'node3'];

/**
 * A network command's summary: every message a node accepted was committed (delivered to every
 * node), with no commit timeout. Not the scheduled count: on a starved machine the generator
 * gives up a few sends it could not make on time (CI: 14 of 400), which no node saw.
 */
export function expectEveryAcceptedCommitted(stdout: string): void {
  const successful = Number(/Successful: +(\d+)/.exec(stdout)?.[1]);
  expect(successful, stdout).toBeGreaterThan(0);
  expect(Number(/Committed: +(\d+)/.exec(stdout)?.[1]), stdout).toBe(successful);
  expect(stdout).toMatch(/Committed: .*, 0 commit timeouts\)/);
}

/** The first record of the one run folder under `output` (of the local network, or the remote one). */
export async function firstRecord<T>(output: string, network: 'local' | 'remote' = 'local'): Promise<T> {
  const [runDir] = await readdir(output);
  return JSON.parse(
    await readFile(join(output, runDir as string, `${network}-benchmark-1.json`), 'utf8'),
  ) as T;
}

/** `benchmark --protocol mesh` on a system's compose file: 100 msg/s for 10 s, then its mesh block. */
export async function runFullMesh(
  composeFile: string,
  output: string,
): Promise<{ run: BinResult; block: MeshBlock }> {
  const run = await runBin('benchmark', [
    '--docker-compose-path',
    composeFile,
    '--protocol',
    'mesh',
    '--local-loads',
    '100',
    '--duration',
    '10',
    '--cleanup',
    '--output-dir',
    output,
  ]);
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
  expect(run.stdout).toMatch(/mesh delivery p50 ms/);
  const record = await firstRecord<{ runs: { blocks?: { mesh?: MeshBlock } }[] }>(output);
  const block = record.runs[0]?.blocks?.mesh;
  if (!block) throw new Error(`no mesh block in the record\n${run.stdout}`);
  return { run, block };
}

/** Every message on all 4 nodes, none acked missing, and a p50 and p99 in every cell of the matrix. */
export function expectCompleteMesh(block: MeshBlock): void {
  // On a busy machine some publish replies time out although the node published the
  // message: every message seen must be on every node, and none acked may be missing.
  process.stdout.write(`    acked ${block.published} of 1000 publishes, ${block.messages} delivered\n`);
  const published = block.published ?? 0;
  // a floor that keeps the checks below from passing on nothing, not a rate: a starved machine
  // (2 busy loops beside CI) acked 444
  expect(published).toBeGreaterThanOrEqual(200);
  expect(block.messages).toBeGreaterThanOrEqual(published);
  expect(block.never_delivered).toBe(0);
  expect(block.delivered_everywhere).toBe(block.messages);
  expect(block.receivers.map((receiver) => [receiver.node, receiver.delivered, receiver.missing])).toEqual(
    MESH_NODES.map((node) => [node, block.messages, 0]),
  );
  expect(block.pairs).toHaveLength(12);
  for (const pair of block.pairs) {
    expect(pair.count, `${pair.from}→${pair.to}`).toBeGreaterThanOrEqual(20);
    expect(pair.p50_ms, `${pair.from}→${pair.to}`).not.toBeNull();
    expect(pair.p99_ms! >= pair.p50_ms!).toBe(true);
  }
  expect(block.errors).toBeUndefined();
}
