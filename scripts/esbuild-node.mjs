// The esbuild options both bundles share (systems/refnode/bundle.mjs, scripts/bundle-cli.mjs):
// one ESM file set for Node 20, unminified, no source maps, and a real `require` in the
// output, because some CommonJS dependencies call require() for node built-ins.
/** @param {string} requireAlias the name the banner gives createRequire (unique per bundle) */
export function nodeEsmOptions(requireAlias) {
  return {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    banner: {
      js: `import { createRequire as ${requireAlias} } from 'node:module'; const require = ${requireAlias}(import.meta.url);`,
    },
  };
}
