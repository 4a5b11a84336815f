#!/usr/bin/env node
// Bundles the reference node (systems/refnode/src/main.ts) into ONE file, dist/refnode/refnode.js
// at the repository's root, with every dependency inlined, so the node image needs only a
// `node` binary:
//   node dist/refnode/refnode.js --id node0 --peers node0@a:26656,node1@b:26656
import { build } from 'esbuild';
import { nodeEsmOptions } from '../../scripts/esbuild-node.mjs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const outfile = resolve(root, 'dist/refnode/refnode.js');
await mkdir(dirname(outfile), { recursive: true });

await build({
  entryPoints: [resolve(here, 'src/main.ts')],
  outfile,
  ...nodeEsmOptions('__refnodeCreateRequire'),
  // ws has optional native add-ons; without them it uses its JS fallbacks.
  external: ['bufferutil', 'utf-8-validate'],
});
process.stdout.write(`bundled ${outfile}\n`);
