/**
 * refnode entry point: `node dist/refnode/refnode.js --id node0 --peers node0@h0:26656,...`
 * Bad configuration: one line on stderr, exit 2. SIGTERM/SIGINT: graceful stop within 2 s.
 */
import { ConfigError, parseConfig, usage } from './config.js';
import { RefNode } from './node.js';

const SHUTDOWN_LIMIT_MS = 2000;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let config;
  try {
    config = parseConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`refnode: error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (config === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const node = new RefNode(config);
  try {
    await node.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint =
      e.code === 'EADDRINUSE'
        ? '; another process holds that port: pick free ports with --rpc-port/--p2p-port/--metrics-port'
        : '';
    process.stderr.write(`refnode: error: cannot start: ${e.message}${hint}\n`);
    await node.stop().catch(() => {});
    return 1;
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) process.exit(130);
    stopping = true;
    node.log.info(`${signal}: shutting down`);
    setTimeout(() => {
      process.stderr.write('refnode: shutdown took longer than 2 s; exiting\n');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`refnode: error during shutdown: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return -1; // keep running
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`refnode: error: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
