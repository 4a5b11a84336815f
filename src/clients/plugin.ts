/**
 * Load clients as a plug-in (src/common/plugin.ts): `--load-clients` → `plan.plugins.loadClients`
 * (colocated or dedicated:N; absent for local, the default) → a LoadClients observer, which runs
 * the level's load in clients on the remote hosts instead of this process and adds the
 * `load_clients` block to each run of the record.
 */
import { z } from 'zod';
import { badFlag } from '../common/errors.js';
import { definePlugin } from '../common/plugin.js';
import { LOADCLIENT_IMAGE } from './image.js';
import { parseLoadClients, type LoadClientsMode } from './mode.js';
import { loadClientsBlockSchema } from './schema.js';

/** The plan's section: where the load runs when not in this process. */
export type LoadClientsSection = Exclude<LoadClientsMode, { kind: 'local' }>;

export const LOAD_CLIENTS_PLUGIN = 'loadClients';

/** The plan's load clients (absent: the load runs in this process). */
export function loadClientsOf(plan: {
  readonly plugins?: Readonly<Record<string, unknown>>;
}): LoadClientsSection | undefined {
  return plan.plugins?.[LOAD_CLIENTS_PLUGIN] as LoadClientsSection | undefined;
}

export const loadClientsPlugin = definePlugin({
  name: LOAD_CLIENTS_PLUGIN,
  group: 'Load:',
  flags: [
    {
      name: 'load-clients',
      type: 'string',
      describe:
        'Where the load runs: local (this process) | colocated (one client beside each node, on its host) | dedicated:N (one client on each of the first N inventory hosts marked role: client); remote networks',
      defaultDescription: 'local',
    },
  ],
  settings: z.object({ loadClients: z.string().optional() }),
  section: (settings, core): LoadClientsSection | undefined => {
    if (settings.loadClients === undefined) return undefined;
    const mode = parseLoadClients(settings.loadClients);
    if (mode.kind === 'local') return undefined;
    if (core.networkType !== 'remote')
      throw badFlag(
        'load-clients',
        settings.loadClients,
        mode.kind === 'dedicated'
          ? `dedicated clients run on remote hosts marked role: client; use --network-type remote with a YAML inventory (got ${core.networkType}) or --load-clients local`
          : `colocated clients run beside nodes on remote hosts; use --network-type remote (got ${core.networkType}) or --load-clients local`,
      );
    if (core.engine === 'swarm')
      throw badFlag(
        'load-clients',
        settings.loadClients,
        `local with --engine swarm (${mode.kind} clients need --engine docker)`,
      );
    return mode;
  },
  observer: async (mode, context) => {
    const { LoadClients } = await import('./coordinator.js');
    return new LoadClients({ mode, warn: context.warn });
  },
  // colocated: a client beside each node, so its image goes with the node image (dedicated
  // clients' hosts get it apart: bench/testbeds.ts, loadClientHosts)
  sidecarImages: (mode) => (mode.kind === 'colocated' ? [LOADCLIENT_IMAGE] : []),
  runBlock: { name: 'load_clients', schema: loadClientsBlockSchema },
  // records had the mode as `plan.loadClients` before the registry
  record: { plan: (mode) => (mode !== undefined ? { loadClients: mode } : {}) },
});
