#!/usr/bin/env node
// Thin shim: the command lives in src/cli/conditions.ts (compiled to dist/).
import { runBin } from './run-bin.js';

await runBin('conditions', () => import('../dist/cli/conditions.js'));
