#!/usr/bin/env node
// Thin shim: the command lives in src/cli/local-network.ts. It runs the esbuild bundle
// (dist/bundle/, scripts/bundle-cli.mjs: one file to load, a faster start) when it was
// built, else the tsc output (dist/cli/).
import { existsSync } from 'node:fs';
import { runBin } from './run-bin.js';

const bundled = new URL('../dist/bundle/local-network.js', import.meta.url);
await runBin('local-network', () =>
  existsSync(bundled) ? import(bundled.href) : import('../dist/cli/local-network.js'),
);
