/**
 * `--load-clients local|colocated|dedicated:N`: where the load generator runs. `local` is this
 * process (the default); `colocated` one client beside each node, on its host; `dedicated:N`
 * one client on each of the first N inventory hosts marked `role: client` (no node runs there).
 */
import { badFlag } from '../common/errors.js';

export type LoadClientsMode =
  | { readonly kind: 'local' }
  | { readonly kind: 'colocated' }
  | { readonly kind: 'dedicated'; readonly count: number };

export const LOAD_CLIENTS_VALUES = 'local|colocated|dedicated:N';
/** More dedicated clients than this is a typo, not a fleet this tool can coordinate over SSH. */
export const MAX_DEDICATED_CLIENTS = 1024;

/** Parses the flag's value, or throws a one-line BAD_FLAG error naming it. */
export function parseLoadClients(value: string): LoadClientsMode {
  const text = value.trim();
  if (text === 'local' || text === 'colocated') return { kind: text };
  const dedicated = /^dedicated(?::(.*))?$/.exec(text);
  if (dedicated) {
    const count = Number(dedicated[1]);
    if (!/^\d+$/.test(dedicated[1] ?? '') || count < 1 || count > MAX_DEDICATED_CLIENTS)
      throw badFlag(
        'load-clients',
        value,
        `dedicated:N takes N, the number of client hosts, a whole number from 1 to ${MAX_DEDICATED_CLIENTS} (e.g. dedicated:2)`,
      );
    return { kind: 'dedicated', count };
  }
  throw badFlag('load-clients', value, `use one of ${LOAD_CLIENTS_VALUES}`);
}

export function describeLoadClients(mode: LoadClientsMode): string {
  return mode.kind === 'dedicated' ? `dedicated:${mode.count}` : mode.kind;
}

/** Whether the load runs in clients on remote hosts (colocated or dedicated), not in this process. */
export function remoteLoadClients(mode: LoadClientsMode | undefined): boolean {
  return mode !== undefined && mode.kind !== 'local';
}
