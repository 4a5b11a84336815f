#!/usr/bin/env node
// Thin shim: the command lives in src/cli/sandbox.ts (compiled to dist/).
import { runBin } from './run-bin.js';

await runBin('sandbox', () => import('../dist/cli/sandbox.js'));
