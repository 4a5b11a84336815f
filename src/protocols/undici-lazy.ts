/**
 * undici, loaded on first use (the protocols, the Prometheus scrapes and queries and the Influx
 * writer import it lazily, so a command that never sends a request does not load it, and one that
 * does loads it after its network is up). Through a plain `import('undici')` its functions are named exports;
 * in dist/bundle/ (scripts/bundle-cli.mjs: esbuild with code splitting) the CommonJS package
 * becomes a chunk whose exports sit under `default`, and `request` read by name was undefined:
 * `local-network --protocol mesh` never saw a delivery (every message a commit timeout).
 */
import type * as Undici from 'undici';

export async function undici(): Promise<typeof Undici> {
  const loaded = (await import('undici')) as typeof Undici & { readonly default?: typeof Undici };
  return typeof loaded.request === 'function' ? loaded : (loaded.default as typeof Undici);
}
