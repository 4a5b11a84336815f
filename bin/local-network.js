#!/usr/bin/env node
// Thin shim: the command lives in src/cli/local-network.ts (bin/run-bin.js loads its bundle or tsc output).
import { runBin } from './run-bin.js';

await runBin('local-network');
