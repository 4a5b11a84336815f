// Bundles src/node.mjs and its npm dependencies (yjs, y-protocols, lib0) into one file
// (dist/crdt-node.js) for the lean image (scripts/build-images.sh crdt). esbuild is the
// meshbench checkout's.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const { build } = createRequire(`${here}../../package.json`)('esbuild');
await build({
  entryPoints: [`${here}src/node.mjs`],
  outfile: `${here}dist/crdt-node.js`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  legalComments: 'none',
  logLevel: 'warning',
});
console.log(`bundled ${here}dist/crdt-node.js`);
