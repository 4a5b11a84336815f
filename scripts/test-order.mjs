#!/usr/bin/env node
// Writes test/file-durations.json, the order vitest starts test files in (vitest.config.ts:
// longest first, so the longest files do not start last and leave a lane or a worker idle at
// the end), from a run's whole-file times (scripts/file-durations-reporter.mjs):
//   MESHBENCH_FILE_DURATIONS=/tmp/d.json npm test -- --reporter=default --reporter=./scripts/file-durations-reporter.mjs
//   node scripts/test-order.mjs /tmp/d.json > test/file-durations.json
// .ci/run leaves its run's file behind and names it.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const [input] = process.argv.slice(2);
if (!input) {
  console.error('usage: node scripts/test-order.mjs DURATIONS.json > test/file-durations.json');
  process.exit(2);
}
let files;
try {
  files = JSON.parse(readFileSync(input, 'utf8')).files;
} catch (error) {
  console.error(`test-order: cannot read ${input}: ${error instanceof Error ? error.message : error}`);
  process.exit(2);
}
// the paths are absolute in the clone that ran (a CI clone, perhaps gone): their common folder
// is that clone's root, since the test files lie in more than one of its folders
const paths = Object.keys(files);
let root = paths[0] ?? '';
for (const path of paths) while (!path.startsWith(root)) root = root.slice(0, -1);
root = root.slice(0, root.lastIndexOf('/') + 1);
const secs = Object.fromEntries(
  Object.entries(files)
    .map(([path, { ms }]) => [relative(root, path), Math.round(ms / 100) / 10])
    .sort((a, b) => b[1] - a[1]),
);
const note =
  'Seconds each test file took in a clean-clone .ci/run on the 2-core machine: the order vitest starts them in, longest first (vitest.config.ts). Refresh with scripts/test-order.mjs.';
process.stdout.write(`${JSON.stringify({ _: note, files: secs }, null, 2)}\n`);
