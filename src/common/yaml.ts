/**
 * yaml, loaded on use: about 260 KB of source that a command reading no YAML (no settings file,
 * no mix, no user compose file to resolve) leaves off its start-up path.
 */
import type * as Yaml from 'yaml';

let loading: Promise<typeof Yaml> | undefined;

export function loadYaml(): Promise<typeof Yaml> {
  // In the CLI bundle a CommonJS package's split chunk exports only `default`; Node's own
  // loader gives the named exports and `default` alike.
  loading ??= import('yaml').then(
    (loaded) => (loaded as typeof Yaml & { readonly default?: typeof Yaml }).default ?? loaded,
  );
  return loading;
}
