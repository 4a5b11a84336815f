/**
 * Propagation latency as a plug-in (src/common/plugin.ts): `--propagation` →
 * `plan.plugins.propagation` → a PropagationMonitor, whose `propagation` block each run of
 * the record carries. On by default when the plan shapes the network.
 */
import { z } from 'zod';
import { looseBoolean } from '../common/loose-input.js';
import { definePlugin, type PluginContext } from '../common/plugin.js';
import { createProtocol } from '../protocols/registry.js';
import type { ProtocolOptions } from '../load/types.js';

/** Probes on (the section's presence says so; it has no settings of its own yet). */
export type PropagationSection = Readonly<Record<string, never>>;

export const propagationPlugin = definePlugin({
  name: 'propagation',
  group: 'Propagation (docs/conditions.md):',
  flags: [
    {
      name: 'propagation',
      type: 'boolean',
      describe:
        'Measure propagation latency per node pair (probe txs of its own, 2/s) and record peer round-trip times',
      defaultDescription: 'true with --zones or network events',
    },
  ],
  settings: z.object({ propagation: looseBoolean.optional() }),
  section: (settings, core): PropagationSection | undefined =>
    (settings.propagation ?? core.shapesNetworkConditions) ? {} : undefined,
  observer: async (_section, context: PluginContext<{ readonly protocol: ProtocolOptions }>) => {
    const { PropagationMonitor } = await import('./propagation.js');
    return new PropagationMonitor({
      protocol: createProtocol(context.plan.protocol, 'propagation'),
      warn: context.warn,
    });
  },
  // records had `plan.propagation` as a boolean before the registry
  record: { plan: (section) => ({ propagation: section !== undefined }) },
});
