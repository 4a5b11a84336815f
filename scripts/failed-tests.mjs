#!/usr/bin/env node
// Prints each failed test of a vitest JSON report with the start of its message, for the end of
// CI's output: a failure's figures are in its message, which the run prints far above its last
// lines (and a reader of the tail saw only the code frame: "expected … to be less than 375", no value).
// Usage: node scripts/failed-tests.mjs REPORT.json [CHARS]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { stripVTControlCharacters } from 'node:util';

const [reportPath, charsArg] = process.argv.slice(2);
if (!reportPath) {
  process.stderr.write('usage: node scripts/failed-tests.mjs REPORT.json [CHARS]\n');
  process.exit(2);
}
const chars = Number(charsArg ?? 1500);
let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch (error) {
  process.stdout.write(`failed tests: the report ${reportPath} could not be read (${error.message})\n`);
  process.exit(0);
}
const failed = [];
for (const file of report.testResults ?? []) {
  const name = relative(process.cwd(), file.name ?? '');
  const tests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
  for (const test of tests)
    failed.push({ name, title: test.fullName ?? test.title, messages: test.failureMessages ?? [] });
  // a file that failed outside its tests (a hook, an import) has no failed test to show it
  if (tests.length === 0 && file.status === 'failed')
    failed.push({ name, title: '(the file itself)', messages: [file.message ?? ''] });
}
if (failed.length === 0) process.exit(0);
process.stdout.write(`failed tests (${failed.length}), each message's first ${chars} characters:\n`);
for (const { name, title, messages } of failed) {
  process.stdout.write(`- ${name} > ${title}\n`);
  const message = stripVTControlCharacters(messages[0] ?? '').trim();
  const shown = message.length > chars ? `${message.slice(0, chars)} …` : message;
  for (const line of shown.split('\n').slice(0, 30)) process.stdout.write(`    ${line}\n`);
}
