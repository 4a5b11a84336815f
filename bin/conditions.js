#!/usr/bin/env node
// Thin shim: the command lives in src/cli/conditions.ts. Like bin/local-network.js, it runs the
// esbuild bundle (dist/bundle/, scripts/bundle-cli.mjs: a third of the start-up CPU) when it
// was built, else the tsc output (dist/cli/).
import { existsSync } from 'node:fs';
import { runBin } from './run-bin.js';

const bundled = new URL('../dist/bundle/conditions.js', import.meta.url);
await runBin('conditions', () =>
  existsSync(bundled) ? import(bundled.href) : import('../dist/cli/conditions.js'),
);
