#!/usr/bin/env node
// Thin shim: the command lives in src/cli/benchmark.ts (compiled to dist/).
import { runBin } from './run-bin.js';

await runBin('benchmark', () => import('../dist/cli/benchmark.js'));
