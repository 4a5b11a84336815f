// Shared by the bin shims: loads the compiled command and sets the exit code once.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function runBin(name, load) {
  const dist = fileURLToPath(new URL('../dist/cli/', import.meta.url));
  if (!existsSync(dist)) {
    process.stderr.write(
      `${name}: error: meshbench is not built (no dist/); run npm run build, then retry\n`,
    );
    process.exitCode = 1;
    return;
  }
  const { main } = await load();
  process.exitCode = await main(process.argv.slice(2));
}
