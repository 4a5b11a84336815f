// Shared by the bin shims: loads the command and sets the exit code once. The command is the
// esbuild bundle (dist/bundle/<name>.js, scripts/bundle-cli.mjs: one file to load, a third of
// the start-up CPU) when it was built, else the tsc output (dist/cli/<name>.js).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function runBin(name) {
  const dist = fileURLToPath(new URL('../dist/cli/', import.meta.url));
  if (!existsSync(dist)) {
    process.stderr.write(
      `${name}: error: meshbench is not built (no dist/); run npm run build, then retry\n`,
    );
    process.exitCode = 1;
    return;
  }
  const bundled = new URL(`../dist/bundle/${name}.js`, import.meta.url);
  const command = existsSync(bundled) ? bundled : new URL(`../dist/cli/${name}.js`, import.meta.url);
  const { main } = await import(command.href);
  process.exitCode = await main(process.argv.slice(2));
}
