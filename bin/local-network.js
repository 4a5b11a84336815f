#!/usr/bin/env node
// Thin shim: the command lives in src/cli/local-network.ts (compiled to dist/).
import { runBin } from './run-bin.js';

await runBin('local-network', () => import('../dist/cli/local-network.js'));
