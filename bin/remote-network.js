#!/usr/bin/env node
// Thin shim: the command lives in src/cli/remote-network.ts (compiled to dist/).
import { runBin } from './run-bin.js';

await runBin('remote-network', () => import('../dist/cli/remote-network.js'));
