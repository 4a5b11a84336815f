// A vitest reporter for the test budget (scripts/test-budget.mjs): each test file's whole time,
// its hooks included (vitest's JSON report times a file from its first test to its last, so a
// file whose beforeAll starts a network or a sandbox looked shorter than it ran). Writes
// { "files": { "<absolute path>": { "ms": N, "project": "...", "queuedS": S, "endS": S } } } to
// $MESHBENCH_FILE_DURATIONS at the end of the run; does nothing when that is unset. queuedS and
// endS are seconds from the run's start to the file being handed to a worker and to its end: with
// them a run's lanes can be drawn (which files ran side by side, where a lane stood idle).
import { writeFileSync } from 'node:fs';

export default class FileDurationsReporter {
  #startMs = performance.now();
  /** Seconds from the run's start, by module id: queued, ended. */
  #times = new Map();
  #at() {
    return Math.round(performance.now() - this.#startMs) / 1000;
  }
  onTestRunStart() {
    this.#startMs = performance.now();
  }
  onTestModuleQueued(module) {
    this.#times.set(module.moduleId, { queuedS: this.#at() });
  }
  onTestModuleEnd(module) {
    const times = this.#times.get(module.moduleId) ?? {};
    this.#times.set(module.moduleId, { ...times, endS: this.#at() });
  }
  onTestRunEnd(testModules) {
    const out = process.env.MESHBENCH_FILE_DURATIONS;
    if (!out) return;
    const files = {};
    for (const module of testModules) {
      const d = module.diagnostic();
      // setting up the harness, importing the file, then its tests and hooks
      const ms = d.prepareDuration + d.setupDuration + d.collectDuration + d.duration;
      files[module.moduleId] = {
        ms: Math.round(ms),
        project: module.project.name,
        ...this.#times.get(module.moduleId),
      };
    }
    writeFileSync(out, `${JSON.stringify({ files }, null, 1)}\n`);
  }
}
