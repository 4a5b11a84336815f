import { describe, expect, it } from 'vitest';
import { numberFlagProblem, parseFailureLine, type DeclaredOption } from '../../../src/cli/flag-values.js';

const declared = new Map<string, DeclaredOption>([
  ['committee', { type: 'number' }],
  ['show-logs', { type: 'number' }],
  ['loads', { type: 'number', array: true }],
  ['hosts', { type: 'number', alias: 'n' }],
  ['protocol', { type: 'string', choices: ['cometbft', 'http'] }],
  ['down', { type: 'string' }],
]);

function problem(argv: string[]): string | undefined {
  const error = numberFlagProblem(argv, declared);
  return error === undefined ? undefined : `${error.message}; ${error.hint ?? ''} (exit ${error.exitCode})`;
}

describe('numberFlagProblem', () => {
  it('lets numbers through in every spelling, negative ones and lists of a repeatable flag included', () => {
    for (const argv of [
      [],
      ['--committee', '4'],
      ['--committee=4'],
      ['--showLogs', '20'],
      ['--committee', '-3'],
      ['--committee', '1e3'],
      ['-n', '2'],
      ['--loads', '1', '--loads', '2'],
      ['--down', '--committee', '4'],
      ['--', '--committee', 'abc'],
    ])
      expect(problem(argv), argv.join(' ')).toBeUndefined();
  });

  it('refuses a number flag with nothing after it, which yargs read as absent or 0', () => {
    expect(problem(['--show-logs'])).toBe(
      '--show-logs needs a number after it (--show-logs N); see --help (exit 2)',
    );
    expect(problem(['--committee', '--down'])).toMatch(/^--committee needs a number after it/);
    expect(problem(['--committee='])).toMatch(/^--committee needs a number after it/);
    expect(problem(['--committee', ' '])).toMatch(/^--committee needs a number after it/);
    expect(problem(['-n'])).toMatch(/^--hosts needs a number after it/);
  });

  it('names the text the user gave, not the NaN yargs made of it', () => {
    expect(problem(['--committee', 'abc'])).toBe(
      '--committee "abc" is not valid: a number; see --help (exit 2)',
    );
    expect(problem(['--show-logs=1e3x'])).toMatch(/^--show-logs "1e3x" is not valid: a number/);
    expect(problem(['--loads', '1', '--loads', 'two'])).toMatch(/^--loads "two" is not valid: a number/);
  });

  it('refuses a single-value number flag given twice', () => {
    expect(problem(['--committee', '3', '--committee', '4'])).toBe(
      '--committee was given 2 times (3, 4); give it once; see --help (exit 2)',
    );
  });
});

describe('parseFailureLine', () => {
  const known = ['committee', 'docker-compose-path', 'protocol', 'help'];

  it('names an unknown flag once, with its dashes, and the nearest known one', () => {
    expect(parseFailureLine('Unknown arguments: compose-file, composeFile', known)).toBe(
      'unknown flag --compose-file',
    );
    expect(parseFailureLine('Unknown argument: comittee', known)).toBe(
      'unknown flag --comittee; did you mean --committee?',
    );
    expect(parseFailureLine('Unknown arguments: x, y-z, yZ', known)).toBe('unknown flags -x, --y-z');
    // yargs reads --no-such-flag as the negation of such-flag
    expect(parseFailureLine('Unknown argument: such-flag', known, ['--no-such-flag'])).toBe(
      'unknown flag --no-such-flag',
    );
  });

  it('puts a bad choice on one line in the form of the other flag errors', () => {
    expect(
      parseFailureLine(
        'Invalid values:\n  Argument: protocol, Given: "xyz", Choices: "cometbft", "http"',
        known,
      ),
    ).toBe('--protocol "xyz" is not valid: one of cometbft, http');
  });

  it('says a string flag needs its value', () => {
    expect(parseFailureLine('Not enough arguments following: logs', known)).toBe(
      '--logs needs a value after it',
    );
  });

  it('keeps any other failure, on one line', () => {
    expect(parseFailureLine('Missing dependent arguments:\n a -> b', known)).toBe(
      'Missing dependent arguments: a -> b',
    );
  });
});
