/**
 * `conditions`: change a running benchmark's network conditions by hand, for quick
 * experiments (docs/conditions.md). The run serves a control endpoint while it has a
 * network (src/conditions/control.ts); each change lands on its timeline like a
 * scripted event and lasts until `conditions clear`.
 *   conditions show                                              the runs and their live changes
 *   conditions set '{ action: delay, nodes: node1, delay: 100ms }'   one event, as in a scenario, without a time
 *   conditions clear                                             every live change off
 * With several runs going, --run names one.
 */
import type { Argv } from 'yargs';
import { parse } from 'yaml';
import { MeshbenchError } from '../common/errors.js';
import { controlRequest, liveControls, type ControlAnnouncement } from '../conditions/control.js';
import { badFlag, runCli, type CliContext, type CliDefinition } from './run-cli.js';

export interface ConditionsArgs {
  readonly _: (string | number)[];
  readonly run?: string;
}

function options(argv: Argv): Argv<ConditionsArgs> {
  return argv
    .command('show', 'List the runs you can change and their live changes')
    .command(
      'set <event>',
      'Apply one event now: { action: delay|jitter|loss|bandwidth|link|partition, nodes|links, … }',
      (y) =>
        y.positional('event', {
          type: 'string',
          describe: "the event as YAML, e.g. '{ action: delay, nodes: node1, delay: 100ms }'",
        }),
    )
    .command('clear', 'Take every live change off')
    .demandCommand(1, 'say show, set or clear')
    .option('run', {
      type: 'string',
      describe: "The run to change: the benchmark's run id or its network's (default: the one running)",
    }) as unknown as Argv<ConditionsArgs>;
}

/** The `<event>` argument refused (exit 2, like a bad flag; it is not one, so no `--`). */
function badEvent(value: unknown, rule: string): MeshbenchError {
  return new MeshbenchError('BAD_FLAG', `event ${JSON.stringify(value)} is not valid: ${rule}`, {
    hint: 'see conditions set --help',
  });
}

/** `benchmark B's local network, ` when the announcement says. */
function ofBenchmark(entry: ControlAnnouncement): string {
  if (entry.benchmarkRunId === undefined) return '';
  return `benchmark ${entry.benchmarkRunId}'s ${entry.network ?? ''}${entry.network ? ' ' : ''}network, `;
}

/** A run as `--run` takes it: `net-id (benchmark bench-id)`. */
function named(entry: ControlAnnouncement): string {
  return entry.benchmarkRunId === undefined
    ? entry.runId
    : `${entry.runId} (benchmark ${entry.benchmarkRunId})`;
}

async function pick(runId: string | undefined): Promise<ControlAnnouncement> {
  const runs = await liveControls();
  if (runId !== undefined) {
    // the network's id, or the benchmark's (its run folder's): a benchmark runs one network at a time
    const run = runs.find((entry) => entry.runId === runId || entry.benchmarkRunId === runId);
    if (!run) {
      throw badFlag(
        'run',
        runId,
        runs.length > 0
          ? `no such run going; going: ${runs.map(named).join(', ')}`
          : 'no run with network conditions is going',
      );
    }
    return run;
  }
  if (runs.length === 0) {
    throw new MeshbenchError('BAD_CONDITIONS', 'no run with network conditions is going', {
      hint: 'start one: benchmark --scenario FILE (with network events), --zones FILE, or --live-conditions',
      exitCode: 1,
    });
  }
  if (runs.length > 1)
    throw badFlag(
      'run',
      undefined,
      `several runs are going (${runs.map(named).join(', ')}): name one with --run`,
    );
  return runs[0] as ControlAnnouncement;
}

async function run(args: ConditionsArgs, context: CliContext): Promise<number> {
  const command = String(args._[0] ?? '');
  if (command === 'show') {
    const runs = await liveControls();
    if (runs.length === 0) {
      context.stdout('no run with network conditions is going');
      return 0;
    }
    for (const entry of runs) {
      const state = await controlRequest(entry.socket, 'GET', '/state');
      const live = (state.body.live as string[] | undefined) ?? [];
      context.stdout(
        `${entry.runId} (${ofBenchmark(entry)}pid ${entry.pid}, nodes ${entry.nodes.join(', ')}): ${live.length === 0 ? 'no live changes' : live.join('; ')}`,
      );
    }
    return 0;
  }
  if (command === 'set' || command === 'clear') {
    const target = await pick(args.run);
    let body: unknown;
    if (command === 'set') {
      const text = String((args as unknown as { event?: unknown }).event ?? '');
      try {
        body = parse(text.trim().startsWith('{') ? text : `{ ${text} }`);
      } catch (error) {
        throw badEvent(
          text,
          `not a YAML mapping (${(error as Error).message.split('\n')[0]?.replace(/:$/, '')}); e.g. '{ action: delay, nodes: node1, delay: 100ms }'`,
        );
      }
    }
    const reply = await controlRequest(target.socket, 'POST', command === 'set' ? '/set' : '/clear', body);
    if (reply.status === 400) {
      throw badEvent((args as unknown as { event?: unknown }).event, String(reply.body.error));
    }
    if (reply.status !== 200) {
      throw new MeshbenchError(
        'BAD_CONDITIONS',
        `${target.runId}: ${String(reply.body.error ?? `status ${reply.status}`)}`,
        {
          hint: "see the run's own output",
          exitCode: 1,
        },
      );
    }
    context.stdout(`${target.runId}: ${String(reply.body.line)}`);
    return 0;
  }
  throw badFlag('command', command, 'show, set or clear');
}

export const conditionsCommand: CliDefinition<ConditionsArgs> = {
  positionals: true,
  name: 'conditions',
  usage:
    "$0 <show|set|clear> [options]\n\nChange a running benchmark's network conditions by hand (docs/conditions.md).",
  epilogue: "Example: conditions set '{ action: delay, nodes: node1, delay: 100ms }' && conditions clear",
  options,
  run,
};

export function main(argv: string[]): Promise<number> {
  return runCli(conditionsCommand, argv);
}
