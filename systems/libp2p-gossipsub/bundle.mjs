// Bundles src/node.mjs and its npm dependencies into one file (dist/libp2p-node.js) for the
// lean image (scripts/build-images.sh libp2p). esbuild is the meshbench checkout's.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const { build } = createRequire(`${here}../../package.json`)('esbuild');
await build({
  entryPoints: [`${here}src/node.mjs`],
  outfile: `${here}dist/libp2p-node.js`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  legalComments: 'none',
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __meshbenchRequire } from 'node:module'; const require = __meshbenchRequire(import.meta.url);",
  },
});
console.log(`bundled ${here}dist/libp2p-node.js`);
