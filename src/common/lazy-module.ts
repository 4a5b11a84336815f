/**
 * A CommonJS package loaded on first use, once. Node's own loader gives its exports as named
 * exports and as `default` alike; in dist/bundle/ (scripts/bundle-cli.mjs: esbuild with code
 * splitting) such a package becomes a chunk that exports only `default`, so a name read from
 * the namespace was undefined there (undici's `request`: `local-network --protocol mesh` never
 * saw a delivery). The loader reads `default` when there is one.
 */
export function lazyCommonJs<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().then((loaded) => (loaded as T & { readonly default?: T }).default ?? loaded));
}
