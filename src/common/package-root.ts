/**
 * meshbench's own folder: the first folder above this module holding meshbench's
 * package.json. The same from src/ (tsx), dist/ (tsc) and dist/bundle/ (esbuild), and from
 * wherever the user runs the commands. Found once per process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null | undefined;

/** The package's folder, or undefined when this module is not inside it (never in practice). */
export function packageRoot(): string | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const here = dirname(fileURLToPath(import.meta.url));
  cached = null;
  for (let dir = here; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'meshbench') {
          cached = dir;
          break;
        }
      } catch {
        // not ours; keep looking upwards
      }
    }
    if (dirname(dir) === dir) break;
  }
  return cached ?? undefined;
}
