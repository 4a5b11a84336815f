/**
 * `benchmark --interactive`: the settings step by step through inquirer, with the
 * defaults on empty input, each answer checked by the same rules as the flags,
 * a summary of the configuration, and a confirmation. Ctrl-C or "no" cancels
 * before anything is deployed.
 */
import { existsSync } from 'node:fs';
import inquirer from 'inquirer';
import { MAX_TRANSACTION_SIZE_BYTES } from '../common/defaults.js';
import { formatError } from '../common/errors.js';
import {
  buildBenchmarkPlan,
  DEFAULTS,
  parseLoadList,
  type BenchmarkInput,
  type BenchmarkPlan,
} from '../bench/plan.js';
import { describePlan } from '../report/text.js';

/** The three kinds of question the wizard asks; tests and other front ends may supply their own. */
export interface Asker {
  text(message: string, defaultValue: string, validate: (value: string) => true | string): Promise<string>;
  choose(message: string, choices: readonly string[], defaultValue: string): Promise<string>;
  yesNo(message: string, defaultValue: boolean): Promise<boolean>;
}

export interface WizardStreams {
  readonly input?: NodeJS.ReadableStream;
  readonly output?: NodeJS.WritableStream;
}

/** An Asker on inquirer 12 (its own prompt module, so streams can be given). */
export function inquirerAsker(streams: WizardStreams = {}): Asker {
  const prompt = inquirer.createPromptModule({
    ...(streams.input ? { input: streams.input } : {}),
    ...(streams.output ? { output: streams.output } : {}),
  } as Parameters<typeof inquirer.createPromptModule>[0]);
  const ask = async <T>(question: Record<string, unknown>): Promise<T> => {
    const answers = (await (prompt as unknown as (q: unknown[]) => Promise<Record<string, unknown>>)([
      { ...question, name: 'value' },
    ])) as { value: T };
    return answers.value;
  };
  return {
    text: (message, defaultValue, validate) =>
      ask<string>({ type: 'input', message, default: defaultValue, validate }),
    choose: (message, choices, defaultValue) =>
      ask<string>({ type: 'list', message, choices: [...choices], default: defaultValue }),
    yesNo: (message, defaultValue) => ask<boolean>({ type: 'confirm', message, default: defaultValue }),
  };
}

export type WizardOutcome =
  | { readonly kind: 'run'; readonly plan: BenchmarkPlan; readonly input: BenchmarkInput }
  | { readonly kind: 'cancelled'; readonly reason: 'declined' | 'interrupted' };

export interface WizardOptions {
  readonly asker: Asker;
  readonly say: (text: string) => void;
  /** Starting values (e.g. flags given next to --interactive). */
  readonly initial?: BenchmarkInput;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

const SANDBOX_HOSTS = '.meshbench/sandbox/hosts.env';

function wholeNumberRule(min: number, max: number, unit: string) {
  return (value: string): true | string => {
    const number = Number(value.trim());
    return value.trim() !== '' && Number.isInteger(number) && number >= min && number <= max
      ? true
      : `enter a whole number of ${unit} from ${min} to ${max}`;
  };
}

function loadsRule(value: string): true | string {
  try {
    parseLoadList('loads', value);
    return true;
  } catch (error) {
    // The flag's message without the flag: "load 100 appears twice; a comma-separated list …".
    return error instanceof Error ? error.message.replace(/^--loads ".*" is not valid: /, '') : String(error);
  }
}

export async function runBenchmarkWizard(options: WizardOptions): Promise<WizardOutcome> {
  const { asker, say } = options;
  const initial = options.initial ?? {};
  const env = options.env ?? process.env;
  try {
    for (;;) {
      const networkType = await asker.choose(
        'Network type',
        ['local', 'remote', 'both'],
        String(initial.networkType ?? DEFAULTS.networkType),
      );
      const remote = networkType !== 'local';
      let hostsFile: string | undefined;
      // absent for a local network (where the plan refuses it) and for one node per host
      let nodesPerHost: string | undefined;
      if (remote) {
        const suggested = initial.hostsFile ?? (existsSync(SANDBOX_HOSTS) ? SANDBOX_HOSTS : '');
        hostsFile = await asker.text(
          env.MYSTICETI_NODE0_HOST
            ? 'Hosts file (empty: use the MYSTICETI_NODE{n}_* environment)'
            : 'Hosts file',
          suggested,
          (value) =>
            value.trim() === ''
              ? env.MYSTICETI_NODE0_HOST
                ? true
                : 'remote needs hosts: give a hosts file (npm run sandbox -- up writes one)'
              : existsSync(value.trim())
                ? true
                : `no file at ${value.trim()}`,
        );
        hostsFile = hostsFile.trim() === '' ? undefined : hostsFile.trim();
        const packed = await asker.text(
          'Nodes per remote host',
          String(initial.nodesPerHost ?? 1),
          wholeNumberRule(1, 50, 'nodes'),
        );
        nodesPerHost = Number(packed.trim()) === 1 ? undefined : packed.trim();
      }
      const committee =
        networkType !== 'remote'
          ? await asker.text(
              'Committee size (nodes)',
              String(initial.committee ?? DEFAULTS.committee),
              wholeNumberRule(1, 100, 'nodes'),
            )
          : undefined;
      const duration = await asker.text(
        'Duration per load level, seconds',
        String(initial.duration ?? DEFAULTS.durationSecs),
        wholeNumberRule(1, 7 * 24 * 3600, 'seconds'),
      );
      const localLoads =
        networkType !== 'remote'
          ? await asker.text(
              'Local loads, tx/s (comma-separated)',
              String(initial.localLoads ?? DEFAULTS.localLoads.join(',')),
              loadsRule,
            )
          : undefined;
      const remoteLoads = remote
        ? await asker.text(
            'Remote loads, tx/s (comma-separated)',
            String(initial.remoteLoads ?? DEFAULTS.remoteLoads.join(',')),
            loadsRule,
          )
        : undefined;
      const transactionSize = await asker.text(
        'Transaction size, bytes',
        String(initial.transactionSize ?? DEFAULTS.transactionSizeBytes),
        wholeNumberRule(1, MAX_TRANSACTION_SIZE_BYTES, 'bytes'),
      );
      const runs = await asker.text(
        'Runs per load level',
        String(initial.runs ?? DEFAULTS.runs),
        wholeNumberRule(1, 100, 'runs'),
      );
      const cleanup = await asker.yesNo(
        'Remove the network when done?',
        initial.cleanup === true || initial.cleanup === 'true',
      );

      const input: BenchmarkInput = {
        ...initial,
        networkType,
        hostsFile,
        nodesPerHost,
        committee,
        duration,
        localLoads,
        remoteLoads,
        transactionSize,
        runs,
        cleanup,
        loads: undefined,
      };
      let plan: BenchmarkPlan;
      try {
        plan = await buildBenchmarkPlan(input, { env, ...(options.cwd ? { cwd: options.cwd } : {}) });
      } catch (error) {
        say(`That combination is not valid: ${formatError(error)}. Let's go again.`);
        continue;
      }
      say('');
      say('Configuration:');
      for (const line of describePlan(plan)) say(`  ${line}`);
      say('');
      if (!(await asker.yesNo('Run this benchmark?', true))) {
        say('Cancelled; nothing was deployed.');
        return { kind: 'cancelled', reason: 'declined' };
      }
      return { kind: 'run', plan, input };
    }
  } catch (error) {
    if (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError')) {
      say('Cancelled; nothing was deployed.');
      return { kind: 'cancelled', reason: 'interrupted' };
    }
    throw error;
  }
}
