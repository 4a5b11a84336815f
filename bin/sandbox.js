#!/usr/bin/env node
// Thin shim: the command lives in src/cli/sandbox.ts. Like bin/local-network.js, it runs the
// esbuild bundle (dist/bundle/, scripts/bundle-cli.mjs) when it was built, else the tsc
// output (dist/cli/).
import { existsSync } from 'node:fs';
import { runBin } from './run-bin.js';

const bundled = new URL('../dist/bundle/sandbox.js', import.meta.url);
await runBin('sandbox', () =>
  existsSync(bundled) ? import(bundled.href) : import('../dist/cli/sandbox.js'),
);
