#!/usr/bin/env node
// Bundles the commands (src/cli/{local-network,benchmark,remote-network,conditions,sandbox}.ts)
// into dist/bundle/: each start-up path is one file instead of ~150-400 modules (yargs, yaml,
// our own). For local-network that saves 50-70 ms of module loading before the network starts
// (issue 4: start-to-ready); for benchmark, whose tsc output loads every plug-in, `--help` went
// from 2.1 to 0.7 s of CPU on this 2-core machine, paid by every run (the test suite starts
// it a few hundred times). Code loaded later (the load generator, the HTML report) goes to
// chunks next to them, and the load generator's worker thread is bundled beside them as
// dist/bundle/worker.js (src/load/index.ts starts it as new URL('./worker.js', import.meta.url)).
// The bin/ shims (bin/run-bin.js) prefer this bundle and fall back to dist/cli/<command>.js
// (tsc) when it is missing. ssh2 and gRPC stay package imports (dockerode's lazy seams: below).
//   node scripts/bundle-cli.mjs
import { build } from 'esbuild';
import { nodeEsmOptions } from './esbuild-node.mjs';
import { readFile, rm } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(root, 'dist/bundle');

/**
 * Modules that locate files through import.meta.url, and why their bundled place is right:
 * every output file sits directly in dist/bundle/, two levels below the root like dist/<dir>/.
 * Any other module using import.meta fails the build, so a new one cannot break silently.
 */
const IMPORT_META_ALLOWED = new Map([
  ['src/load/index.ts', "new URL('./worker.js') is the worker entry bundled beside it"],
  ['src/bench/environment.ts', "new URL('../../package.json') is the root's package.json"],
  ['src/testbed/sandbox/sandbox.ts', 'projectRoot(): packageRoot(), else three folders up'],
  ['src/common/package-root.ts', "packageRoot() looks upwards for meshbench's package.json"],
]);

/**
 * dockerode is bundled (into the chunk its dynamic import makes), but two of its modules load
 * what a local engine never uses: docker-modem's ./ssh requires ssh2 (for ssh:// engines) and
 * dockerode's ./session requires gRPC and protobufjs (for BuildKit builds). Loading them took
 * ~150 ms of CPU (231 modules, ssh2's crypto self-checks) while compose was starting the nodes on
 * this 2-core machine. Each seam below is one function the importer calls later; the plugin
 * gives the importer a stand-in that requires the real module at its first call (esbuild keeps
 * a bundled CommonJS module unevaluated until it is required).
 */
const LAZY_SEAMS = [
  // modem.js: `ssh = require('./ssh')`, called as ssh(options) for ssh:// engines only
  { importer: /docker-modem[\\/]lib[\\/]modem\.js$/, path: './ssh' },
  // docker.js: `withSession = require('./session')`, called for BuildKit builds only
  { importer: /dockerode[\\/]lib[\\/]docker\.js$/, path: './session' },
];

function lazySeams() {
  return {
    name: 'lazy-seams',
    setup(pluginBuild) {
      // only the seams' own paths reach the callback (esbuild calls into JS for each match)
      const paths = LAZY_SEAMS.map((seam) => seam.path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
      pluginBuild.onResolve({ filter: new RegExp(`^(?:${paths.join('|')})$`) }, async (args) => {
        if (args.pluginData?.real) return undefined;
        const seam = LAZY_SEAMS.find((s) => s.path === args.path && s.importer.test(args.importer));
        if (!seam) return undefined;
        const real = await pluginBuild.resolve(args.path, {
          resolveDir: args.resolveDir,
          kind: args.kind,
          pluginData: { real: true },
        });
        if (real.errors.length > 0) return { errors: real.errors };
        return { path: real.path, namespace: 'lazy-seam' };
      });
      pluginBuild.onLoad({ filter: /.*/, namespace: 'lazy-seam' }, (args) => ({
        contents: `let real;\nmodule.exports = function lazySeam() {\n  real ??= require(${JSON.stringify(args.path)});\n  return real.apply(this, arguments);\n};\n`,
        loader: 'js',
        resolveDir: dirname(args.path),
      }));
    },
  };
}

/**
 * zod's `z.locales` namespace holds its error messages in 64 languages (about 370 KB of the
 * ~750 KB zod puts in every command's start-up path, each compiled at start). meshbench speaks
 * English, which zod registers by itself from locales/en.js; the bundle's `z.locales` (and
 * `z.core.locales`) holds that one (`z.config(z.locales.xx())` is never called here).
 */
function englishOnlyZod() {
  return {
    name: 'english-only-zod',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
        // z.locales (classic/external.js) and z.core.locales (core/index.js)
        if (!/zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index)\.js$/.test(args.importer))
          return undefined;
        return { path: resolve(args.resolveDir, '../locales/en.js'), namespace: 'zod-locales' };
      });
      pluginBuild.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
        contents: `export { default as en } from ${JSON.stringify(args.path)};\n`,
        loader: 'js',
        resolveDir: dirname(args.path),
      }));
    },
  };
}

await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: {
    'local-network': 'src/cli/local-network.ts',
    benchmark: 'src/cli/benchmark.ts',
    'remote-network': 'src/cli/remote-network.ts',
    conditions: 'src/cli/conditions.ts',
    sandbox: 'src/cli/sandbox.ts',
    worker: 'src/load/worker.ts',
  },
  outdir,
  ...nodeEsmOptions('__meshbenchCreateRequire'),
  splitting: true,
  chunkNames: '[name]-[hash]',
  metafile: true,
  // ssh2 (and its optional native add-on) and gRPC stay in node_modules, loaded only through
  // LAZY_SEAMS; ws's add-ons are optional.
  external: ['ssh2', 'cpu-features', '@grpc/grpc-js', '@grpc/proto-loader', 'bufferutil', 'utf-8-validate'],
  plugins: [lazySeams(), englishOnlyZod()],
});

const offenders = [];
for (const input of Object.keys(result.metafile.inputs)) {
  if (!input.startsWith('src/') || IMPORT_META_ALLOWED.has(input)) continue;
  const text = await readFile(resolve(root, input), 'utf8');
  if (/import\.meta\b/.test(text)) offenders.push(input);
}
if (offenders.length > 0) {
  await rm(outdir, { recursive: true, force: true });
  process.stderr.write(
    `bundle-cli: ${offenders.join(', ')} use import.meta, whose URL changes when bundled; check the paths they build and add them to IMPORT_META_ALLOWED\n`,
  );
  process.exit(1);
}
// The commands (the unhashed entry points) by name; the chunks (shared and lazily loaded) by count.
const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
const entries = outputs.filter((file) => !/-[A-Z0-9]{8}\.js$/.test(file));
process.stdout.write(
  `bundled ${entries.join(', ')} and ${outputs.length - entries.length} chunks into ${relative(root, outdir)}/\n`,
);
