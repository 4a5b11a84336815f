/**
 * The `load_clients` block of a run's record (`runs[].blocks.load_clients`): each load client's
 * own figures beside the merged ones. The zod schema, included by src/results/schema.ts, and
 * its type. Field meanings: docs/result-format.md.
 */
import { z } from 'zod';
import { latencySummarySchema } from '../measure/schema.js';

const count = z.int().min(0);
const nonNegative = z.number().min(0);

const latencySchema = latencySummarySchema.describe(
  "this client's own latency (ms, from the intended send), on its own clock",
);

const clientSchema = z.object({
  client: z.string().describe('client0 … clientN-1, in node order'),
  host: z.string().describe('the host it ran on'),
  nodes: z.array(z.string()).describe('the nodes it sent to (colocated: the node on its host)'),
  share: z.string().describe('its share of the one schedule: the sequence numbers ≡ k mod n'),
  status: z
    .enum(['ok', 'dead', 'error'])
    .describe('ok: its result came back; dead: silent too long; error: it reported a failure'),
  reason: z.string().optional().describe('why it is dead or failed'),
  input_rate: nonNegative.optional().describe('its share of the input rate, tx/s'),
  scheduled: count.optional(),
  sent: count.optional(),
  ok: count.optional(),
  committed: count.optional(),
  efficiency: nonNegative.optional(),
  latency_ack: latencySchema.optional(),
  latency_commit: latencySchema.optional(),
  last_progress: z
    .object({
      elapsed_ms: z.int(),
      scheduled: count,
      sent: count,
      ok: count,
      failed: count,
      committed: count,
    })
    .optional()
    .describe('a dead or failed client: the last progress it reported (what it did before it died)'),
});

export const loadClientsBlockSchema = z
  .object({
    mode: z.literal('colocated').describe('--load-clients'),
    start_at: z.string().describe('the agreed wall-clock start of the schedule (this machine’s clock)'),
    clock_offsets: z
      .literal('not measured')
      .describe('whether the start instant was corrected by host clock offsets'),
    clients: count,
    merged_clients: count.describe('clients whose recorder state came back and is in the merged figures'),
    merged_scheduled: count.describe('transactions scheduled in the merged figures'),
    per_client: z.array(clientSchema),
  })
  .describe(
    '--load-clients: the load ran in clients beside the nodes; their figures merged exactly (HDR histograms)',
  );

export type LoadClientsBlock = z.infer<typeof loadClientsBlockSchema>;
