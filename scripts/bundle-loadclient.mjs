#!/usr/bin/env node
// Bundles the load client (src/clients/main.ts) into dist/loadclient/loadclient.js and the
// generator's worker thread (src/load/worker.ts) beside it as worker.js, each one file with
// every dependency inlined, so the load client image needs only a `node` binary
// (scripts/build-images.sh loadclient). src/load/index.ts starts its workers as
// new URL('./worker.js', import.meta.url): beside loadclient.js.
import { build } from 'esbuild';
import { nodeEsmOptions } from './esbuild-node.mjs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(root, 'dist/loadclient');
await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

for (const [name, entry] of [
  ['loadclient', 'src/clients/main.ts'],
  ['worker', 'src/load/worker.ts'],
]) {
  await build({
    entryPoints: [resolve(root, entry)],
    outfile: resolve(outdir, `${name}.js`),
    ...nodeEsmOptions('__loadclientCreateRequire'),
    // ws's and dockerode's optional native add-ons; the client needs neither
    external: ['bufferutil', 'utf-8-validate', 'cpu-features'],
  });
}
process.stdout.write(`bundled ${outdir}/loadclient.js and worker.js\n`);
