/**
 * The mesh figures as a plug-in (src/common/plugin.ts): on whenever the protocol is `mesh` (no
 * flag of its own), a MeshMonitor reads every node's delivery stream during each level and adds
 * the `mesh` block to each run of the record (docs/mesh-protocol.md).
 */
import { z } from 'zod';
import { definePlugin } from '../../common/plugin.js';
import { meshBlockSchema } from './schema.js';

export const meshPlugin = definePlugin({
  name: 'mesh',
  group: 'Protocol (http, etcd, mesh):',
  flags: [],
  settings: z.object({}),
  section: (_settings, core): Record<string, never> | undefined =>
    core.protocol === 'mesh' ? {} : undefined,
  observer: async (_section, context) => {
    const { MeshMonitor } = await import('./monitor.js');
    return new MeshMonitor({ warn: context.warn });
  },
  runBlock: { name: 'mesh', schema: meshBlockSchema },
});
