/**
 * Runs once around the integration tier: before it, makes sure the Docker engine
 * answers, the project is built and the images exist (all idempotent; fast when
 * done); after it, removes the shared sandbox of SSH hosts that the remote tests
 * started (one per slot of files running at once; MESHBENCH_KEEP_SANDBOX=1 keeps them).
 */
import { execFileSync } from 'node:child_process';

export default function setup(): () => Promise<void> {
  if (process.env.MESHBENCH_SKIP_SETUP !== '1') {
    execFileSync('bash', ['scripts/setup.sh'], {
      stdio: 'inherit',
      env: { ...process.env, MESHBENCH_IMAGES: 'all' },
    });
  }
  return async () => {
    const { releaseSandboxes } = await import('./sandbox-slots.js');
    await releaseSandboxes();
  };
}
