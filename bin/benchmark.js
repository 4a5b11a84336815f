#!/usr/bin/env node
// Thin shim: the command lives in src/cli/benchmark.ts. Like bin/local-network.js, it runs the
// esbuild bundle (dist/bundle/, scripts/bundle-cli.mjs: a third of the start-up CPU) when it
// was built, else the tsc output (dist/cli/).
import { existsSync } from 'node:fs';
import { runBin } from './run-bin.js';

const bundled = new URL('../dist/bundle/benchmark.js', import.meta.url);
await runBin('benchmark', () =>
  existsSync(bundled) ? import(bundled.href) : import('../dist/cli/benchmark.js'),
);
