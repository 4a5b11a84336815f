#!/usr/bin/env node
// The test suite's budget (issue 29), run by .ci/run after the tests:
//   node scripts/test-budget.mjs REPORT.json ELAPSED_SECONDS [--warn-total] [--durations FILE]
// Prints every test file's duration from vitest's JSON report, slowest first, and one line
// per breach: the whole .ci/run over 30 minutes, or one integration file over 4 minutes
// (MESHBENCH_BUDGET_TOTAL_SECS and MESHBENCH_BUDGET_FILE_SECS set others). Exits with the
// number of breaches (0: within budget), or 2 when the report cannot be read. With
// --warn-total the whole run's time is said but not counted: a bare CI machine also pays for
// installing Docker and building every image, which no test can shorten.
// --durations FILE (written by scripts/file-durations-reporter.mjs) gives each file's whole
// time, hooks included; the JSON report's own times run from a file's first test to its last.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const TOTAL_SECS = Number(process.env.MESHBENCH_BUDGET_TOTAL_SECS ?? 30 * 60);
const FILE_SECS = Number(process.env.MESHBENCH_BUDGET_FILE_SECS ?? 4 * 60);

const argv = process.argv.slice(2);
const durationsAt = argv.indexOf('--durations');
const durationsPath = durationsAt >= 0 ? argv[durationsAt + 1] : undefined;
const positional = argv.filter(
  (arg, i) => !arg.startsWith('--') && !(durationsAt >= 0 && i === durationsAt + 1),
);
const warnTotal = argv.includes('--warn-total');
const [reportPath, elapsedText] = positional;
if (reportPath === undefined || elapsedText === undefined || !Number.isFinite(Number(elapsedText))) {
  console.error('usage: node scripts/test-budget.mjs REPORT.json ELAPSED_SECONDS');
  process.exit(2);
}
let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch (error) {
  console.error(`test budget: cannot read ${reportPath}: ${error instanceof Error ? error.message : error}`);
  process.exit(2);
}

/** Whole-file times (ms) by absolute path, hooks included, when --durations names a readable file. */
let wholeMs = {};
if (durationsPath !== undefined) {
  try {
    wholeMs = JSON.parse(readFileSync(durationsPath, 'utf8')).files ?? {};
  } catch (error) {
    console.log(
      `note: cannot read ${durationsPath} (${error instanceof Error ? error.message : error}); durations from the report, hooks left out`,
    );
  }
}

/** test/integration/x.test.ts → integration; test/unit/… → unit; the timing project's files are unit files. */
function tierOf(path) {
  return /(^|\/)test\/integration\//.test(path) ? 'integration' : 'unit';
}

const files = (report.testResults ?? [])
  .map((result) => {
    const path = relative(process.cwd(), String(result.name));
    const whole = wholeMs[String(result.name)]?.ms;
    const secs =
      typeof whole === 'number'
        ? whole / 1000
        : Math.max(0, (Number(result.endTime) - Number(result.startTime)) / 1000);
    return { path, tier: tierOf(path), secs: Number.isFinite(secs) ? secs : 0 };
  })
  .sort((a, b) => b.secs - a.secs);

const sum = (tier) => files.filter((f) => f.tier === tier).reduce((total, f) => total + f.secs, 0);
console.log('test files by duration (s):');
for (const file of files)
  console.log(`${file.secs.toFixed(1).padStart(8)}  ${file.tier.padEnd(11)}  ${file.path}`);
console.log(
  `sums: integration ${sum('integration').toFixed(0)} s in ${files.filter((f) => f.tier === 'integration').length} files, unit ${sum('unit').toFixed(0)} s in ${files.filter((f) => f.tier === 'unit').length} files; the whole run ${Number(elapsedText)} s`,
);

// With the reporter's times (queuedS, endS): each tier's span in the run, and for the integration
// tier how long 2, 1 or no files ran at once (with fewer files than lanes, the tier waits on its
// longest files rather than on the CPU).
const timed = Object.entries(wholeMs)
  .map(([path, t]) => ({ tier: tierOf(relative(process.cwd(), path)), start: t?.queuedS, end: t?.endS }))
  .filter((t) => typeof t.start === 'number' && typeof t.end === 'number');
for (const tier of ['unit', 'integration']) {
  const spans = timed.filter((t) => t.tier === tier);
  if (spans.length === 0) continue;
  const from = Math.min(...spans.map((t) => t.start));
  const to = Math.max(...spans.map((t) => t.end));
  let line = `${tier} tier: ${from.toFixed(0)}-${to.toFixed(0)} s of the tests`;
  if (tier === 'integration') {
    const events = spans.flatMap((t) => [
      [t.start, 1],
      [t.end, -1],
    ]);
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const at = new Map();
    let running = 0;
    let last = from;
    for (const [time, delta] of events) {
      at.set(running, (at.get(running) ?? 0) + (time - last));
      running += delta;
      last = time;
    }
    const parts = [...at]
      .filter(([n, secs]) => n > 0 || secs >= 0.5)
      .sort((a, b) => b[0] - a[0])
      .map(([n, secs]) => `${n} for ${secs.toFixed(0)} s`);
    line += `; files at once: ${parts.join(', ')}`;
  }
  console.log(line);
}

const breaches = [];
if (Number(elapsedText) > TOTAL_SECS) {
  const line = `the whole run took ${Number(elapsedText)} s, over its budget of ${TOTAL_SECS} s`;
  if (warnTotal) console.log(`note: ${line} (said, not counted: --warn-total)`);
  else breaches.push(line);
}
for (const file of files.filter((f) => f.tier === 'integration' && f.secs > FILE_SECS))
  breaches.push(
    `${file.path} took ${file.secs.toFixed(1)} s, over the ${FILE_SECS} s an integration file may take: split it or share what it starts`,
  );
for (const line of breaches) console.log(`over budget: ${line}`);
if (breaches.length === 0)
  console.log(
    Number(elapsedText) > TOTAL_SECS
      ? `within budget: every integration file under ${FILE_SECS} s (the whole run is over, said above)`
      : `within budget: the run under ${TOTAL_SECS} s, every integration file under ${FILE_SECS} s`,
  );
process.exit(breaches.length);
