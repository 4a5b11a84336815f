/**
 * Runs once before the integration tier: makes sure the Docker engine answers,
 * the project is built and the images exist (all idempotent; fast when done).
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  if (process.env.MESHBENCH_SKIP_SETUP === '1') return;
  execFileSync('bash', ['scripts/setup.sh'], {
    stdio: 'inherit',
    env: { ...process.env, MESHBENCH_IMAGES: 'all' },
  });
}
