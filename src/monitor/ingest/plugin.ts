/**
 * The ingest endpoint as a plug-in (src/common/plugin.ts): `--ingest`, `--ingest-port`,
 * `--ingest-address` → `plan.plugins.ingest` → an IngestCollector, whose `ingest` block
 * each run of the record carries.
 */
import { z } from 'zod';
import { badFlag } from '../../common/errors.js';
import { looseBoolean, wholeNumber } from '../../common/loose-input.js';
import { definePlugin } from '../../common/plugin.js';
import { ingestBlockSchema } from './schema.js';

export interface IngestSection {
  readonly port: number;
  readonly address?: string;
}

export const ingestPlugin = definePlugin({
  name: 'ingest',
  group: 'Ingest (docs/monitoring.md):',
  flags: [
    {
      name: 'ingest',
      type: 'boolean',
      describe:
        'Serve an endpoint the nodes POST datapoints to (JSON or line protocol) at MESHBENCH_INGEST_URL; kept per level in the record',
      defaultDescription: 'false',
    },
    {
      name: 'ingest-port',
      type: 'string',
      describe: 'Port of the --ingest endpoint',
      defaultDescription: '0 (any free)',
    },
    {
      name: 'ingest-address',
      type: 'string',
      describe:
        'Address the --ingest endpoint listens on and the nodes are given (remote nodes get it only when given)',
      defaultDescription: 'the docker0 address',
    },
  ],
  settings: z.object({
    ingest: looseBoolean.default(false),
    ingestPort: wholeNumber(0, 65535, 'port').default(0),
    ingestAddress: z.string().trim().min(1, { message: 'an address of this machine' }).optional(),
  }),
  section: (settings, core, given): IngestSection | undefined => {
    if (!settings.ingest && (given.ingestPort !== undefined || given.ingestAddress !== undefined))
      throw badFlag(
        given.ingestPort !== undefined ? 'ingest-port' : 'ingest-address',
        given.ingestPort ?? given.ingestAddress,
        'needs --ingest',
      );
    if (!settings.ingest) return undefined;
    if (core.networkType === 'endpoints')
      throw badFlag(
        'ingest',
        true,
        "passes its URL in the nodes' environment, which attach mode (--endpoints) does not set; POST to a --ingest-address of your own network instead",
      );
    return {
      port: settings.ingestPort,
      ...(settings.ingestAddress !== undefined ? { address: settings.ingestAddress } : {}),
    };
  },
  observer: async (section, context) => {
    const { IngestCollector } = await import('./ingest.js');
    return new IngestCollector({
      ...(section.address !== undefined ? { address: section.address } : {}),
      port: section.port,
      warn: context.warn,
      ...(context.onForce ? { onForce: context.onForce } : {}),
    });
  },
  runBlock: { name: 'ingest', schema: ingestBlockSchema },
  // records had the section as `plan.ingest` before the registry
  record: { plan: (section) => (section !== undefined ? { ingest: section } : {}) },
});
