// A vitest reporter for the test budget (scripts/test-budget.mjs): each test file's whole time,
// its hooks included (vitest's JSON report times a file from its first test to its last, so a
// file whose beforeAll starts a network or a sandbox looked shorter than it ran). Writes
// { "files": { "<absolute path>": { "ms": N, "project": "..." } } } to $MESHBENCH_FILE_DURATIONS
// at the end of the run; does nothing when that is unset.
import { writeFileSync } from 'node:fs';

export default class FileDurationsReporter {
  onTestRunEnd(testModules) {
    const out = process.env.MESHBENCH_FILE_DURATIONS;
    if (!out) return;
    const files = {};
    for (const module of testModules) {
      const d = module.diagnostic();
      // setting up the harness, importing the file, then its tests and hooks
      const ms = d.prepareDuration + d.setupDuration + d.collectDuration + d.duration;
      files[module.moduleId] = { ms: Math.round(ms), project: module.project.name };
    }
    writeFileSync(out, `${JSON.stringify({ files }, null, 1)}\n`);
  }
}
