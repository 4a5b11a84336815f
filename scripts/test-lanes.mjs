#!/usr/bin/env node
// How many integration files run at once (vitest.config.ts; .ci/run passes it on as
// MESHBENCH_TEST_LANES). Two on this 2-core machine (one per two cores on a larger one) when
// it is free; fewer when something else already uses it, as make -l starts no new job above a
// load: one file alone keeps this machine about 65 % busy, so two fill it, and beside two CPU
// burners two lanes starved the nodes under test (load 12-14: a BFT network's p99 at 7 s, the
// fault and condition tests' windows missed) where one lane passed.
//   node scripts/test-lanes.mjs   → prints the number, and on stderr why
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

/** Busy and total jiffies of all CPUs (/proc/stat), or undefined off Linux. */
function cpuTimes() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.reduce((sum, value) => sum + value, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * The lanes for a machine of `cores` whose CPUs were `busy` (0-1) while no test ran: all of them
 * (max(2, cores / 2)) below a quarter busy, else the share the others leave, at least one.
 */
export function lanesFor(cores, busy) {
  const lanes = Math.max(2, Math.floor(cores / 2));
  if (busy < 0.25) return lanes;
  return Math.max(1, Math.floor(lanes * (1 - busy)));
}

/**
 * Samples the machine for `windows` spans of `ms` and returns the lanes and the reason. The
 * least busy span counts: one second alone caught a burst (a clean-clone CI read 88 % busy with
 * no other job running, and ran one lane for 34 min instead of two for 22), while something else
 * that runs keeps every span busy.
 */
export async function decideLanes(ms = 1000, windows = 3) {
  const cores = availableParallelism();
  let busy = Infinity;
  for (let window = 0; window < windows; window++) {
    const before = cpuTimes();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const after = cpuTimes();
    if (!before || !after || after.total <= before.total) {
      return { lanes: lanesFor(cores, 0), why: `${cores} CPUs; no /proc/stat to read how busy they are` };
    }
    busy = Math.min(busy, (after.busy - before.busy) / (after.total - before.total));
  }
  const lanes = lanesFor(cores, busy);
  const percent = Math.round(busy * 100);
  return {
    lanes,
    why: `${cores} CPUs, ${percent} % busy before the tests (the least of ${windows} s)${busy >= 0.25 ? ' (something else is running)' : ''}`,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { lanes, why } = await decideLanes();
  process.stderr.write(`integration lanes: ${lanes} (${why})\n`);
  process.stdout.write(`${lanes}\n`);
}
