import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  quoteArg,
  shellAnd,
  shellCommand,
  shellPipeline,
  shellScript,
} from '../../../src/testbed/remote/shell-quote.js';

/** Runs a command line through a real /bin/sh and returns what `printf '%s\0'` saw as argv. */
function argvSeenBySh(commandLine: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `set -f; printf '%s\\0' ${commandLine}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

const HOSTILE = [
  '',
  ' ',
  "'",
  "''",
  '"',
  '\\',
  '$(touch /tmp/meshbench-pwned)',
  '`touch /tmp/meshbench-pwned`',
  '${HOME}',
  '$HOME',
  'a;b',
  'a && rm -rf /',
  '| cat /etc/passwd',
  '> /tmp/x',
  '*',
  '~',
  '-rf',
  '--foo=bar baz',
  'new\nline',
  'tab\there',
  "it's",
  "'; rm -rf / #",
  '\u00e9\u4e2d\u{1F600}',
  '!event',
  '#comment',
  '{a,b}',
  '[abc]',
  '\r\n',
];

describe('quoteArg', () => {
  it('passes each hostile value through sh as exactly one argument', () => {
    for (const value of HOSTILE) {
      expect(argvSeenBySh(quoteArg(value))).toEqual([value]);
    }
  });

  it('keeps a whole hostile argv intact', () => {
    expect(argvSeenBySh(HOSTILE.map(quoteArg).join(' '))).toEqual(HOSTILE);
  });

  it('leaves plain words readable', () => {
    expect(quoteArg('meshbench/refnode:latest')).toBe('meshbench/refnode:latest');
    expect(quoteArg('--name=node0')).toBe('--name=node0');
    expect(quoteArg('a b')).toBe("'a b'");
  });

  it('refuses NUL', () => {
    expect(() => quoteArg('a\0b')).toThrow(/NUL/);
  });

  it('round-trips any string through sh (property)', () => {
    // 200 random argvs through one sh (a process per case took 20 s): each case is
    // `set -- LINE`, then its argc and argv, so every case is read back on its own.
    const cases = fc.sample(
      fc.array(
        fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')),
        { minLength: 1, maxLength: 5 },
      ),
      200,
    );
    const script = cases.map((args) => `set -- ${args.map(quoteArg).join(' ')}; printf '%s\\0' "$#" "$@"`);
    const out = execFileSync('/bin/sh', ['-c', `set -f\n${script.join('\n')}`], { encoding: 'utf8' }).split(
      '\0',
    );
    let at = 0;
    for (const args of cases) {
      const argc = Number(out[at++]);
      expect(out.slice(at, at + argc), JSON.stringify(args)).toEqual(args);
      at += argc;
    }
    expect(at).toBe(out.length - 1);
  });
});

describe('shellCommand / shellPipeline / shellScript', () => {
  it('runs a command with hostile arguments without interpreting them', () => {
    const line = shellCommand(['printf', '%s|', ...HOSTILE]);
    const out = execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' });
    expect(out).toBe(HOSTILE.map((v) => `${v}|`).join(''));
  });

  it('builds pipelines whose failure is not masked', () => {
    const ok = shellPipeline([['printf', '%s', "x'; echo pwned #"], ['cat']]);
    expect(execFileSync('/bin/sh', ['-c', ok], { encoding: 'utf8' })).toBe("x'; echo pwned #");
    const failing = shellPipeline([['false'], ['cat']]);
    expect(() => execFileSync('/bin/sh', ['-c', failing], { stdio: 'pipe' })).toThrow();
  });

  it('chains with && and passes script arguments as $1..', () => {
    expect(
      execFileSync('/bin/sh', ['-c', shellAnd([['true'], ['printf', '%s', '$(id)']])], { encoding: 'utf8' }),
    ).toBe('$(id)');
    const script = shellScript('printf "%s/%s" "$1" "$2"', ['a b', '`x`']);
    expect(execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' })).toBe('a b/`x`');
  });

  it('refuses empty commands', () => {
    expect(() => shellCommand([])).toThrow();
    expect(() => shellPipeline([])).toThrow();
  });
});
