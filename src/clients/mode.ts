/**
 * `--load-clients local|colocated|dedicated:N`: where the load generator runs. `local` is this
 * process (the default); `colocated` one client beside each node, on its host. `dedicated:N`
 * (extra inventory hosts marked as clients) is parsed and refused for now.
 */
import { badFlag } from '../common/errors.js';

export type LoadClientsMode = { readonly kind: 'local' } | { readonly kind: 'colocated' };

export const LOAD_CLIENTS_VALUES = 'local|colocated';

/** Parses the flag's value, or throws a one-line BAD_FLAG error naming it. */
export function parseLoadClients(value: string): LoadClientsMode {
  const text = value.trim();
  if (text === 'local' || text === 'colocated') return { kind: text };
  if (/^dedicated:\d+$/.test(text))
    throw badFlag(
      'load-clients',
      value,
      'dedicated client hosts are not supported yet; use colocated (one client beside each node) or local',
    );
  throw badFlag('load-clients', value, `use one of ${LOAD_CLIENTS_VALUES}`);
}

export function describeLoadClients(mode: LoadClientsMode): string {
  return mode.kind;
}
