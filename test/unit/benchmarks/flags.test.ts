import { describe, expect, it } from 'vitest';
import {
  FlagError,
  choiceFlag,
  choiceListFlag,
  numberFlag,
  numberListFlag,
  parseFlags,
  type FlagSpecs,
} from '../../../benchmarks/scripts/lib/flags.js';

const usage = { name: 'bench:demo', summary: 'Measures a demo.', notes: ['Writes demo.json.'] };
const specs = {
  seconds: { type: 'string', valueName: 'N', default: '10', description: 'seconds per run' },
  long: { type: 'boolean', description: 'the long run' },
  only: { type: 'string', valueName: 'cpu|rate', description: 'one part' },
  child: { type: 'boolean', hidden: true, description: 'internal' },
} as const satisfies FlagSpecs;

describe('parseFlags', () => {
  it('answers --help and -h with every visible flag and its default', () => {
    for (const argv of [['--help'], ['-h'], ['--seconds', '3', '--help']]) {
      const parsed = parseFlags(argv, usage, specs);
      expect(parsed.kind).toBe('help');
      if (parsed.kind !== 'help') continue;
      expect(parsed.text).toMatch(/^usage: npm run bench:demo \[-- flags\]\n/);
      expect(parsed.text).toMatch(/--seconds N +seconds per run \(default: 10\)/);
      expect(parsed.text).toMatch(/--long +the long run/);
      expect(parsed.text).toMatch(/--only cpu\|rate +one part/);
      expect(parsed.text).toMatch(/-h, --help +print this and exit/);
      expect(parsed.text).toMatch(/Writes demo\.json\./);
      expect(parsed.text).not.toMatch(/--child/);
    }
  });

  it('gives the values with their defaults', () => {
    const parsed = parseFlags(['--long', '--only', 'cpu'], usage, specs);
    expect(parsed).toEqual({
      kind: 'run',
      values: { seconds: '10', long: true, only: 'cpu' },
    });
  });

  it('turns an unknown flag or a stray argument into one line naming the script', () => {
    const unknown = parseFlags(['--secs', '3'], usage, specs);
    expect(unknown.kind).toBe('error');
    if (unknown.kind === 'error') {
      expect(unknown.message).toMatch(/^bench:demo: Unknown option '--secs'; see --help$/);
      expect(unknown.message).not.toContain('\n');
    }
    const stray = parseFlags(['extra'], usage, specs);
    expect(stray.kind === 'error' && stray.message).toMatch(/^bench:demo: .*'extra'.*; see --help$/);
    const missing = parseFlags(['--seconds'], usage, specs);
    expect(missing.kind === 'error' && missing.message).toMatch(/^bench:demo: Option '--seconds <value>'/);
  });

  it('runs the conversion, and a FlagError from it becomes the one-line error', () => {
    const convert = (values: { seconds: string; only: string | undefined }) => ({
      seconds: numberFlag('seconds', values.seconds, { integer: true, min: 1 }),
      only: choiceFlag('only', values.only, ['cpu', 'rate']),
    });
    expect(parseFlags(['--seconds', '3'], usage, specs, convert)).toEqual({
      kind: 'run',
      values: { seconds: 3, only: undefined },
    });
    expect(parseFlags(['--seconds', '0'], usage, specs, convert)).toEqual({
      kind: 'error',
      message: 'bench:demo: --seconds "0" is not valid: a whole number >= 1',
    });
    expect(parseFlags(['--only', 'rss'], usage, specs, convert)).toEqual({
      kind: 'error',
      message: 'bench:demo: --only "rss" is not valid: one of cpu, rate',
    });
  });
});

describe('number flags', () => {
  it('checks numbers and lists', () => {
    expect(numberFlag('x', undefined)).toBeUndefined();
    expect(numberFlag('x', '1.5')).toBe(1.5);
    expect(() => numberFlag('x', '1.5', { integer: true })).toThrow(FlagError);
    expect(() => numberFlag('x', '')).toThrow('--x "" is not valid: a number');
    expect(() => numberFlag('x', 'abc')).toThrow(FlagError);
    expect(numberListFlag('rates', '5000,7500')).toEqual([5000, 7500]);
    expect(() => numberListFlag('rates', '5000,,7500')).toThrow('--rates "" is not valid');
  });
});

describe('choice lists', () => {
  it('checks each item as a choice', () => {
    expect(choiceListFlag('tools', 'raw,bare', ['raw', 'bare', 'undici'])).toEqual(['raw', 'bare']);
    expect(() => choiceListFlag('tools', 'raw,foo', ['raw', 'bare'])).toThrow(
      '--tools "foo" is not valid: one of raw, bare',
    );
    expect(() => choiceListFlag('tools', 'raw,', ['raw', 'bare'])).toThrow('--tools "" is not valid');
  });
});
