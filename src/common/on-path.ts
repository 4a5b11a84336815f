/** Where a command is on PATH: the first directory of PATH holding a file of that name. */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export function onPath(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}
