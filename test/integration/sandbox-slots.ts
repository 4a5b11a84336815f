/**
 * Where the integration tier's shared sandboxes of SSH hosts live, and their removal at the
 * tier's end (the global teardown). Apart from sandbox-fixture.ts because that module registers
 * a hook for each test file that imports it, which the global teardown cannot.
 */
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { sandboxDown } from '../../src/testbed/sandbox/sandbox.js';

/**
 * Where the test sandboxes live: slot 1 here, slot N beside it with `-N`.
 * MESHBENCH_TEST_SANDBOX_DIR gives a test run sandboxes of its own (e.g. beside another run in
 * the same checkout).
 */
export const TEST_SANDBOX_BASE = resolve(process.env.MESHBENCH_TEST_SANDBOX_DIR ?? '.meshbench/sandbox-test');

/** Removes every slot's sandbox (the integration tier's global teardown). */
export async function releaseSandboxes(): Promise<void> {
  if (process.env.MESHBENCH_KEEP_SANDBOX === '1') return;
  const parent = dirname(TEST_SANDBOX_BASE);
  const name = basename(TEST_SANDBOX_BASE);
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  const slots = entries.filter((entry) => entry === name || new RegExp(`^${name}-\\d+$`).test(entry));
  for (const entry of slots) {
    await sandboxDown({ dir: join(parent, entry) });
    rmSync(join(parent, `${entry}.lock`), { force: true }); // its files have ended
  }
}
