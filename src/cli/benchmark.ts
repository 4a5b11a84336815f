/**
 * `benchmark` — one command for load sweeps on a local or remote network, attach
 * mode on a running one (`--endpoints URL[,URL...]`), and `benchmark compare A B`.
 *
 * Flags: src/cli/benchmark-options.ts; validation: src/bench/plan.ts; the run
 * (deploy or attach, levels, settle, files): src/bench/sweep.ts, via
 * src/bench/command.ts. This module only wires them into runCli.
 */
import { benchmarkDefinition } from './benchmark-command.js';
import { runCli } from './run-cli.js';

export const main = (argv: readonly string[]): Promise<number> => runCli(benchmarkDefinition(), argv);
